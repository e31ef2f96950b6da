package mysql

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// rowSchema renders the field list of an event's row schema, so that a
// type change shows even where the JSON payload does not.
func rowSchema(e event.Event) string {
	row := e.After
	if row == nil {
		row = e.Before
	}
	var out []string
	for _, f := range row.Schema().Fields() {
		s := f.Name + ":" + f.Schema.Type().String()
		if n := f.Schema.Name(); n != "" {
			s += "/" + n
		}
		if f.Schema.IsOptional() {
			s += "?"
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func describeWithSchema(t *testing.T, e event.Event, db string) string {
	return describe(t, e, db) + " schema=" + rowSchema(e)
}

// schemaWorkload is a sequence of DDL statements each followed by a change
// that must decode with the schema the DDL left.
var schemaWorkload = []string{
	"INSERT INTO t VALUES (1, 'one')",
	"ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7 AFTER id",
	"INSERT INTO t VALUES (2, 20, 'two')",
	"ALTER TABLE t DROP COLUMN a",
	"INSERT INTO t VALUES (3, 30)",
	"ALTER TABLE t MODIFY b BIGINT UNSIGNED",
	"INSERT INTO t VALUES (4, NULL)",
	"ALTER TABLE t RENAME COLUMN b TO c",
	"UPDATE t SET c = 41 WHERE id = 4",
	"RENAME TABLE t TO u",
	"INSERT INTO u VALUES (5, 50)",
	"CREATE TABLE n (k VARCHAR(5) PRIMARY KEY, d DECIMAL(5,2), ts DATETIME(6))",
	"INSERT INTO n VALUES ('a', 1.5, '2020-01-02 03:04:05.123456')",
	"DROP TABLE n",
	"CREATE TABLE n (k INT PRIMARY KEY)",
	"INSERT INTO n VALUES (9)",
	"DELETE FROM u WHERE id = 1",
}

var schemaWorkloadEvents = []string{
	`srv.D.t c key={"id":1} before=null after={"id":1,"a":"one"} src=D.t/false schema=id:int32,a:string?`,
	`srv.D.t c key={"id":2} before=null after={"id":2,"b":20,"a":"two"} src=D.t/false schema=id:int32,b:int32,a:string?`,
	`srv.D.t c key={"id":3} before=null after={"id":3,"b":30} src=D.t/false schema=id:int32,b:int32`,
	`srv.D.t c key={"id":4} before=null after={"id":4,"b":null} src=D.t/false schema=id:int32,b:int64?`,
	`srv.D.t u key={"id":4} before={"id":4,"c":null} after={"id":4,"c":41} src=D.t/false schema=id:int32,c:int64?`,
	`srv.D.u c key={"id":5} before=null after={"id":5,"c":50} src=D.u/false schema=id:int32,c:int64?`,
	`srv.D.n c key={"k":"a"} before=null after={"k":"a","d":"AJY=","ts":1577934245123456} src=D.n/false schema=k:string,d:bytes/org.apache.kafka.connect.data.Decimal?,ts:int64/io.debezium.time.MicroTimestamp?`,
	`srv.D.n c key={"k":9} before=null after={"k":9} src=D.n/false schema=k:int32`,
	`srv.D.u d key={"id":1} before={"id":1,"c":7} after=null src=D.u/false schema=id:int32,c:int64?`,
}

// TestSchemaHistoryDDL streams changes around every kind of DDL, then
// restarts from the position of every event (with the schema history file
// holding DDL past that position): each restart must decode the rest of the
// stream exactly as the first run did.
func TestSchemaHistoryDDL(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))", "INSERT INTO t VALUES (0, 'zero')")
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial // records the schema under the read lock
	cfg.SchemaHistoryFile = filepath.Join(t.TempDir(), "history.jsonl")
	r := startSource(t, cfg, e.options())
	first := r.wait(t, 1)[0]
	for _, s := range schemaWorkload {
		e.exec(s)
	}
	all := r.wait(t, 1+len(schemaWorkloadEvents))
	r.stop(t)
	if d := describeWithSchema(t, first, e.db); d != `srv.D.t r key={"id":0} before=null after={"id":0,"a":"zero"} src=D.t/last schema=id:int32,a:string?` {
		t.Errorf("first event: %s", d)
	}
	var got []string
	for _, ev := range all[1:] {
		got = append(got, describeWithSchema(t, ev, e.db))
	}
	if g, w := strings.Join(got, "\n"), strings.Join(schemaWorkloadEvents, "\n"); g != w {
		t.Fatalf("events:\n%s\nwant\n%s", g, w)
	}

	// Restart from each event's position: the next event must be the same.
	for i := 0; i < len(all)-1; i++ {
		opts := e.options()
		opts.Start = all[i].Position
		if opts.Start == nil {
			t.Fatalf("event %d has no position", i)
		}
		r := startSource(t, cfg, opts)
		rest := r.wait(t, len(all)-1-i)
		r.stop(t)
		for j, ev := range rest {
			if g, w := describeWithSchema(t, ev, e.db), describeWithSchema(t, all[i+1+j], e.db); g != w {
				t.Errorf("restart after event %d, event %d:\n got %s\nwant %s", i, j, g, w)
			}
		}
	}
}

// TestSchemaHistoryMissing: without the history, a restart from before a
// DROP COLUMN cannot decode the old rows with the catalog's current schema
// and says so rather than shifting values into the wrong fields.
func TestSchemaHistoryMissing(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT)")
	start := e.binlogEnd()
	e.exec("INSERT INTO t VALUES (1, 'x', 2)")
	e.exec("ALTER TABLE t DROP COLUMN a")
	opts := e.options()
	opts.Start = start
	cfg := e.config()
	src, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = runUntilError(t, src)
	if !strings.Contains(fmt.Sprint(err), "do not match the schema history") {
		t.Errorf("Run = %v, want ErrSchemaMismatch", err)
	}
}

