package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/event"
)

func TestParseISOTime(t *testing.T) {
	for _, tt := range []struct {
		in    string
		class int
		us    int64
	}{
		{"1970-01-01", 0, 0},
		{"1970-01-02", 0, 86_400_000_000},
		{"1969-12-31 23:59:59.999999", 0, -1},
		{"2000-02-29 12:00:00.5", 0, 951825600_500000},
		{"2000-02-29 12:00:00.5+00", 0, 951825600_500000},
		{"2000-02-29 17:30:00.5+05:30", 0, 951825600_500000},
		{"2000-02-29 11:00:00.5-01", 0, 951825600_500000},
		{"0001-01-01 BC", 0, -62135596800_000000 - 366*86_400_000_000}, // year 0 is a leap year
		{"0001-01-01", 0, -62135596800_000000},
		{"infinity", 1, 0},
		{"-infinity", -1, 0},
	} {
		c, us, err := parseISOTime(tt.in)
		if err != nil || c != tt.class || us != tt.us {
			t.Errorf("parseISOTime(%q) = %d, %d, %v; want %d, %d", tt.in, c, us, err, tt.class, tt.us)
		}
	}
	for _, bad := range []string{"", "01/02/2000", "2000-01-01 12:00", "2000-01-01 12:00:00.1234567"} {
		if _, _, err := parseISOTime(bad); err == nil {
			t.Errorf("parseISOTime(%q) succeeded", bad)
		}
	}
}

func TestKeyTextJSON(t *testing.T) {
	for _, tt := range []struct {
		in   keyText
		want string
	}{
		{keyText("abc"), `"abc"`},
		{keyText("é\"x"), `"é\"x"`},
		{keyText{0xff, 0x01}, `{"hex":"ff01"}`},
	} {
		b, err := json.Marshal(tt.in)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%q) = %s, %v; want %s", tt.in, b, err, tt.want)
		}
		var back keyText
		if err := json.Unmarshal(b, &back); err != nil || !bytes.Equal(back, tt.in) {
			t.Errorf("Unmarshal(%s) = %q, %v", b, back, err)
		}
	}
}

// TestSnapRunSpans: progress grows the current run's span, a done table's
// last span reaches the end, and finish keeps only spans read after start.
func TestSnapRunSpans(t *testing.T) {
	prev := &snapPos{Start: 100, Tables: map[string]*snapTable{
		"s.a": {Spans: []keySpan{{At: 100, To: []keyText{keyText("5")}}}},
		"s.b": {Done: true},
	}}
	r := newSnapRun(100, 200, true, prev)
	r.names = []string{"s.a", "s.b", "s.c"}
	r.keyed = []bool{true, true, false}
	p := r.apply([]snapMark{{table: 0, key: [][]byte{[]byte("7")}}, {table: 0, key: [][]byte{[]byte("9")}}})
	got := string(p.encode())
	want := `{"v":1,"lsn":"0/0","snapshot":{"start":"0/64","tables":{"s.a":{"spans":[{"at":"0/64","to":["5"]},{"at":"0/C8","to":["9"]}]},"s.b":{"done":true}}}}`
	if got != want {
		t.Errorf("position\n got %s\nwant %s", got, want)
	}
	p = r.apply([]snapMark{{table: 2, last: true}})
	if tc := p.Snapshot.Tables["s.c"]; tc == nil || !tc.Done || len(tc.Spans) != 1 || tc.Spans[0].At != 200 || tc.Spans[0].To != nil {
		t.Errorf("keyless table done: %+v", tc)
	}
	done := r.finish()
	got = string(done.encode())
	want = `{"v":1,"lsn":"0/64","dedup":{"start":"0/64","tables":{"s.a":{"done":true,"spans":[{"at":"0/64","to":["5"]},{"at":"0/C8"}]},"s.c":{"done":true,"spans":[{"at":"0/C8"}]}}}}`
	if got != want {
		t.Errorf("finish\n got %s\nwant %s", got, want)
	}
	if u := done.Dedup.until(); u != 200 {
		t.Errorf("until = %d", u)
	}
	// A first run records no filter.
	first := newSnapRun(100, 100, true, nil)
	first.names = []string{"s.a"}
	first.apply([]snapMark{{table: 0, key: [][]byte{[]byte("1")}, last: true}})
	if d := first.finish(); d.Dedup != nil || d.LSN != 100 {
		t.Errorf("first run finish = %s", d.encode())
	}
}

