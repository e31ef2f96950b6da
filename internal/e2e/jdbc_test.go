package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// jdbcTables are the source tables of TestJDBCIdempotence, in schema
// e2e_<run>; each flows to a table of the same name in every target.
var jdbcTables = []string{"accounts", "orders"}

// jdbcTarget is one JDBC sink connector of the sink process and the
// database it writes.
type jdbcTarget struct {
	connector string
	db        *sql.DB
	table     func(name string) string // qualified target table of a source table
}

// TestJDBCIdempotence runs the Postgres source and three JDBC sink
// connectors (a Postgres schema, a MariaDB database, a SQLite file) as two
// sluice processes. A randomized workload of inserts, updates and deletes,
// many in multi-row transactions, runs on two source tables while the sink
// process is SIGKILLed and restarted several times; afterwards every target
// table equals its source table row for row. Then the target rows are
// damaged (every payload overwritten, deleted rows put back), the sink
// connectors' consumer groups are deleted and the sink process replays the
// topics from offset 0: the targets equal the source again.
//
// Rows are compared as text: each column is read through database/sql into
// a sql.NullString (integers in their decimal form, text as stored), NULL is
// rendered as \N, and the columns of a row are joined with tabs; the rows
// are ordered by id.
func TestJDBCIdempotence(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	mysqlURL := testenv.Require(t, "SLUICE_MYSQL_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	began := time.Now()
	run := fmt.Sprintf("jd%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	tgtSchema := schema + "_tgt"
	dir := t.TempDir()

	src, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	my := openMySQL(t, mysqlURL, mysqlDatabase(t, mysqlURL))
	sqlitePath := filepath.Join(dir, "target.db")
	lite, err := sql.Open("sqlite", sqlitePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	kad := kadm.NewClient(adm)

	targets := []jdbcTarget{
		{run + "-to-postgres", src, func(n string) string { return tgtSchema + "." + n }},
		{run + "-to-mariadb", my, func(n string) string { return run + "_" + n }},
		{run + "-to-sqlite", lite, func(n string) string { return n }},
	}
	var topics, groups []string
	for _, n := range jdbcTables {
		topics = append(topics, run+"."+schema+"."+n)
	}
	for _, tg := range targets {
		groups = append(groups, "connect-"+tg.connector)
	}

	t.Cleanup(func() {
		c := context.Background()
		if pool, err := pgxpool.New(c, pgURL); err == nil {
			testenv.DropReplicationSlot(c, pool, run)
			pool.Close()
		}
		_, _ = src.ExecContext(c, "DROP PUBLICATION IF EXISTS "+run)
		_, _ = src.ExecContext(c, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		_, _ = src.ExecContext(c, "DROP SCHEMA IF EXISTS "+tgtSchema+" CASCADE")
		for _, n := range jdbcTables {
			_, _ = my.ExecContext(c, "DROP TABLE IF EXISTS "+run+"_"+n)
		}
		_, _ = kad.DeleteGroups(c, groups...)
		_, _ = kad.DeleteTopics(c, topics...)
	})

	stmts := []string{"CREATE SCHEMA " + schema, "CREATE SCHEMA " + tgtSchema}
	for _, n := range jdbcTables {
		tbl := schema + "." + n
		stmts = append(stmts,
			"CREATE TABLE "+tbl+" (id bigint PRIMARY KEY, version bigint NOT NULL, payload text NOT NULL, note text)",
			// Rows for the initial snapshot.
			"INSERT INTO "+tbl+" SELECT g, 1, 'seed-' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 300) g")
	}
	for _, q := range stmts {
		if _, err := src.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// The source process publishes the two tables.
	var srcTables []string
	for _, n := range jdbcTables {
		srcTables = append(srcTables, schema+"."+n)
	}
	srcCfg := filepath.Join(dir, "source.yaml")
	writeFile(t, srcCfg, fmt.Sprintf(`log: {level: info, format: text}
http: {addr: "127.0.0.1:0"}
data.dir: %s
kafka:
  bootstrap.servers: [%s]
  linger.ms: 2
  topics: {defaults: {partitions: 3}}
sources:
  - name: src
    connector: postgres
    topic.prefix: %s
    url: %q
    tables: [%s]
    postgres: {slot.name: %s, publication.name: %s, publication.autocreate.mode: filtered}
`, filepath.Join(dir, "source-data"), brokers, run, pgURL, strings.Join(srcTables, ", "), run, run))
	srcLog := filepath.Join(dir, "source.log")
	source := startSluice(t, srcCfg, srcLog)
	t.Cleanup(func() { _ = source.Process.Kill(); _ = source.Wait() })

	// The sink process: three JDBC sink connectors on both topics, behind
	// ExtractNewRecordState and a RegexRouter that keeps the table name.
	sinkConnector := func(name, connURL, tableFormat, replacement string) string {
		return fmt.Sprintf(`  - name: %s
    config:
      connector.class: io.confluent.connect.jdbc.JdbcSinkConnector
      topics: %q
      connection.url: %q
      insert.mode: upsert
      pk.mode: record_key
      delete.enabled: "true"
      auto.create: "true"
      consumer.override.session.timeout.ms: "6000"
      consumer.override.heartbeat.interval.ms: "1000"
      table.name.format: %q
      transforms: "unwrap,route"
      transforms.unwrap.type: io.debezium.transforms.ExtractNewRecordState
      transforms.route.type: org.apache.kafka.connect.transforms.RegexRouter
      transforms.route.regex: "[^.]+\\.[^.]+\\.(.*)"
      transforms.route.replacement: %q
`, name, strings.Join(topics, ","), connURL, tableFormat, replacement)
	}
	mu, err := url.Parse(mysqlURL)
	if err != nil {
		t.Fatal(err)
	}
	sinkCfg := filepath.Join(dir, "sink.yaml")
	writeFile(t, sinkCfg, fmt.Sprintf(`log: {level: info, format: text}
http: {addr: "127.0.0.1:0"}
data.dir: %s
kafka:
  bootstrap.servers: [%s]
connectors:
%s%s%s`, filepath.Join(dir, "sink-data"), brokers,
		sinkConnector(targets[0].connector, "jdbc:postgresql://"+strings.TrimPrefix(pgURL, "postgres://"), tgtSchema+".$${topic}", "$1"),
		sinkConnector(targets[1].connector, "jdbc:mysql://"+mu.User.String()+"@"+mu.Host+mu.Path, "$${topic}", run+"_$1"),
		sinkConnector(targets[2].connector, "jdbc:sqlite:"+sqlitePath, "$${topic}", "$1")))
	sinkLog := filepath.Join(dir, "sink.log")
	var sink *exec.Cmd
	t.Cleanup(func() {
		if sink != nil {
			_ = sink.Process.Kill()
			_ = sink.Wait()
		}
	})
	logTails := func() string {
		return "source log tail:\n" + tail(srcLog) + "\nsink log tail:\n" + tail(sinkLog)
	}

	// Wait for the snapshot to reach Kafka before the sink subscribes.
	waitFor(t, ctx, time.Minute, "source topics", logTails, func() error {
		td, err := kad.ListTopics(ctx, topics...)
		if err != nil {
			return err
		}
		for _, tp := range topics {
			if !td.Has(tp) {
				return fmt.Errorf("topic %s missing", tp)
			}
		}
		return nil
	})
	sink = startSluice(t, sinkCfg, sinkLog)

	// The workload runs while the sink is killed and restarted.
	work := &jdbcWorkload{db: src, schema: schema, next: 300, live: map[string]map[int64]bool{}, deleted: map[string][]int64{}}
	for _, n := range jdbcTables {
		work.live[n] = map[int64]bool{}
		for id := int64(1); id <= 300; id++ {
			work.live[n][id] = true
		}
	}
	workDone := make(chan error, 1)
	go func() { workDone <- work.run(ctx, rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano()))), 3000) }()

	const kills = 4
	rng := rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))
	for i := range kills {
		time.Sleep(time.Duration(800+rng.IntN(1700)) * time.Millisecond)
		if err := sink.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = sink.Wait()
		sink = startSluice(t, sinkCfg, sinkLog)
	}
	if err := <-workDone; err != nil {
		t.Fatalf("workload: %v", err)
	}
	t.Logf("workload: %d operations in %d transactions; sink killed %d times (%v since start)", work.ops, work.txs, kills, time.Since(began).Round(time.Millisecond))

	want := map[string][]string{}
	for _, n := range jdbcTables {
		rows, err := tableText(ctx, src, schema+"."+n)
		if err != nil {
			t.Fatal(err)
		}
		want[n] = rows
	}
	// converge waits until every target table equals its source table.
	// After SIGKILLs it can take long: a killed process's consumer group
	// members stay in the groups, holding their partitions, until the
	// session timeout (franz-go's default, 45 s; the sink task layer does
	// not make it configurable) expires them.
	converge := func(phase string, within time.Duration) {
		waitFor(t, ctx, within, phase, logTails, func() error {
			for _, tg := range targets {
				for _, n := range jdbcTables {
					got, err := tableText(ctx, tg.db, tg.table(n))
					if err != nil {
						return fmt.Errorf("%s: %w", tg.connector, err)
					}
					if err := diffRows(got, want[n]); err != nil {
						return fmt.Errorf("%s %s: %w", tg.connector, tg.table(n), err)
					}
				}
			}
			return nil
		})
	}
	converge("after kills", 150*time.Second)
	t.Logf("targets equal the source after the kills (%v since start)", time.Since(began).Round(time.Millisecond))

	// Replay: stop the sink, damage the targets so that only a replay can
	// repair them, delete the consumer groups and start again from offset 0.
	// The groups can be deleted only once they are empty, that is once the
	// members of the killed processes have expired (session timeout, and a
	// rebalance round per expiry): this wait dominates the test's run time.
	if err := sink.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := sink.Wait(); err != nil {
		t.Errorf("sink process did not stop cleanly: %v", err)
	}
	sink = nil
	for _, tg := range targets {
		for _, n := range jdbcTables {
			q := "UPDATE " + tg.table(n) + " SET payload = 'stale'"
			if _, err := tg.db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for _, id := range work.deleted[n][:min(5, len(work.deleted[n]))] {
				q := "INSERT INTO " + tg.table(n) + " (id, version, payload, note) VALUES (" + strconv.FormatInt(id, 10) + ", 0, 'resurrected', NULL)"
				if _, err := tg.db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
	}
	waitFor(t, ctx, 150*time.Second, "delete consumer groups", logTails, func() error {
		resp, err := kad.DeleteGroups(ctx, groups...)
		if err != nil {
			return err
		}
		for g, r := range resp {
			if r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
				var members []string
				if dg, err := kad.DescribeGroups(ctx, g); err == nil {
					for _, m := range dg[g].Members {
						members = append(members, m.MemberID+"@"+m.ClientHost)
					}
					members = append(members, "state "+dg[g].State)
				}
				return fmt.Errorf("%s: %w (members %v)", g, r.Err, members)
			}
		}
		return nil
	})
	t.Logf("consumer groups deleted (%v since start)", time.Since(began).Round(time.Millisecond))
	sink = startSluice(t, sinkCfg, sinkLog)
	converge("after replay from offset 0", 90*time.Second)
	t.Logf("targets equal the source after the replay (%v since start)", time.Since(began).Round(time.Millisecond))
	_ = sink.Process.Signal(syscall.SIGTERM)
	if err := sink.Wait(); err != nil {
		t.Errorf("sink process did not stop cleanly: %v", err)
	}
	sink = nil
	_ = source.Process.Signal(syscall.SIGTERM)
	if err := source.Wait(); err != nil {
		t.Errorf("source process did not stop cleanly: %v", err)
	}
}

// jdbcWorkload changes the source tables in random transactions.
type jdbcWorkload struct {
	db      *sql.DB
	schema  string
	next    int64
	live    map[string]map[int64]bool // table -> ids present
	deleted map[string][]int64        // table -> ids deleted (and not re-inserted)
	ops     int
	txs     int
}

// run commits transactions of 1 to 15 operations (inserts, updates that bump
// the version, deletes) spread over both tables until ops operations are
// committed, pausing a little between transactions so the stream lasts
// across the sink's restarts.
func (w *jdbcWorkload) run(ctx context.Context, rng *rand.Rand, ops int) error {
	for w.ops < ops {
		tx, err := w.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		size := 1 + rng.IntN(15)
		staged := map[string]map[int64]bool{}
		present := func(tbl string, id int64) bool {
			if v, ok := staged[tbl][id]; ok {
				return v
			}
			return w.live[tbl][id]
		}
		for range size {
			tbl := jdbcTables[rng.IntN(len(jdbcTables))]
			if staged[tbl] == nil {
				staged[tbl] = map[int64]bool{}
			}
			var note any
			if rng.IntN(4) > 0 {
				note = fmt.Sprintf("note %d 'q' \\ %d", rng.IntN(1000), w.ops)
			}
			payload := strconv.Itoa(rng.IntN(1e9))
			op := rng.IntN(10)
			id := int64(0)
			if op < 8 && len(w.live[tbl]) > 0 {
				id = pickID(rng, w.live[tbl])
			}
			q, args := "", []any(nil)
			switch {
			case id == 0 || !present(tbl, id):
				w.next++
				id = w.next
				q, args = "INSERT INTO "+w.schema+"."+tbl+" (id, version, payload, note) VALUES ($1, 1, $2, $3)", []any{id, payload, note}
				staged[tbl][id] = true
			case op < 6:
				q, args = "UPDATE "+w.schema+"."+tbl+" SET version = version + 1, payload = $2, note = $3 WHERE id = $1", []any{id, payload, note}
			default:
				q, args = "DELETE FROM "+w.schema+"."+tbl+" WHERE id = $1", []any{id}
				staged[tbl][id] = false
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		for tbl, ids := range staged {
			for id, ok := range ids {
				if ok {
					w.live[tbl][id] = true
				} else {
					delete(w.live[tbl], id)
					w.deleted[tbl] = append(w.deleted[tbl], id)
				}
			}
		}
		w.ops += size
		w.txs++
		time.Sleep(time.Duration(rng.IntN(6)) * time.Millisecond)
	}
	return nil
}

func pickID(rng *rand.Rand, ids map[int64]bool) int64 {
	n := rng.IntN(len(ids))
	for id := range ids {
		if n == 0 {
			return id
		}
		n--
	}
	return 0
}

// tableText renders a table's rows as text, ordered by id: columns id,
// version, payload, note joined by tabs, NULL as \N.
func tableText(ctx context.Context, db *sql.DB, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, "SELECT id, version, payload, note FROM "+table+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var cols [4]sql.NullString
		if err := rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3]); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		var parts []string
		for _, c := range cols {
			if c.Valid {
				parts = append(parts, c.String)
			} else {
				parts = append(parts, `\N`)
			}
		}
		out = append(out, strings.Join(parts, "\t"))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return out, nil
}

// diffRows reports how got differs from want: counts and the first
// differing rows.
func diffRows(got, want []string) error {
	g := map[string]bool{}
	for _, r := range got {
		g[r] = true
	}
	w := map[string]bool{}
	for _, r := range want {
		w[r] = true
	}
	var missing, extra []string
	for _, r := range want {
		if !g[r] {
			missing = append(missing, r)
		}
	}
	for _, r := range got {
		if !w[r] {
			extra = append(extra, r)
		}
	}
	if len(missing) == 0 && len(extra) == 0 && len(got) == len(want) {
		return nil
	}
	return fmt.Errorf("%d rows, want %d; %d missing (first %q), %d unexpected (first %q)",
		len(got), len(want), len(missing), missing[:min(3, len(missing))], len(extra), extra[:min(3, len(extra))])
}

// waitFor polls check until it passes, failing the test with the logs'
// tails when it has not passed within d.
func waitFor(t *testing.T, ctx context.Context, d time.Duration, what string, logs func() string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %v: %v\n%s", what, d, err, logs())
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// mysqlDatabase is the database named in a mysql:// URL's path.
func mysqlDatabase(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("SLUICE_MYSQL_URL: %v", err)
	}
	return strings.TrimPrefix(u.Path, "/")
}
