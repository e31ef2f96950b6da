package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice/event"
)

// change is one committed change of a key (or a snapshot read of it):
// the op and the row version it shows (a delete shows the deleted version).
type change struct {
	op byte
	v  int64
}

func (c change) String() string { return fmt.Sprintf("%c%d", c.op, c.v) }

// crashWorkload changes random rows of tables a (id) and b (a, b) from one
// connection, in autocommit statements and multi-row transactions, with
// a version column from one counter so versions rise with commit order per
// key; every few dozen statements it adds, drops, renames or retypes a
// column of a.
type crashWorkload struct {
	e       *myEnv
	rows    int
	mu      sync.Mutex
	exp     map[string][]change // "a/<id>" or "b/<a>/<b>" -> changes
	lastGTI string              // @@last_gtid of the last DML commit
	stmts   int
	ddls    []string // DDL statements run, in order
}

func (w *crashWorkload) key(table string, i int) string {
	if table == "a" {
		return fmt.Sprintf("a/%d", i)
	}
	return fmt.Sprintf("b/%d/%s", i/2, map[bool]string{true: "x", false: "y"}[i%2 == 0])
}

func (w *crashWorkload) where(table string, i int) string {
	if table == "a" {
		return fmt.Sprintf("id = %d", i)
	}
	return fmt.Sprintf("a = %d AND b = '%s'", i/2, map[bool]string{true: "x", false: "y"}[i%2 == 0])
}

func (w *crashWorkload) tuple(table string, i int, v int64) string {
	if table == "a" {
		return fmt.Sprintf("(%d, %d)", i, v)
	}
	return fmt.Sprintf("(%d, '%s', %d)", i/2, map[bool]string{true: "x", false: "y"}[i%2 == 0], v)
}

var crashColumns = map[string]string{"a": "(id, v)", "b": "(a, b, v)"}

// fill inserts the initial rows (versions 1..) and records them as
// snapshot reads.
func (w *crashWorkload) fill(conn *client.Conn, next *int64) {
	w.exp = map[string][]change{}
	for _, table := range []string{"a", "b"} {
		var vals []string
		for i := 1; i <= w.rows; i++ {
			*next++
			vals = append(vals, w.tuple(table, i, *next))
			w.exp[w.key(table, i)] = []change{{'r', *next}}
		}
		if _, err := conn.Execute("INSERT INTO " + table + " " + crashColumns[table] + " VALUES " + strings.Join(vals, ", ")); err != nil {
			w.e.t.Fatal(err)
		}
	}
}