// TestKeyOrderMatchesPostgres sorts values of each Go-ordered key type in
// Postgres and checks the Go comparison agrees on every pair.
func TestKeyOrderMatchesPostgres(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t)
	ctx := context.Background()
	src, err := New(e.config(), Options{Name: "t", TopicPrefix: "p", URL: e.url})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := src.connectNormal(ctx) // the connector's session settings
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, tt := range []struct {
		typ  string
		vals string
	}{
		{"int2", "-32768, -1, 0, 7, 32767"},
		{"int4", "-2147483648, -10, 0, 9, 10, 2147483647"},
		{"int8", "-9223372036854775808, -1, 0, 99, 100, 9223372036854775807"},
		{"oid", "0, 1, 4294967295, 10"},
		{"numeric", "'NaN', 'Infinity', '-Infinity', 0, -0.5, 0.50, 1e20, -1e-20, 1.000001, 1, 123456789012345678901234567890.123"},
		{"uuid", "'00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '0a0eebc9-9c0b-4ef8-bb6d-6bb9bd380a11'"},
		{"bool", "true, false"},
		{"date", "'2000-01-01', '1999-12-31', 'infinity', '-infinity', '0044-03-15 BC', '0001-01-01', '10000-01-01', '1970-01-01'"},
		{"timestamp", "'2000-01-01 00:00:00', '2000-01-01 00:00:00.000001', '1999-12-31 23:59:59.999999', 'infinity', '-infinity', '0001-01-01 00:00:00 BC', '20000-01-01 00:00:00'"},
		{"timestamptz", "'2000-01-01 00:00:00+00', '2000-01-01 05:00:00+06', '2000-01-01 00:00:00.5-01', 'infinity', '-infinity', '0100-01-01 00:00:00+00 BC'"},
		{"text", "'a', 'B', 'b', '', 'ab', 'é', 'z', 'Z', '~', 'a b'"},
		// Asked of Postgres:
		{`text COLLATE "en-x-icu"`, "'a', 'B', 'b', '', 'ab', 'é', 'z', 'Z', '~', 'a b'"},
		{"float8", "'NaN', 'Infinity', '-Infinity', 0, -0.5, 1e300, 2"},
		{"inet", "'10.0.0.1', '10.0.0.0/8', '::1', '192.168.1.1'"},
	} {
		name := strings.Fields(tt.typ)[0] + fmt.Sprint(len(tt.typ))
		table := "$S.k_" + name
		e.exec(fmt.Sprintf("CREATE TABLE %s (k %s PRIMARY KEY)", table, tt.typ))
		e.exec(fmt.Sprintf("INSERT INTO %s VALUES (%s)", table, strings.ReplaceAll(tt.vals, ", ", "), (")))
		rows, err := conn.Query(ctx, "SELECT x.k::text FROM "+strings.ReplaceAll(table, "$S", e.schema)+" x ORDER BY x.k") // not the text alias
		if err != nil {
			t.Fatal(err)
		}
		var sorted [][]byte
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			sorted = append(sorted, []byte(s))
		}
		rows.Close()
		mapper := NewTypeMapper(NewTypeCatalog(conn), src.typeOpts, nil)
		tbl, err := LoadTable(ctx, conn, mapper, TableID{e.schema, "k_" + name}, src.tableOptions())
		if err != nil {
			t.Fatal(err)
		}
		ord, err := keyOrderFor(ctx, conn, tbl)
		if err != nil || ord == nil {
			t.Fatalf("%s: keyOrderFor = %v, %v", tt.typ, ord, err)
		}
		for i := range sorted {
			for j := range sorted {
				c, err := ord.compare([][]byte{sorted[i]}, []keyText{sorted[j]})
				if err != nil || c != cmp3(i, j) {
					t.Errorf("%s: compare(%s, %s) = %d, %v; Postgres orders them %d", tt.typ, sorted[i], sorted[j], c, err, cmp3(i, j))
				}
			}
		}
	}
}

