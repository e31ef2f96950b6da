package mysql

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// runUntil runs a source and delivers its batches to got until stop says
// so after a batch (that batch is delivered, the next one fails: a crash
// right after a position was saved). It returns the position saved last.
func runUntil(t *testing.T, cfg Config, opts Options, got *[]event.Event, stop func(event.Batch) bool) event.Position {
	t.Helper()
	src, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	saved := opts.Start
	stopped := false
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(_ context.Context, b event.Batch) error {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return errCrash
			}
			*got = append(*got, b...)
			if p := b.Last(); p != nil {
				saved = p
			}
			if stop(b) {
				stopped = true
				return errCrash
			}
			return nil
		})
	}()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("runUntil: timed out")
	}
	if !errors.Is(err, errCrash) {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return saved
}

// TestSnapshotResumesByChunk interrupts a chunked snapshot in the middle
// of a table, changes rows on both sides of the last delivered key (and
// in a table not read yet) while the source is down, resumes, then
// changes rows again: the resumed run reads only the rest of the table,
// every key's versions go forward, and the delivered changes rebuild the
// tables exactly.
func TestSnapshotResumesByChunk(t *testing.T) {
	const rows = 400
	e := newMyEnv(t,
		"CREATE TABLE a (id INT UNSIGNED PRIMARY KEY, v BIGINT NOT NULL)",
		"CREATE TABLE c (k1 BIGINT, k2 SMALLINT, v BIGINT NOT NULL, PRIMARY KEY (k1, k2))",
		"CREATE TABLE z (id INT PRIMARY KEY)",
	)
	version := int64(0)
	next := func() int64 { version++; return version }
	var va, vc []string
	for i := 1; i <= rows; i++ {
		va = append(va, fmt.Sprintf("(%d, %d)", i, next()))
		vc = append(vc, fmt.Sprintf("(%d, %d, %d)", -i, i%3, next()))
	}
	e.exec("INSERT INTO a VALUES " + strings.Join(va, ", "))
	e.exec("INSERT INTO c VALUES " + strings.Join(vc, ", "))

	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	cfg.SnapshotFetchSize = 37
	cfg.MaxBatchSize = 16
	cfg.SchemaHistoryFile = filepath.Join(t.TempDir(), "history.jsonl")
	opts := e.options()

	// Run 1: crash after about 150 rows of a.
	var got []event.Event
	saved := runUntil(t, cfg, opts, &got, func(event.Batch) bool { return len(got) >= 150 })
	p, err := decodePosition(saved)
	if err != nil || !p.Snapshot || p.Snap == nil {
		t.Fatalf("saved position %s (%v): want a snapshot position with progress", saved, err)
	}
	ta := p.Snap.Tables[e.db+".a"]
	if ta == nil || ta.Done || len(ta.Spans) != 1 || ta.Spans[0].To == nil {
		t.Fatalf("progress of a = %+v, want one open span", ta)
	}
	cut, _ := new(big.Int).SetString(ta.Spans[0].To[0], 10)
	if n := cut.Int64(); n < 100 || n >= rows {
		t.Fatalf("a was delivered up to id %d, want a cut inside the table", n)
	}
	run1 := len(got)

	// While the source is down: changes below and above the cut (some
	// keys twice, so that an unfiltered stream would go backwards),
	// deletes on both sides, inserts, and changes in c (not read yet).
	cutN := int(cut.Int64())
	for _, id := range []int{1, cutN, cutN + 1, cutN + 50, rows} {
		e.exec(fmt.Sprintf("UPDATE a SET v = %d WHERE id = %d", next(), id))
		e.exec(fmt.Sprintf("UPDATE a SET v = %d WHERE id = %d", next(), id))
	}
	e.exec(fmt.Sprintf("DELETE FROM a WHERE id IN (2, %d)", cutN+2))
	e.exec(fmt.Sprintf("INSERT INTO a VALUES (%d, %d), (%d, %d)", rows+1, next(), 4000000000, next()))
	// Key changes across the cut: each half is decided by its own key.
	e.exec(fmt.Sprintf("UPDATE a SET id = %d, v = %d WHERE id = 5", rows+100, next()))
	e.exec(fmt.Sprintf("UPDATE a SET id = 2, v = %d WHERE id = %d", next(), cutN+5))
	e.exec(fmt.Sprintf("UPDATE c SET v = %d WHERE k1 = -1", next()))
	e.exec(fmt.Sprintf("UPDATE c SET v = %d WHERE k1 = -1", next()))
	e.exec("DELETE FROM c WHERE k1 = -2")

	// Run 2 resumes; once the snapshot is done, more changes, then a
	// marker row in z ends the run.
	opts.Start = saved
	snapDone := make(chan struct{})
	var once sync.Once
	go func() {
		<-snapDone
		for _, id := range []int{1, cutN + 1, cutN + 50, 3} {
			e.exec(fmt.Sprintf("UPDATE a SET v = %d WHERE id = %d", next(), id))
		}
		e.exec(fmt.Sprintf("DELETE FROM a WHERE id = %d", cutN+3))
		e.exec(fmt.Sprintf("UPDATE c SET v = %d WHERE k1 = -1", next()))
		e.exec("INSERT INTO z VALUES (1)")
	}()
	runUntil(t, cfg, opts, &got, func(b event.Batch) bool {
		for _, ev := range b {
			if ev.Position != nil {
				if p, err := decodePosition(ev.Position); err == nil && !p.Snapshot {
					once.Do(func() { close(snapDone) })
				}
			}
			if strings.HasSuffix(ev.Topic, ".z") {
				return true
			}
		}
		return false
	})

	// The resumed run read a only after the cut.
	for _, ev := range got[run1:] {
		if ev.Op == event.OpRead && strings.HasSuffix(ev.Topic, ".a") {
			if id := ev.After.Get("id").(int64); id <= cut.Int64() {
				t.Errorf("the resumed snapshot read a/%d again (delivered up to %d)", id, cut.Int64())
			}
		}
	}
	// Per key: versions never go backwards, and the changes rebuild the
	// table.
	state := map[string]int64{}
	last := map[string]int64{}
	for i, ev := range got {
		tbl := ev.Topic[strings.LastIndexByte(ev.Topic, '.')+1:]
		if tbl == "z" {
			continue
		}
		row := ev.After
		if ev.Op == event.OpDelete {
			row = ev.Before
		}
		key := tbl + "/" + encode(t, ev.Key)
		v := row.Get("v").(int64)
		if v < last[key] {
			t.Errorf("event %d: %s %c version %d after %d", i, key, ev.Op, v, last[key])
		}
		last[key] = v
		if ev.Op == event.OpDelete {
			delete(state, key)
		} else {
			state[key] = v
		}
	}
	want := map[string]int64{}
	for _, q := range []struct{ tbl, sql string }{
		{"a", "SELECT CONCAT('{\"id\":', id, '}'), v FROM a"},
		{"c", "SELECT CONCAT('{\"k1\":', k1, ',\"k2\":', k2, '}'), v FROM c"},
	} {
		r, err := e.conn.Execute(q.sql)
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.RowNumber() {
			want[q.tbl+"/"+fieldText(r.Resultset, i, 0)] = int64(fieldInt(r.Resultset, i, 1))
		}
		r.Close()
	}
	var diffs []string
	for k, v := range want {
		if g, ok := state[k]; !ok || g != v {
			diffs = append(diffs, fmt.Sprintf("%s: delivered %d (present %v), table has %d", k, g, ok, v))
		}
	}
	for k, v := range state {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: delivered %d, not in the table", k, v))
		}
	}
	slices.Sort(diffs)
	for i, d := range diffs {
		if i == 10 {
			t.Errorf("… %d more", len(diffs)-10)
			break
		}
		t.Error(d)
	}
}

