package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// env is what every benchmark shares: addresses, sizes, the Sluice binary.
type env struct {
	pgURL   string
	kafka   []string
	brokers []string
	sizes   Sizes
	pool    *pgxpool.Pool
	bin     string // "" when the build failed (buildErr)
	binErr  error
	run     string // unique per process, in every object name
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error

	// results caches each benchmark's figures: the work runs once whatever
	// b.N the framework asks for, later calls report the same figures.
	resultsMu sync.Mutex
	results   = map[string]map[string]float64{}
)

func setup(b *testing.B) *env {
	b.Helper()
	pgURL := testenv.Require(b, "SLUICE_PG_URL")
	envOnce.Do(func() {
		shared, envErr = newEnv(pgURL, testing.Short())
	})
	if envErr != nil {
		b.Fatal(envErr)
	}
	return shared
}

func newEnv(pgURL string, short bool) (*env, error) {
	scale, err := ScaleFromEnv(short)
	if err != nil {
		return nil, err
	}
	brokers, err := Brokers()
	if err != nil {
		return nil, err
	}
	e := &env{pgURL: pgURL, brokers: brokers, sizes: SizesFor(scale),
		run: fmt.Sprintf("%d", time.Now().UnixNano()%1e8)}
	if v, ok := testenv.Lookup("SLUICE_KAFKA_BROKERS"); ok {
		e.kafka = strings.Split(v, ",")
	}
	cfg, err := pgxpool.ParseConfig(pgURL)
	if err != nil {
		return nil, fmt.Errorf("SLUICE_PG_URL: %w", err)
	}
	cfg.MaxConns = 16
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	e.pool, err = pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	root, ok := testenv.RepoRoot()
	if !ok {
		return nil, errors.New("repository root not found")
	}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return nil, err
	}
	if bin := os.Getenv("SLUICE_BENCH_BIN"); bin != "" {
		e.bin = bin // a prebuilt sluice (e.g. a tagged release to compare with)
	} else {
		e.bin, e.binErr = BuildSluice(context.Background(), root, os.Getenv("SLUICE_BENCH_REV"), dir)
	}
	var fsync string
	_ = e.pool.QueryRow(context.Background(), "SHOW fsync").Scan(&fsync)
	rev := os.Getenv("SLUICE_BENCH_REV")
	switch {
	case os.Getenv("SLUICE_BENCH_BIN") != "":
		rev = os.Getenv("SLUICE_BENCH_BIN")
	case rev == "":
		rev = "working tree"
	}
	fmt.Printf("sluice-bench: scale=%g brokers=%v sluice=%s postgres fsync=%s cpus=%d\n", scale, brokers, rev, fsync, runtime.NumCPU())
	return e, nil
}

// once runs f the first time name is benchmarked and reports its figures
// on every call.
func once(b *testing.B, f func(b *testing.B) map[string]float64) {
	b.Helper()
	resultsMu.Lock()
	m, done := results[b.Name()]
	resultsMu.Unlock()
	if !done {
		m = f(b)
		resultsMu.Lock()
		results[b.Name()] = m
		resultsMu.Unlock()
	}
	for unit, v := range m {
		if !math.IsNaN(v) {
			b.ReportMetric(v, unit)
		}
	}
}

// result returns the figures cached for a benchmark name (nil if none).
func result(name string) map[string]float64 {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	return results[name]
}

// names gives a case's unique object names.
type names struct {
	e *env
	c string
}

func (n names) table() Table           { return Table{Schema: "bench_" + n.c + "_" + n.e.run, Name: "t"} }
func (n names) pub() string            { return "bench_" + n.c + "_" + n.e.run }
func (n names) slot(who string) string { return "bench_" + n.c + "_" + who + "_" + n.e.run }
func (n names) prefix(who string) string {
	return "bench_" + n.c + "_" + who + "_" + n.e.run
}

func (e *env) drainers() []string { return append([]string{"pg_recvlogical"}, e.brokers...) }

// cleanup drops the case's slots, publication and schema.
func (e *env) cleanup(b *testing.B, n names, slots []string) {
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, s := range slots {
			if err := DropSlot(ctx, e.pool, s); err != nil {
				b.Errorf("cleanup: %v", err)
			}
		}
		if err := DropPublication(ctx, e.pool, n.pub()); err != nil {
			b.Errorf("cleanup: %v", err)
		}
		if _, err := e.pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+n.table().Schema+" CASCADE"); err != nil {
			b.Errorf("cleanup: %v", err)
		}
	})
}

