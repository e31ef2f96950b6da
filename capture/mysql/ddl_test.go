package mysql

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// renderDefs renders a model compactly: db.table(col type [null], ...) key(...).
func renderDefs(m *schemaModel) string {
	var lines []string
	for id, d := range m.tables {
		var cols []string
		for _, c := range d.Columns {
			s := c.Name + " " + c.ColumnType
			if c.Nullable {
				s += " null"
			}
			if c.Charset == "binary" {
				s += " bin"
			}
			if c.FSP > 0 || c.Precision > 0 {
				s += " " + strings.Join([]string{strconv.Itoa(c.Precision), strconv.Itoa(c.Scale), strconv.Itoa(c.FSP)}, "/")
			}
			cols = append(cols, s)
		}
		lines = append(lines, id.String()+"("+strings.Join(cols, ", ")+") key("+strings.Join(d.Key, ",")+")")
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestDDLApply(t *testing.T) {
	base := []string{"CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b DECIMAL(5,2) NOT NULL)"}
	for _, tt := range []struct {
		name    string
		stmts   []string
		want    string
		changed string // tables the last statement reports
		err     error
	}{
		{name: "create", stmts: nil,
			want:    "d.t(id int(11), a varchar(10) null, b decimal(5,2) 5/2/0) key(id)",
			changed: "d.t"},
		{name: "types", stmts: []string{"CREATE TABLE d.x (k BINARY(2), j JSON, ts TIMESTAMP(3), dt DATETIME(6) NOT NULL, bt BIT(12), e ENUM('a','b') NOT NULL, u BIGINT UNSIGNED, dc DECIMAL, PRIMARY KEY (k, dt))"},
			want:    "d.t(id int(11), a varchar(10) null, b decimal(5,2) 5/2/0) key(id)\nd.x(k binary(2) bin, j longtext null, ts timestamp(3) null 0/0/3, dt datetime(6) 0/0/6, bt bit(12) null 12/0/0, e enum('a','b'), u bigint(20) unsigned null, dc decimal(10,0) null 10/0/0) key(k,dt)",
			changed: "d.x"},
		{name: "add after and first", stmts: []string{"ALTER TABLE t ADD COLUMN c INT AFTER id, ADD z TINYINT FIRST"},
			want:    "d.t(z tinyint(4) null, id int(11), c int(11) null, a varchar(10) null, b decimal(5,2) 5/2/0) key(id)",
			changed: "d.t"},
		{name: "add if not exists", stmts: []string{"ALTER TABLE t ADD COLUMN IF NOT EXISTS a INT"},
			want:    "d.t(id int(11), a varchar(10) null, b decimal(5,2) 5/2/0) key(id)",
			changed: "d.t"},
		{name: "drop", stmts: []string{"ALTER TABLE `d`.`t` DROP COLUMN a"},
			want:    "d.t(id int(11), b decimal(5,2) 5/2/0) key(id)",
			changed: "d.t"},
		{name: "modify", stmts: []string{"ALTER TABLE t MODIFY a BIGINT UNSIGNED NOT NULL FIRST"},
			want:    "d.t(a bigint(20) unsigned, id int(11), b decimal(5,2) 5/2/0) key(id)",
			changed: "d.t"},
		{name: "change renames the key", stmts: []string{"ALTER TABLE t CHANGE id ident BIGINT"},
			want:    "d.t(ident bigint(20), a varchar(10) null, b decimal(5,2) 5/2/0) key(ident)",
			changed: "d.t"},
		{name: "rename column", stmts: []string{"ALTER TABLE t RENAME COLUMN a TO aa"},
			want:    "d.t(id int(11), aa varchar(10) null, b decimal(5,2) 5/2/0) key(id)",
			changed: "d.t"},
		{name: "primary key", stmts: []string{"ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (a, id)"},
			want:    "d.t(id int(11), a varchar(10), b decimal(5,2) 5/2/0) key(a,id)",
			changed: "d.t"},
		{name: "drop index primary", stmts: []string{"ALTER TABLE t DROP INDEX `PRIMARY`, DROP INDEX other"},
			want:    "d.t(id int(11), a varchar(10) null, b decimal(5,2) 5/2/0) key()",
			changed: "d.t"},
		{name: "rename table", stmts: []string{"RENAME TABLE t TO u, u TO v"},
			want:    "d.v(id int(11), a varchar(10) null, b decimal(5,2) 5/2/0) key(id)",
			changed: "d.t,d.u,d.v"},
		{name: "alter rename", stmts: []string{"ALTER TABLE t RENAME TO other.t"},
			want:    "",
			changed: "d.t"},
		{name: "like", stmts: []string{"CREATE TABLE l LIKE t", "DROP TABLE t"},
			want:    "d.l(id int(11), a varchar(10) null, b decimal(5,2) 5/2/0) key(id)",
			changed: "d.t"},
		{name: "create or replace", stmts: []string{"CREATE OR REPLACE TABLE t (x INT)"},
			want:    "d.t(x int(11) null) key()",
			changed: "d.t"},
		{name: "mariadb syntax", stmts: []string{"ALTER ONLINE TABLE t ADD COLUMN z INT", "ALTER TABLE `d`.`t` WAIT 10 ADD COLUMN y INT FIRST", "RENAME TABLE IF EXISTS t NOWAIT TO u", "RENAME TABLE IF EXISTS nope TO x"},
			want:    "d.u(y int(11) null, id int(11), a varchar(10) null, b decimal(5,2) 5/2/0, z int(11) null) key(id)",
			changed: ""},
		{name: "create select", stmts: []string{"CREATE TABLE s SELECT 1 AS a"},
			err: ErrUnparseableDDL},
		{name: "drop database", stmts: []string{"CREATE TABLE d.y (a INT)", "DROP DATABASE d"},
			want:    "",
			changed: "d.t,d.y"},
		{name: "untracked database", stmts: []string{"CREATE TABLE other.y (a INT)"},
			want:    "d.t(id int(11), a varchar(10) null, b decimal(5,2) 5/2/0) key(id)",
			changed: ""},
		{name: "ignored statements", stmts: []string{"GRANT ALL ON *.* TO x", "CREATE PROCEDURE p() BEGIN SELECT 1; END", "TRUNCATE t", "CREATE INDEX i ON t (a)"},
			want:    "d.t(id int(11), a varchar(10) null, b decimal(5,2) 5/2/0) key(id)",
			changed: ""},
		{name: "unparseable", stmts: []string{"ALTER TABLE t ADD COLUMN g GEOMETRY"},
			err: ErrUnparseableDDL},
		{name: "unknown table", stmts: []string{"ALTER TABLE nope ADD COLUMN g INT"},
			err: errUnknownTable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newDDLApplier(gmysql.MariaDBFlavor, false, func(db string) bool { return db == "d" })
			m := newSchemaModel()
			var changed []TableID
			var err error
			for _, s := range append(append([]string(nil), base...), tt.stmts...) {
				if changed, err = a.apply(m, "d", s); err != nil {
					break
				}
			}
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := renderDefs(m); got != tt.want {
				t.Errorf("model:\n got %s\nwant %s", got, tt.want)
			}
			var ids []string
			for _, id := range changed {
				ids = append(ids, id.String())
			}
			sort.Strings(ids)
			if got := strings.Join(ids, ","); got != tt.changed {
				t.Errorf("changed = %s, want %s", got, tt.changed)
			}
		})
	}
}

// TestDDLTimestampDefaults: with explicit_defaults_for_timestamp off a
// TIMESTAMP column without NULL is NOT NULL.
func TestDDLTimestampDefaults(t *testing.T) {
	a := newDDLApplier(gmysql.MySQLFlavor, true, func(string) bool { return true })
	m := newSchemaModel()
	if _, err := a.apply(m, "d", "CREATE TABLE t (a TIMESTAMP, b TIMESTAMP NULL, j JSON)"); err != nil {
		t.Fatal(err)
	}
	if got, want := renderDefs(m), "d.t(a timestamp, b timestamp null, j json null bin) key()"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestReplayHistory(t *testing.T) {
	tbl := func(name string, cols ...string) HistoryTable {
		h := HistoryTable{DB: "d", Table: name}
		for _, c := range cols {
			h.Columns = append(h.Columns, Column{Name: c, DataType: "int", ColumnType: "int(11)"})
		}
		return h
	}
	recs := []HistoryRecord{
		{GTIDs: "0-1-10", Snapshot: true, Tables: []HistoryTable{tbl("a", "x"), tbl("b", "y")}},
		{GTIDs: "0-1-12", Tables: []HistoryTable{tbl("a", "x", "z")}},
		{GTIDs: "0-1-15", Dropped: []TableID{{"d", "b"}}},
		{GTIDs: "0-1-12", Tables: []HistoryTable{tbl("a", "x", "z")}}, // repeated after a crash
		{GTIDs: "0-1-20", Tables: []HistoryTable{tbl("a", "z")}},
	}
	for _, tt := range []struct {
		at    string
		found bool
		want  string
	}{
		{"0-1-9", false, ""},
		{"0-1-10", true, "d.a(x int(11)) key()\nd.b(y int(11)) key()"},
		{"0-1-14", true, "d.a(x int(11), z int(11)) key()\nd.b(y int(11)) key()"},
		{"0-1-19", true, "d.a(x int(11), z int(11)) key()"},
		{"0-1-20", true, "d.a(z int(11)) key()"},
		{"0-1-25,1-1-3", true, "d.a(z int(11)) key()"},
	} {
		at, err := gmysql.ParseGTIDSet(gmysql.MariaDBFlavor, tt.at)
		if err != nil {
			t.Fatal(err)
		}
		m, found, err := replayHistory(recs, gmysql.MariaDBFlavor, at)
		if err != nil || found != tt.found || renderDefs(m) != tt.want {
			t.Errorf("at %s: found=%v err=%v\n got %s\nwant %s", tt.at, found, err, renderDefs(m), tt.want)
		}
	}
}

func TestFileHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "history.jsonl")
	h := &FileHistory{Path: path}
	if recs, err := h.Load(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("Load of a missing file = %v, %v", recs, err)
	}
	r1 := HistoryRecord{GTIDs: "0-1-1", Flavor: "mariadb", DDL: "CREATE TABLE t (a INT)", Tables: []HistoryTable{{DB: "d", Table: "t", Columns: []Column{{Name: "a", DataType: "int", ColumnType: "int(11)", Nullable: true}}}}}
	r2 := HistoryRecord{GTIDs: "0-1-2", Flavor: "mariadb", Dropped: []TableID{{DB: "d", Table: "t"}}}
	for _, r := range []HistoryRecord{r1, r2} {
		if err := h.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"gtids":"0-1-1","flavor":"mariadb","ddl":"CREATE TABLE t (a INT)","tables":[{"db":"d","table":"t","columns":[{"name":"a","dataType":"int","columnType":"int(11)","nullable":true}]}]}` + "\n" +
		`{"gtids":"0-1-2","flavor":"mariadb","dropped":[{"db":"d","table":"t"}]}` + "\n"
	b, _ := os.ReadFile(path)
	if string(b) != want {
		t.Errorf("file:\n%s\nwant\n%s", b, want)
	}
	// A torn append: the partial line is dropped and cut.
	if err := os.WriteFile(path, append(b, `{"gtids":"0-1-3","fla`...), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := h.Load(ctx)
	if err != nil || len(recs) != 2 || recs[1].Dropped[0].Table != "t" {
		t.Fatalf("Load = %+v, %v", recs, err)
	}
	if b, _ := os.ReadFile(path); string(b) != want {
		t.Errorf("after Load the file is\n%s", b)
	}
	if err := h.Append(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if recs, err := h.Load(ctx); err != nil || len(recs) != 3 {
		t.Errorf("Load after append = %d records, %v", len(recs), err)
	}
}

// FuzzDDLApply: no statement makes the applier panic, and every key column
// stays a column of its table.
func FuzzDDLApply(f *testing.F) {
	for _, s := range []string{
		"ALTER TABLE t ADD COLUMN c INT AFTER id, ADD z TINYINT FIRST",
		"ALTER TABLE t CHANGE id ident BIGINT",
		"ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (a, id)",
		"RENAME TABLE t TO u, u TO v",
		"CREATE TABLE l LIKE t",
		"CREATE OR REPLACE TABLE t (x INT)",
		"DROP DATABASE d",
		"ALTER TABLE t MODIFY COLUMN IF EXISTS q INT FIRST",
		"CREATE TABLE x (a ENUM('a','b''c'), b SET('x'), c BIT(64), d DECIMAL(65,30), e TIME(6), PRIMARY KEY (a, b))",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		a := newDDLApplier(gmysql.MariaDBFlavor, false, func(db string) bool { return db == "d" })
		m := newSchemaModel()
		if _, err := a.apply(m, "d", "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10), b DECIMAL(5,2) NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		_, _ = a.apply(m, "d", sql)
		for id, d := range m.tables {
			for _, k := range d.Key {
				if d.index(k) < 0 {
					t.Errorf("%s: key column %s is not a column", id, k)
				}
			}
		}
	})
}
