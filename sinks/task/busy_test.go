package task

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// busySink reports busy for a few calls after each Put.
type busySink struct {
	memSink
	bmu    sync.Mutex
	budget int
	events []string
}

func (b *busySink) Put(ctx context.Context, recs []sink.Record) error {
	b.bmu.Lock()
	b.events = append(b.events, "put")
	b.budget = 3
	b.bmu.Unlock()
	return b.memSink.Put(ctx, recs)
}

func (b *busySink) Busy() bool {
	b.bmu.Lock()
	defer b.bmu.Unlock()
	busy := b.budget > 0
	if busy {
		b.budget--
		b.events = append(b.events, "busy")
	}
	return busy
}

// A busy sink gets no Put until it drains; every record still arrives.
func TestBusyPauses(t *testing.T) {
	topic := newTopic(t, 1)
	produce(t, strRecs(topic, 0, 0, 6)...)
	cfg := baseConfig(groupName(t), topic)
	cfg.MaxPollRecords = 2
	s := &busySink{}
	stop, _ := start(t, cfg, s)
	waitFor(t, "commit", func() bool { return committed(t, GroupID(cfg.Name), topic)[0] == 6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.values(), wantValues(0, 6); !slices.Equal(got, want) {
		t.Fatalf("values %v, want %v", got, want)
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	// After every put but the last, three busy answers before the next.
	puts := 0
	for i, e := range s.events {
		if e != "put" {
			continue
		}
		puts++
		if puts > 1 && !slices.Equal(s.events[i-3:i], []string{"busy", "busy", "busy"}) {
			t.Fatalf("put %d without waiting for the sink: %v", puts, s.events)
		}
	}
	if puts < 3 {
		t.Fatalf("%d puts of 6 records at 2 per poll", puts)
	}
}