// run works until stop is closed, then commits a last insert into z.
func (w *crashWorkload) run(stop <-chan struct{}, next int64, seed uint64) error {
	u := w.e.url
	raw := strings.TrimPrefix(u, "mysql://")
	userinfo, host, _ := strings.Cut(raw, "@")
	host, _, _ = strings.Cut(host, "/")
	user, pw, _ := strings.Cut(userinfo, ":")
	conn, err := client.Connect(host, user, pw, w.e.db)
	if err != nil {
		return err
	}
	defer conn.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	live := map[string]int64{} // key -> current version (absent = no row)
	w.mu.Lock()
	for k, cs := range w.exp {
		live[k] = cs[len(cs)-1].v
	}
	w.mu.Unlock()
	var extra []string // columns added to a and not yet dropped, oldest first
	ddlSeq := 0
	for {
		select {
		case <-stop:
			next++
			if _, err := conn.Execute(fmt.Sprintf("INSERT INTO z VALUES (%d)", next)); err != nil {
				return err
			}
			g, err := queryOne(conn, "SELECT @@last_gtid")
			if err != nil {
				return err
			}
			w.mu.Lock()
			w.lastGTI = g
			w.mu.Unlock()
			return nil
		default:
		}
		w.stmts++
		if w.stmts%40 == 0 {
			var ddl string
			switch k := rng.IntN(4); {
			case len(extra) > 0 && k == 0:
				// Instant drops pile up hidden columns: rebuild.
				ddl = fmt.Sprintf("ALTER TABLE a DROP COLUMN %s, ALGORITHM=COPY", extra[0])
				extra = extra[1:]
			case len(extra) > 0 && k == 1:
				last := len(extra) - 1
				ddl = fmt.Sprintf("ALTER TABLE a RENAME COLUMN %s TO r%s", extra[last], extra[last])
				extra[last] = "r" + extra[last]
			case len(extra) > 0 && k == 2:
				ddl = fmt.Sprintf("ALTER TABLE a MODIFY %s BIGINT", extra[len(extra)-1])
			default:
				ddlSeq++
				extra = append(extra, fmt.Sprintf("x%d", ddlSeq))
				ddl = fmt.Sprintf("ALTER TABLE a ADD COLUMN x%d VARCHAR(8) DEFAULT '%d' AFTER id", ddlSeq, ddlSeq)
			}
			if _, err := conn.Execute(ddl); err != nil {
				return fmt.Errorf("%s: %w", ddl, err)
			}
			w.mu.Lock()
			w.ddls = append(w.ddls, ddl)
			w.mu.Unlock()
			continue
		}
		n := 1
		if rng.IntN(4) == 0 {
			n = 2 + rng.IntN(12) // a multi-row transaction
		}
		var stmts []string
		var pending []struct {
			key string
			c   change
		}
		touched := map[string]bool{}
		for j := 0; j < n; j++ {
			table := []string{"a", "b"}[rng.IntN(2)]
			i := 1 + rng.IntN(w.rows+w.rows/5)
			k := w.key(table, i)
			if touched[k] {
				continue
			}
			touched[k] = true
			next++
			cur, exists := live[k]
			var c change
			switch {
			case !exists:
				stmts = append(stmts, "INSERT INTO "+table+" "+crashColumns[table]+" VALUES "+w.tuple(table, i, next))
				c = change{'c', next}
			case rng.IntN(6) == 0:
				stmts = append(stmts, "DELETE FROM "+table+" WHERE "+w.where(table, i))
				c = change{'d', cur}
			default:
				stmts = append(stmts, fmt.Sprintf("UPDATE %s SET v = %d WHERE %s", table, next, w.where(table, i)))
				c = change{'u', next}
			}
			pending = append(pending, struct {
				key string
				c   change
			}{k, c})
		}
		if len(stmts) > 1 {
			// A transaction, with savepoints (logged as queries) here and there.
			tx := []string{"BEGIN"}
			for j, s := range stmts {
				if j > 0 && rng.IntN(3) == 0 {
					tx = append(tx, fmt.Sprintf("SAVEPOINT sp%d", j))
				}
				tx = append(tx, s)
			}
			stmts = append(tx, "COMMIT")
		}
		for _, s := range stmts {
			if _, err := conn.Execute(s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		w.mu.Lock()
		for _, p := range pending {
			w.exp[p.key] = append(w.exp[p.key], p.c)
			if p.c.op == 'd' {
				delete(live, p.key)
			} else {
				live[p.key] = p.c.v
			}
		}
		w.mu.Unlock()
	}
}

var errCrash = errors.New("crashed")

// crashRun runs a source from start and "kills" it at a random moment:
// after a random number of batches, part of the last batch delivered, or
// when a random timer fires, whatever it is doing. It returns the delivered
// events and the position saved for the restart: the last delivered one,
// or sometimes an earlier one (an offset flush that lagged), so that the
// restart re-delivers a suffix. until, when not nil, ends the run cleanly
// once a delivered position satisfies it.
func crashRun(t *testing.T, cfg Config, opts Options, rng *rand.Rand, until func(position) bool) ([]event.Event, event.Position) {
	t.Helper()
	src, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []event.Event
	var positions []event.Position
	crashed := false
	batches := 1 + rng.IntN(200)
	enough := make(chan struct{})
	if until == nil {
		d := time.Duration(5+rng.IntN(600)) * time.Millisecond
		timer := time.AfterFunc(d, func() {
			mu.Lock()
			crashed = true
			mu.Unlock()
			cancel()
		})
		defer timer.Stop()
	}
	deliver := func(b event.Batch) {
		got = append(got, b...)
		for _, ev := range b {
			if ev.Position != nil {
				positions = append(positions, ev.Position)
			}
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(ctx context.Context, b event.Batch) error {
			mu.Lock()
			defer mu.Unlock()
			if crashed {
				return errCrash
			}
			if until != nil {
				deliver(b)
				if p := b.Last(); p != nil {
					if dp, err := decodePosition(p); err == nil && until(dp) {
						crashed = true
						close(enough)
						return errCrash
					}
				}
				return nil
			}
			batches--
			if batches == 0 {
				deliver(b[:rng.IntN(len(b)+1)])
				crashed = true
				cancel()
				return errCrash
			}
			deliver(b)
			return nil
		})
	}()
	select {
	case err = <-done:
	case <-enough:
		err = <-done
	case <-time.After(2 * time.Minute):
		t.Fatal("crashRun: timed out")
	}
	if err != nil && !errors.Is(err, errCrash) && !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(positions) == 0 {
		return got, opts.Start
	}
	saved := positions[len(positions)-1]
	if until == nil && rng.IntN(4) == 0 {
		saved = positions[rng.IntN(len(positions))]
	}
	return got, saved
}

// checkKeyOrder checks that the delivered changes of one key are its
// expected changes in order, every one present, where a restart may repeat
// a suffix of what was delivered before it.
func checkKeyOrder(key string, got, want []change) error {
	next := 0
	for _, c := range got {
		if next < len(want) && c == want[next] {
			next++
			continue
		}
		j := -1
		for k := next - 1; k >= 0; k-- {
			if want[k] == c {
				j = k
				break
			}
		}
		if j < 0 {
			return fmt.Errorf("%s: delivered %v, expected next %v (all expected %v, delivered %v)", key, c, at(want, next), want, got)
		}
		next = j + 1 // a re-delivered suffix starts here
	}
	if next != len(want) {
		return fmt.Errorf("%s: missing %v onwards (expected %v, delivered %v)", key, want[next], want, got)
	}
	return nil
}

func at(cs []change, i int) any {
	if i < len(cs) {
		return cs[i]
	}
	return "nothing"
}

// TestCrashResume kills the source at random moments (in the snapshot, in
// the middle of transactions and batches, around DDL) while a workload
// changes two tables, restarts it each time from the saved position with the
// schema history file, and checks that every committed change arrives, in
// order per key, with duplicates only as a re-delivered suffix.
func TestCrashResume(t *testing.T) {
	crashes := 25
	if testing.Short() {
		crashes = 5
	}
	e := newMyEnv(t,
		"CREATE TABLE a (id INT PRIMARY KEY, v BIGINT NOT NULL)",
		"CREATE TABLE b (a INT, b CHAR(1), v BIGINT NOT NULL, PRIMARY KEY (a, b))",
		"CREATE TABLE z (id BIGINT PRIMARY KEY)",
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	w := &crashWorkload{e: e, rows: 300}
	var version int64
	w.fill(e.conn, &version)

	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	cfg.MaxBatchSize = 1 + rng.IntN(16)
	cfg.SchemaHistoryFile = filepath.Join(t.TempDir(), "history.jsonl")
	cfg.SnapshotFetchSize = 1 + rng.IntN(100)
	cfg.IncludeSchemaChanges = true // counted in positions like rows: none lost
	opts := e.options()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))

	var all []event.Event
	// Two kills, most likely inside the snapshot (which resumes after its
	// delivered chunks), then a run that delivers it to the end.
	for i := 0; i < 2; i++ {
		evs, saved := crashRun(t, cfg, opts, rng, nil)
		all = append(all, evs...)
		opts.Start = saved
	}
	if p, err := decodePosition(opts.Start); opts.Start == nil || err != nil || p.Snapshot {
		evs, saved := crashRun(t, cfg, opts, rng, func(p position) bool { return !p.Snapshot })
		all = append(all, evs...)
		opts.Start = saved
	}
	// The snapshot is delivered: the workload starts, and its changes are
	// all streamed.
	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() { werr <- w.run(stop, version, seed) }()
	for i := 2; i < crashes; i++ {
		evs, saved := crashRun(t, cfg, opts, rng, nil)
		all = append(all, evs...)
		opts.Start = saved
		// Down for a while: the workload goes on.
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	}
	close(stop)
	if err := <-werr; err != nil {
		t.Fatalf("workload: %v", err)
	}
	final, _ := crashRun(t, cfg, opts, rng, func(p position) bool { return reached(p, w.lastGTI) })
	all = append(all, final...)
	t.Logf("%d crashes, %d workload statements, %d events delivered", crashes, w.stmts, len(all))

	got := map[string][]change{}
	seen := map[string]bool{}
	var ddls []string // streamed schema changes, the first delivery of each
	for _, ev := range all {
		if k, c, ok := crashKey(ev); ok {
			got[k] = append(got[k], c)
		}
		if ev.Topic != "srv" {
			continue
		}
		if src := ev.Raw.Get("source").(*event.Struct); src.Get("snapshot") == SnapshotFalse {
			// Redelivered (same GTID) or not, in order.
			if g := src.Get("gtid").(string); !seen[g] {
				seen[g] = true
				ddls = append(ddls, ev.Raw.Get("ddl").(string))
			}
		}
	}
	if !slices.Equal(ddls, w.ddls) {
		t.Errorf("schema changes delivered:\n%s\nrun:\n%s", strings.Join(ddls, "\n"), strings.Join(w.ddls, "\n"))
	}
	keys := make([]string, 0, len(w.exp))
	for k := range w.exp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		if err := checkKeyOrder(k, got[k], w.exp[k]); err != nil {
			if bad++; bad <= 10 {
				t.Error(err)
			}
		}
	}
	for k := range got {
		if w.exp[k] == nil {
			t.Errorf("%s: delivered %v, never changed", k, got[k])
		}
	}
}

