package bench

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/daemon"
)

// BenchmarkProfileBacklog runs the Backlog case with Sluice in this process
// (internal/daemon, the code `sluice run` runs, without its HTTP server) and
// writes a CPU profile of the drain to $SLUICE_BENCH_CPUPROFILE; it skips
// when that is unset. Sluice's HTTP server has no /debug/pprof, hence the
// in-process run. The broker is the first of SLUICE_BENCH_BROKERS; with kfake
// the broker's own work is in the profile too (package kfake), so read the
// profile with -hide kfake or -focus on Sluice's packages.
func BenchmarkProfileBacklog(b *testing.B) {
	out := os.Getenv("SLUICE_BENCH_CPUPROFILE")
	if out == "" {
		b.Skip("set SLUICE_BENCH_CPUPROFILE=<file> to profile an in-process Backlog drain")
	}
	once(b, func(b *testing.B) map[string]float64 { return profileBacklog(b, out) })
}

func profileBacklog(b *testing.B, out string) map[string]float64 {
	e := setup(b)
	ctx := context.Background()
	n := names{e, "prof"}
	kind := e.brokers[0]
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
	sz := e.sizes
	per := (sz.BacklogRows + sz.BacklogTxs - 1) / sz.BacklogTxs
	for from := 1; from <= sz.BacklogRows; from += per {
		if err := InsertRows(ctx, e.pool, n.table(), from, min(from+per-1, sz.BacklogRows)); err != nil {
			b.Fatal(err)
		}
	}
	br := e.broker(b, kind)
	spec := SourceSpec{
		Name: "bench", TopicPrefix: n.prefix(kind), URL: e.pgURL, Table: n.table(),
		Slot: slot, Publication: n.pub(), SnapshotMode: "no_data",
	}
	if err := br.CreateTopic(ctx, spec.Topic()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = br.DeleteTopic(context.Background(), spec.Topic()) })
	dir := b.TempDir()
	yml, err := Config(spec, br.Addrs, "127.0.0.1:0", filepath.Join(dir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, yml, 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := daemon.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "sluice.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	d, err := daemon.New(cfg, daemon.WithLogger(slog.New(slog.NewTextHandler(logf, nil))), daemon.WithoutHTTP())
	if err != nil {
		b.Fatal(err)
	}
	pf, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer pf.Close()
	if err := pprof.StartCPUProfile(pf); err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	start := time.Now()
	go func() { runErr <- d.Run(runCtx) }()

	want := int64(sz.BacklogRows)
	var got int64
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var failure error
wait:
	for {
		got, err = br.Acked(ctx, spec.Topic(), kind == "kfake")
		if err != nil || got >= want {
			failure = err
			break
		}
		select {
		case err := <-runErr:
			failure = errors.Join(errors.New("daemon stopped early"), err)
			runErr <- err
			break wait
		case <-tick.C:
		}
		if time.Since(start) > 30*time.Minute {
			failure = errors.New("timed out")
			break
		}
	}
	elapsed := time.Since(start)
	pprof.StopCPUProfile()
	cancel()
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		b.Logf("daemon: %v", err)
	}
	if failure != nil {
		log, _ := os.ReadFile(logf.Name())
		b.Fatalf("%v at %d of %d\n%s", failure, got, want, tail(string(log), 3000))
	}
	if err := DropSlot(ctx, e.pool, slot); err != nil {
		b.Error(err)
	}
	b.Logf("CPU profile of the in-process drain written to %s (go tool pprof -top -hide kfake %s)", out, out)
	return map[string]float64{"events/s": float64(got) / elapsed.Seconds()}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