// backlog writes a backlog with load after creating one slot per drainer,
// then drains it with pg_recvlogical and with Sluice on each broker.
func backlog(b *testing.B, c string, events int, prepare, load func(ctx context.Context, t Table) error) {
	e := setup(b)
	ctx := context.Background()
	n := names{e, c}
	var slots []string
	for _, d := range e.drainers() {
		slots = append(slots, n.slot(d))
	}
	e.cleanup(b, n, slots)
	if err := CreateTable(ctx, e.pool, n.table()); err != nil {
		b.Fatal(err)
	}
	if prepare != nil {
		if err := prepare(ctx, n.table()); err != nil {
			b.Fatal(err)
		}
	}
	if err := CreatePublication(ctx, e.pool, n.pub(), n.table()); err != nil {
		b.Fatal(err)
	}
	for _, s := range slots {
		if _, err := CreateSlot(ctx, e.pool, s); err != nil {
			b.Fatal(err)
		}
	}
	startLSN, err := CurrentLSN(ctx, e.pool)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := load(ctx, n.table()); err != nil {
		b.Fatal(err)
	}
	endLSN, err := CurrentLSN(ctx, e.pool)
	if err != nil {
		b.Fatal(err)
	}
	wal, _ := WALBytes(ctx, e.pool, startLSN, endLSN)
	b.Logf("%s: wrote %d events (%.0f MiB of WAL) in %v", c, events, float64(wal)/(1<<20), time.Since(t0).Round(time.Millisecond))

	b.Run("pg_recvlogical", func(b *testing.B) {
		once(b, func(b *testing.B) map[string]float64 {
			bin, err := RecvLogicalPath()
			if err != nil {
				b.Skip(err)
			}
			u, err := RecvLogical(ctx, bin, e.pgURL, n.slot("pg_recvlogical"), n.pub(), endLSN, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			if err := DropSlot(ctx, e.pool, n.slot("pg_recvlogical")); err != nil {
				b.Error(err)
			}
			return map[string]float64{
				"rows/s":             float64(events) / u.Wall.Seconds(),
				"wal-MiB/s":          float64(wal) / (1 << 20) / u.Wall.Seconds(),
				"client-cpu-s/Mrows": u.CPU.Seconds() / (float64(events) / 1e6),
			}
		})
	})
	base := result(b.Name() + "/pg_recvlogical")["rows/s"]
	for _, kind := range e.brokers {
		b.Run("sluice/"+kind, func(b *testing.B) {
			defer func() {
				if r := result(b.Name())["events/s"]; base > 0 && r > 0 {
					b.Logf("%s drains at %.0f%% of pg_recvlogical's rate", b.Name(), 100*r/base)
				}
			}()
			once(b, func(b *testing.B) map[string]float64 {
				spec := SourceSpec{
					Name: "bench", TopicPrefix: n.prefix(kind), URL: e.pgURL, Table: n.table(),
					Slot: n.slot(kind), Publication: n.pub(), SnapshotMode: "no_data",
				}
				m := e.runSluice(b, kind, spec, int64(events))
				if err := DropSlot(ctx, e.pool, spec.Slot); err != nil {
					b.Error(err)
				}
				return m
			})
		})
	}
}

// broker opens the broker of kind for one case, skipping when the real one
// is not configured.
func (e *env) broker(b *testing.B, kind string) *Broker {
	b.Helper()
	var addrs []string
	if kind == "kafka" {
		addrs = e.kafka
		if len(addrs) == 0 {
			testenv.Require(b, "SLUICE_KAFKA_BROKERS")
		}
	}
	br, err := NewBroker(kind, addrs)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(br.Close)
	return br
}

func (e *env) sluiceBin(b *testing.B) string {
	b.Helper()
	if e.binErr != nil {
		b.Fatal(e.binErr)
	}
	return e.bin
}

// runSluice runs Sluice on spec until the topic holds want records and
// returns the throughput and resource figures.
func (e *env) runSluice(b *testing.B, kind string, spec SourceSpec, want int64) map[string]float64 {
	ctx := context.Background()
	bin := e.sluiceBin(b)
	br := e.broker(b, kind)
	if err := br.CreateTopic(ctx, spec.Topic()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.DeleteTopic(context.Background(), spec.Topic()) })
	dir := b.TempDir()
	s, err := StartSluice(bin, dir, spec, br)
	if err != nil {
		b.Fatal(err)
	}
	doneAt, got, werr := s.WaitAcked(ctx, want, kind == "kfake", 5*time.Minute)
	u, lat, serr := s.Stop(ctx)
	if errors.Is(werr, ErrNotCapturing) {
		b.Skipf("%v: this build has no working Postgres connector; benchmark skipped\nsluice log tail:\n%s", werr, s.Proc.LogTail(1500))
	}
	if werr != nil {
		b.Fatalf("%v\nsluice log tail:\n%s", werr, s.Proc.LogTail(4000))
	}
	if serr != nil {
		b.Logf("sluice stop: %v\nlog tail:\n%s", serr, s.Proc.LogTail(2000))
	}
	elapsed := doneAt.Sub(s.Proc.Started())
	m := resourceMetrics(u, got)
	m["events/s"] = float64(got) / elapsed.Seconds()
	m["ack-p50-ms"] = lat.P50 * 1000
	m["ack-p99-ms"] = lat.P99 * 1000
	m["B/event"] = lat.BytesPerRecord
	return m
}