// runUntilError runs src until Run returns, discarding events, and returns
// its error; it fails the test if Run is still going after a minute.
func runUntilError(t *testing.T, src *Source) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := src.Run(ctx, func(context.Context, event.Batch) error { return nil })
	if ctx.Err() != nil {
		t.Fatalf("Run did not fail: %v", err)
	}
	return err
}

// TestSavepointInsideTransaction: a SAVEPOINT logged inside a transaction
// is not a commit; a restart from the row before it still gets the rows
// after it.
func TestSavepointInsideTransaction(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE s (id INT PRIMARY KEY)")
	start := e.binlogEnd()
	e.exec("BEGIN")
	e.exec("INSERT INTO s VALUES (1)")
	e.exec("SAVEPOINT sp")
	e.exec("INSERT INTO s VALUES (2)")
	e.exec("SAVEPOINT sp2")
	e.exec("INSERT INTO s VALUES (3)")
	e.exec("ROLLBACK TO SAVEPOINT sp2")
	e.exec("INSERT INTO s VALUES (4)")
	e.exec("COMMIT")
	e.exec("INSERT INTO s VALUES (5)")
	opts := e.options()
	opts.Start = start
	all := startSource(t, e.config(), opts).wait(t, 4)
	var ids []string
	for _, ev := range all {
		ids = append(ids, fmt.Sprint(ev.After.Get("id")))
	}
	if got := strings.Join(ids, ","); got != "1,2,4,5" {
		t.Fatalf("ids = %s, want 1,2,4,5", got)
	}
	for i := 0; i < len(all)-1; i++ {
		opts.Start = all[i].Position
		r := startSource(t, e.config(), opts)
		next := r.wait(t, 1)[0]
		r.stop(t)
		if g, w := describe(t, next, e.db), describe(t, all[i+1], e.db); g != w {
			t.Errorf("restart after event %d (%s): got %s, want %s", i, all[i].Position, g, w)
		}
	}
}

// TestCreateSelect: CREATE TABLE ... SELECT is logged as the CREATE
// statement (with its columns) and the rows in one transaction.
func TestCreateSelect(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE s (id INT PRIMARY KEY, name VARCHAR(5))", "INSERT INTO s VALUES (1, 'a'), (2, 'b')")
	cfg := e.config()
	cfg.SchemaHistoryFile = filepath.Join(t.TempDir(), "history.jsonl")
	cfg.SnapshotMode = SnapshotInitial
	r := startSource(t, cfg, e.options())
	snap := r.wait(t, 2)
	e.exec("CREATE TABLE c (PRIMARY KEY (id)) SELECT id, CONCAT(name, '!') AS n FROM s")
	e.exec("INSERT INTO c VALUES (3, 'c')")
	got := r.wait(t, 5)[2:]
	r.stop(t)
	want := []string{
		`srv.D.c c key={"id":1} before=null after={"id":1,"n":"a!"} src=D.c/false schema=id:int32,n:string?`,
		`srv.D.c c key={"id":2} before=null after={"id":2,"n":"b!"} src=D.c/false schema=id:int32,n:string?`,
		`srv.D.c c key={"id":3} before=null after={"id":3,"n":"c"} src=D.c/false schema=id:int32,n:string?`,
	}
	for i, ev := range got {
		if d := describeWithSchema(t, ev, e.db); d != want[i] {
			t.Errorf("event %d:\n got %s\nwant %s", i, d, want[i])
		}
	}
	// From the end of the snapshot, with the history only.
	e.exec("DROP TABLE c")
	opts := e.options()
	opts.Start = snap[1].Position
	r2 := startSource(t, cfg, opts)
	for i, ev := range r2.wait(t, 3) {
		if d := describeWithSchema(t, ev, e.db); d != want[i] {
			t.Errorf("after restart, event %d:\n got %s\nwant %s", i, d, want[i])
		}
	}
}

