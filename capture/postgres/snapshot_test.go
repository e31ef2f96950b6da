package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// snapDB is a test's own schema in the real Postgres.
type snapDB struct {
	url    string
	schema string
	conn   *pgx.Conn // autocommit admin connection
}

func snapSetup(t testing.TB) *snapDB {
	t.Helper()
	url := testenv.Require(t, "SLUICE_PG_URL")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	schema := "snap_" + snapRandom(t)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
		conn.Close(context.Background())
	})
	return &snapDB{url: url, schema: schema, conn: conn}
}

func snapRandom(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

func (d *snapDB) exec(t testing.TB, sqls ...string) {
	t.Helper()
	for _, sql := range sqls {
		if _, err := d.conn.Exec(context.Background(), strings.ReplaceAll(sql, "$S", d.schema)); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// textRows runs a query through the text protocol and returns its rows as
// raw text values (nil for NULL): the expected snapshot output.
func (d *snapDB) textRows(t testing.TB, sql string) [][][]byte {
	t.Helper()
	rr := d.conn.PgConn().ExecParams(context.Background(), strings.ReplaceAll(sql, "$S", d.schema), nil, nil, nil, nil)
	var rows [][][]byte
	for rr.NextRow() {
		row := make([][]byte, len(rr.Values()))
		for i, v := range rr.Values() {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		rows = append(rows, row)
	}
	if _, err := rr.Close(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return rows
}

// export creates a temporary logical slot exporting a snapshot and keeps its
// replication connection open (and idle) until the test ends.
func (d *snapDB) export(t testing.TB) string {
	t.Helper()
	name, closeConn := d.exportConn(t)
	t.Cleanup(closeConn)
	return name
}

// exportConn is export returning a function that closes the replication
// connection (dropping the temporary slot).
func (d *snapDB) exportConn(t testing.TB) (string, func()) {
	t.Helper()
	ctx := context.Background()
	sep := "?"
	if strings.Contains(d.url, "?") {
		sep = "&"
	}
	rc, err := pgconn.Connect(ctx, d.url+sep+"replication=database")
	if err != nil {
		t.Fatalf("replication connect: %v", err)
	}
	closeConn := func() { rc.Close(context.Background()) }
	res, err := pglogrepl.CreateReplicationSlot(ctx, rc, "snap_"+snapRandom(t), "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, SnapshotAction: "EXPORT_SNAPSHOT"})
	if err != nil {
		closeConn()
		t.Fatalf("create slot: %v", err)
	}
	if res.SnapshotName == "" {
		closeConn()
		t.Fatal("no snapshot name")
	}
	return res.SnapshotName, closeConn
}

func (d *snapDB) opts(name string, tables ...SnapshotTable) SnapshotOptions {
	url := d.url
	for i := range tables {
		if tables[i].Schema == "" {
			tables[i].Schema = d.schema
		}
	}
	return SnapshotOptions{
		Connector:    "test",
		Connect:      func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, url) },
		SnapshotName: name,
		Tables:       tables,
	}
}

// snapCollect runs a snapshot and returns its chunks. It fails the test if
// emit is ever called concurrently.
func snapCollect(t testing.TB, opts SnapshotOptions) ([]SnapshotChunk, error) {
	t.Helper()
	s, err := NewSnapshotter(opts)
	if err != nil {
		t.Fatal(err)
	}
	var chunks []SnapshotChunk
	var busy atomic.Bool
	err = s.Run(context.Background(), func(_ context.Context, c SnapshotChunk) error {
		if busy.Swap(true) {
			t.Error("emit called concurrently")
		}
		defer busy.Store(false)
		select {
		case <-s.Imported():
		default:
			t.Error("chunk emitted before Imported was closed")
		}
		chunks = append(chunks, c)
		return nil
	})
	return chunks, err
}

// snapTableRows checks the chunk sequence of table idx (First on the first
// chunk only, Last on the last only, LastKey equal to the key of the last
// row given by keyCols; nil for a table without key, empty to skip the
// check) and returns its rows in order.
func snapTableRows(t testing.TB, chunks []SnapshotChunk, idx int, keyCols []int) (rows [][][]byte, sizes []int) {
	t.Helper()
	var own []SnapshotChunk
	for _, c := range chunks {
		if c.Table == idx {
			own = append(own, c)
		}
	}
	if len(own) == 0 {
		t.Fatalf("table %d: no chunks", idx)
	}
	for i, c := range own {
		if c.First != (i == 0) || c.Last != (i == len(own)-1) {
			t.Errorf("table %d chunk %d of %d: First=%v Last=%v", idx, i, len(own), c.First, c.Last)
		}
		switch {
		case keyCols != nil && len(keyCols) == 0:
			// key not among the emitted columns: not checked here
		case keyCols == nil:
			if c.LastKey != nil {
				t.Errorf("table %d chunk %d: LastKey %q for a table without key", idx, i, c.LastKey)
			}
		case len(c.Rows) > 0:
			last := c.Rows[len(c.Rows)-1]
			var want [][]byte
			for _, k := range keyCols {
				want = append(want, last[k])
			}
			if !snapEqualValues(c.LastKey, want) {
				t.Errorf("table %d chunk %d: LastKey %q, want %q", idx, i, c.LastKey, want)
			}
		}
		rows = append(rows, c.Rows...)
		sizes = append(sizes, len(c.Rows))
	}
	return rows, sizes
}

// snapEqualValues compares text values, telling NULL (nil) from the empty string.
func snapEqualValues(a, b [][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) })
}

func snapEqualRows(a, b [][][]byte) bool {
	return slices.EqualFunc(a, b, func(x, y [][]byte) bool { return snapEqualValues(x, y) })
}

func snapAssertRows(t testing.TB, name string, got, want [][][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d\n got %q\nwant %q", name, len(got), len(want), got, want)
		return
	}
	for i := range got {
		if !snapEqualValues(got[i], want[i]) {
			t.Errorf("%s row %d = %q, want %q", name, i, got[i], want[i])
		}
	}
}

func TestSnapshotReadsAsOfExport(t *testing.T) {
	d := snapSetup(t)
	d.exec(t,
		"CREATE TABLE $S.items (id int PRIMARY KEY, name text NOT NULL, note text)",
		"INSERT INTO $S.items SELECT i, 'item '||i, CASE WHEN i % 3 = 0 THEN NULL WHEN i = 4 THEN '' ELSE 'n'||i END FROM generate_series(1, 10) i",
	)
	want := d.textRows(t, "SELECT id, name, note FROM $S.items ORDER BY id")
	name := d.export(t)
	// Changes after the export must not show in the snapshot.
	d.exec(t,
		"UPDATE $S.items SET name = 'changed' WHERE id = 1",
		"DELETE FROM $S.items WHERE id = 2",
		"INSERT INTO $S.items VALUES (11, 'late', NULL), (0, 'early', NULL)",
	)
	opts := d.opts(name, SnapshotTable{Name: "items", Columns: []string{"id", "name", "note"}, Key: []string{"id"}})
	opts.FetchSize = 3
	chunks, err := snapCollect(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	rows, sizes := snapTableRows(t, chunks, 0, []int{0})
	snapAssertRows(t, "items", rows, want)
	if !slices.Equal(sizes, []int{3, 3, 3, 1}) {
		t.Errorf("chunk sizes %v, want [3 3 3 1]", sizes)
	}
	// Spot-check the text values themselves, NULL versus empty string.
	if got := rows[0]; string(got[0]) != "1" || string(got[1]) != "item 1" || string(got[2]) != "n1" {
		t.Errorf("row 0 = %q", got)
	}
	if rows[2][2] != nil || rows[3][2] == nil || len(rows[3][2]) != 0 {
		t.Errorf("note of id 3 = %q (want NULL), of id 4 = %q (want empty)", rows[2][2], rows[3][2])
	}
	if got := string(chunks[len(chunks)-1].LastKey[0]); got != "10" {
		t.Errorf("final LastKey %q, want 10", got)
	}
}

func TestSnapshotKeyTypes(t *testing.T) {
	d := snapSetup(t)
	d.exec(t,
		// Composite key; the key column b is left out of Columns, so it is
		// read only to page on.
		"CREATE TABLE $S.comp (a int, b text, v text, PRIMARY KEY (a, b))",
		"INSERT INTO $S.comp SELECT i / 3, 'k' || (10 - i % 3) || repeat('x', i % 2), 'v' || i FROM generate_series(0, 13) i",
		"CREATE TABLE $S.uuids (id uuid PRIMARY KEY, v int)",
		"INSERT INTO $S.uuids SELECT md5(i::text)::uuid, i FROM generate_series(1, 11) i",
		// ICU root collation orders 'a' < 'B' < 'c', unlike the database's C.
		`CREATE TABLE $S.texts (id text COLLATE "und-x-icu" PRIMARY KEY, v int)`,
		`INSERT INTO $S.texts VALUES ('a', 1), ('B', 2), ('c', 3), ('D', 4), ('é', 5), ('e', 6), ('it''s', 7), (' x', 8), ('', 9), ('Zz', 10)`,
		"CREATE TABLE $S.nums (id numeric PRIMARY KEY, v int)",
		"INSERT INTO $S.nums VALUES (1.5, 1), (10.25, 2), (-3, 3), (0.001, 4), (1e20, 5), (2.50, 6), ('NaN', 7)",
		"CREATE TABLE $S.times (at timestamptz, f float8, PRIMARY KEY (at, f))",
		`CREATE TABLE $S."We""ird T" ("Key Col" int, "select" text, PRIMARY KEY ("select", "Key Col"))`,
		`INSERT INTO $S."We""ird T" SELECT g % 4, 's' || (g % 3) FROM generate_series(1, 12) g`,
		"INSERT INTO $S.times VALUES ('2024-01-01 00:00:00.000001+00', 0.1), ('2024-01-01 00:00:00.000001+00', 0.30000000000000004), ('1999-12-31 23:59:59+05', -1e-300), ('infinity', 1), ('2024-06-01 12:00+00', 1.7976931348623157e308), ('2024-06-01 12:00+00', 'Infinity')",
	)
	tests := []struct {
		table    string
		columns  []string
		key      []string
		keyIdx   []int
		expected string
	}{
		{"comp", []string{"a", "v"}, []string{"a", "b"}, []int{}, "SELECT a, v FROM $S.comp ORDER BY a, b"},
		{"uuids", []string{"id", "v"}, []string{"id"}, []int{0}, "SELECT id, v FROM $S.uuids ORDER BY id"},
		{"texts", []string{"id", "v"}, []string{"id"}, []int{0}, "SELECT id, v FROM $S.texts ORDER BY id"},
		{"nums", []string{"id", "v"}, []string{"id"}, []int{0}, "SELECT id, v FROM $S.nums ORDER BY id"},
		{"times", []string{"at", "f"}, []string{"at", "f"}, []int{0, 1}, "SELECT at, f FROM $S.times ORDER BY at, f"},
		{`We"ird T`, []string{"Key Col", "select"}, []string{"select", "Key Col"}, []int{1, 0}, `SELECT "Key Col", "select" FROM $S."We""ird T" ORDER BY 2, 1`},
	}
	want := make([][][][]byte, len(tests))
	var tables []SnapshotTable
	for i, tt := range tests {
		want[i] = d.textRows(t, tt.expected)
		tables = append(tables, SnapshotTable{Name: tt.table, Columns: tt.columns, Key: tt.key})
	}
	// The ICU order really differs from byte order: the test would not
	// notice a keyset comparing in the wrong collation otherwise.
	if byteOrder := d.textRows(t, `SELECT id, v FROM $S.texts ORDER BY id COLLATE "C"`); snapEqualRows(byteOrder, want[2]) {
		t.Fatalf("ICU order equals byte order: %q", byteOrder)
	}
	name := d.export(t)
	d.exec(t, "DELETE FROM $S.comp", "DELETE FROM $S.texts WHERE id = 'c'", "INSERT INTO $S.uuids VALUES (gen_random_uuid(), 0)")
	opts := d.opts(name, tables...)
	opts.FetchSize = 3
	chunks, err := snapCollect(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		rows, sizes := snapTableRows(t, chunks, i, tt.keyIdx)
		snapAssertRows(t, tt.table, rows, want[i])
		if n := len(want[i]); len(sizes) != (n+2)/3 {
			t.Errorf("%s: %d chunks for %d rows, want %d", tt.table, len(sizes), n, (n+2)/3)
		}
	}
	// The composite key's LastKey carries the column b that is not emitted.
	var compChunks []SnapshotChunk
	for _, c := range chunks {
		if c.Table == 0 {
			compChunks = append(compChunks, c)
		}
	}
	if got := compChunks[0].LastKey; len(got) != 2 || string(got[0]) != "0" || string(got[1]) != "k9x" {
		t.Errorf("comp first LastKey = %q, want [0 k9x]", got)
	}
}

func TestSnapshotNoKeyAndEmpty(t *testing.T) {
	d := snapSetup(t)
	d.exec(t,
		"CREATE TABLE $S.heap (a int, b text)",
		"INSERT INTO $S.heap VALUES (1, 'x'), (2, NULL), (NULL, ''), (4, 'y'), (5, 'z'), (6, NULL), (7, 'w')",
		"CREATE TABLE $S.six (a int)",
		"INSERT INTO $S.six SELECT generate_series(1, 6)",
		"CREATE TABLE $S.keysix (id int PRIMARY KEY)",
		"INSERT INTO $S.keysix SELECT generate_series(1, 6)",
		"CREATE TABLE $S.empty (id int PRIMARY KEY, v text)",
		"CREATE TABLE $S.emptyheap (v text)",
	)
	want := d.textRows(t, "SELECT a, b FROM $S.heap")
	name := d.export(t)
	d.exec(t, "INSERT INTO $S.heap VALUES (8, 'late')", "INSERT INTO $S.empty VALUES (1, 'late')", "DELETE FROM $S.six WHERE a = 1")
	opts := d.opts(name,
		SnapshotTable{Name: "heap", Columns: []string{"a", "b"}},
		SnapshotTable{Name: "six", Columns: []string{"a"}},
		SnapshotTable{Name: "keysix", Columns: []string{"id"}, Key: []string{"id"}},
		SnapshotTable{Name: "empty", Columns: []string{"id", "v"}, Key: []string{"id"}},
		SnapshotTable{Name: "emptyheap", Columns: []string{"v"}},
	)
	opts.FetchSize = 3
	chunks, err := snapCollect(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	// No key: order is unspecified, compare as a multiset.
	rows, sizes := snapTableRows(t, chunks, 0, nil)
	key := func(r [][]byte) string { return fmt.Sprintf("%q %v %v", r, r[0] == nil, r[1] == nil) }
	sortRows := func(rs [][][]byte) {
		slices.SortFunc(rs, func(x, y [][]byte) int { return strings.Compare(key(x), key(y)) })
	}
	sortRows(rows)
	sortRows(want)
	snapAssertRows(t, "heap", rows, want)
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Errorf("heap chunk sizes %v, want [3 3 1]", sizes)
	}
	// Exactly a multiple of the fetch size: no trailing empty chunk.
	for _, idx := range []int{1, 2} {
		var keyCols []int
		if idx == 2 {
			keyCols = []int{0}
		}
		rows, sizes := snapTableRows(t, chunks, idx, keyCols)
		if !slices.Equal(sizes, []int{3, 3}) || len(rows) != 6 || string(rows[0][0]) != "1" && idx == 2 {
			t.Errorf("table %d: chunk sizes %v rows %q, want 2 chunks of 3", idx, sizes, rows)
		}
	}
	// Empty tables yield one empty chunk, First and Last.
	for _, idx := range []int{3, 4} {
		var own []SnapshotChunk
		for _, c := range chunks {
			if c.Table == idx {
				own = append(own, c)
			}
		}
		if len(own) != 1 || !own[0].First || !own[0].Last || len(own[0].Rows) != 0 || own[0].LastKey != nil {
			t.Errorf("empty table %d: chunks %+v", idx, own)
		}
	}
}

func TestSnapshotThreads(t *testing.T) {
	d := snapSetup(t)
	counts := []int{17, 1, 0, 40, 9, 23}
	var tables []SnapshotTable
	for i, n := range counts {
		d.exec(t,
			fmt.Sprintf("CREATE TABLE $S.t%d (id bigint PRIMARY KEY, v text)", i),
			fmt.Sprintf("INSERT INTO $S.t%d SELECT g, 't%d-' || g FROM generate_series(1, %d) g", i, i, n),
		)
		tables = append(tables, SnapshotTable{Name: fmt.Sprintf("t%d", i), Columns: []string{"id", "v"}, Key: []string{"id"}})
	}
	want := make([][][][]byte, len(counts))
	for i := range counts {
		want[i] = d.textRows(t, fmt.Sprintf("SELECT id, v FROM $S.t%d ORDER BY id", i))
	}
	name := d.export(t)
	for i := range counts {
		d.exec(t, fmt.Sprintf("DELETE FROM $S.t%d WHERE id %% 2 = 0", i))
	}
	opts := d.opts(name, tables...)
	opts.FetchSize = 4
	opts.MaxThreads = 3
	chunks, err := snapCollect(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range counts {
		rows, _ := snapTableRows(t, chunks, i, []int{0})
		snapAssertRows(t, tables[i].Name, rows, want[i])
	}
}

func TestSnapshotResume(t *testing.T) {
	d := snapSetup(t)
	d.exec(t,
		"CREATE TABLE $S.r (a int, b text, v int, PRIMARY KEY (a, b))",
		"INSERT INTO $S.r SELECT i / 2, chr(97 + i % 2), i FROM generate_series(0, 11) i",
		"CREATE TABLE $S.done (id int PRIMARY KEY)",
		"INSERT INTO $S.done VALUES (1)",
		"CREATE TABLE $S.finished (id int PRIMARY KEY)",
		"INSERT INTO $S.finished VALUES (1), (2)",
	)
	all := d.textRows(t, "SELECT a, b, v FROM $S.r ORDER BY a, b")
	name := d.export(t)
	d.exec(t, "UPDATE $S.r SET v = -v", "INSERT INTO $S.r VALUES (2, 'c', 99)")

	table := SnapshotTable{Name: "r", Columns: []string{"a", "b", "v"}, Key: []string{"a", "b"}}
	// A first run stops after its first chunk, as when a reader breaks.
	opts := d.opts(name, table)
	opts.FetchSize = 5
	s, err := NewSnapshotter(opts)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	var first SnapshotChunk
	err = s.Run(context.Background(), func(_ context.Context, c SnapshotChunk) error {
		first = c
		return stop
	})
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), d.schema+".r") {
		t.Fatalf("Run = %v, want the emit error wrapped with the table", err)
	}
	if len(first.Rows) != 5 || string(first.LastKey[0]) != "2" || string(first.LastKey[1]) != "a" {
		t.Fatalf("first chunk %q, LastKey %q", first.Rows, first.LastKey)
	}

	// The second run imports the same snapshot and continues after LastKey.
	table.After = first.LastKey
	opts = d.opts(name, table,
		SnapshotTable{Name: "done", Columns: []string{"id"}, Key: []string{"id"}, Done: true},
		SnapshotTable{Name: "finished", Columns: []string{"id"}, Key: []string{"id"}, After: [][]byte{[]byte("2")}},
	)
	opts.FetchSize = 5
	chunks, err := snapCollect(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := snapTableRows(t, chunks, 0, []int{0, 1})
	snapAssertRows(t, "r resumed", rows, all[5:])
	for _, c := range chunks {
		if c.Table == 1 {
			t.Errorf("done table emitted %+v", c)
		}
	}
	// Resuming after the last key: one empty final chunk keeping the key.
	var fin []SnapshotChunk
	for _, c := range chunks {
		if c.Table == 2 {
			fin = append(fin, c)
		}
	}
	if len(fin) != 1 || !fin[0].First || !fin[0].Last || len(fin[0].Rows) != 0 || len(fin[0].LastKey) != 1 || string(fin[0].LastKey[0]) != "2" {
		t.Errorf("finished table chunks %+v", fin)
	}
}

func TestSnapshotErrors(t *testing.T) {
	d := snapSetup(t)
	d.exec(t, "CREATE TABLE $S.ok (id int PRIMARY KEY)", "INSERT INTO $S.ok VALUES (1)")
	name := d.export(t)
	tests := []struct {
		name    string
		table   SnapshotTable
		missing bool
		want    string
	}{
		{"missing table", SnapshotTable{Name: "nope", Columns: []string{"id"}, Key: []string{"id"}}, true, d.schema + ".nope: table does not exist"},
		{"missing schema", SnapshotTable{Schema: "no_such_schema_" + d.schema, Name: "ok", Columns: []string{"id"}}, true, "no_such_schema_" + d.schema + ".ok: table does not exist"},
		{"missing key column", SnapshotTable{Name: "ok", Columns: []string{"id"}, Key: []string{"idx"}}, false, d.schema + `.ok: key column "idx" does not exist`},
		{"missing column", SnapshotTable{Name: "ok", Columns: []string{"id", "gone"}, Key: []string{"id"}}, false, d.schema + ".ok: read chunk: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := snapCollect(t, d.opts(name, tt.table))
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, ErrSnapshotTableMissing) != tt.missing {
				t.Errorf("err = %v, want containing %q (missing=%v)", err, tt.want, tt.missing)
			}
		})
	}
	t.Run("bad snapshot", func(t *testing.T) {
		_, err := snapCollect(t, d.opts("00000003-0000BEEF-1", SnapshotTable{Name: "ok", Columns: []string{"id"}}))
		if err == nil || !strings.Contains(err.Error(), `import snapshot "00000003-0000BEEF-1"`) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestNewSnapshotterValidates(t *testing.T) {
	connect := func(ctx context.Context) (*pgx.Conn, error) { return nil, errors.New("unused") }
	tests := []struct {
		name string
		opts SnapshotOptions
		want string
	}{
		{"no connect", SnapshotOptions{SnapshotName: "x"}, "snapshot: no Connect function"},
		{"no name", SnapshotOptions{Connect: connect}, "snapshot: no exported snapshot name"},
		{"negative", SnapshotOptions{Connect: connect, SnapshotName: "x", FetchSize: -1}, "snapshot: negative fetch size (-1) or max threads (0)"},
		{"no table name", SnapshotOptions{Connect: connect, SnapshotName: "x", Tables: []SnapshotTable{{Schema: "s"}}}, `snapshot: table "s.": empty schema or name`},
		{"key length", SnapshotOptions{Connect: connect, SnapshotName: "x", Tables: []SnapshotTable{{Schema: "s", Name: "t", Key: []string{"a", "b"}, After: [][]byte{[]byte("1")}}}}, "snapshot s.t: resume key has 1 values, key has 2 columns"},
		{"null key", SnapshotOptions{Connect: connect, SnapshotName: "x", Tables: []SnapshotTable{{Schema: "s", Name: "t", Key: []string{"a"}, After: [][]byte{nil}}}}, "snapshot s.t: resume key holds NULL"},
	}
	for _, tt := range tests {
		_, err := NewSnapshotter(tt.opts)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	// Nothing to read: Run returns at once, Imported is closed, metrics say 0.
	reg := prometheus.NewRegistry()
	s, err := NewSnapshotter(SnapshotOptions{Connect: connect, SnapshotName: "x", Connector: "c", Registerer: reg,
		Tables: []SnapshotTable{{Schema: "s", Name: "t", Done: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Imported():
	default:
		t.Error("Imported not closed")
	}
	if got := snapMetric(t, reg, "sluice_snapshot_tables_remaining", "connector", "c"); got != 0 {
		t.Errorf("tables remaining = %v", got)
	}
	if err := s.Run(context.Background(), nil); err == nil {
		t.Error("second Run succeeded")
	}
}

// snapMetric returns the value of the series of family name whose labels
// include the given pairs; it fails the test when there is none.
func snapMetric(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestSnapshotProgress(t *testing.T) {
	d := snapSetup(t)
	d.exec(t,
		"CREATE TABLE $S.analyzed (id int PRIMARY KEY)",
		"INSERT INTO $S.analyzed SELECT generate_series(1, 25)",
		"ANALYZE $S.analyzed",
		"CREATE TABLE $S.fresh (id int PRIMARY KEY)", // never analyzed: reltuples = -1, so count(*)
		"INSERT INTO $S.fresh SELECT generate_series(1, 7)",
	)
	var reltuples float64
	if err := d.conn.QueryRow(context.Background(), "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", d.schema+".fresh").Scan(&reltuples); err != nil {
		t.Fatal(err)
	}
	if reltuples >= 0 {
		t.Skipf("fresh table already has reltuples %v (autovacuum ran)", reltuples)
	}
	name := d.export(t)
	d.exec(t, "INSERT INTO $S.fresh SELECT generate_series(100, 120)")

	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	opts := d.opts(name,
		SnapshotTable{Name: "analyzed", Columns: []string{"id"}, Key: []string{"id"}},
		SnapshotTable{Name: "fresh", Columns: []string{"id"}, Key: []string{"id"}},
	)
	opts.Connector = "prog-" + d.schema
	opts.FetchSize = 10
	opts.Registerer = reg
	opts.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	opts.ProgressInterval = time.Nanosecond
	s, err := NewSnapshotter(opts)
	if err != nil {
		t.Fatal(err)
	}
	analyzed, fresh := d.schema+".analyzed", d.schema+".fresh"
	var remaining []float64
	var seen int
	err = s.Run(context.Background(), func(_ context.Context, c SnapshotChunk) error {
		// Metrics count the chunks already handed on, not this one.
		tbl := analyzed
		if c.Table == 1 {
			tbl = fresh
		}
		if c.First {
			seen = 0
		}
		if got := snapMetric(t, reg, "sluice_snapshot_rows_total", "table", tbl); c.First && got != 0 || !c.First && int(got) != seen {
			t.Errorf("%s rows_total before chunk = %v, want %d", tbl, got, seen)
		}
		seen += len(c.Rows)
		remaining = append(remaining, snapMetric(t, reg, "sluice_snapshot_tables_remaining", "connector", opts.Connector))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		table           string
		rows, estimated float64
	}{{analyzed, 25, 25}, {fresh, 7, 7}} {
		if got := snapMetric(t, reg, "sluice_snapshot_rows_total", "connector", opts.Connector, "table", tc.table); got != tc.rows {
			t.Errorf("%s rows_total = %v, want %v", tc.table, got, tc.rows)
		}
		if got := snapMetric(t, reg, "sluice_snapshot_rows_estimated", "connector", opts.Connector, "table", tc.table); got != tc.estimated {
			t.Errorf("%s rows_estimated = %v, want %v", tc.table, got, tc.estimated)
		}
	}
	// analyzed: 3 chunks while 2 tables remain; fresh: 1 chunk with 1 left.
	if !slices.Equal(remaining, []float64{2, 2, 2, 1}) {
		t.Errorf("tables remaining during run %v, want [2 2 2 1]", remaining)
	}
	if got := snapMetric(t, reg, "sluice_snapshot_tables_remaining", "connector", opts.Connector); got != 0 {
		t.Errorf("tables remaining after run = %v", got)
	}

	// Logs: a progress line for analyzed's middle chunks, a done line per table.
	var progress, done int
	for _, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		switch rec["msg"] {
		case "snapshot progress":
			progress++
			if rec["table"] != analyzed || rec["estimated_rows"] != float64(25) || rec["connector"] != opts.Connector {
				t.Errorf("progress record %v", rec)
			}
		case "snapshot table done":
			done++
			if want := map[string]float64{analyzed: 25, fresh: 7}[rec["table"].(string)]; rec["rows"] != want {
				t.Errorf("done record %v, want rows %v", rec, want)
			}
		}
	}
	if progress != 2 || done != 2 {
		t.Errorf("%d progress and %d done log lines, want 2 and 2:\n%s", progress, done, logs.String())
	}
}

// BenchmarkSnapshot reads 500k-row tables (bigint key, text, numeric,
// timestamptz) with the default fetch size, through a fresh exported
// snapshot per iteration: one table on one thread, and two tables on two.
func BenchmarkSnapshot(b *testing.B) {
	d := snapSetup(b)
	const n = 500_000
	for _, tbl := range []string{"bench1", "bench2"} {
		d.exec(b,
			"CREATE TABLE $S."+tbl+" (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), created timestamptz)",
			fmt.Sprintf("INSERT INTO $S.%s SELECT g, 'customer-' || g, g * 1.25, timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series(1, %d) g", tbl, n),
			"VACUUM ANALYZE $S."+tbl,
		)
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			var total int
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				name, closeConn := d.exportConn(b)
				var tables []SnapshotTable
				for i := range threads {
					tables = append(tables, SnapshotTable{Name: fmt.Sprintf("bench%d", i+1), Columns: []string{"id", "name", "amount", "created"}, Key: []string{"id"}})
				}
				opts := d.opts(name, tables...)
				opts.MaxThreads = threads
				s, err := NewSnapshotter(opts)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				rows := 0
				err = s.Run(context.Background(), func(_ context.Context, c SnapshotChunk) error {
					rows += len(c.Rows)
					return nil
				})
				elapsed += time.Since(start)
				b.StopTimer()
				closeConn()
				b.StartTimer()
				if err != nil {
					b.Fatal(err)
				}
				if rows != n*threads {
					b.Fatalf("read %d rows, want %d", rows, n*threads)
				}
				total += rows
			}
			b.ReportMetric(float64(total)/elapsed.Seconds(), "rows/s")
		})
	}
}

// TestSnapshotReaderBreaks kills the reader's connection mid-table; a new
// Snapshotter importing the same (still exported) snapshot continues after
// the last emitted chunk and still sees the rows as of the export.
func TestSnapshotReaderBreaks(t *testing.T) {
	d := snapSetup(t)
	d.exec(t,
		"CREATE TABLE $S.b (id uuid PRIMARY KEY, v text)",
		"INSERT INTO $S.b SELECT md5(g::text)::uuid, 'v' || g FROM generate_series(1, 40) g",
	)
	want := d.textRows(t, "SELECT id, v FROM $S.b ORDER BY id")
	name := d.export(t)
	d.exec(t, "UPDATE $S.b SET v = 'late'")

	table := SnapshotTable{Name: "b", Columns: []string{"id", "v"}, Key: []string{"id"}}
	opts := d.opts(name, table)
	opts.FetchSize = 6
	var pid atomic.Uint32
	connect := opts.Connect
	opts.Connect = func(ctx context.Context) (*pgx.Conn, error) {
		c, err := connect(ctx)
		if err == nil {
			pid.Store(c.PgConn().PID())
		}
		return c, err
	}
	s, err := NewSnapshotter(opts)
	if err != nil {
		t.Fatal(err)
	}
	var got [][][]byte
	var lastKey [][]byte
	err = s.Run(context.Background(), func(ctx context.Context, c SnapshotChunk) error {
		got = append(got, c.Rows...)
		lastKey = c.LastKey
		if c.First {
			var ok bool
			if err := d.conn.QueryRow(ctx, "SELECT pg_terminate_backend($1, 10000)", int32(pid.Load())).Scan(&ok); err != nil || !ok {
				t.Errorf("terminate reader: %v %v", ok, err)
			}
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "snapshot "+d.schema+".b: read chunk: ") {
		t.Fatalf("Run = %v, want a read error naming the table", err)
	}
	// The reader reads up to two chunks ahead of emit before it is killed.
	if len(got) < 6 || len(got) > 18 || len(got)%6 != 0 {
		t.Fatalf("got %d rows before the break, want 6, 12 or 18", len(got))
	}

	table.After = lastKey
	opts = d.opts(name, table)
	opts.FetchSize = 6
	chunks, err := snapCollect(t, opts)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := snapTableRows(t, chunks, 0, []int{0})
	snapAssertRows(t, "b", append(got, rest...), want)
}

func TestSnapshotCancel(t *testing.T) {
	d := snapSetup(t)
	d.exec(t, "CREATE TABLE $S.c (id int PRIMARY KEY)", "INSERT INTO $S.c SELECT generate_series(1, 100)",
		"CREATE TABLE $S.h (id int)", "INSERT INTO $S.h SELECT generate_series(1, 100)")
	name := d.export(t)
	for _, threads := range []int{1, 2} {
		opts := d.opts(name,
			SnapshotTable{Name: "c", Columns: []string{"id"}, Key: []string{"id"}},
			SnapshotTable{Name: "h", Columns: []string{"id"}})
		opts.FetchSize = 10
		opts.MaxThreads = threads
		s, err := NewSnapshotter(opts)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err = s.Run(ctx, func(ctx context.Context, c SnapshotChunk) error {
			calls++
			if calls == 2 {
				cancel()
			}
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("threads %d: Run = %v, want context.Canceled", threads, err)
		}
		if calls != 2 {
			t.Errorf("threads %d: %d emit calls after cancel", threads, calls)
		}
	}
}
