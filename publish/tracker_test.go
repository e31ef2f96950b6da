package publish

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

func committed(t *testing.T, tr *Tracker) any {
	t.Helper()
	pos, ok := tr.Committed()
	if !ok {
		return nil
	}
	return pos
}

func TestTrackerOutOfOrder(t *testing.T) {
	type step struct {
		ack  int // index into tickets
		err  error
		want any // committed position after the step (nil: none)
	}
	boom := errors.New("boom")
	tests := []struct {
		name      string
		positions []any
		steps     []step
		wantErr   bool
	}{
		{
			name:      "in order",
			positions: []any{10, 20, 30},
			steps:     []step{{ack: 0, want: 10}, {ack: 1, want: 20}, {ack: 2, want: 30}},
		},
		{
			name:      "reverse order",
			positions: []any{10, 20, 30},
			steps:     []step{{ack: 2, want: nil}, {ack: 1, want: nil}, {ack: 0, want: 30}},
		},
		{
			name:      "hole in the middle",
			positions: []any{1, 2, 3, 4},
			steps:     []step{{ack: 0, want: 1}, {ack: 2, want: 1}, {ack: 3, want: 1}, {ack: 1, want: 4}},
		},
		{
			name:      "nil positions carry nothing",
			positions: []any{nil, nil, "tx1", nil, "tx2"},
			steps: []step{
				{ack: 0, want: nil}, {ack: 1, want: nil}, {ack: 2, want: "tx1"},
				{ack: 4, want: "tx1"}, {ack: 3, want: "tx2"},
			},
		},
		{
			name:      "group end acked first",
			positions: []any{nil, nil, "tx1"},
			steps:     []step{{ack: 2, want: nil}, {ack: 0, want: nil}, {ack: 1, want: "tx1"}},
		},
		{
			name:      "failure stops before the failed record",
			positions: []any{1, 2, 3, 4},
			steps: []step{
				{ack: 2, want: nil}, {ack: 1, err: boom, want: nil}, {ack: 3, want: nil},
				{ack: 0, want: 1},
				{ack: 1, want: 1}, // a late success for the failed record changes nothing
			},
			wantErr: true,
		},
		{
			name:      "failure of the first record",
			positions: []any{1, 2},
			steps:     []step{{ack: 1, want: nil}, {ack: 0, err: boom, want: nil}, {ack: 0, want: nil}},
			wantErr:   true,
		},
		{
			name:      "duplicate ack is a no-op",
			positions: []any{1, 2, 3},
			steps:     []step{{ack: 1, want: nil}, {ack: 1, want: nil}, {ack: 0, want: 2}, {ack: 0, want: 2}, {ack: 2, want: 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker()
			tickets := make([]Ticket, len(tt.positions))
			for i, p := range tt.positions {
				tickets[i] = tr.Track(p)
			}
			for i, st := range tt.steps {
				tr.Ack(tickets[st.ack], st.err)
				if got := committed(t, tr); got != st.want {
					t.Fatalf("step %d (ack %d, err %v): committed %v, want %v", i, st.ack, st.err, got, st.want)
				}
			}
			err := tr.Err()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Err() = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, boom) {
				t.Fatalf("Err() = %v, does not wrap the cause", err)
			}
		})
	}
}

func TestTrackerMark(t *testing.T) {
	tr := NewTracker()
	a := tr.Track(1)
	tr.Mark(2) // heartbeat behind an unacked record
	if got := committed(t, tr); got != nil {
		t.Fatalf("committed %v before the record is acked", got)
	}
	tr.Ack(a, nil)
	if got := committed(t, tr); got != 2 {
		t.Fatalf("committed %v, want 2", got)
	}
	tr.Mark(3) // nothing in flight: immediate
	if got := committed(t, tr); got != 3 {
		t.Fatalf("committed %v, want 3", got)
	}
	if n := tr.Pending(); n != 0 {
		t.Fatalf("pending %d, want 0", n)
	}
}

func TestTrackerNotify(t *testing.T) {
	tr := NewTracker()
	a, b := tr.Track(1), tr.Track(2)
	tr.Ack(b, nil)
	select {
	case <-tr.Notify():
		t.Fatal("notified without an advance")
	default:
	}
	tr.Ack(a, nil)
	select {
	case <-tr.Notify():
	default:
		t.Fatal("no notification after advance")
	}
	c := tr.Track(3)
	tr.Ack(c, errors.New("lost"))
	select {
	case <-tr.Notify():
	default:
		t.Fatal("no notification after failure")
	}
}

// TestTrackerGrowth acks a window far larger than the initial ring in a
// random order and checks the prefix is exact after every ack.
func TestTrackerGrowth(t *testing.T) {
	const n = 5000
	tr := NewTracker()
	tickets := make([]Ticket, n)
	for i := range n {
		tickets[i] = tr.Track(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	order := rng.Perm(n)
	acked := make([]bool, n)
	prefix := -1
	for _, i := range order {
		tr.Ack(tickets[i], nil)
		acked[i] = true
		for prefix+1 < n && acked[prefix+1] {
			prefix++
		}
		got, ok := tr.Committed()
		if prefix < 0 {
			if ok {
				t.Fatalf("committed %v with nothing acked in order", got)
			}
			continue
		}
		if !ok || got != prefix {
			t.Fatalf("after ack %d: committed %v, want %d", i, got, prefix)
		}
	}
	// Keep using the ring after it wrapped many times.
	for i := n; i < 3*n; i++ {
		tk := tr.Track(i)
		tr.Ack(tk, nil)
	}
	if got := committed(t, tr); got != 3*n-1 {
		t.Fatalf("committed %v, want %d", got, 3*n-1)
	}
}

// TestTrackerConcurrent tracks from one goroutine (the source) and acks from
// many (the producer's callbacks), as the publisher does. Run with -race.
func TestTrackerConcurrent(t *testing.T) {
	const n, workers = 20000, 8
	tr := NewTracker()
	ch := make(chan Ticket, 256)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []Ticket // hold some back to reorder acks
			for tk := range ch {
				held = append(held, tk)
				if len(held) == 7 {
					for i := len(held) - 1; i >= 0; i-- {
						tr.Ack(held[i], nil)
					}
					held = held[:0]
				}
			}
			for _, tk := range held {
				tr.Ack(tk, nil)
			}
		}()
	}
	var last any
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range tr.Notify() {
			pos, ok := tr.Committed()
			if !ok {
				continue
			}
			if last != nil && pos.(int) < last.(int) {
				t.Errorf("committed went backwards: %v after %v", pos, last)
			}
			last = pos
			if pos == n-1 {
				return
			}
		}
	}()
	for i := range n {
		ch <- tr.Track(i)
	}
	close(ch)
	wg.Wait()
	<-done
	if got := committed(t, tr); got != n-1 {
		t.Fatalf("committed %v, want %d", got, n-1)
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkTracker(b *testing.B) {
	b.Run("in-order", func(b *testing.B) {
		tr := NewTracker()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			tr.Ack(tr.Track(nil), nil)
		}
	})
	b.Run("window-1024-reversed", func(b *testing.B) {
		tr := NewTracker()
		var win [1024]Ticket
		pos := any(1) // a preallocated position: measure the tracker, not boxing
		b.ReportAllocs()
		for b.Loop() {
			for i := range win {
				win[i] = tr.Track(pos)
			}
			for i := len(win) - 1; i >= 0; i-- {
				tr.Ack(win[i], nil)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(win)), "ns/record")
	})
	b.Run("parallel-ack", func(b *testing.B) {
		tr := NewTracker()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tr.Ack(tr.Track(nil), nil)
			}
		})
	})
}