func resourceMetrics(u Usage, events int64) map[string]float64 {
	return map[string]float64{
		"cpu-s/Mevents": u.CPU.Seconds() / (float64(events) / 1e6),
		"peak-rss-MiB":  float64(u.PeakRSS) / (1 << 20),
	}
}

// BenchmarkBacklog: 10M rows inserted in ten 1M-row transactions, then
// drained (case a).
func BenchmarkBacklog(b *testing.B) {
	sz := setup(b).sizes
	per := (sz.BacklogRows + sz.BacklogTxs - 1) / sz.BacklogTxs
	backlog(b, "backlog", sz.BacklogRows, nil, func(ctx context.Context, t Table) error {
		for from := 1; from <= sz.BacklogRows; from += per {
			if err := InsertRows(ctx, setup(b).pool, t, from, min(from+per-1, sz.BacklogRows)); err != nil {
				return err
			}
		}
		return nil
	})
}

// BenchmarkUpdates: 400k single-row UPDATE transactions, then drained
// (case b).
func BenchmarkUpdates(b *testing.B) {
	e := setup(b)
	sz := e.sizes
	backlog(b, "updates", sz.Updates,
		func(ctx context.Context, t Table) error { return InsertRows(ctx, e.pool, t, 1, sz.UpdateRows) },
		func(ctx context.Context, t Table) error { return UpdateEach(ctx, e.pool, t, sz.Updates, sz.UpdateRows) })
}

// BenchmarkBigTx: one transaction inserting 10M rows, then drained (case d).
func BenchmarkBigTx(b *testing.B) {
	e := setup(b)
	backlog(b, "bigtx", e.sizes.BigTxRows, nil, func(ctx context.Context, t Table) error {
		return InsertRows(ctx, e.pool, t, 1, e.sizes.BigTxRows)
	})
}

