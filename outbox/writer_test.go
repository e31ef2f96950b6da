package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

func TestUUID(t *testing.T) {
	u, err := NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	s := u.String()
	if s[14] != '7' || !(s[19] == '8' || s[19] == '9' || s[19] == 'a' || s[19] == 'b') {
		t.Errorf("%s is not a UUIDv7", s)
	}
	back, err := ParseUUID(s)
	if err != nil || back != u {
		t.Errorf("ParseUUID(%s) = %v, %v", s, back, err)
	}
	if _, err := ParseUUID("not-a-uuid"); err == nil {
		t.Error("ParseUUID accepted garbage")
	}
	fixed, _ := ParseUUID("0190F0A4-9C1E-7000-8000-00000000000A")
	if got := fixed.String(); got != "0190f0a4-9c1e-7000-8000-00000000000a" {
		t.Errorf("String = %s", got)
	}
}

// pgSchema creates a schema holding the migration's outbox table and
// returns a pool whose connections use it.
func pgSchema(t *testing.T) (*pgxpool.Pool, string, string) {
	t.Helper()
	url := testenv.Require(t, "SLUICE_PG_URL")
	ctx := context.Background()
	schema := fmt.Sprintf("outbox_w%d", time.Now().UnixNano()%1e9)
	admin, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p, err := pgxpool.New(context.Background(), url)
		if err == nil {
			_, _ = p.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			p.Close()
		}
	})
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	root, _ := testenv.RepoRoot()
	ddl, err := os.ReadFile(filepath.Join(root, "migrations", "001_outbox.postgres.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if _, err := pool.Exec(ctx, string(ddl)); err != nil {
			t.Fatalf("migration: %v", err)
		}
	}
	return pool, schema, url
}

type row struct {
	id, aggType, aggID, typ string
	payload                 *string
	span                    *string
}

func rows(t *testing.T, pool *pgxpool.Pool, table string) []row {
	t.Helper()
	rs, err := pool.Query(context.Background(), "SELECT id::text, aggregatetype, aggregateid, type, payload::text, tracingspancontext FROM "+table+" ORDER BY aggregateid")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.id, &r.aggType, &r.aggID, &r.typ, &r.payload, &r.span); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestWritePostgres(t *testing.T) {
	pool, schema, url := pgSchema(t)
	ctx := context.Background()

	// pgx: a committed transaction keeps its row, a rolled-back one none.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Write(ctx, Pgx(tx), Event{AggregateType: "Order", AggregateID: "o-1", Type: "OrderCreated",
		Payload: map[string]any{"total": 12, "sku": "A<1>"}, TracingSpanContext: "span"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	tx, _ = pool.Begin(ctx)
	if _, err := Write(ctx, Pgx(tx), Event{AggregateType: "Order", AggregateID: "o-2", Type: "OrderCreated", Payload: json.RawMessage(`[1,2]`)}); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)

	// database/sql, explicit id, raw payload.
	db, err := sql.Open("pgx", url+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	fixed, _ := ParseUUID("0190f0a4-9c1e-7000-8000-000000000003")
	if _, err := Write(ctx, stx, Event{ID: fixed, AggregateType: "Customer", AggregateID: "o-3", Type: "CustomerMoved", Payload: []byte(`{"city":"Lyon"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(ctx, stx, Event{AggregateType: "Customer", AggregateID: "o-4", Type: "Nothing"}); err != nil {
		t.Fatal(err)
	}
	if err := stx.Commit(); err != nil {
		t.Fatal(err)
	}

	got := rows(t, pool, "outbox")
	str := func(s string) *string { return &s }
	want := []row{
		{id.String(), "Order", "o-1", "OrderCreated", str(`{"sku": "A<1>", "total": 12}`), str("span")},
		{fixed.String(), "Customer", "o-3", "CustomerMoved", str(`{"city": "Lyon"}`), nil},
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

	// Delete after insert: the table stays empty.
	w, err := NewWriter(WriterConfig{Table: schema + ".outbox", DeleteAfterInsert: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM outbox"); err != nil {
		t.Fatal(err)
	}
	tx, _ = pool.Begin(ctx)
	if _, err := w.Write(ctx, Pgx(tx), Event{AggregateType: "Order", AggregateID: "o-5", Type: "T", Payload: 1}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, pool, "outbox"); len(got) != 0 {
		t.Errorf("delete after insert left %+v", got)
	}

	// Emit needs no table; Postgres accepts the message in a transaction.
	tx, _ = pool.Begin(ctx)
	if _, err := Emit(ctx, Pgx(tx), Event{AggregateType: "Order", AggregateID: "o-6", Type: "T", Payload: map[string]int{"a": 1}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	// Refusals.
	if _, err := Write(ctx, Pgx(pool), Event{AggregateType: "Order", AggregateID: "x"}); err == nil {
		t.Error("an event without a type was written")
	}
	if _, err := Write(ctx, Pgx(pool), Event{AggregateType: "Order", AggregateID: "x", Type: "T", Payload: []byte("{nope")}); err == nil {
		t.Error("an invalid JSON payload was written")
	}
	if _, err := NewWriter(WriterConfig{Table: "outbox; DROP TABLE x"}); err == nil {
		t.Error("NewWriter accepted an injected table name")
	}
}

func eqp(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
