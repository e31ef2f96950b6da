// Command consumer is an example idempotent consumer of outbox events. The
// outbox delivers at least once: after a crash Sluice, the broker or this
// consumer may hand the same event over again. So the consumer keeps the id
// header of every event it has applied in a processed_events table (the id
// is its primary key) and, for each record, in one database transaction:
// inserts the id, applies the business effect only if the insert added a
// row, and commits. The Kafka offsets are committed only after the database
// transactions of the records they cover, so a crash in between redelivers
// records whose ids are already there, and they are skipped.
//
// The effect here is deliberately not idempotent by itself: each
// OrderCreated event adds its amount to the customer's running total.
//
//	go run ./examples/outbox/consumer -url postgres://sluice:sluice@127.0.0.1:54329/sluice?sslmode=disable \
//	    -brokers 127.0.0.1:19092 -topic outbox.event.Order -group billing
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Order is the payload of an OrderCreated event (see ../service).
type Order struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Cents    int64  `json:"cents"`
}

// ErrNoID marks a record without an id header: it cannot be deduplicated.
var ErrNoID = errors.New("outbox record without an id header")

// Consumer applies OrderCreated events to customer totals, once per event
// id, in a Postgres database.
type Consumer struct {
	DB  *sql.DB
	Log *slog.Logger
}

// Migrate creates the consumer's tables.
func (c *Consumer) Migrate(ctx context.Context) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS processed_events (
			event_id     text PRIMARY KEY,
			processed_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE IF NOT EXISTS customer_totals (
			customer text PRIMARY KEY,
			orders   bigint NOT NULL,
			cents    bigint NOT NULL)`,
	} {
		if _, err := c.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// Handle applies one record in its own transaction. applied is false when
// the event id was processed before (a redelivery).
func (c *Consumer) Handle(ctx context.Context, r *kgo.Record) (applied bool, err error) {
	var id string
	for _, h := range r.Headers {
		if h.Key == "id" {
			id = string(h.Value)
		}
	}
	if id == "" {
		return false, fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, ErrNoID)
	}
	o, err := decodeOrder(r.Value)
	if err != nil {
		return false, fmt.Errorf("event %s: %w", id, err)
	}
	tx, err := c.DB.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("event %s: begin: %w", id, err)
	}
	defer tx.Rollback() // a no-op after Commit
	res, err := tx.ExecContext(ctx, "INSERT INTO processed_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING", id)
	if err != nil {
		return false, fmt.Errorf("event %s: record id: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err // seen before: nothing to do
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO customer_totals (customer, orders, cents) VALUES ($1, 1, $2)
		ON CONFLICT (customer) DO UPDATE SET orders = customer_totals.orders + 1, cents = customer_totals.cents + EXCLUDED.cents`,
		o.Customer, o.Cents); err != nil {
		return false, fmt.Errorf("event %s: apply: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("event %s: commit: %w", id, err)
	}
	return true, nil
}

// decodeOrder reads the record value: the payload JSON itself (Sluice with
// table.expand.json.payload), or a JSON string holding it (the default).
func decodeOrder(v []byte) (Order, error) {
	var o Order
	if s := strings.TrimSpace(string(v)); strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal([]byte(s), &s); err != nil {
			return o, fmt.Errorf("payload: %w", err)
		}
		v = []byte(s)
	}
	if err := json.Unmarshal(v, &o); err != nil {
		return o, fmt.Errorf("payload: %w", err)
	}
	return o, nil
}

// Run consumes until ctx ends. cl must be a group consumer with
// kgo.DisableAutoCommit: Run commits the offsets of each polled batch once
// all its records are in the database.
func (c *Consumer) Run(ctx context.Context, cl *kgo.Client) error {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("poll: %w", err)
		}
		var err error
		fs.EachRecord(func(r *kgo.Record) {
			if err != nil {
				return
			}
			var applied bool
			applied, err = c.Handle(ctx, r)
			if errors.Is(err, ErrNoID) {
				c.Log.Warn("record skipped", "error", err)
				err = nil
			}
			if err == nil {
				c.Log.Debug("event", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "applied", applied)
			}
		})
		switch {
		case err != nil && ctx.Err() != nil:
			return nil // interrupted: the batch's offsets are not committed, it is redelivered
		case err != nil:
			return err // offsets not committed: the batch is redelivered
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			return fmt.Errorf("commit offsets: %w", err)
		}
	}
}

func main() {
	dbURL := flag.String("url", os.Getenv("DATABASE_URL"), "postgres:// URL of the consumer's database")
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap servers, comma-separated")
	topic := flag.String("topic", "outbox.event.Order", "outbox topics, comma-separated")
	group := flag.String("group", "billing", "consumer group")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, *dbURL, strings.Split(*brokers, ","), strings.Split(*topic, ","), *group); err != nil {
		log.Error("consumer failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, dbURL string, brokers, topics []string, group string) error {
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	c := &Consumer{DB: db, Log: log}
	if err := c.Migrate(ctx); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	return c.Run(ctx, cl)
}