// BenchmarkSnapshot: the initial snapshot of a 10M-row table.
func BenchmarkSnapshot(b *testing.B) {
	e := setup(b)
	ctx := context.Background()
	n := names{e, "snap"}
	var slots []string
	for _, kind := range e.brokers {
		slots = append(slots, n.slot(kind))
	}
	e.cleanup(b, n, slots)
	if err := CreateTable(ctx, e.pool, n.table()); err != nil {
		b.Fatal(err)
	}
	rows := e.sizes.SnapshotRows
	per := max(1, rows/10)
	for from := 1; from <= rows; from += per {
		if err := InsertRows(ctx, e.pool, n.table(), from, min(from+per-1, rows)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := e.pool.Exec(ctx, "VACUUM ANALYZE "+n.table().Ident()); err != nil {
		b.Fatal(err)
	}
	for _, kind := range e.brokers {
		b.Run("sluice/"+kind, func(b *testing.B) {
			once(b, func(b *testing.B) map[string]float64 {
				spec := SourceSpec{
					Name: "bench", TopicPrefix: n.prefix(kind), URL: e.pgURL, Table: n.table(),
					Slot: n.slot(kind), Publication: n.pub() + "_" + kind, SnapshotMode: "initial",
				}
				b.Cleanup(func() { _ = DropPublication(context.Background(), e.pool, spec.Publication) })
				m := e.runSluice(b, kind, spec, int64(rows))
				m["rows/s"] = m["events/s"]
				delete(m, "events/s")
				if err := DropSlot(ctx, e.pool, spec.Slot); err != nil {
					b.Error(err)
				}
				return m
			})
		})
	}
}

// BenchmarkLive: 5,000 single-row INSERT transactions per second while
// Sluice streams; commit-to-consume latency (case c).
func BenchmarkLive(b *testing.B) {
	e := setup(b)
	for _, kind := range e.brokers {
		b.Run("sluice/"+kind, func(b *testing.B) {
			once(b, func(b *testing.B) map[string]float64 { return e.live(b, kind) })
		})
	}
}

func (e *env) live(b *testing.B, kind string) map[string]float64 {
	ctx := context.Background()
	n := names{e, "live_" + kind}
	slot := n.slot(kind)
	e.cleanup(b, n, []string{slot})
	if err := CreateTable(ctx, e.pool, n.table()); err != nil {
		b.Fatal(err)
	}
	if err := CreatePublication(ctx, e.pool, n.pub(), n.table()); err != nil {
		b.Fatal(err)
	}
	if _, err := CreateSlot(ctx, e.pool, slot); err != nil {
		b.Fatal(err)
	}
	bin := e.sluiceBin(b)
	br := e.broker(b, kind)
	spec := SourceSpec{
		Name: "bench", TopicPrefix: n.prefix(kind), URL: e.pgURL, Table: n.table(),
		Slot: slot, Publication: n.pub(), SnapshotMode: "no_data",
	}
	if err := br.CreateTopic(ctx, spec.Topic()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.DeleteTopic(context.Background(), spec.Topic()) })
	arrivals, err := br.Consume(spec.Topic())
	if err != nil {
		b.Fatal(err)
	}
	s, err := StartSluice(bin, b.TempDir(), spec, br)
	if err != nil {
		arrivals.Close()
		b.Fatal(err)
	}
	fail := func(format string, args ...any) {
		arrivals.Close()
		_, _, _ = s.Stop(ctx)
		b.Fatalf(format+"\nsluice log tail:\n%s", append(args, s.Proc.LogTail(4000))...)
	}
	// Stream first, then write: wait until Sluice holds the slot.
	deadline := time.Now().Add(60 * time.Second)
	for {
		active, err := SlotActive(ctx, e.pool, slot)
		if err != nil {
			fail("slot: %v", err)
		}
		if active {
			break
		}
		select {
		case <-s.Proc.Exited():
			if s.notCapturing() {
				arrivals.Close()
				b.Skipf("%v: this build has no working Postgres connector; benchmark skipped", ErrNotCapturing)
			}
			fail("sluice exited before streaming: %v", s.Proc.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			arrivals.Close()
			s.Stop(ctx)
			if s.notCapturing() {
				b.Skipf("%v: this build has no working Postgres connector; benchmark skipped", ErrNotCapturing)
			}
			b.Fatalf("sluice did not start streaming from slot %s in 60s\n%s", slot, s.Proc.LogTail(4000))
		}
	}

	txs := int(float64(e.sizes.LiveRate) * e.sizes.LiveDuration.Seconds())
	commits := make([]time.Time, txs+1) // by row id
	interval := time.Second / time.Duration(e.sizes.LiveRate)
	var next atomic.Int64
	var wg sync.WaitGroup
	var werr atomic.Pointer[error]
	start := time.Now().Add(10 * time.Millisecond)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := next.Add(1)
				if id > int64(txs) || werr.Load() != nil {
					return
				}
				if d := time.Until(start.Add(time.Duration(id-1) * interval)); d > 0 {
					time.Sleep(d)
				}
				if err := InsertSingle(ctx, e.pool, n.table(), id); err != nil {
					werr.Store(&err)
					return
				}
				commits[id] = time.Now()
			}
		}()
	}
	wg.Wait()
	if p := werr.Load(); p != nil {
		fail("workload: %v", *p)
	}
	lastCommit := start
	for _, c := range commits[1:] {
		if c.After(lastCommit) {
			lastCommit = c
		}
	}
	rate := float64(txs) / lastCommit.Sub(start).Seconds()
	_, got, err := s.WaitAcked(ctx, int64(txs), false, 60*time.Second)
	if err != nil {
		fail("%v", err)
	}
	// Let the consumer catch up with what Kafka acknowledged.
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ids, _ := arrivals.Count(); ids >= txs {
			break
		}
	}
	at := arrivals.Close()
	u, lat, serr := s.Stop(ctx)
	if serr != nil {
		b.Logf("sluice stop: %v", serr)
	}
	lats := make([]time.Duration, 0, txs)
	missing := 0
	for id := 1; id <= txs; id++ {
		a, ok := at[int64(id)]
		if !ok {
			missing++
			continue
		}
		lats = append(lats, a.Sub(commits[id]))
	}
	if missing > 0 {
		_, bad := arrivals.Count()
		b.Errorf("%d of %d transactions never reached the consumer (%d records without a key id, first %.300q)", missing, txs, bad, arrivals.BadKey)
	}
	m := resourceMetrics(u, got)
	m["tx/s"] = rate
	m["events/s"] = float64(len(lats)) / lastCommit.Sub(start).Seconds()
	m["p50-ms"] = float64(Percentile(lats, 0.50)) / 1e6
	m["p99-ms"] = float64(Percentile(lats, 0.99)) / 1e6
	m["max-ms"] = float64(Percentile(lats, 1)) / 1e6
	m["ack-p50-ms"] = lat.P50 * 1000
	m["ack-p99-ms"] = lat.P99 * 1000
	m["B/event"] = lat.BytesPerRecord
	return m
}
