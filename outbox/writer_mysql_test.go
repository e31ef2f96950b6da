package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// mysqlDSN turns a mysql://user:password@host:port/db URL into the DSN of
// go-mysql's database/sql driver, for database db.
func mysqlDSN(t *testing.T, raw, db string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("SLUICE_MYSQL_URL: %v", err)
	}
	pw, _ := u.User.Password()
	return fmt.Sprintf("%s:%s@tcp(%s)/%s", u.User.Username(), pw, u.Host, db)
}

// mysqlDB creates a database holding the migration's outbox table (applied
// twice: it is idempotent) and returns a handle on it and its name.
func mysqlDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	raw := testenv.Require(t, "SLUICE_MYSQL_URL")
	name := fmt.Sprintf("outbox_w%d", time.Now().UnixNano()%1e9)
	admin, err := sql.Open("mysql", mysqlDSN(t, raw, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("mysql", mysqlDSN(t, raw, "")); err == nil {
			_, _ = a.Exec("DROP DATABASE " + name)
			a.Close()
		}
	})
	db, err := sql.Open("mysql", mysqlDSN(t, raw, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	root, _ := testenv.RepoRoot()
	ddl, err := os.ReadFile(filepath.Join(root, "migrations", "002_outbox.mysql.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := db.Exec(string(ddl)); err != nil {
			t.Fatalf("migration: %v", err)
		}
	}
	return db, name
}

func mysqlRows(t *testing.T, db *sql.DB, table string) []row {
	t.Helper()
	rs, err := db.Query("SELECT id, aggregatetype, aggregateid, type, payload, tracingspancontext FROM " + table + " ORDER BY aggregateid")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		var payload, span sql.NullString
		if err := rs.Scan(&r.id, &r.aggType, &r.aggID, &r.typ, &payload, &span); err != nil {
			t.Fatal(err)
		}
		if payload.Valid {
			r.payload = &payload.String
		}
		if span.Valid {
			r.span = &span.String
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteMySQL(t *testing.T) {
	db, name := mysqlDB(t)
	ctx := context.Background()
	w, err := NewWriter(WriterConfig{Dialect: MySQL})
	if err != nil {
		t.Fatal(err)
	}

	// A committed transaction keeps its rows, a rolled-back one none.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.Write(ctx, tx, Event{AggregateType: "Order", AggregateID: "o-1", Type: "OrderCreated",
		Payload: map[string]any{"total": 12, "sku": "A<1>"}, TracingSpanContext: "span"})
	if err != nil {
		t.Fatal(err)
	}
	fixed, _ := ParseUUID("0190f0a4-9c1e-7000-8000-000000000003")
	if _, err := w.Write(ctx, tx, Event{ID: fixed, AggregateType: "Customer", AggregateID: "o-3", Type: "CustomerMoved", Payload: []byte(`{"city":"Lyon"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, tx, Event{AggregateType: "Customer", AggregateID: "o-4", Type: "Nothing"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx, _ = db.BeginTx(ctx, nil)
	if _, err := w.Write(ctx, tx, Event{AggregateType: "Order", AggregateID: "o-2", Type: "OrderCreated", Payload: []byte(`[1,2]`)}); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback()

	got := mysqlRows(t, db, "outbox")
	str := func(s string) *string { return &s }
	want := []row{
		{id.String(), "Order", "o-1", "OrderCreated", str(`{"sku":"A\u003c1\u003e","total":12}`), str("span")},
		{fixed.String(), "Customer", "o-3", "CustomerMoved", str(`{"city":"Lyon"}`), nil},
		{"", "Customer", "o-4", "Nothing", nil, nil},
	}
	if len(got) != len(want) {
		t.Fatalf("rows = %+v, want %d", got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if w.id == "" {
			w.id = g.id
		}
		if g.id != w.id || g.aggType != w.aggType || g.aggID != w.aggID || g.typ != w.typ || !eqp(g.payload, w.payload) || !eqp(g.span, w.span) {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
	if _, err := ParseUUID(got[2].id); err != nil {
		t.Errorf("generated id: %v", err)
	}

	// The timestamp is UTC whatever the session's time zone.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "SET time_zone = '+05:00'"); err != nil {
		t.Fatal(err)
	}
	ctx2, _ := NewUUID()
	if _, err := w.Write(ctx, conn, Event{ID: ctx2, AggregateType: "Zone", AggregateID: "z", Type: "T", Payload: 1}); err != nil {
		t.Fatal(err)
	}
	var skew int64
	if err := conn.QueryRowContext(ctx, "SELECT ABS(TIMESTAMPDIFF(MINUTE, `timestamp`, UTC_TIMESTAMP(6))) FROM outbox WHERE id = ?", ctx2.String()).Scan(&skew); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if skew >= 60 {
		t.Errorf("timestamp is %d minutes from UTC: written in the session's zone", skew)
	}

	// Delete after insert, with a qualified table name: the table stays
	// empty.
	if _, err := db.Exec("DELETE FROM outbox"); err != nil {
		t.Fatal(err)
	}
	dw, err := NewWriter(WriterConfig{Dialect: MySQL, Table: name + ".outbox", DeleteAfterInsert: true})
	if err != nil {
		t.Fatal(err)
	}
	tx, _ = db.BeginTx(ctx, nil)
	if _, err := dw.Write(ctx, tx, Event{AggregateType: "Order", AggregateID: "o-5", Type: "T", Payload: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := mysqlRows(t, db, "outbox"); len(got) != 0 {
		t.Errorf("delete after insert left %+v", got)
	}

	// Refusals: no logical decoding messages on MySQL, invalid JSON.
	if _, err := w.Emit(ctx, db, Event{AggregateType: "Order", AggregateID: "x", Type: "T"}); !errors.Is(err, ErrEmitUnsupported) {
		t.Errorf("Emit on MySQL: %v, want ErrEmitUnsupported", err)
	}
	if _, err := w.Write(ctx, db, Event{AggregateType: "Order", AggregateID: "x", Type: "T", Payload: []byte("{nope")}); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("an invalid JSON payload: %v", err)
	}
	if _, err := NewWriter(WriterConfig{Dialect: Dialect(9)}); err == nil {
		t.Error("NewWriter accepted an unknown dialect")
	}
}