// TestHistoryStoreChoice: an explicit history wins over the file setting,
// which wins over the default file in the data dir; with neither, the
// history is in memory.
func TestHistoryStoreChoice(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		file    string
		dataDir string
		history SchemaHistory
		want    string // FileHistory path, "memory" or "given"
	}{
		{name: "default file", dataDir: dir, want: filepath.Join(dir, "src-1.mysql-schema-history.jsonl")},
		{name: "explicit file wins", file: "/x/h.jsonl", dataDir: dir, want: "/x/h.jsonl"},
		{name: "given store wins", file: "/x/h.jsonl", dataDir: dir, history: &MemoryHistory{}, want: "given"},
		{name: "memory", want: "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SchemaHistoryFile = tc.file
			src, err := New(cfg, Options{Name: "src-1", TopicPrefix: "p", URL: "mysql://u@127.0.0.1:1/", DataDir: tc.dataDir, History: tc.history})
			if err != nil {
				t.Fatal(err)
			}
			var got string
			switch h := src.history().(type) {
			case *FileHistory:
				got = h.Path
			case *MemoryHistory:
				got = "memory"
				if h == tc.history {
					got = "given"
				}
			default:
				t.Fatalf("history %T", h)
			}
			if got != tc.want {
				t.Errorf("history = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestDefaultHistoryRestart: with only the default settings and a data dir
// (as the daemon runs it), the schema history survives a restart — a new
// Source resuming from before an ADD COLUMN, a DROP COLUMN and a RENAME
// decodes the old rows with the schema of their time.
func TestDefaultHistoryRestart(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b INT)", "INSERT INTO t VALUES (0, 'zero', 0)")
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	opts := e.options()
	opts.DataDir = t.TempDir()
	r := startSource(t, cfg, opts)
	snap := r.wait(t, 1)[0]
	r.stop(t)
	e.exec("INSERT INTO t VALUES (1, 'one', 1)")
	e.exec("ALTER TABLE t DROP COLUMN a")
	e.exec("INSERT INTO t VALUES (2, 2)")
	e.exec("ALTER TABLE t ADD COLUMN c DATE")
	e.exec("INSERT INTO t VALUES (3, 3, '2020-01-02')")
	e.exec("ALTER TABLE t RENAME COLUMN b TO bb")
	e.exec("UPDATE t SET bb = 33 WHERE id = 3")
	if _, err := os.Stat(DefaultHistoryFile(opts.DataDir, "test")); err != nil {
		t.Fatalf("default history file: %v", err)
	}
	opts.Start = snap.Position
	got := startSource(t, cfg, opts).wait(t, 4)
	want := []string{
		`srv.D.t c key={"id":1} before=null after={"id":1,"a":"one","b":1} src=D.t/false schema=id:int32,a:string?,b:int32?`,
		`srv.D.t c key={"id":2} before=null after={"id":2,"b":2} src=D.t/false schema=id:int32,b:int32?`,
		`srv.D.t c key={"id":3} before=null after={"id":3,"b":3,"c":18263} src=D.t/false schema=id:int32,b:int32?,c:int32/io.debezium.time.Date?`,
		`srv.D.t u key={"id":3} before={"id":3,"bb":3,"c":18263} after={"id":3,"bb":33,"c":18263} src=D.t/false schema=id:int32,bb:int32?,c:int32/io.debezium.time.Date?`,
	}
	for i, ev := range got {
		if g := describeWithSchema(t, ev, e.db); g != want[i] {
			t.Errorf("event %d:\n got %s\nwant %s", i, g, want[i])
		}
	}
}
