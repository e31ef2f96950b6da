package mysql_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The benchmarks below measure MariaDB → Kafka through the whole daemon
// (source, JSON converter, publisher, offsets) against the real services,
// and the source alone, and report events/s or rows/s with
// b.ReportMetric. They run with `make bench`; the figures depend on the
// machine and on what else runs on it.

// benchDB creates a database with table t (id BIGINT key, a payload) on
// the test server.
func benchDB(b *testing.B) (conn *client.Conn, db, raw string) {
	b.Helper()
	raw = testenv.Require(b, "SLUICE_MYSQL_URL")
	u, err := url.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	pw, _ := u.User.Password()
	conn, err = client.Connect(u.Host, u.User.Username(), pw, "")
	if err != nil {
		b.Fatal(err)
	}
	db = fmt.Sprintf("s_b%d", rand.Uint32())
	for _, q := range []string{
		"CREATE DATABASE " + db,
		"USE " + db,
		"CREATE TABLE t (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INT NOT NULL, price DECIMAL(10,2), at DATETIME(3))",
	} {
		if _, err := conn.Execute(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	b.Cleanup(func() {
		_, _ = conn.Execute("DROP DATABASE IF EXISTS " + db)
		conn.Close()
	})
	return conn, db, raw
}

// insertRows inserts rows from id on in statements of 1000.
func insertRows(b *testing.B, conn *client.Conn, from, n int) {
	b.Helper()
	for i := 0; i < n; i += 1000 {
		var vals []string
		for j := i; j < min(n, i+1000); j++ {
			id := from + j
			vals = append(vals, fmt.Sprintf("(%d, 'item-%d', %d, %d.25, '2024-01-02 03:04:05.678')", id, id, id%100, id%1000))
		}
		if _, err := conn.Execute("INSERT INTO t VALUES " + strings.Join(vals, ", ")); err != nil {
			b.Fatal(err)
		}
	}
}

// runBenchDaemon starts a daemon with one MySQL source on db and returns
// a consumer of its table topic and a stop function.
func runBenchDaemon(b *testing.B, raw, db, mode string) (*kgo.Client, func()) {
	b.Helper()
	brokers := strings.Split(testenv.Require(b, "SLUICE_KAFKA_BROKERS"), ",")
	prefix := fmt.Sprintf("sluice_mybench_%d", time.Now().UnixNano())
	cfg := daemon.DefaultConfig()
	cfg.Kafka.Brokers = brokers
	cfg.DataDir = b.TempDir()
	cfg.Converters.Key.SchemasEnable = false
	cfg.Converters.Value.SchemasEnable = false
	sc := daemon.DefaultSourceConfig()
	sc.Name, sc.Connector, sc.TopicPrefix, sc.URL = "bench", "mysql", prefix, raw
	sc.MySQL.DatabaseIncludeList = mysql.List{db}
	sc.MySQL.ServerID = 30000 + rand.Uint32N(1<<20)
	sc.MySQL.SnapshotMode = mode
	cfg.Sources = []daemon.SourceConfig{sc}
	d, err := daemon.New(cfg, daemon.WithoutHTTP())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(prefix+"."+db+".t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	return cl, func() {
		cl.Close()
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			b.Errorf("daemon: %v", err)
		}
	}
}

// consumeN reads n records.
func consumeN(b *testing.B, cl *kgo.Client, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			b.Fatalf("got %d of %d records", got, n)
		}
		got += fs.NumRecords()
	}
}

// BenchmarkStreamToKafka: binlog inserts captured, converted and
// acknowledged by Kafka per second. Each iteration inserts 1000 rows (one
// statement, one transaction) and waits for their records.
func BenchmarkStreamToKafka(b *testing.B) {
	conn, db, raw := benchDB(b)
	cl, stop := runBenchDaemon(b, raw, db, mysql.SnapshotInitial)
	defer stop()
	// A probe row, read by the (empty) snapshot or streamed: once it is
	// in Kafka the stream is running.
	insertRows(b, conn, 0, 1)
	consumeN(b, cl, 1)
	const perIter = 1000
	next := 1
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		insertRows(b, conn, next, perIter)
		next += perIter
		consumeN(b, cl, perIter)
	}
	b.ReportMetric(float64(b.N*perIter)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSnapshotToKafka: rows a snapshot reads and Kafka acknowledges
// per second. Each iteration snapshots a table of 20000 rows into a new
// topic prefix.
func BenchmarkSnapshotToKafka(b *testing.B) {
	const rows = 20000
	conn, db, raw := benchDB(b)
	insertRows(b, conn, 1, rows)
	b.ResetTimer()
	var elapsed time.Duration
	for b.Loop() {
		start := time.Now()
		cl, stop := runBenchDaemon(b, raw, db, mysql.SnapshotInitial)
		consumeN(b, cl, rows)
		elapsed += time.Since(start)
		b.StopTimer()
		stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N*rows)/elapsed.Seconds(), "rows/s")
}

// BenchmarkSnapshotSource: rows/s of the snapshot alone (chunked reads and
// conversion to events, no Kafka), 20000 rows per iteration.
func BenchmarkSnapshotSource(b *testing.B) {
	const rows = 20000
	conn, db, raw := benchDB(b)
	insertRows(b, conn, 1, rows)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		cfg := mysql.DefaultConfig()
		cfg.SnapshotMode = mysql.SnapshotInitialOnly
		cfg.DatabaseIncludeList = mysql.List{db}
		cfg.IncludeSchemaChanges = false
		src, err := mysql.New(cfg, mysql.Options{Name: "bench", TopicPrefix: "bench", URL: raw})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if err := src.Run(context.Background(), func(_ context.Context, batch event.Batch) error {
			for i := range batch {
				if _, err := batch[i].Value(); err != nil {
					return err
				}
			}
			n += len(batch)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if n != rows {
			b.Fatalf("snapshot emitted %d events, want %d", n, rows)
		}
	}
	b.ReportMetric(float64(b.N*rows)/time.Since(start).Seconds(), "rows/s")
}
