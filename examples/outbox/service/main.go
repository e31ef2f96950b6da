// Command service is an example order service using the transactional
// outbox: each order is inserted into its orders table and announced by an
// OrderCreated event written with the outbox writer library in the same
// database transaction, so the event exists exactly when the order does.
// Sluice captures the outbox table (or, on Postgres with -emit, the logical
// decoding messages) and routes each event to outbox.event.Order, keyed by
// the customer, with the event id in the "id" header.
//
//	go run ./examples/outbox/service -url postgres://sluice:sluice@127.0.0.1:54329/sluice?sslmode=disable -n 10
//	go run ./examples/outbox/service -url mysql://sluice:sluice@127.0.0.1:33069/shop -n 10
//
// It creates the orders table and applies the outbox migration if needed.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"strings"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/sluice-cdc/sluice/outbox"
)

// Order is the business record; its JSON form is the event payload.
type Order struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Cents    int64  `json:"cents"`
}

// Shop writes orders and their outbox events.
type Shop struct {
	db      *sql.DB
	dialect outbox.Dialect
	w       *outbox.Writer
	emit    bool
}

// Open connects to a postgres:// or mysql:// URL. deleteAfter makes the
// writer delete each outbox row right after inserting it; emit (Postgres
// only) writes logical decoding messages instead of rows.
func Open(rawURL string, deleteAfter, emit bool) (*Shop, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	s := &Shop{emit: emit}
	var driver, dsn string
	switch u.Scheme {
	case "postgres", "postgresql":
		driver, dsn, s.dialect = "pgx", rawURL, outbox.Postgres
	case "mysql", "mariadb":
		pw, _ := u.User.Password()
		driver, s.dialect = "mysql", outbox.MySQL
		dsn = fmt.Sprintf("%s:%s@tcp(%s)%s", u.User.Username(), pw, u.Host, u.Path)
		if emit {
			return nil, fmt.Errorf("-emit: %w", outbox.ErrEmitUnsupported)
		}
	default:
		return nil, fmt.Errorf("database url: scheme %q (want postgres or mysql)", u.Scheme)
	}
	if s.w, err = outbox.NewWriter(outbox.WriterConfig{Dialect: s.dialect, DeleteAfterInsert: deleteAfter}); err != nil {
		return nil, err
	}
	if s.db, err = sql.Open(driver, dsn); err != nil {
		return nil, fmt.Errorf("open %s: %w", u.Scheme, err)
	}
	return s, nil
}

// Close closes the database handle.
func (s *Shop) Close() error { return s.db.Close() }

// Migrate creates the orders table and applies the outbox migration (the
// SQL of migrations/00N_outbox.<dialect>.sql, passed by the caller).
func (s *Shop) Migrate(ctx context.Context, outboxDDL string) error {
	orders := "CREATE TABLE IF NOT EXISTS orders (id varchar(64) PRIMARY KEY, customer varchar(64) NOT NULL, cents bigint NOT NULL)"
	for _, q := range []string{orders, outboxDDL} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// ErrRejected is returned when an order is refused by the business rule;
// its transaction is rolled back, so no event is published.
var ErrRejected = errors.New("order rejected")

// PlaceOrder inserts o and its OrderCreated event in one transaction and
// returns the event id. An order of zero cents or less is rejected after
// both writes, to show that a rollback takes the event with it.
func (s *Shop) PlaceOrder(ctx context.Context, o Order) (outbox.UUID, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return outbox.UUID{}, fmt.Errorf("order %s: begin: %w", o.ID, err)
	}
	defer tx.Rollback() // a no-op after Commit

	q := "INSERT INTO orders (id, customer, cents) VALUES ($1, $2, $3)"
	if s.dialect == outbox.MySQL {
		q = strings.NewReplacer("$1", "?", "$2", "?", "$3", "?").Replace(q)
	}
	if _, err := tx.ExecContext(ctx, q, o.ID, o.Customer, o.Cents); err != nil {
		return outbox.UUID{}, fmt.Errorf("order %s: insert: %w", o.ID, err)
	}
	ev := outbox.Event{AggregateType: "Order", AggregateID: o.Customer, Type: "OrderCreated", Payload: o}
	write := s.w.Write
	if s.emit {
		write = s.w.Emit
	}
	id, err := write(ctx, tx, ev)
	if err != nil {
		return id, fmt.Errorf("order %s: %w", o.ID, err)
	}
	if o.Cents <= 0 {
		return id, fmt.Errorf("order %s of %d cents: %w", o.ID, o.Cents, ErrRejected)
	}
	if err := tx.Commit(); err != nil {
		return id, fmt.Errorf("order %s: commit: %w", o.ID, err)
	}
	return id, nil
}

func main() {
	dbURL := flag.String("url", os.Getenv("DATABASE_URL"), "postgres:// or mysql:// URL of the shop database")
	n := flag.Int("n", 10, "orders to place")
	ddlPath := flag.String("migration", "", "outbox migration to apply first (migrations/001_outbox.postgres.sql or 002_outbox.mysql.sql)")
	deleteAfter := flag.Bool("delete", true, "delete each outbox row right after inserting it")
	emit := flag.Bool("emit", false, "Postgres: emit logical decoding messages instead of outbox rows")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, log, *dbURL, *ddlPath, *n, *deleteAfter, *emit); err != nil {
		log.Error("service failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, dbURL, ddlPath string, n int, deleteAfter, emit bool) error {
	shop, err := Open(dbURL, deleteAfter, emit)
	if err != nil {
		return err
	}
	defer shop.Close()
	if ddlPath != "" {
		ddl, err := os.ReadFile(ddlPath)
		if err != nil {
			return fmt.Errorf("migration: %w", err)
		}
		if err := shop.Migrate(ctx, string(ddl)); err != nil {
			return err
		}
	}
	for i := range n {
		o := Order{ID: fmt.Sprintf("o-%d-%d", os.Getpid(), i), Customer: fmt.Sprintf("c-%d", rand.IntN(3)), Cents: rand.Int64N(10000) - 500}
		id, err := shop.PlaceOrder(ctx, o)
		switch {
		case errors.Is(err, ErrRejected):
			log.Info("order rejected, event rolled back", "order", o.ID, "cents", o.Cents)
		case err != nil:
			return err
		default:
			log.Info("order placed", "order", o.ID, "customer", o.Customer, "event", id.String())
		}
	}
	return nil
}
