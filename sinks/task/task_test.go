package task

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

func strRecs(topic string, partition int32, from, n int) []*kgo.Record {
	out := make([]*kgo.Record, n)
	for i := range out {
		out[i] = &kgo.Record{Topic: topic, Partition: partition,
			Key: fmt.Appendf(nil, "k%d", from+i), Value: fmt.Appendf(nil, "v%d", from+i)}
	}
	return out
}

func wantValues(from, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("v%d", from+i)
	}
	return out
}

// A Flush that fails commits nothing; after a restart the records come
// again and, flushed, are committed.
func TestCommitAfterFlush(t *testing.T) {
	topic := newTopic(t, 1)
	produce(t, strRecs(topic, 0, 0, 5)...)
	cfg := baseConfig(groupName(t), topic)

	errFlush := errors.New("disk on fire")
	bad := &memSink{flush: func() error { return errFlush }}
	_, wait := start(t, cfg, bad)
	err := wait()
	if !errors.Is(err, errFlush) {
		t.Fatalf("Run = %v, want the flush error", err)
	}
	if bad.puts == 0 {
		t.Fatal("the failing sink never got a Put")
	}
	if c := committed(t, GroupID(cfg.Name), topic); len(c) != 0 {
		t.Fatalf("committed %v after a failed flush", c)
	}

	good := &memSink{}
	stop, _ := start(t, cfg, good)
	waitFor(t, "5 records", func() bool { return good.count() >= 5 })
	waitFor(t, "commit", func() bool { return committed(t, GroupID(cfg.Name), topic)[0] == 5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := good.values(), wantValues(0, 5); !slices.Equal(got, want) {
		t.Fatalf("values %v, want %v", got, want)
	}
	for i, r := range good.records() {
		if r.Key != fmt.Sprintf("k%d", i) || r.Topic != topic || r.OriginalTopic != topic || r.Offset != int64(i) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
}

// Two tasks in one group, the first stopped while records flow: every
// record reaches a sink, and at every moment each committed offset is
// covered by flushed records.
func TestRebalanceTwoTasks(t *testing.T) {
	const parts = 4
	topic := newTopic(t, parts)
	cfg := baseConfig(groupName(t), topic)
	cfg.MaxPollRecords = 7
	group := GroupID(cfg.Name)

	var mu sync.Mutex
	next := 0 // records per partition produced so far
	produceRound := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		var recs []*kgo.Record
		for p := int32(0); p < parts; p++ {
			recs = append(recs, strRecs(topic, p, next, n)...)
		}
		produce(t, recs...)
		next += n
	}

	a, b := &memSink{}, &memSink{}
	flushed := func() map[int32]map[int64]bool {
		out := map[int32]map[int64]bool{}
		for _, s := range []*memSink{a, b} {
			for _, r := range s.records() {
				if out[r.Partition] == nil {
					out[r.Partition] = map[int64]bool{}
				}
				out[r.Partition][r.Offset] = true
			}
		}
		return out
	}
	// check: every offset below a committed one is in a sink. Offsets are
	// read first: flushed records only grow.
	check := func() {
		t.Helper()
		c := committed(t, group, topic)
		f := flushed()
		for p, at := range c {
			for o := int64(0); o < at; o++ {
				if !f[p][o] {
					t.Fatalf("partition %d committed at %d but offset %d was never flushed", p, at, o)
				}
			}
		}
	}
	produceRound(50)
	stopA, _ := start(t, cfg, a)
	waitFor(t, "task a to write", func() bool { check(); return a.count() >= 50*parts })
	stopB, _ := start(t, cfg, b)
	waitFor(t, "task b to get records", func() bool { check(); produceRound(5); return b.count() > 0 })

	// Stop a while records keep coming: its partitions move to b.
	var producing sync.WaitGroup
	producing.Add(1)
	go func() {
		defer producing.Done()
		for range 20 {
			produceRound(5)
		}
	}()
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	producing.Wait()
	total := int64(next)
	waitFor(t, "every offset committed", func() bool {
		check()
		c := committed(t, group, topic)
		for p := int32(0); p < parts; p++ {
			if c[p] != total {
				return false
			}
		}
		return true
	})
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	f := flushed()
	for p := int32(0); p < parts; p++ {
		if int64(len(f[p])) != total {
			t.Fatalf("partition %d: %d distinct offsets flushed, want %d", p, len(f[p]), total)
		}
	}
	if a.count() == 0 || b.count() == 0 {
		t.Fatalf("a wrote %d, b %d: both tasks should have written", a.count(), b.count())
	}
}

// Under tolerance none a record that cannot be converted fails the task
// with its coordinates; nothing of its batch is committed.
func TestToleranceNone(t *testing.T) {
	topic := newTopic(t, 1)
	recs := strRecs(topic, 0, 0, 4)
	recs[2].Value = []byte("{not json")
	for _, r := range recs[:2] {
		r.Value = []byte(`"ok"`)
	}
	recs[3].Value = []byte(`"ok"`)
	produce(t, recs...)
	cfg := baseConfig(groupName(t), topic)
	cfg.ValueConverter = ConverterConfig{Class: JSONConverterClass, Props: map[string]string{"schemas.enable": "false"}}
	cfg.Errors.LogEnable = true
	s := &memSink{}
	_, wait := start(t, cfg, s)
	err := wait()
	if !errors.Is(err, ErrToleranceExceeded) {
		t.Fatalf("Run = %v, want ErrToleranceExceeded", err)
	}
	coords := fmt.Sprintf("%s/0@2", topic)
	if !strings.Contains(err.Error(), coords) || !strings.Contains(err.Error(), string(StageValueConverter)) {
		t.Fatalf("error %q does not name %s and the stage", err, coords)
	}
	if c := committed(t, GroupID(cfg.Name), topic); len(c) != 0 {
		t.Fatalf("committed %v", c)
	}
	if s.count() != 0 {
		t.Fatalf("sink got %v", s.values())
	}

	// A sink's RecordError under none fails the same way.
	topic2 := newTopic(t, 1)
	produce(t, strRecs(topic2, 0, 0, 3)...)
	cfg2 := baseConfig(groupName(t), topic2)
	rejecting := &memSink{put: func(recs []sink.Record) error {
		for _, r := range recs {
			if r.Value == "v1" {
				return &sink.RecordError{Record: r, Err: errors.New("constraint violated")}
			}
		}
		return nil
	}}
	_, wait = start(t, cfg2, rejecting)
	err = wait()
	if !errors.Is(err, ErrToleranceExceeded) || !strings.Contains(err.Error(), fmt.Sprintf("%s/0@1", topic2)) ||
		!strings.Contains(err.Error(), "constraint violated") {
		t.Fatalf("Run = %v", err)
	}
	if c := committed(t, GroupID(cfg2.Name), topic2); len(c) != 0 {
		t.Fatalf("committed %v", c)
	}
}

// Retriable failures of Put and of a transform are retried with backoff,
// then the batch goes through.
func TestRetryThenSuccess(t *testing.T) {
	topic := newTopic(t, 1)
	produce(t, strRecs(topic, 0, 0, 3)...)
	cfg := baseConfig(groupName(t), topic)
	cfg.Errors.RetryTimeout = -1
	cfg.Errors.RetryDelayMax = 400_000_000 // 400ms
	failures := 2
	s := &memSink{put: func([]sink.Record) error {
		if failures > 0 {
			failures--
			return Retriable(errors.New("target unavailable"))
		}
		return nil
	}}
	var mu sync.Mutex
	applied := map[int64]int{}
	tr := transformFunc(func(r sink.Record) (sink.Record, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		applied[r.Offset]++
		if r.Offset == 1 && applied[r.Offset] == 1 {
			return r, false, Retriable(errors.New("lookup timed out"))
		}
		r.Topic = "renamed"
		return r, true, nil
	})
	stop, _ := start(t, cfg, s, WithTransform(tr, "test.Rename"))
	waitFor(t, "commit", func() bool { return committed(t, GroupID(cfg.Name), topic)[0] == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.values(), wantValues(0, 3); !slices.Equal(got, want) {
		t.Fatalf("values %v, want %v", got, want)
	}
	if s.puts != 3 {
		t.Fatalf("%d puts, want 3 (2 retriable failures)", s.puts)
	}
	if applied[1] != 2 || applied[0] != 1 {
		t.Fatalf("transform calls %v", applied)
	}
	for _, r := range s.records() {
		if r.Topic != "renamed" || r.OriginalTopic != topic {
			t.Fatalf("record %+v", r)
		}
	}

	// Without errors.retry.timeout the same failure fails the task.
	topic2 := newTopic(t, 1)
	produce(t, strRecs(topic2, 0, 0, 1)...)
	cfg2 := baseConfig(groupName(t), topic2)
	s2 := &memSink{put: func([]sink.Record) error { return Retriable(errors.New("target unavailable")) }}
	_, wait := start(t, cfg2, s2)
	if err := wait(); err == nil || !strings.Contains(err.Error(), "target unavailable") {
		t.Fatalf("Run = %v", err)
	}
	if s2.puts != 1 {
		t.Fatalf("%d puts without retries", s2.puts)
	}
}

type transformFunc func(sink.Record) (sink.Record, bool, error)

func (f transformFunc) Apply(r sink.Record) (sink.Record, bool, error) { return f(r) }
