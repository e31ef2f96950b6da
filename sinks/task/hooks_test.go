package task

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// hookSink buffers records and reports as safe the offset of its oldest
// buffered record that is keep records behind the newest, as a sink that
// writes objects of several records does; it starts partitions where start
// says.
type hookSink struct {
	mu      sync.Mutex
	keep    int64
	start   map[TopicPartition]int64
	got     map[TopicPartition][]int64 // offsets Put
	opened  [][]TopicPartition
	closed  [][]TopicPartition
	flushes int
	pre     []map[TopicPartition]int64 // consumed offsets PreCommit saw
	active  bool                       // a call is running (concurrency check)
	overlap bool
}

func (h *hookSink) enter() func() {
	h.mu.Lock()
	if h.active {
		h.overlap = true
	}
	h.active = true
	h.mu.Unlock()
	return func() { h.mu.Lock(); h.active = false; h.mu.Unlock() }
}

func (h *hookSink) Put(_ context.Context, recs []sink.Record) error {
	defer h.enter()()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range recs {
		tp := TopicPartition{r.OriginalTopic, r.Partition}
		h.got[tp] = append(h.got[tp], r.Offset)
	}
	return nil
}

func (h *hookSink) Flush(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.flushes++
	return nil
}

func (h *hookSink) Close() error { return nil }

func (h *hookSink) PreCommit(_ context.Context, consumed map[TopicPartition]int64) (map[TopicPartition]int64, error) {
	defer h.enter()()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pre = append(h.pre, maps.Clone(consumed))
	out := map[TopicPartition]int64{}
	for tp, off := range consumed {
		out[tp] = off - h.keep
	}
	return out, nil
}

func (h *hookSink) OpenPartitions(_ context.Context, parts []TopicPartition) (map[TopicPartition]int64, error) {
	defer h.enter()()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opened = append(h.opened, parts)
	return maps.Clone(h.start), nil
}

func (h *hookSink) ClosePartitions(parts []TopicPartition) {
	defer h.enter()()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = append(h.closed, parts)
}

func (h *hookSink) offsets(tp TopicPartition) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got[tp])
}

func fakeCluster(t *testing.T, topic string, partitions int32) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func fakeCommitted(t *testing.T, addrs []string, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int32]int64{}
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		return out // the group does not exist yet
	}
	for p, o := range offs[topic] {
		if o.Err == nil {
			out[p] = o.At
		}
	}
	return out
}

func seq(from, to int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestCommitterHooks runs a task over a sink with the hooks on kfake: the
// sink's start offsets win over a missing or older group commit, the task
// commits exactly what PreCommit returns and never calls Flush, and a
// second task of the group starts where the first committed.
func TestCommitterHooks(t *testing.T) {
	const topic = "hooks"
	addrs := fakeCluster(t, topic, 2)
	pcl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	var recs []*kgo.Record
	for p := range int32(2) {
		for i := range 10 {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "v%d", i)})
		}
	}
	if err := pcl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p0, p1 := TopicPartition{topic, 0}, TopicPartition{topic, 1}
	cfg := baseConfig("hooks", topic)
	run := func(h *hookSink, until func() bool) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, cfg, h, WithClientOptions(kgo.SeedBrokers(addrs...)), WithLogger(testLogger(t)),
				WithIdleCommit(50*time.Millisecond))
		}()
		waitFor(t, "the sink's records", func() bool {
			select {
			case err := <-done:
				t.Fatalf("task ended: %v", err)
			default:
			}
			return until()
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	// No commit yet: partition 0 starts at the sink's offset 3, partition
	// 1 at the start.
	h := &hookSink{keep: 2, start: map[TopicPartition]int64{p0: 3}, got: map[TopicPartition][]int64{}}
	group := GroupID(cfg.Name)
	run(h, func() bool {
		c := fakeCommitted(t, addrs, group, topic)
		return c[0] == 8 && c[1] == 8
	})
	if got := h.offsets(p0); !slices.Equal(got, seq(3, 10)) {
		t.Errorf("partition 0 offsets %v, want 3..9", got)
	}
	if got := h.offsets(p1); !slices.Equal(got, seq(0, 10)) {
		t.Errorf("partition 1 offsets %v, want 0..9", got)
	}
	if h.flushes != 0 {
		t.Errorf("Flush called %d times on a Committer", h.flushes)
	}
	if len(h.opened) == 0 || !slices.Equal(h.opened[0], []TopicPartition{p0, p1}) {
		t.Errorf("opened %v, want [[hooks-0 hooks-1]]", h.opened)
	}
	if last := h.pre[len(h.pre)-1]; last[p0] != 10 || last[p1] != 10 {
		t.Errorf("last PreCommit saw consumed %v, want 10 for both", last)
	}
	if h.overlap {
		t.Error("sink calls overlapped")
	}

	// The group committed 8: the sink's older offset 5 of partition 0 is
	// ignored, its newer 9 of partition 1 wins.
	h2 := &hookSink{keep: 0, start: map[TopicPartition]int64{p0: 5, p1: 9}, got: map[TopicPartition][]int64{}}
	run(h2, func() bool {
		c := fakeCommitted(t, addrs, group, topic)
		return c[0] == 10 && c[1] == 10
	})
	if got := h2.offsets(p0); !slices.Equal(got, seq(8, 10)) {
		t.Errorf("second task partition 0 offsets %v, want 8, 9", got)
	}
	if got := h2.offsets(p1); !slices.Equal(got, seq(9, 10)) {
		t.Errorf("second task partition 1 offsets %v, want 9", got)
	}
	if h2.overlap {
		t.Error("sink calls overlapped")
	}
}

// TestClosePartitionsOnRevoke: when a second member joins, the partitions
// moved to it are closed in the first member's sink.
func TestClosePartitionsOnRevoke(t *testing.T) {
	const topic = "revoke"
	addrs := fakeCluster(t, topic, 2)
	cfg := baseConfig("revoke", topic)
	start := func(h *hookSink) func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, cfg, h, WithClientOptions(kgo.SeedBrokers(addrs...)), WithLogger(testLogger(t)),
				WithIdleCommit(50*time.Millisecond))
		}()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	a := &hookSink{got: map[TopicPartition][]int64{}}
	stopA := start(a)
	defer stopA()
	waitFor(t, "first member's assignment", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.opened) == 1 && len(a.opened[0]) == 2
	})
	b := &hookSink{got: map[TopicPartition][]int64{}}
	stopB := start(b)
	defer stopB()
	waitFor(t, "second member's assignment", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.opened) == 1
	})
	a.mu.Lock()
	closed := slices.Concat(a.closed...)
	a.mu.Unlock()
	b.mu.Lock()
	moved := b.opened[0]
	b.mu.Unlock()
	if len(moved) != 1 || !slices.Equal(closed, moved) {
		t.Errorf("first member closed %v, second opened %v; want the same single partition", closed, moved)
	}
}
