package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// sentEvent is an outbox event a committed transaction wrote.
type sentEvent struct {
	topic, aggID, value string
	n                   int
}

// TestOutboxPostgres runs the example service of examples/outbox three
// times over, each process writing orders and their events in one
// transaction for its own aggregate type: through the outbox table keeping
// its rows, through the table deleting each row right after inserting it,
// and through logical decoding messages. The services reject some orders
// (rolled back with their event), crash before COMMIT now and then, and are
// SIGKILLed and restarted every few seconds; sluice is SIGKILLed a few
// times too. Then exactly the committed events (read back from the orders
// table, which keeps each order's event id) must be on
// outbox.event.<aggregatetype>: key the customer (the aggregate id), value
// the payload, the id header, each customer's events in commit order, the
// record timestamp the outbox row's timestamp column; none of the rolled
// back or crashed ones. Finally the example consumer, SIGKILLed once,
// applies every event exactly once.
func TestOutboxPostgres(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	serviceBin, _ := exampleBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	run := fmt.Sprintf("ob%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	pool := pgSchema(t, pgURL, schema, run)
	shopURL := searchPathURL(t, pgURL, schema)
	root, _ := testenv.RepoRoot()
	dir := t.TempDir()
	// The service creates its orders table and the outbox table.
	runExample(t, serviceBin, filepath.Join(dir, "migrate.log"), "-url", shopURL, "-migration", filepath.Join(root, "migrations", "001_outbox.postgres.sql"), "-n", "0")

	cfgPath := writeConfig(t, dir, fmt.Sprintf(outboxConfig, dir, brokers, run, pgURL, schema, schema, run, run, schema))
	shops := []*shop{
		{aggType: "Order" + run, args: []string{"-delete=false"}},
		{aggType: "Invoice" + run, args: []string{"-delete=true"}},
		{aggType: "Payment" + run, args: []string{"-emit"}},
	}
	topics := configureShops(dir, shopURL, shops)
	var wg sync.WaitGroup
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()

	var got []*kgo.Record
	poll := pollRecords(ctx, fromStart(t, brokers, topics...), &got)

	logf := filepath.Join(dir, "sluice.log")
	const kills = 3
	killRuns(t, cfgPath, logf, kills, 7, func() {
		// Services start once the slot exists, as in production: what is
		// committed before it (messages, deleted rows) is not in any log
		// Sluice can read. The first kill waits for a first record and
		// an offset save, so no restart repeats the initial snapshot.
		waitOutboxSlot(t, ctx, pool, run)
		startShops(wctx, t, serviceBin, shops, &wg)
		for len(got) == 0 && ctx.Err() == nil {
			poll(time.Second)
		}
		waitPosition(ctx, dir, "outbox", func(pos string) bool {
			return strings.Contains(pos, "lsn") && !strings.Contains(strings.ToLower(pos), "snap") // a streaming position, past the snapshot
		})
	})
	stopWork()
	wg.Wait()
	rolledBack, crashed, shopKills := shopOutcome(t, shops)
	if ctx.Err() != nil {
		t.Fatalf("timed out before the final run: %d records consumed", len(got))
	}

	// What was committed: the orders table, in placement order.
	rows, err := pool.Query(ctx, "SELECT id, customer, cents, event_id FROM orders ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	orders := scanOrders(t, rows)
	rows.Close()
	sent, perAgg, totals := expectedEvents(orders)
	for id := range rolledBack {
		if _, ok := sent[id]; ok {
			t.Fatalf("event %s both rolled back and committed", id)
		}
	}
	// The kept outbox rows give the record timestamps
	// (table.field.event.timestamp: a timestamp(6) column, micros).
	wantTs := pgOutboxTimestamps(t, ctx, pool)

	p := startSluice(t, cfgPath, logf)
	problems := settle(t, p, 2*time.Minute, func() []string {
		poll(time.Second)
		return append(checkOutbox(got, sent, rolledBack, perAgg), checkTimestamps(got, wantTs)...)
	})
	var kept, deleted int
	if err := pool.QueryRow(ctx, "SELECT count(*) FILTER (WHERE aggregatetype = $1), count(*) FILTER (WHERE aggregatetype = $2) FROM outbox",
		shops[0].aggType, shops[1].aggType).Scan(&kept, &deleted); err != nil {
		t.Fatal(err)
	}
	if deleted != 0 {
		t.Errorf("delete after insert left %d rows", deleted)
	}
	if kept != len(wantTs) || kept == 0 {
		t.Errorf("outbox keeps %d rows of %s, %d with timestamps", kept, shops[0].aggType, len(wantTs))
	}
	t.Logf("%d sluice kills, %d service kills, %d events committed, %d rolled back (%d crashed before commit), %d records consumed",
		kills, shopKills, len(sent), len(rolledBack), crashed, len(got))
	if len(sent) == 0 || len(rolledBack) == 0 || crashed == 0 {
		t.Fatalf("workload too small: %d committed, %d rolled back, %d crashed", len(sent), len(rolledBack), crashed)
	}
	if len(problems) > 0 {
		t.Fatal(sluiceProblems(logf, problems))
	}
	checkConsumer(t, ctx, pgURL, brokers, run, topics, totals, len(sent))
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

// pgOutboxTimestamps returns the timestamp column of the outbox table's
// rows in ms, by event id.
func pgOutboxTimestamps(t *testing.T, ctx context.Context, pool *pgxpool.Pool) map[string]int64 {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT id::text, floor(extract(epoch FROM "timestamp") * 1000)::bigint FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	return scanTimestamps(t, rows)
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
const outboxConfig = jsonHead3 + `sources:
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
      table.field.event.timestamp: timestamp
`