// resumeTable describes one table of the resume test: its key built from
// an integer, and how to find that key in an event.
type resumeTable struct {
	name  string
	rows  int
	ddl   string
	where string                         // WHERE clause on $1.. for one key
	args  func(i int) []any              // key values of key number i
	key   func(row *event.Struct) string // key of an event's row, as text
	less  func(a, b string) bool         // key order (nil: no key, never resumed)
	fill  string                         // INSERT ... SELECT of rows 1..n ($N)
	icu   bool                           // key ordered by the en-x-icu collation
}

func resumeTables() []resumeTable {
	ck := func(i int) string {
		if i%2 == 0 {
			return fmt.Sprintf("K%05d", i)
		}
		return fmt.Sprintf("k%05d", i)
	}
	intLess := func(a, b string) bool {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x < y
	}
	return []resumeTable{
		{name: "a", rows: 20000, ddl: "CREATE TABLE $S.a (id int PRIMARY KEY, v bigint NOT NULL)", where: "id = $1",
			args: func(i int) []any { return []any{i} },
			key:  func(r *event.Struct) string { return fmt.Sprint(r.Get("id")) }, less: intLess,
			fill: "INSERT INTO $S.a SELECT g, nextval('$S.seq') FROM generate_series(1, $N) g"},
		{name: "b", rows: 8000, ddl: "CREATE TABLE $S.b (a int, b text, v bigint NOT NULL, PRIMARY KEY (a, b))", where: "a = $1 AND b = $2",
			args: func(i int) []any { return []any{(i + 1) / 2, map[bool]string{true: "y", false: "x"}[i%2 == 0]} },
			key:  func(r *event.Struct) string { return fmt.Sprintf("%d/%s", r.Get("a"), r.Get("b")) },
			less: func(a, b string) bool {
				a1, a2, _ := strings.Cut(a, "/")
				b1, b2, _ := strings.Cut(b, "/")
				if a1 != b1 {
					return intLess(a1, b1)
				}
				return a2 < b2
			},
			fill: "INSERT INTO $S.b SELECT (g + 1) / 2, CASE WHEN g % 2 = 0 THEN 'y' ELSE 'x' END, nextval('$S.seq') FROM generate_series(1, $N) g"},
		{name: "c", rows: 8000, ddl: `CREATE TABLE $S.c (k text COLLATE "C" PRIMARY KEY, v bigint NOT NULL)`, where: "k = $1",
			args: func(i int) []any { return []any{ck(i)} },
			key:  func(r *event.Struct) string { return r.Get("k").(string) }, less: func(a, b string) bool { return a < b },
			fill: "INSERT INTO $S.c SELECT CASE WHEN g % 2 = 0 THEN 'K' ELSE 'k' END || lpad(g::text, 5, '0'), nextval('$S.seq') FROM generate_series(1, $N) g"},
		{name: "d", rows: 8000, ddl: `CREATE TABLE $S.d (k text COLLATE "en-x-icu" PRIMARY KEY, v bigint NOT NULL)`, where: "k = $1",
			args: func(i int) []any { return []any{ck(i)} },
			key:  func(r *event.Struct) string { return r.Get("k").(string) }, icu: true,
			fill: "INSERT INTO $S.d SELECT CASE WHEN g % 2 = 0 THEN 'K' ELSE 'k' END || lpad(g::text, 5, '0'), nextval('$S.seq') FROM generate_series(1, $N) g"},
		{name: "e", rows: 12000, ddl: "CREATE TABLE $S.e (id int NOT NULL, v bigint NOT NULL)", where: "id = $1",
			args: func(i int) []any { return []any{i} },
			key:  func(r *event.Struct) string { return fmt.Sprint(r.Get("id")) },
			fill: "INSERT INTO $S.e SELECT g, nextval('$S.seq') FROM generate_series(1, $N) g"},
	}
}