func TestKeyFilterKeep(t *testing.T) {
	tbl, err := NewTable("p", TableID{DB: "d", Table: "t"}, []Column{
		{Name: "id", DataType: "int", ColumnType: "int(10) unsigned"},
		{Name: "v", DataType: "bigint", ColumnType: "bigint(20)"},
	}, []string{"id"}, TypeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := newKeyFilter("mariadb", &snapProgress{Start: "0-1-10", Tables: map[string]*snapTable{
		"d.t": {Done: true, Spans: []snapSpan{{At: "0-1-10", To: []string{"100"}}, {At: "0-1-20", To: []string{"3000000000"}}, {At: "0-1-30"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		gtid string
		id   any
		want bool
	}{
		{"0-1-11", int32(5), true},             // read at 10: every later change
		{"0-1-11", int32(101), false},          // read at 20, which holds 11
		{"0-1-21", int32(101), true},           // after 20
		{"0-1-21", int32(-1294967296), true},   // 3000000000 in the binlog's signed int32: span at 20
		{"0-1-15", int32(-1294967296), false},  // which holds 15
		{"0-1-25", uint64(3000000001), false},  // read at 30
		{"0-1-31", []byte("3000000001"), true}, // after 30
	} {
		got, err := f.keep(tbl, tt.gtid, []any{tt.id, int64(1)})
		if err != nil || got != tt.want {
			t.Errorf("keep(%s, %v) = %v, %v; want %v", tt.gtid, tt.id, got, err, tt.want)
		}
	}
	if f.until.String() != "0-1-30" {
		t.Errorf("until = %s", f.until)
	}
}

// FuzzKeyFilter: any position's snapshot progress either fails to load
// with ErrBadPosition or filters rows without panicking.
func FuzzKeyFilter(f *testing.F) {
	f.Add(`{"v":1,"gtids":"0-1-5","snap":{"start":"0-1-5","tables":{"d.t":{"spans":[{"at":"0-1-5","to":["7"]},{"at":"0-1-9"}],"done":true}}}}`, int64(8), "0-1-8")
	f.Add(`{"v":1,"snapshot":true,"snap":{"start":"0-1-5","tables":{"d.t":{"spans":[{"at":"x","to":["a"]}]}}}}`, int64(1), "0-1-1")
	f.Fuzz(func(t *testing.T, raw string, id int64, gtid string) {
		p, err := decodePosition(event.Position(raw))
		if err != nil {
			return
		}
		kf, err := newKeyFilter("mariadb", p.Snap)
		if err != nil {
			if !errors.Is(err, ErrBadPosition) {
				t.Fatalf("newKeyFilter: %v", err)
			}
			return
		}
		if kf == nil {
			return
		}
		tbl, err := NewTable("p", TableID{DB: "d", Table: "t"}, []Column{{Name: "id", DataType: "bigint", ColumnType: "bigint(20)"}}, []string{"id"}, TypeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = kf.keep(tbl, gtid, []any{id})
	})
}
