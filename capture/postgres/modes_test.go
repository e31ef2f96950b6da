package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// lastPosition returns the position of the newest emitted batch, as the
// daemon would save it once Kafka acked everything.
func (r *runner) lastPosition(t *testing.T) event.Position {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.batches) - 1; i >= 0; i-- {
		for j := len(r.batches[i]) - 1; j >= 0; j-- {
			if p := r.batches[i][j].Position; p != nil {
				return p
			}
		}
	}
	t.Fatal("no position emitted")
	return nil
}

// ops renders the ops of events, e.g. "rrrc".
func ops(evs []event.Event) string {
	b := make([]byte, len(evs))
	for i, e := range evs {
		b[i] = byte(e.Op)
	}
	return string(b)
}

// settle waits until the runner has emitted exactly n events and then a
// little longer, to see that nothing more arrives.
func (r *runner) settle(t *testing.T, n int) []event.Event {
	t.Helper()
	got := r.wait(t, n)
	time.Sleep(500 * time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) != n {
		t.Fatalf("got %d events (%s), want %d", len(r.events), ops(r.events), n)
	}
	return got
}

// TestSnapshotModes runs each snapshot.mode through a first start, a
// restart from the saved position, and (for when_needed) a restart after the
// slot was dropped.
//
// It runs alone, not beside the package's parallel tests: a slot created
// while other sessions run DDL can meet Postgres' "could not map filenode"
// decoding error for their tables, and this test creates slots five times.
func TestSnapshotModes(t *testing.T) {
	for _, tc := range []struct {
		mode        string
		first       string // ops of the first run: snapshot, then one insert
		streams     bool   // the first run streams after the snapshot
		restart     string // ops of a restart from the saved position: snapshot, then one insert
		afterDrop   string // when_needed: ops after the slot is dropped ("" = not tried)
		restartDone bool   // Run returns nil at once on restart (initial_only)
	}{
		{mode: SnapshotInitial, first: "rrrc", streams: true, restart: "c"},
		{mode: SnapshotNoData, first: "c", streams: true, restart: "c"},
		{mode: SnapshotAlways, first: "rrrc", streams: true, restart: "rrrrc"},
		{mode: SnapshotWhenNeeded, first: "rrrc", streams: true, restart: "c", afterDrop: "rrrrrc"},
		{mode: SnapshotInitialOnly, first: "rrr", restartDone: true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			e := newPGEnv(t, "CREATE TABLE $S.m (id int PRIMARY KEY)", "INSERT INTO $S.m VALUES (1), (2), (3)")
			cfg := e.config()
			cfg.SnapshotMode = tc.mode
			opts := Options{Name: "t", TopicPrefix: "p", URL: e.url}

			r := startSource(t, cfg, opts)
			next := 4
			insert := func() {
				e.exec("INSERT INTO $S.m VALUES (" + itoa(next) + ")")
				next++
			}
			if tc.streams {
				if tc.mode != SnapshotNoData {
					r.wait(t, 3) // the snapshot is read before the insert
				}
				waitSlot(t, e)
				insert()
			} else {
				select {
				case err := <-r.done:
					r.done <- err
					if err != nil {
						t.Fatalf("initial_only Run: %v", err)
					}
				case <-time.After(60 * time.Second):
					t.Fatal("initial_only Run did not return after the snapshot")
				}
			}
			if got := ops(r.settle(t, len(tc.first))); got != tc.first {
				t.Fatalf("first run ops = %q, want %q", got, tc.first)
			}
			pos := r.lastPosition(t)
			r.stop(t)

			opts.Start = pos
			if tc.restartDone {
				src, err := New(cfg, opts)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := src.Run(ctx, func(_ context.Context, b event.Batch) error { n += len(b); return nil }); err != nil || n != 0 {
					t.Fatalf("initial_only restart: Run = %v after %d events, want nil after 0", err, n)
				}
				return
			}
			r2 := startSource(t, cfg, opts)
			if tc.restart != "c" {
				r2.wait(t, len(tc.restart)-1)
			}
			waitSlot(t, e)
			insert()
			if got := ops(r2.settle(t, len(tc.restart))); got != tc.restart {
				t.Fatalf("restart ops = %q, want %q", got, tc.restart)
			}
			if tc.afterDrop == "" {
				return
			}
			pos = r2.lastPosition(t)
			r2.stop(t)
			dropSlot(t, e)
			opts.Start = pos
			r3 := startSource(t, cfg, opts)
			r3.wait(t, len(tc.afterDrop)-1)
			waitSlot(t, e)
			insert()
			if got := ops(r3.settle(t, len(tc.afterDrop))); got != tc.afterDrop {
				t.Fatalf("after dropping the slot ops = %q, want %q", got, tc.afterDrop)
			}
		})
	}
}

func dropSlot(t *testing.T, e *pgEnv) {
	t.Helper()
	for range 100 {
		if _, err := e.conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", e.slot); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("could not drop the slot")
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