// resumeChange is one committed change of the workload.
type resumeChange struct {
	op     byte // c, u, d
	v      int64
	lo, hi uint64 // WAL insert position before the commit and after it
}

// resumeWorkload changes random rows, one autocommit statement at a time
// from one connection, so that versions (from one sequence) rise with
// commit order per key.
type resumeWorkload struct {
	e      *pgEnv
	tables []resumeTable
	mu     sync.Mutex
	exp    map[string][]resumeChange // "table/key" -> changes
}

func (w *resumeWorkload) run(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, w.e.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	rng := rand.New(rand.NewPCG(1, 2))
	live := make([]map[int]bool, len(w.tables))
	for ti, tb := range w.tables {
		live[ti] = map[int]bool{}
		for i := 1; i <= tb.rows; i++ {
			live[ti][i] = true
		}
	}
	lsn := func() (uint64, error) {
		var s string
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&s); err != nil {
			return 0, err
		}
		l, err := pglogrepl.ParseLSN(s)
		return uint64(l), err
	}
	for ctx.Err() == nil {
		ti := rng.IntN(len(w.tables))
		tb := w.tables[ti]
		i := 1 + rng.IntN(tb.rows+tb.rows/10)
		args := tb.args(i)
		table := w.e.schema + "." + tb.name
		where := tb.where
		var sql string
		var op byte
		switch {
		case !live[ti][i]:
			op = 'c'
			ph := make([]string, len(args))
			for j := range args {
				ph[j] = "$" + strconv.Itoa(j+1)
			}
			cols := map[string]string{"a": "id", "b": "a, b", "c": "k", "d": "k", "e": "id"}[tb.name]
			sql = fmt.Sprintf("INSERT INTO %s (%s, v) VALUES (%s, nextval('%s.seq')) RETURNING v", table, cols, strings.Join(ph, ", "), w.e.schema)
		case rng.IntN(6) == 0:
			op = 'd'
			sql = fmt.Sprintf("DELETE FROM %s WHERE %s RETURNING v", table, where)
		default:
			op = 'u'
			sql = fmt.Sprintf("UPDATE %s SET v = nextval('%s.seq') WHERE %s RETURNING v", table, w.e.schema, where)
		}
		lo, err := lsn()
		if err != nil {
			return ignoreCanceled(ctx, err)
		}
		var v int64
		if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
			if ctx.Err() != nil {
				// Cut off: its outcome is unknown, so it is not in the
				// expected changes (the final-state check still sees it).
				return nil
			}
			return fmt.Errorf("%s: %w", sql, err)
		}
		hi, err := lsn()
		if err != nil {
			hi = ^uint64(0)
		}
		live[ti][i] = op != 'd'
		w.mu.Lock()
		k := tb.name + "/" + keyString(tb, i)
		w.exp[k] = append(w.exp[k], resumeChange{op: op, v: v, lo: lo, hi: hi})
		w.mu.Unlock()
	}
	return nil
}

func ignoreCanceled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// keyString renders key number i as the test's events render it.
func keyString(tb resumeTable, i int) string {
	args := tb.args(i)
	if len(args) == 2 {
		return fmt.Sprintf("%d/%s", args[0], args[1])
	}
	return fmt.Sprint(args[0])
}

// runSource runs a source from start until a delivered batch's position
// satisfies crash, or an event satisfies until, then "crashes": later
// batches are never delivered. It returns the delivered events and the last
// batch's position.
func runSource(t *testing.T, cfg Config, opts Options, crash func(position) bool, until func(event.Event) bool) ([]event.Event, event.Position) {
	t.Helper()
	src, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var events []event.Event
	var last event.Position
	n := 0
	enough := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(ctx context.Context, b event.Batch) error {
			mu.Lock()
			if n < 0 {
				mu.Unlock()
				<-ctx.Done() // crashed: never delivered
				return ctx.Err()
			}
			n++
			if crash != nil {
				// Slow delivery: every reader fills its buffer, so chunks of
				// all tables interleave whatever the scheduling.
				time.Sleep(2 * time.Millisecond)
			}
			for _, ev := range b {
				if ev.Topic != "" && strings.Contains(ev.Topic, ".s_") {
					events = append(events, ev)
				}
				if until != nil && until(ev) && n > 0 {
					n = -1
					close(enough)
				}
			}
			if p := b.Last(); p != nil {
				last = p
				dp, err := decodePosition(p)
				if err == nil && crash != nil && n > 0 && dp.Snapshot == nil {
					t.Error("the snapshot finished before the crash point")
					n = -1
					close(enough)
				} else if err == nil && crash != nil && n > 0 && crash(dp) {
					n = -1
					close(enough)
				}
			}
			mu.Unlock()
			return nil
		})
	}()
	select {
	case <-enough:
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(2 * time.Minute):
		mu.Lock()
		t.Fatalf("timed out after %d batches, %d events", n, len(events))
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return events, last
}

