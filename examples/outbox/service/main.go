// Command service is an example order service using the transactional
// outbox: each order is inserted into its orders table and announced by an
// OrderCreated event written with the outbox writer library in the same
// database transaction, so the event exists exactly when the order does.
// Sluice captures the outbox table (or, on Postgres with -emit, the logical
// decoding messages) and routes each event to outbox.event.<aggregate type>
// (outbox.event.Order by default), keyed by the customer, with the event id
// in the "id" header.
//
//	go run ./examples/outbox/service -url postgres://sluice:sluice@127.0.0.1:54329/sluice?sslmode=disable -n 10
//	go run ./examples/outbox/service -url mysql://sluice:sluice@127.0.0.1:33069/shop -n 10
//
// With -migration it creates the orders table and applies the outbox
// migration first. Some orders are rejected by the business rule after both
// writes (-reject), so their transaction rolls back with its event; with
// -crash the service exits now and then with its transaction open, as a
// crash before COMMIT would. -n -1 places orders until interrupted.
//
// Each order row keeps the id of its event (event_id) and a sequence number
// (seq) in placement order, so that a checker can tell from the database
// alone which events were committed, and in which order for each customer,
// whatever happened to the process.
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
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/sluice-cdc/sluice/outbox"
)

// Order is the business record; its JSON form is the event payload. The
// fields are in the order jsonb and MySQL's JSON keep object keys (shorter
// keys first), so the payload on Kafka has the same bytes whichever path
// (jsonb column, MariaDB text, logical message) it took.
type Order struct {
	ID       string `json:"id"`
	Cents    int64  `json:"cents"`
	Customer string `json:"customer"`
}

// Shop writes orders and their outbox events.
type Shop struct {
	db      *sql.DB
	dialect outbox.Dialect
	w       *outbox.Writer
	emit    bool
	// AggregateType routes the events: topic outbox.event.<AggregateType>.
	// Default "Order".
	AggregateType string
	// BeforeCommit, when set, is called with the order and its event id
	// right before COMMIT (the example's crash injection).
	BeforeCommit func(o Order, event outbox.UUID)
}

