package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// TestCrashBeforeFirstSnapshotChunk stops the source right after its first
// batch, the snapshot's start mark, as a crash would; a logical message is
// committed before the restart. The restart resumes from the mark and emits
// the message: re-creating the slot would have lost it.
func TestCrashBeforeFirstSnapshotChunk(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)", "INSERT INTO $S.a SELECT generate_series(1, 50)")
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	opts := Options{Name: "t", TopicPrefix: "p", URL: e.url}

	src, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mark event.Batch
	errStop := errors.New("crash")
	err = src.Run(ctx, func(_ context.Context, b event.Batch) error {
		mark = b
		return errStop // nothing after the first batch is delivered
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("first run: %v", err)
	}
	if len(mark) != 1 || mark[0].Topic != "" || mark[0].Position == nil {
		t.Fatalf("first batch = %+v, want one position-only start mark", mark)
	}
	// Committed after the slot was created, before the restart.
	e.exec("SELECT pg_logical_emit_message(true, '$S.pfx', 'between')")
	e.exec("INSERT INTO $S.a VALUES (51)")

	opts.Start = mark[0].Position
	r := startSource(t, cfg, opts)
	got := r.wait(t, 52)
	var msgs, reads, creates int
	for _, ev := range got {
		switch ev.Op {
		case event.OpMessage:
			msgs++
		case event.OpRead:
			reads++
		case event.OpCreate:
			creates++
		}
	}
	if msgs != 1 || reads+creates != 51 {
		t.Fatalf("restart emitted %d messages, %d reads, %d creates; want the message and each of the 51 rows once (%s)", msgs, reads, creates, ops(got))
	}
}
