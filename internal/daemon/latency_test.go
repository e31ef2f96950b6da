package daemon

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/event"
)

// BenchmarkLiveLatency isolates Sluice's share of the Live benchmark's
// commit-to-consume latency: a source emitting one single-event transaction
// every 200 µs (5,000 tx/s, each its own batch, as the Postgres source does
// when caught up) runs through the real pipeline (converters, publisher,
// tracker, offset file, ack) into an in-process kfake broker, and a consumer
// in this process notes when each record arrives. It reports the emit-to-
// consume percentiles.
func BenchmarkLiveLatency(b *testing.B) {
	for _, linger := range []int{0, 5} {
		b.Run("linger="+strconv.Itoa(linger), func(b *testing.B) {
			const rate = 5000
			dur := 3 * time.Second
			n := int(dur.Seconds() * rate)
			var p50, p99, pmax time.Duration
			var cpu time.Duration
			var ran bool
			for b.Loop() {
				if ran {
					continue // the work is done once; b.N is meaningless here
				}
				ran = true
				before := cpuTime()
				lat := liveLatency(b, n, time.Second/rate, linger)
				cpu = cpuTime() - before
				slices.Sort(lat)
				p50, p99, pmax = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
			}
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(pmax.Microseconds())/1000, "max-ms")
			// The whole test process: Sluice, the broker and the consumer.
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "process-cpu-µs/event")
		})
	}
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func liveLatency(b *testing.B, n int, interval time.Duration, linger int) []time.Duration {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "bench.public.t"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cfg := DefaultConfig()
	cfg.Kafka.Brokers = c.ListenAddrs()
	cfg.Kafka.LingerMs = linger
	cfg.DataDir = b.TempDir()
	sc := DefaultSourceConfig()
	sc.Name, sc.Connector, sc.TopicPrefix, sc.URL = "live", Postgres, "bench", "postgres://h/db"
	cfg.Sources = []SourceConfig{sc}

	emitted := make([]time.Time, n+1)
	var mu sync.Mutex
	src := &funcSource{
		run: func(ctx context.Context, emit func(context.Context, event.Batch) error) error {
			start := time.Now()
			for i := 1; i <= n; i++ {
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				ev := benchEvent(int64(i))
				mu.Lock()
				emitted[i] = time.Now()
				mu.Unlock()
				if err := emit(ctx, event.Batch{ev}); err != nil {
					return err
				}
			}
			<-ctx.Done()
			return ctx.Err()
		},
	}
	ctors := Constructors{Postgres: func(SourceConfig, SourceParams) (Source, error) { return src, nil }}
	d, err := New(cfg, WithoutHTTP(), WithConstructors(ctors), WithoutMemoryLimit())
	if err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("bench.public.t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()

	lat := make([]time.Duration, 0, n)
	deadline := time.Now().Add(time.Duration(n)*interval + 30*time.Second)
	for len(lat) < n && time.Now().Before(deadline) {
		pctx, pcancel := context.WithDeadline(ctx, deadline)
		fs := cl.PollFetches(pctx)
		pcancel()
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			i := keyID(r.Key)
			mu.Lock()
			at := emitted[i]
			mu.Unlock()
			lat = append(lat, now.Sub(at))
		})
	}
	if len(lat) < n {
		b.Fatalf("consumed %d of %d records", len(lat), n)
	}
	return lat
}

// keyID reads id from a benchEvent key: {"schema":…,"payload":{"id":N}}.
func keyID(key []byte) int {
	i := bytes.LastIndex(key, []byte(`"id":`))
	j := bytes.IndexByte(key[i:], '}')
	id, _ := strconv.Atoi(string(key[i+5 : i+j]))
	return id
}

// funcSource is a function-field Source whose Ack does nothing.
type funcSource struct {
	run func(ctx context.Context, emit func(context.Context, event.Batch) error) error
}

func (f *funcSource) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	return f.run(ctx, emit)
}

func (f *funcSource) Ack(context.Context, event.Position) error { return nil }
