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
)

// TestOutboxMySQL is TestOutboxPostgres on MariaDB: the example service
// writes orders and outbox events in one transaction through the writer
// library's MySQL dialect (one process keeping the rows, one deleting each
// right after inserting it), rejects some orders, crashes before COMMIT now
// and then (the server rolls back the transaction of the lost connection)
// and is SIGKILLed every few seconds, while sluice is SIGKILLed a few
// times; exactly the committed events must reach
// outbox.event.<aggregatetype>, key the customer, value the payload, each
// with its id header, each customer's events in commit order, the record
// timestamp the row's timestamp; the example consumer then applies each
// exactly once.
func TestOutboxMySQL(t *testing.T) {
	myURL := testenv.Require(t, "SLUICE_MYSQL_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	pgURL := testenv.Require(t, "SLUICE_PG_URL") // the consumer's database
	serviceBin, _ := exampleBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	run := fmt.Sprintf("obm%d", time.Now().UnixNano()%1e9)
	dbName := "e2e_" + run
	admin := openMySQL(t, myURL, "")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+dbName); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE " + dbName) })
	db := openMySQL(t, myURL, dbName)
	u, _ := url.Parse(myURL)
	u.Path = "/" + dbName
	shopURL := u.String()
	root, _ := testenv.RepoRoot()
	dir := t.TempDir()

	// A first order placed before sluice starts, its outbox row kept: the
	// snapshot routes it, and once it is on Kafka the binlog position is
	// taken, so the services can start. The same run creates the tables.
	start := &shop{aggType: "Start" + run}
	runExample(t, serviceBin, filepath.Join(dir, "start.log"), "-url", shopURL,
		"-migration", filepath.Join(root, "migrations", "002_outbox.mysql.sql"),
		"-n", "1", "-reject", "0", "-delete=false", "-aggregate", start.aggType, "-customer-prefix", start.aggType+"-")

	cfgPath := filepath.Join(dir, "sluice.yaml")
	serverID := 100000 + time.Now().UnixNano()%800000
	cfg := fmt.Sprintf(outboxMySQLConfig, dir, brokers, run, shopURL, dbName, dbName, serverID, filepath.Join(dir, "history.dat"), dbName)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	shops := []*shop{
		{aggType: "Order" + run, args: []string{"-delete=false"}},
		{aggType: "Invoice" + run, args: []string{"-delete=true"}},
	}
	topics := []string{"outbox.event." + start.aggType}
	for _, s := range shops {
		s.log = filepath.Join(dir, s.aggType+".log")
		s.args = append(s.args, "-url", shopURL, "-n", "-1", "-aggregate", s.aggType, "-customer-prefix", s.aggType+"-",
			"-customers", "5", "-reject", shopRejectRate, "-crash", shopCrashRate, "-pause", shopPause)
		topics = append(topics, "outbox.event."+s.aggType)
	}
	var wg sync.WaitGroup
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	startWork := func() {
		for i, s := range shops {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.run(wctx, t, serviceBin, uint64(i))
			}()
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	poll := pollRecords(ctx, cl, &got)

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
	rolledBack := map[string]bool{}
	crashed, shopKills := 0, 0
	for _, s := range shops {
		if s.err != nil {
			b, _ := os.ReadFile(s.log)
			t.Fatalf("service %s: %v\n%s", s.aggType, s.err, b)
		}
		crashed += s.rolledBack(t, rolledBack)
		shopKills += s.kills
	}
	if ctx.Err() != nil {
		t.Fatalf("timed out before the final run: %d records consumed", len(got))
	}

	var orders []shopOrder
	rows, err := db.QueryContext(ctx, "SELECT id, customer, cents, event_id FROM orders ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var o shopOrder
		if err := rows.Scan(&o.id, &o.customer, &o.cents, &o.eventID); err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	sent, perAgg, totals := expectedEvents(orders)
	for id := range rolledBack {
		if _, ok := sent[id]; ok {
			t.Fatalf("event %s both rolled back and committed", id)
		}
	}
	// The kept rows' DATETIME(6) timestamps (UTC) give the record
	// timestamps.
	wantTs := map[string]int64{}
	rows, err = db.QueryContext(ctx, "SELECT id, FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', `timestamp`) / 1000) FROM outbox")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var ms int64
		if err := rows.Scan(&id, &ms); err != nil {
			t.Fatal(err)
		}
		wantTs[id] = ms
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}

	p := startSluice(t, cfgPath, logf)
	deadline := time.Now().Add(2 * time.Minute)
	var problems []string
	for {
		poll(time.Second)
		problems = append(checkOutbox(got, sent, rolledBack, perAgg), checkTimestamps(got, wantTs)...)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	_ = p.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(); err != nil {
		t.Errorf("final sluice run did not stop cleanly: %v", err)
	}
	var kept, deleted int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE aggregatetype = ?", shops[0].aggType).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE aggregatetype = ?", shops[1].aggType).Scan(&deleted); err != nil {
		t.Fatal(err)
	}
	if deleted != 0 {
		t.Errorf("delete after insert left %d rows", deleted)
	}
	keptWant := 0
	for _, ev := range sent {
		if ev.topic == "outbox.event."+shops[0].aggType {
			keptWant++
		}
	}
	if kept != keptWant {
		t.Errorf("outbox holds %d rows of %s, %d committed", kept, shops[0].aggType, keptWant)
	}
	t.Logf("%d sluice kills, %d service kills, %d events committed, %d rolled back (%d crashed before commit), %d records consumed",
		kills, shopKills, len(sent), len(rolledBack), crashed, len(got))
	if len(sent) < 2 || len(rolledBack) == 0 || crashed == 0 {
		t.Fatalf("workload too small: %d committed, %d rolled back, %d crashed", len(sent), len(rolledBack), crashed)
	}
	if len(problems) > 0 {
		t.Fatal(sluiceProblems(logf, problems))
	}
	checkConsumer(t, ctx, pgURL, brokers, run, topics, totals, len(sent))
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
      table.field.event.timestamp: timestamp
`
