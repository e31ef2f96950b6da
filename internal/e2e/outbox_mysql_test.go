package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
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

	serverID := 100000 + time.Now().UnixNano()%800000
	cfgPath := writeConfig(t, dir, fmt.Sprintf(outboxMySQLConfig, dir, brokers, run, shopURL, dbName, dbName, serverID, filepath.Join(dir, "history.dat"), dbName))
	shops := []*shop{
		{aggType: "Order" + run, args: []string{"-delete=false"}},
		{aggType: "Invoice" + run, args: []string{"-delete=true"}},
	}
	topics := append([]string{"outbox.event." + start.aggType}, configureShops(dir, shopURL, shops)...)
	var wg sync.WaitGroup
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()

	var got []*kgo.Record
	poll := pollRecords(ctx, fromStart(t, brokers, topics...), &got)

	logf := filepath.Join(dir, "sluice.log")
	const kills = 3
	killRuns(t, cfgPath, logf, kills, 11, func() {
		// The first kill waits for the snapshot's event and a streaming
		// position, so no restart repeats the snapshot (which would be
		// allowed, but would test less).
		for len(got) == 0 && ctx.Err() == nil {
			poll(time.Second)
		}
		startShops(wctx, t, serviceBin, shops, &wg)
		waitPosition(ctx, dir, "outbox", func(pos string) bool {
			return strings.Contains(pos, "gtids") && !strings.Contains(pos, "snapshot")
		})
	})
	stopWork()
	wg.Wait()
	rolledBack, crashed, shopKills := shopOutcome(t, shops)
	if ctx.Err() != nil {
		t.Fatalf("timed out before the final run: %d records consumed", len(got))
	}

	rows, err := db.QueryContext(ctx, "SELECT id, customer, cents, event_id FROM orders ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	orders := scanOrders(t, rows)
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
	rows, err = db.QueryContext(ctx, "SELECT id, FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', `timestamp`) / 1000) FROM outbox")
	if err != nil {
		t.Fatal(err)
	}
	wantTs := scanTimestamps(t, rows)
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}

	p := startSluice(t, cfgPath, logf)
	problems := settle(t, p, 2*time.Minute, func() []string {
		poll(time.Second)
		return append(checkOutbox(got, sent, rolledBack, perAgg), checkTimestamps(got, wantTs)...)
	})
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
const outboxMySQLConfig = jsonHead3 + `sources:
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
