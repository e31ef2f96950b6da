package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/outbox"
)

// outboxPayload is the payload of every test event. Its keys are in the
// order jsonb keeps them (shorter keys first), so that the table path and
// the logical-message path give the same expanded JSON.
type outboxPayload struct {
	N     int    `json:"n"`
	Order string `json:"order"`
}

// sentEvent is an outbox event a committed transaction wrote.
type sentEvent struct {
	topic, aggID, value string
	n                   int
}

// TestOutboxPostgres runs services that write orders and outbox events in
// one transaction (through the outbox table, with and without delete after
// insert, and through logical decoding messages), rolls some transactions
// back, SIGKILLs sluice a few times, and checks that exactly the committed
// events reach outbox.event.<aggregatetype>: key the aggregate id, value the
// payload, the id header, each aggregate's events in commit order.
func TestOutboxPostgres(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	run := fmt.Sprintf("ob%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	pcfg, err := pgxpool.ParseConfig(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	root, _ := testenv.RepoRoot()
	ddl, err := os.ReadFile(filepath.Join(root, "migrations", "001_outbox.postgres.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE SCHEMA " + schema,
		string(ddl),
		"CREATE TABLE orders (id text PRIMARY KEY, n int NOT NULL)",
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		c := context.Background()
		_, _ = pool.Exec(c, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", run)
		_, _ = pool.Exec(c, "DROP PUBLICATION IF EXISTS "+run)
		_, _ = pool.Exec(c, "DROP SCHEMA "+schema+" CASCADE")
	})

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sluice.yaml")
	cfg := fmt.Sprintf(outboxConfig, dir, brokers, run, pgURL, schema, schema, run, run, schema)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	// Three services: the table path, the table path deleting its rows,
	// and the logical-message path; each owns its aggregates.
	type service struct {
		aggType string
		write   func(context.Context, outbox.Execer, outbox.Event) (outbox.UUID, error)
	}
	deleting, err := outbox.NewWriter(outbox.WriterConfig{Table: schema + ".outbox", DeleteAfterInsert: true})
	if err != nil {
		t.Fatal(err)
	}
	services := []service{
		{"Order" + run, outbox.Write},
		{"Invoice" + run, deleting.Write},
		{"Payment" + run, outbox.Emit},
	}
	var mu sync.Mutex
	sent := map[string]sentEvent{} // event id → event
	rolledBack := map[string]bool{}
	perAgg := map[string][]string{} // aggregate id → committed event ids in order
	var wg sync.WaitGroup
	wctx, stopWork := context.WithCancel(ctx)
	workErr := make([]error, len(services))
	startWork := func() {
		for si, svc := range services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(si), uint64(time.Now().UnixNano())))
				seq := map[string]int{}
				for i := 0; wctx.Err() == nil; i++ {
					tx, err := pool.Begin(wctx)
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
						if _, err = tx.Exec(wctx, "INSERT INTO orders (id, n) VALUES ($1, $2)", orderID, n); err != nil {
							break
						}
						p := outboxPayload{N: n, Order: orderID}
						var id outbox.UUID
						if id, err = svc.write(wctx, outbox.Pgx(tx), outbox.Event{AggregateType: svc.aggType, AggregateID: agg, Type: "Created", Payload: p}); err != nil {
							break
						}
						seq[agg] = n
						v, _ := json.Marshal(p)
						ids = append(ids, id.String())
						evs = append(evs, sentEvent{topic: "outbox.event." + svc.aggType, aggID: agg, value: string(v), n: n})
					}
					rollback := rng.IntN(5) == 0
					if err == nil && !rollback {
						err = tx.Commit(context.Background()) // an interrupted commit has an unknown outcome
					} else {
						_ = tx.Rollback(context.Background())
					}
					if err != nil {
						workErr[si] = ignoreCancel(wctx, err)
						return
					}
					mu.Lock()
					for j, id := range ids {
						if rollback {
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

	var topics []string
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
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	const kills = 3
	for i := range kills {
		p := startSluice(t, cfgPath, logf)
		if i == 0 {
			// Services start once the slot exists, as in production: what
			// is committed before it (messages, deleted rows) is not in
			// any log Sluice can read. The first kill waits for a first
			// record and an offset save, so no restart repeats the
			// initial snapshot.
			waitOutboxSlot(t, ctx, pool, run)
			startWork()
			for len(got) == 0 && ctx.Err() == nil {
				poll(time.Second)
			}
			for ctx.Err() == nil {
				if pos := savedPosition(dir, "outbox"); strings.Contains(pos, "lsn") && !strings.Contains(strings.ToLower(pos), "snap") {
					break // a streaming position, past the snapshot
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
	var outboxRows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM outbox WHERE aggregatetype = $1", services[1].aggType).Scan(&outboxRows); err != nil {
		t.Fatal(err)
	}
	if outboxRows != 0 {
		t.Errorf("delete after insert left %d rows", outboxRows)
	}
	t.Logf("%d kills, %d events committed, %d rolled back, %d records consumed", kills, len(sent), len(rolledBack), len(got))
	if len(sent) == 0 || len(rolledBack) == 0 {
		t.Fatalf("workload too small: %d committed, %d rolled back", len(sent), len(rolledBack))
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

// checkOutbox compares the consumed records with the committed events.
// Duplicates (re-delivery after a kill) are allowed; consumers deduplicate
// on the id header.
func checkOutbox(got []*kgo.Record, sent map[string]sentEvent, rolledBack map[string]bool, perAgg map[string][]string) []string {
	var problems []string
	seen := map[string]bool{}
	order := map[string][]string{} // aggregate → first deliveries in offset order (one partition per key)
	for _, r := range got {
		var id string
		for _, h := range r.Headers {
			if h.Key == "id" {
				id = string(h.Value)
			}
		}
		ev, ok := sent[id]
		switch {
		case rolledBack[id]:
			problems = append(problems, fmt.Sprintf("rolled-back event %s delivered", id))
			continue
		case !ok:
			problems = append(problems, fmt.Sprintf("unknown event id %q on %s (key %s)", id, r.Topic, r.Key))
			continue
		}
		wantKey := `"` + ev.aggID + `"`
		if r.Topic != ev.topic || string(r.Key) != wantKey || string(r.Value) != ev.value {
			problems = append(problems, fmt.Sprintf("event %s: %s key %s value %s, want %s key %s value %s",
				id, r.Topic, r.Key, r.Value, ev.topic, wantKey, ev.value))
		}
		if !seen[id] {
			seen[id] = true
			order[ev.aggID] = append(order[ev.aggID], id)
		}
	}
	for agg, ids := range perAgg {
		if strings.Join(order[agg], ",") != strings.Join(ids, ",") {
			d := 0
			for d < len(ids) && d < len(order[agg]) && ids[d] == order[agg][d] {
				d++
			}
			problems = append(problems, fmt.Sprintf("aggregate %s: delivered %d events, committed %d, first difference at %d (last delivered %v)", agg, len(order[agg]), len(ids), d, lastIDs(order[agg])))
		}
	}
	return problems
}

// savedPosition returns the position offsets.json holds for a source: the
// runtime's source offset of the connector (key ["<source>",{partition}]).
func savedPosition(dir, source string) string {
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
		if strings.HasPrefix(k, `["`+source+`",`) {
			return string(v)
		}
	}
	return ""
}

// waitOutboxSlot waits until the replication slot exists.
func waitOutboxSlot(t *testing.T, ctx context.Context, pool *pgxpool.Pool, slot string) {
	t.Helper()
	for ctx.Err() == nil {
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("replication slot never created")
}

func lastIDs(ids []string) []string {
	if len(ids) > 3 {
		return ids[len(ids)-3:]
	}
	return ids
}

// outboxConfig: data dir, brokers, topic prefix, url, orders and outbox
// schemas, slot, publication, outbox table schema.
const outboxConfig = `
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
    connector: postgres
    topic.prefix: %s
    url: %s
    tables: [%s.orders, %s.outbox]
    postgres:
      slot.name: %s
      publication.name: %s
      publication.autocreate.mode: filtered
    outbox:
      table: %s.outbox
      table.expand.json.payload: true
`