// TestSnapshotCrashResume crashes the initial snapshot (once or twice) while a
// workload changes every table, restarts from the last delivered position
// and checks that the resumed runs read only what was left of the tables
// that can resume, and that the union of delivered events gives every key
// its changes in order, none missing and none already shown by a read.
func TestSnapshotCrashResume(t *testing.T) {
	for _, crashes := range []int{1, 2} {
		t.Run(fmt.Sprintf("crashes=%d", crashes), func(t *testing.T) {
			t.Parallel()
			testSnapshotResume(t, crashes)
		})
	}
}

func testSnapshotResume(t *testing.T, crashes int) {
	tables := resumeTables()
	ddl := []string{"CREATE SEQUENCE $S.seq", "CREATE TABLE $S.z (id int PRIMARY KEY)"}
	for _, tb := range tables {
		ddl = append(ddl, tb.ddl, "ALTER TABLE $S."+tb.name+" REPLICA IDENTITY FULL",
			strings.ReplaceAll(tb.fill, "$N", strconv.Itoa(tb.rows)))
	}
	e := newPGEnv(t, ddl...)
	e.exec("ANALYZE")
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	cfg.SnapshotFetchSize = 1000
	cfg.SnapshotMaxThreads = len(tables) + 1
	cfg.MaxBatchSize = 500
	var logs bytes.Buffer
	var logMu sync.Mutex
	opts := Options{Name: "t", TopicPrefix: "p", URL: e.url,
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(lockedWriter{&logMu, &logs}, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))}

	w := &resumeWorkload{e: e, tables: tables, exp: map[string][]resumeChange{}}
	wctx, wstop := context.WithCancel(context.Background())
	werr := make(chan error, 1)
	go func() { werr <- w.run(wctx) }()
	defer wstop()

	type delivered struct {
		run int
		ev  event.Event
	}
	var all []delivered
	var positions []position
	for run := 0; run < crashes; run++ {
		// The first run crashes once every keyed table is partly read;
		// a resumed run once table a is partly read again.
		evs, last := runSource(t, cfg, opts, func(p position) bool {
			if p.Snapshot == nil {
				return false
			}
			names := []string{"a", "b", "c", "d"}
			if run > 0 {
				names = names[:1]
			}
			for _, name := range names {
				st := p.Snapshot.Tables[e.schema+"."+name]
				if st == nil || st.Done || len(st.Spans) < run+1 {
					return false
				}
			}
			return true
		}, nil)
		for _, ev := range evs {
			all = append(all, delivered{run, ev})
		}
		p, err := decodePosition(last)
		if err != nil || p.Snapshot == nil {
			t.Fatalf("run %d: last position %s (%v) is not inside the snapshot", run, last, err)
		}
		positions = append(positions, p)
		opts.Start = last
		time.Sleep(200 * time.Millisecond) // changes between the runs
	}
	// Final run: finish the snapshot, stream until the marker row written
	// after the snapshot and the workload stopped.
	snapEnd := make(chan struct{})
	go func() {
		<-snapEnd
		time.Sleep(300 * time.Millisecond)
		wstop()
		if err := <-werr; err != nil {
			t.Errorf("workload: %v", err)
		}
		if _, err := e.conn.Exec(context.Background(), "INSERT INTO "+e.schema+".z VALUES (1)"); err != nil {
			t.Error(err)
		}
	}()
	var endOnce sync.Once
	final, _ := runSource(t, cfg, opts, nil, func(ev event.Event) bool {
		if ev.Source != nil && ev.Source.Get("snapshot") == SnapshotLast {
			endOnce.Do(func() { close(snapEnd) })
		}
		return ev.Op == event.OpCreate && strings.HasSuffix(ev.Topic, ".z")
	})
	for _, ev := range final {
		all = append(all, delivered{crashes, ev})
	}
	logMu.Lock()
	logText := logs.String()
	logMu.Unlock()
	if strings.Count(logText, "resuming the interrupted snapshot") != crashes {
		t.Errorf("expected %d resumed snapshots in the log:\n%s", crashes, logText)
	}

	// The final snapshot position carries the spans.
	var dd *snapPos
	for _, ev := range final {
		if ev.Source != nil && ev.Source.Get("snapshot") == SnapshotLast {
			p, err := decodePosition(ev.Position)
			if err != nil || p.Dedup == nil {
				t.Fatalf("last snapshot event position %s: %v", ev.Position, err)
			}
			dd = p.Dedup
		}
	}
	if dd == nil {
		t.Fatal("no last snapshot event in the final run")
	}
	t.Logf("final spans: %s", position{Dedup: dd}.encode())
	byName := map[string]resumeTable{}
	for i, tb := range tables {
		if tb.icu {
			tables[i].less = func(a, b string) bool {
				var lt bool
				if err := e.conn.QueryRow(context.Background(), `SELECT $1::text COLLATE "en-x-icu" < $2::text COLLATE "en-x-icu"`, a, b).Scan(&lt); err != nil {
					t.Fatal(err)
				}
				return lt
			}
			tb = tables[i]
		}
		byName[tb.name] = tb
		st := dd.Tables[e.schema+"."+tb.name]
		switch {
		case tb.less == nil:
			if positions[0].Snapshot.Tables[e.schema+"."+tb.name] == nil && (st == nil || len(st.Spans) != 1) {
				t.Errorf("table %s cannot resume by key: want one span read at the last start, got %+v", tb.name, st)
			}
		case tb.name == "a":
			if st == nil || len(st.Spans) != crashes+1 {
				t.Errorf("table a: want %d spans, got %+v", crashes+1, st)
			}
		}
	}
	// region returns the LSN a key's rows were read at.
	region := func(table, key string) uint64 {
		st := dd.Tables[e.schema+"."+table]
		if st == nil {
			return uint64(dd.Start)
		}
		tb := byName[table]
		for _, sp := range st.spans(dd.Start) {
			if sp.To == nil {
				return uint64(sp.At)
			}
			to := string(sp.To[0])
			if len(sp.To) == 2 {
				to += "/" + string(sp.To[1])
			}
			if !tb.less(to, key) {
				return uint64(sp.At)
			}
		}
		t.Fatalf("key %s/%s in no span", table, key)
		return 0
	}

	// Resumed runs read only the rest of resumable tables.
	for run := 1; run <= crashes; run++ {
		prev := positions[run-1].Snapshot
		reads := map[string]int{}
		for _, d := range all {
			if d.run != run || d.ev.Op != event.OpRead {
				continue
			}
			table := d.ev.Topic[strings.LastIndex(d.ev.Topic, ".")+1:]
			reads[table]++
			tb := byName[table]
			st := prev.Tables[e.schema+"."+table]
			if tb.less == nil || st == nil {
				continue
			}
			if st.Done {
				t.Errorf("run %d read %s of table %s, done before", run, tb.key(d.ev.After), table)
				continue
			}
			to := st.Spans[len(st.Spans)-1].To
			last := string(to[0])
			if len(to) == 2 {
				last += "/" + string(to[1])
			}
			if k := tb.key(d.ev.After); !tb.less(last, k) {
				t.Errorf("run %d re-read %s/%s, at or before the acked key %s", run, table, k, last)
			}
		}
		t.Logf("run %d reads per table: %v", run, reads)
		if run == crashes && reads["e"] < 3000 && prev.Tables[e.schema+".e"] == nil {
			t.Errorf("run %d: table e (no key) should be read again from its start: %d reads", run, reads["e"])
		}
	}

	// Per key: order, completeness, no change the read already showed.
	type seen struct {
		op byte
		v  int64
	}
	hist := map[string][]seen{}
	state := map[string]int64{}
	// The keyless table is at-least-once: its rows read before its last
	// read may be ghosts, so its state starts at that read.
	eFrom := -1
	eAt := dd.Start
	if st := dd.Tables[e.schema+".e"]; st != nil {
		eAt = st.Spans[0].At
	}
	for i, d := range all {
		if d.ev.Op == event.OpRead && strings.HasSuffix(d.ev.Topic, ".e") && fmt.Sprint(d.ev.Source.Get("lsn")) == fmt.Sprint(int64(eAt)) {
			eFrom = i
			break
		}
	}
	if eFrom < 0 {
		t.Fatalf("no read of table e at %X", uint64(eAt))
	}
	for i, d := range all {
		ev := d.ev
		table := ev.Topic[strings.LastIndex(ev.Topic, ".")+1:]
		tb, ok := byName[table]
		if !ok {
			continue
		}
		row := ev.After
		if ev.Op == event.OpDelete {
			row = ev.Before
		}
		if row == nil {
			t.Fatalf("event %s %s without row", ev.Topic, ev.Op)
		}
		k := table + "/" + tb.key(row)
		v := row.Get("v").(int64)
		op := map[event.Op]byte{event.OpRead: 'r', event.OpCreate: 'c', event.OpUpdate: 'u', event.OpDelete: 'd'}[ev.Op]
		h := hist[k]
		if n := len(h); n > 0 {
			p := h[n-1]
			rank := func(s seen) int64 {
				if s.op == 'd' {
					return 2*s.v + 1
				}
				return 2 * s.v
			}
			if rank(seen{op, v}) < rank(p) || rank(seen{op, v}) == rank(p) && op != 'r' {
				t.Errorf("key %s: %c%d after %c%d (history %v)", k, op, v, p.op, p.v, h)
			}
		}
		hist[k] = append(h, seen{op, v})
		if table == "e" && i < eFrom {
			continue
		}
		if op == 'd' {
			delete(state, k)
		} else {
			state[k] = v
		}
	}
	problems := 0
	for k, changes := range w.exp {
		table, key, _ := strings.Cut(k, "/")
		at := region(table, key)
		got := map[seen]bool{}
		for _, s := range hist[k] {
			got[s] = true
		}
		for _, c := range changes {
			switch {
			case c.lo >= at && !got[seen{c.op, c.v}]:
				t.Errorf("key %s: change %c%d committed after its read at %X is missing (history %v)", k, c.op, c.v, at, hist[k])
				problems++
			case c.hi < at && got[seen{c.op, c.v}]:
				t.Errorf("key %s: change %c%d committed before its read at %X was emitted (history %v)", k, c.op, c.v, at, hist[k])
				problems++
			}
		}
		if problems > 20 {
			t.Fatal("too many problems")
		}
	}
	// The union, applied in order, equals the tables.
	for _, tb := range tables {
		rows, err := e.conn.Query(context.Background(), "SELECT * FROM "+e.schema+"."+tb.name)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			var key string
			if tb.name == "b" {
				key = fmt.Sprintf("%d/%s", vals[0], vals[1])
			} else {
				key = fmt.Sprint(vals[0])
			}
			want[tb.name+"/"+key] = vals[len(vals)-1].(int64)
		}
		rows.Close()
		var diffs []string
		for k, v := range want {
			if state[k] != v {
				diffs = append(diffs, fmt.Sprintf("%s: table v=%d, events v=%d", k, v, state[k]))
			}
		}
		for k := range state {
			if _, ok := want[k]; !ok && strings.HasPrefix(k, tb.name+"/") {
				diffs = append(diffs, fmt.Sprintf("%s: deleted, events still hold it", k))
			}
		}
		sort.Strings(diffs)
		if len(diffs) > 0 {
			t.Errorf("table %s: %d rows differ, e.g. %v", tb.name, len(diffs), diffs[:min(5, len(diffs))])
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