func TestCheckKeyOrder(t *testing.T) {
	w := []change{{'r', 1}, {'u', 5}, {'d', 5}, {'c', 9}}
	for _, tt := range []struct {
		got []change
		ok  bool
	}{
		{w, true},
		{[]change{{'r', 1}, {'u', 5}, {'r', 1}, {'u', 5}, {'d', 5}, {'d', 5}, {'c', 9}}, true},
		{[]change{{'r', 1}, {'d', 5}, {'c', 9}}, false},           // missing
		{[]change{{'r', 1}, {'u', 5}, {'d', 5}}, false},           // missing tail
		{[]change{{'r', 1}, {'d', 5}, {'u', 5}, {'c', 9}}, false}, // out of order
		{[]change{{'r', 1}, {'u', 5}, {'u', 6}, {'d', 5}, {'c', 9}}, false},
	} {
		if err := checkKeyOrder("k", tt.got, w); (err == nil) != tt.ok {
			t.Errorf("checkKeyOrder(%v) = %v, want ok=%v", tt.got, err, tt.ok)
		}
	}
}

// reached reports whether position p is past the single-row transaction
// gtid: a batch boundary can fall after its row and before its commit, and
// then the position says "1 row of gtid" instead of listing it as done.
func reached(p position, gtid string) bool {
	if p.Snapshot {
		return false
	}
	if p.Tx == gtid && p.N >= 1 {
		return true
	}
	set, err := gmysql.ParseMariadbGTIDSet(p.GTIDs)
	if err != nil {
		return false
	}
	g, err := gmysql.ParseMariadbGTIDSet(gtid)
	return err == nil && set.Contain(g)
}