// Open connects to a postgres:// or mysql:// URL. deleteAfter makes the
// writer delete each outbox row right after inserting it; emit (Postgres
// only) writes logical decoding messages instead of rows.
func Open(rawURL string, deleteAfter, emit bool) (*Shop, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	s := &Shop{emit: emit, AggregateType: "Order"}
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

// ordersDDL is the orders table: seq numbers orders in placement order,
// event_id is the id of the OrderCreated event announcing the order.
var ordersDDL = map[outbox.Dialect]string{
	outbox.Postgres: `CREATE TABLE IF NOT EXISTS orders (
		seq      bigserial   NOT NULL UNIQUE,
		id       varchar(64) PRIMARY KEY,
		customer varchar(64) NOT NULL,
		cents    bigint      NOT NULL,
		event_id varchar(36) NOT NULL)`,
	outbox.MySQL: `CREATE TABLE IF NOT EXISTS orders (
		seq      BIGINT      NOT NULL AUTO_INCREMENT UNIQUE,
		id       VARCHAR(64) PRIMARY KEY,
		customer VARCHAR(64) NOT NULL,
		cents    BIGINT      NOT NULL,
		event_id CHAR(36)    NOT NULL)`,
}

// Migrate creates the orders table and applies the outbox migration (the
// SQL of migrations/00N_outbox.<dialect>.sql, passed by the caller).
func (s *Shop) Migrate(ctx context.Context, outboxDDL string) error {
	for _, q := range []string{ordersDDL[s.dialect], outboxDDL} {
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
	id, err := outbox.NewUUID()
	if err != nil {
		return id, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return id, fmt.Errorf("order %s: begin: %w", o.ID, err)
	}
	defer tx.Rollback() // a no-op after Commit

	q := "INSERT INTO orders (id, customer, cents, event_id) VALUES ($1, $2, $3, $4)"
	if s.dialect == outbox.MySQL {
		q = strings.NewReplacer("$1", "?", "$2", "?", "$3", "?", "$4", "?").Replace(q)
	}
	if _, err := tx.ExecContext(ctx, q, o.ID, o.Customer, o.Cents, id.String()); err != nil {
		return id, fmt.Errorf("order %s: insert: %w", o.ID, err)
	}
	ev := outbox.Event{ID: id, AggregateType: s.AggregateType, AggregateID: o.Customer, Type: "OrderCreated", Payload: o}
	write := s.w.Write
	if s.emit {
		write = s.w.Emit
	}
	if _, err := write(ctx, tx, ev); err != nil {
		return id, fmt.Errorf("order %s: %w", o.ID, err)
	}
	if o.Cents <= 0 {
		return id, fmt.Errorf("order %s of %d cents: %w", o.ID, o.Cents, ErrRejected)
	}
	if s.BeforeCommit != nil {
		s.BeforeCommit(o, id)
	}
	if err := tx.Commit(); err != nil {
		return id, fmt.Errorf("order %s: commit: %w", o.ID, err)
	}
	return id, nil
}

// config is the command line.
type config struct {
	dbURL, ddlPath    string
	n                 int
	deleteAfter, emit bool
	aggregateType     string
	customers         int
	customerPrefix    string
	reject, crash     float64
	pause             time.Duration
}

// crashExit is the exit status of an injected crash (-crash).
const crashExit = 3

func main() {
	var c config
	flag.StringVar(&c.dbURL, "url", os.Getenv("DATABASE_URL"), "postgres:// or mysql:// URL of the shop database")
	flag.IntVar(&c.n, "n", 10, "orders to place (0: only -migration); -1 places orders until interrupted")
	flag.StringVar(&c.ddlPath, "migration", "", "outbox migration to apply first (migrations/001_outbox.postgres.sql or 002_outbox.mysql.sql), with the orders table")
	flag.BoolVar(&c.deleteAfter, "delete", true, "delete each outbox row right after inserting it")
	flag.BoolVar(&c.emit, "emit", false, "Postgres: emit logical decoding messages instead of outbox rows")
	flag.StringVar(&c.aggregateType, "aggregate", "Order", "aggregate type of the events: topic outbox.event.<aggregate>")
	flag.IntVar(&c.customers, "customers", 3, "number of customers placing orders")
	flag.StringVar(&c.customerPrefix, "customer-prefix", "c-", "prefix of the customer ids (the aggregate ids, the record keys)")
	flag.Float64Var(&c.reject, "reject", 0.05, "fraction of orders the business rule rejects (rolled back with their event)")
	flag.Float64Var(&c.crash, "crash", 0, "fraction of orders after which the service exits with status 3 before COMMIT")
	flag.DurationVar(&c.pause, "pause", 0, "pause between orders")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, c); err != nil {
		log.Error("service failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, c config) error {
	shop, err := Open(c.dbURL, c.deleteAfter, c.emit)
	if err != nil {
		return err
	}
	defer shop.Close()
	shop.AggregateType = c.aggregateType
	if c.ddlPath != "" {
		ddl, err := os.ReadFile(c.ddlPath)
		if err != nil {
			return fmt.Errorf("migration: %w", err)
		}
		if err := shop.Migrate(ctx, string(ddl)); err != nil {
			return err
		}
	}
	if c.crash > 0 {
		shop.BeforeCommit = func(o Order, event outbox.UUID) {
			if rand.Float64() < c.crash {
				// The transaction is open: the database rolls it back
				// when the connection drops with the process.
				log.Warn("crashing before commit", "order", o.ID, "event", event.String())
				os.Exit(crashExit)
			}
		}
	}
	for i := 0; c.n < 0 || i < c.n; i++ {
		if ctx.Err() != nil {
			return nil // interrupted between orders
		}
		oid, err := outbox.NewUUID()
		if err != nil {
			return err
		}
		o := Order{ID: "o-" + oid.String(), Customer: fmt.Sprintf("%s%d", c.customerPrefix, rand.IntN(max(c.customers, 1))), Cents: 1 + rand.Int64N(9999)}
		if rand.Float64() < c.reject {
			o.Cents = -rand.Int64N(500)
		}
		id, err := shop.PlaceOrder(ctx, o)
		switch {
		case errors.Is(err, ErrRejected):
			log.Info("order rejected, event rolled back", "order", o.ID, "cents", o.Cents, "event", id.String())
		case err != nil && ctx.Err() != nil:
			return nil // interrupted: the transaction was rolled back (or its outcome is in the database)
		case err != nil:
			return err
		default:
			log.Info("order placed", "order", o.ID, "customer", o.Customer, "event", id.String())
		}
		if c.pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(c.pause):
			}
		}
	}
	return nil
}
