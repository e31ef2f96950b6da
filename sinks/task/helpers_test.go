package task

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

var topicSeq atomic.Int64

func brokers(t *testing.T) []string {
	t.Helper()
	return strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
}

func admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(t)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// newTopic creates a fresh topic, deleted when the test ends.
func newTopic(t *testing.T, partitions int32) string {
	t.Helper()
	name := fmt.Sprintf("sinktask-%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano(), topicSeq.Add(1))
	adm := admin(t)
	resp, err := adm.CreateTopic(context.Background(), partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), name) })
	return name
}

func produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(t)...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// committed returns the group's committed offsets of topic.
func committed(t *testing.T, group, topic string) map[int32]int64 {
	t.Helper()
	offs, err := admin(t).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	for p, o := range offs[topic] {
		if o.Err == nil {
			out[p] = o.At
		}
	}
	return out
}

// readTopic consumes n records of topic from the start (no group).
func readTopic(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(t)...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: got %d of %d records", topic, len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// waitFor polls cond until it holds (a deadline for a hung test, not a
// timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start runs the task; stop cancels it and returns Run's error, wait
// returns Run's error once it ends by itself.
func start(t *testing.T, cfg Config, s sink.Sink, opts ...Option) (stop, wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	opts = append([]Option{WithClientOptions(kgo.SeedBrokers(brokers(t)...)), WithLogger(testLogger(t))}, opts...)
	go func() { ch <- Run(ctx, cfg, s, opts...) }()
	var once sync.Once
	var err error
	wait = func() error {
		once.Do(func() { err = <-ch })
		return err
	}
	stop = func() error {
		cancel()
		return wait()
	}
	t.Cleanup(func() { _ = stop() })
	return stop, wait
}

func baseConfig(name string, topics ...string) Config {
	return Config{Name: name, TaskClass: "test.MemSinkTask", Topics: topics,
		KeyConverter:   ConverterConfig{Class: "string"},
		ValueConverter: ConverterConfig{Class: "string"},
		Errors:         DefaultErrors(), MaxPollRecords: 50}
}

func groupName(t *testing.T) string {
	return fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano(), topicSeq.Add(1))
}

// memSink keeps Put records pending and moves them to durable on Flush.
type memSink struct {
	mu      sync.Mutex
	pending []sink.Record
	durable []sink.Record
	puts    int
	// put and flush, when set, may fail a call (under mu).
	put   func(recs []sink.Record) error
	flush func() error
}

func (m *memSink) Put(_ context.Context, recs []sink.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	if m.put != nil {
		if err := m.put(recs); err != nil {
			return err
		}
	}
	m.pending = append(m.pending, recs...)
	return nil
}

func (m *memSink) Flush(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flush != nil {
		if err := m.flush(); err != nil {
			return err
		}
	}
	m.durable = append(m.durable, m.pending...)
	m.pending = nil
	return nil
}

func (m *memSink) Close() error { return nil }

func (m *memSink) records() []sink.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.durable)
}

func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.durable)
}

func (m *memSink) values() []any {
	var out []any
	for _, r := range m.records() {
		out = append(out, r.Value)
	}
	return out
}
