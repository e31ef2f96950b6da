package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/outbox"
)

// TestOutboxMySQL is TestOutboxPostgres on MariaDB: services write orders
// and outbox events in one transaction through the writer library's MySQL
// dialect (keeping the rows, or deleting each right after inserting it),
// roll some transactions back and lose the connection of others before
// they commit (the server kills it), while sluice is SIGKILLed a few times;
// exactly the committed events must reach outbox.event.<aggregatetype>, key
// the aggregate id, value the payload, each with its id header, each
// aggregate's events in commit order.
func TestOutboxMySQL(t *testing.T) {
	myURL := testenv.Require(t, "SLUICE_MYSQL_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	run := fmt.Sprintf("obm%d", time.Now().UnixNano()%1e9)
	dbName := "e2e_" + run
	admin := openMySQL(t, myURL, "")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+dbName); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE " + dbName) })
	db := openMySQL(t, myURL, dbName)
	// Transactions that lose their connection use their own pool, whose
	// connections are never reused.
	crashDB := openMySQL(t, myURL, dbName)
	crashDB.SetMaxIdleConns(0)
	root, _ := testenv.RepoRoot()
	ddl, err := os.ReadFile(filepath.Join(root, "migrations", "002_outbox.mysql.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{string(ddl), "CREATE TABLE orders (id VARCHAR(100) PRIMARY KEY, n INT NOT NULL)"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}

	keeping, err := outbox.NewWriter(outbox.WriterConfig{Dialect: outbox.MySQL})
	if err != nil {
		t.Fatal(err)
	}
	deleting, err := outbox.NewWriter(outbox.WriterConfig{Dialect: outbox.MySQL, Table: dbName + ".outbox", DeleteAfterInsert: true})
	if err != nil {
		t.Fatal(err)
	}
	// A first event committed before sluice starts: the snapshot routes it,
	// and once it is on Kafka the binlog position is taken, so the services
	// can start.
	first, err := keeping.Write(ctx, db, outbox.Event{AggregateType: "Start" + run, AggregateID: "s", Type: "Started", Payload: outboxPayload{N: 1, Order: "s"}})
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sluice.yaml")
	u, _ := url.Parse(myURL)
	u.Path = "/" + dbName
	serverID := 100000 + time.Now().UnixNano()%800000
	cfg := fmt.Sprintf(outboxMySQLConfig, dir, brokers, run, u.String(), dbName, dbName, serverID, filepath.Join(dir, "history.dat"), dbName)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	type service struct {
		aggType string
		w       *outbox.Writer
	}
	services := []service{{"Order" + run, keeping}, {"Invoice" + run, deleting}}
	var mu sync.Mutex
	sent := map[string]sentEvent{first.String(): {topic: "outbox.event.Start" + run, aggID: "s", value: `{"n":1,"order":"s"}`, n: 1}}
	rolledBack := map[string]bool{}
	perAgg := map[string][]string{"s": {first.String()}}
	crashed := 0
	var wg sync.WaitGroup
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	workErr := make([]error, len(services))
	startWork := func() {
		for si, svc := range services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(si), uint64(time.Now().UnixNano())))
				seq := map[string]int{}
				for wctx.Err() == nil {
					outcome := rng.IntN(10) // 0, 1: roll back; 2: lose the connection; else commit
					pool := db
					if outcome == 2 {
						pool = crashDB
					}
					tx, err := pool.BeginTx(wctx, nil)
					if err != nil {
						workErr[si] = ignoreCancel(wctx, err)
						return
					}
					var ids []string
					var evs []sentEvent
					for range 1 + rng.IntN(3) {
						agg := fmt.Sprintf("%s-%d", svc.aggType, rng.IntN(5))
						n := seq[agg] + 1
						orderID := fmt.Sprintf("%s-%d", agg, n)
						if _, err = tx.ExecContext(wctx, "INSERT INTO orders (id, n) VALUES (?, ?)", orderID, n); err != nil {
							break
						}
						p := outboxPayload{N: n, Order: orderID}
						var id outbox.UUID
						if id, err = svc.w.Write(wctx, tx, outbox.Event{AggregateType: svc.aggType, AggregateID: agg, Type: "Created", Payload: p}); err != nil {
							break
						}
						seq[agg] = n
						v, _ := json.Marshal(p)
						ids = append(ids, id.String())
						evs = append(evs, sentEvent{topic: "outbox.event." + svc.aggType, aggID: agg, value: string(v), n: n})
					}
					committed := false
					switch {
					case err != nil:
						_ = tx.Rollback()
					case outcome < 2:
						err = tx.Rollback()
					case outcome == 2:
						// The service dies before COMMIT: the server kills
						// its connection and rolls the transaction back. A
						// COMMIT after KILL returned cannot succeed, but
						// if it did, the events are committed.
						var connID int64
						if err = tx.QueryRowContext(wctx, "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
							break
						}
						if _, err = admin.ExecContext(wctx, fmt.Sprintf("KILL CONNECTION %d", connID)); err != nil {
							break
						}
						committed = tx.Commit() == nil
					default:
						if err = tx.Commit(); err == nil { // an interrupted commit has an unknown outcome
							committed = true
						}
					}
					if err != nil {
						workErr[si] = ignoreCancel(wctx, err)
						return
					}
					mu.Lock()
					if outcome == 2 && !committed {
						crashed++
					}
					for j, id := range ids {
						if !committed {
							rolledBack[id] = true
							// The sequence numbers are reused by the next transaction.
							seq[evs[j].aggID] = min(seq[evs[j].aggID], evs[j].n-1)
							continue
						}
						sent[id] = evs[j]
						perAgg[evs[j].aggID] = append(perAgg[evs[j].aggID], id)
					}
					mu.Unlock()
					time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
				}
			}()
		}
	}

	topics := []string{"outbox.event.Start" + run}
	for _, s := range services {
		topics = append(topics, "outbox.event."+s.aggType)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	poll := func(d time.Duration) {
		pctx, pcancel := context.WithTimeout(ctx, d)
		defer pcancel()
		fs := cl.PollFetches(pctx)
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}

	logf := filepath.Join(dir, "sluice.log")
	rng := rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano())))
	const kills = 3
	for i := range kills {
		p := startSluice(t, cfgPath, logf)
		if i == 0 {
			// The first kill waits for the snapshot's event and a
			// streaming position, so no restart repeats the snapshot
			// (which would be allowed, but would test less).
			for len(got) == 0 && ctx.Err() == nil {
				poll(time.Second)
			}
			startWork()
			for ctx.Err() == nil {
				if pos := connectorPosition(dir, "outbox"); strings.Contains(pos, "gtids") && !strings.Contains(pos, "snapshot") {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(1500 * time.Millisecond)
		}
		time.Sleep(time.Duration(800+rng.IntN(1500)) * time.Millisecond)
		if err := p.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = p.Wait()
	}
	stopWork()
	wg.Wait()
	for i, err := range workErr {
		if err != nil {
			t.Fatalf("service %s: %v", services[i].aggType, err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("timed out before the final run: %d records consumed", len(got))
	}

	p := startSluice(t, cfgPath, logf)
	deadline := time.Now().Add(2 * time.Minute)
	var problems []string
	for {
		poll(time.Second)
		problems = checkOutbox(got, sent, rolledBack, perAgg)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	_ = p.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(); err != nil {
		t.Errorf("final sluice run did not stop cleanly: %v", err)
	}
	var kept, deleted int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE aggregatetype = ?", services[0].aggType).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE aggregatetype = ?", services[1].aggType).Scan(&deleted); err != nil {
		t.Fatal(err)
	}
	if deleted != 0 {
		t.Errorf("delete after insert left %d rows", deleted)
	}
	mu.Lock()
	defer mu.Unlock()
	keptWant := 0
	for _, ev := range sent {
		if ev.topic == "outbox.event."+services[0].aggType {
			keptWant++
		}
	}
	if kept != keptWant {
		t.Errorf("outbox holds %d rows of %s, %d committed", kept, services[0].aggType, keptWant)
	}
	t.Logf("%d kills, %d events committed, %d rolled back (%d transactions lost their connection), %d records consumed",
		kills, len(sent), len(rolledBack), crashed, len(got))
	if len(sent) < 2 || len(rolledBack) == 0 || crashed == 0 {
		t.Fatalf("workload too small: %d committed, %d rolled back, %d lost connections", len(sent), len(rolledBack), crashed)
	}
	if len(problems) > 0 {
		all, _ := os.ReadFile(logf)
		out := all
		if len(out) > 4000 {
			out = out[len(out)-4000:]
		}
		if len(problems) > 10 {
			problems = problems[:10]
		}
		for _, l := range strings.Split(string(all), "\n") {
			if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "snapshot") {
				problems = append(problems, l)
			}
		}
		t.Fatalf("problems:\n%s\nsluice log tail:\n%s", strings.Join(problems, "\n"), out)
	}
}

// connectorPosition returns the position offsets.json holds for a source
// run as a connector, whose offsets are keyed by its Connect partition
// (["outbox",{"server":"…"}]); a key that is the bare source name is read
// too.
func connectorPosition(dir, source string) string {
	b, err := os.ReadFile(filepath.Join(dir, "offsets.json"))
	if err != nil {
		return ""
	}
	var f struct {
		Offsets map[string][]byte `json:"offsets"`
	}
	if json.Unmarshal(b, &f) != nil {
		return ""
	}
	for k, v := range f.Offsets {
		var part []json.RawMessage
		var name string
		if k == source || json.Unmarshal([]byte(k), &part) == nil && len(part) > 0 && json.Unmarshal(part[0], &name) == nil && name == source {
			return string(v)
		}
	}
	return ""
}

// openMySQL opens database db (none when empty) of a mysql:// URL with
// go-mysql's database/sql driver; the handle is closed at cleanup.
func openMySQL(t *testing.T, raw, db string) *sql.DB {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("SLUICE_MYSQL_URL: %v", err)
	}
	pw, _ := u.User.Password()
	h, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/%s", u.User.Username(), pw, u.Host, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// outboxMySQLConfig: data dir, brokers, topic prefix, url, orders and
// outbox databases, server id, schema history file, outbox table database.
const outboxMySQLConfig = `
log: {level: info, format: text}
http: {addr: "127.0.0.1:0"}
data.dir: %s
kafka:
  bootstrap.servers: [%s]
  linger.ms: 2
  topics: {defaults: {partitions: 3}}
converters:
  key: {type: json, schemas.enable: false}
  value: {type: json, schemas.enable: false}
sources:
  - name: outbox
    connector: mysql
    topic.prefix: %s
    url: %s
    tables: [%s.orders, %s.outbox]
    mysql:
      database.server.id: %d
      schema.history.internal.file.filename: %s
    outbox:
      table: %s.outbox
      table.expand.json.payload: true
`
