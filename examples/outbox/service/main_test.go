package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/outbox"
)

// outboxRow is one row of the outbox table.
type outboxRow struct {
	id, aggID, typ string
	payload        Order
}

// TestPlaceOrder places orders on the real Postgres and MariaDB: accepted
// orders and their events are committed together, a rejected order leaves
// neither.
func TestPlaceOrder(t *testing.T) {
	root, _ := testenv.RepoRoot()
	for _, tc := range []struct{ env, migration string }{
		{"SLUICE_PG_URL", "001_outbox.postgres.sql"},
		{"SLUICE_MYSQL_URL", "002_outbox.mysql.sql"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			raw := testenv.Require(t, tc.env)
			ctx := context.Background()
			dbURL := scratch(t, raw)
			shop, err := Open(dbURL, false, false)
			if err != nil {
				t.Fatal(err)
			}
			defer shop.Close()
			ddl, err := os.ReadFile(filepath.Join(root, "migrations", tc.migration))
			if err != nil {
				t.Fatal(err)
			}
			if err := shop.Migrate(ctx, string(ddl)); err != nil {
				t.Fatal(err)
			}
			orders := []Order{{ID: "o-1", Customer: "c-1", Cents: 1250}, {ID: "o-2", Customer: "c-2", Cents: 0}, {ID: "o-3", Customer: "c-1", Cents: 99}}
			ids := map[string]string{}
			for _, o := range orders {
				id, err := shop.PlaceOrder(ctx, o)
				if o.Cents <= 0 {
					if !errors.Is(err, ErrRejected) {
						t.Fatalf("order %s: %v, want ErrRejected", o.ID, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				ids[o.ID] = id.String()
			}
			// A duplicate order fails on its insert: nothing more is written.
			if _, err := shop.PlaceOrder(ctx, orders[0]); err == nil {
				t.Fatal("a duplicate order was placed")
			}

			var got []string
			rs, err := shop.db.QueryContext(ctx, "SELECT id, customer, cents, event_id FROM orders ORDER BY seq")
			if err != nil {
				t.Fatal(err)
			}
			for rs.Next() {
				var o Order
				var eventID string
				if err := rs.Scan(&o.ID, &o.Customer, &o.Cents, &eventID); err != nil {
					t.Fatal(err)
				}
				if eventID != ids[o.ID] {
					t.Errorf("order %s: event_id %s, want %s", o.ID, eventID, ids[o.ID])
				}
				got = append(got, fmt.Sprint(o))
			}
			rs.Close()
			if want := fmt.Sprint(orders[0]) + "," + fmt.Sprint(orders[2]); strings.Join(got, ",") != want {
				t.Errorf("orders = %s, want %s", strings.Join(got, ","), want)
			}

			events := outboxRows(t, shop.db)
			if len(events) != 2 {
				t.Fatalf("outbox rows = %+v, want the events of o-1 and o-3", events)
			}
			for i, o := range []Order{orders[0], orders[2]} {
				want := outboxRow{id: ids[o.ID], aggID: o.Customer, typ: "OrderCreated", payload: o}
				if events[i] != want {
					t.Errorf("outbox row %d = %+v, want %+v", i, events[i], want)
				}
			}
		})
	}
}

// TestEmit places an order whose event is a logical decoding message:
// test_decoding shows it inside the order's transaction, with the outbox
// prefix and the event as content; the outbox table stays empty.
func TestEmit(t *testing.T) {
	raw := testenv.Require(t, "SLUICE_PG_URL")
	ctx := context.Background()
	dbURL := scratch(t, raw)
	u, _ := url.Parse(dbURL)
	schema := u.Query().Get("search_path")
	shop, err := Open(dbURL, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	root, _ := testenv.RepoRoot()
	ddl, err := os.ReadFile(filepath.Join(root, "migrations", "001_outbox.postgres.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if err := shop.Migrate(ctx, string(ddl)); err != nil {
		t.Fatal(err)
	}
	slot := fmt.Sprintf("ex_emit_%d", time.Now().UnixNano()%1e9)
	if _, err := shop.db.ExecContext(ctx, "SELECT pg_create_logical_replication_slot($1, 'test_decoding')", slot); err != nil {
		t.Fatalf("test_decoding (a contrib module of Postgres) is needed: %v", err)
	}
	defer shop.db.ExecContext(context.Background(), "SELECT pg_drop_replication_slot($1)", slot)
	o := Order{ID: "o-9", Customer: "c-9", Cents: 700}
	id, err := shop.PlaceOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shop.PlaceOrder(ctx, Order{ID: "o-10", Customer: "c-9", Cents: -1}); !errors.Is(err, ErrRejected) {
		t.Fatalf("rejected order: %v", err)
	}
	rs, err := shop.db.QueryContext(ctx, "SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL, 'include-xids', '1')", slot)
	if err != nil {
		t.Fatal(err)
	}
	// The slot sees the whole database, where other tests may be writing:
	// keep the transactions that touched this test's orders table.
	ordersTable := "table " + schema + ".orders:"
	var lines, tx []string
	mine := false
	for rs.Next() {
		var l string
		if err := rs.Scan(&l); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(l, "BEGIN"):
			tx, mine = nil, false
		case strings.HasPrefix(l, ordersTable):
			mine = true
		}
		tx = append(tx, l)
		if strings.HasPrefix(l, "COMMIT") && mine {
			lines = append(lines, tx...)
		}
	}
	rs.Close()
	// BEGIN, the orders insert, the message, COMMIT: the rejected order's
	// transaction left nothing.
	if len(lines) != 4 || !strings.HasPrefix(lines[1], ordersTable) || !strings.Contains(lines[1], "'o-9'") ||
		!strings.HasPrefix(lines[2], "message: transactional: 1 prefix: outbox") {
		t.Fatalf("decoded changes:\n%s", strings.Join(lines, "\n"))
	}
	_, content, _ := strings.Cut(lines[2], "content:")
	var msg struct {
		ID, AggregateType, AggregateID, Type string
		Payload                              Order
	}
	if err := json.Unmarshal([]byte(content), &msg); err != nil {
		t.Fatalf("message content %s: %v", content, err)
	}
	if msg.ID != id.String() || msg.AggregateType != "Order" || msg.AggregateID != "c-9" || msg.Type != "OrderCreated" || msg.Payload != o {
		t.Errorf("message %+v, want event %s of %+v", msg, id, o)
	}
	if n := len(outboxRows(t, shop.db)); n != 0 {
		t.Errorf("outbox table has %d rows", n)
	}
	if _, err := Open("mysql://u:p@127.0.0.1:1/db", false, true); !errors.Is(err, outbox.ErrEmitUnsupported) {
		t.Errorf("Open mysql with emit: %v", err)
	}
}

func outboxRows(t *testing.T, db *sql.DB) []outboxRow {
	t.Helper()
	rs, err := db.Query("SELECT id, aggregateid, type, payload FROM outbox ORDER BY aggregateid, payload")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []outboxRow
	for rs.Next() {
		var r outboxRow
		var p string
		if err := rs.Scan(&r.id, &r.aggID, &r.typ, &p); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(p), &r.payload); err != nil {
			t.Fatalf("payload %s: %v", p, err)
		}
		out = append(out, r)
	}
	return out
}

// scratch creates a scratch schema (Postgres) or database (MySQL), dropped
// at cleanup, and returns the URL of a connection using it.
func scratch(t *testing.T, raw string) string {
	t.Helper()
	name := fmt.Sprintf("ex_outbox_%d", time.Now().UnixNano()%1e9)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := Open(raw, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	create, drop := "CREATE SCHEMA "+name, "DROP SCHEMA "+name+" CASCADE"
	if u.Scheme == "mysql" {
		create, drop = "CREATE DATABASE "+name, "DROP DATABASE "+name
		u.Path = "/" + name
	} else {
		q := u.Query()
		q.Set("search_path", name)
		u.RawQuery = q.Encode()
	}
	if _, err := admin.db.Exec(create); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := Open(raw, false, false); err == nil {
			_, _ = a.db.Exec(drop)
			a.Close()
		}
	})
	return u.String()
}
