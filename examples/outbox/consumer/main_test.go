package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestConsumerRedelivery runs the consumer against the real Kafka and
// Postgres with every kind of redelivery: the topic holds some events twice
// (as after a Sluice restart), a first consumer of the group applies
// everything but dies before committing its offsets (so the group gets it
// all again), and a second group reads the topic from the start into the
// same database. Each event's effect must have happened exactly once.
func TestConsumerRedelivery(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := fmt.Sprintf("excons%d", time.Now().UnixNano()%1e9)
	db := scratchDB(t, pgURL, run)
	c := &Consumer{DB: db, Log: slog.New(slog.DiscardHandler)}
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	topic := "outbox.event.Order" + run
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), topic) })

	// 12 events of 3 customers; 4 of them twice.
	want := map[string][2]int64{} // customer → orders, cents
	var recs []*kgo.Record
	for i := range 12 {
		o := Order{ID: fmt.Sprintf("o-%d", i), Customer: fmt.Sprintf("c-%d", i%3), Cents: int64(100 + i)}
		w := want[o.Customer]
		want[o.Customer] = [2]int64{w[0] + 1, w[1] + o.Cents}
		r := &kgo.Record{Topic: topic, Key: []byte(`"` + o.Customer + `"`),
			Value:   fmt.Appendf(nil, `{"id":%q,"customer":%q,"cents":%d}`, o.ID, o.Customer, o.Cents),
			Headers: []kgo.RecordHeader{{Key: "id", Value: fmt.Appendf(nil, "0190f0a4-9c1e-7000-8000-%012d", i)}}}
		if i%2 == 0 {
			// Sluice without table.expand.json.payload: a JSON string.
			r.Value = fmt.Appendf(nil, "%q", r.Value)
		}
		recs = append(recs, r)
	}
	recs = append(recs, recs[1], recs[4], recs[7], recs[10])
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	noID := &kgo.Record{Topic: topic, Value: []byte(`{}`)}
	if _, err := c.Handle(ctx, noID); !errors.Is(err, ErrNoID) {
		t.Errorf("record without id: %v, want ErrNoID", err)
	}

	group := run + "-billing"
	newConsumer := func(group string) *kgo.Client {
		gc, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		return gc
	}

	// A consumer that applies every record and dies before its offset
	// commit.
	first := newConsumer(group)
	applied := 0
	for handled := 0; handled < len(recs) && ctx.Err() == nil; {
		fs := first.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			ok, err := c.Handle(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			handled++
			if ok {
				applied++
			}
		}
	}
	first.Close() // autocommit is off: no offsets committed
	if applied != 12 {
		t.Errorf("first consumer applied %d events, want 12 (4 redeliveries skipped)", applied)
	}
	checkTotals(t, db, want)

	// The group restarts and gets everything again; then another group
	// reads the whole topic.
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{group, run + "-audit"} {
		gc := newConsumer(g)
		rctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(rctx, gc) }()
		for !committedAll(t, ctx, adm, g, ends) {
			select {
			case err := <-done:
				t.Fatalf("group %s: Run returned early: %v", g, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
		stop()
		if err := <-done; err != nil {
			t.Errorf("group %s: Run: %v", g, err)
		}
		gc.Close()
		checkTotals(t, db, want)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM processed_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 12 {
		t.Errorf("processed_events has %d ids, want 12", n)
	}
}

// committedAll reports whether group has committed the end offset of every
// partition.
func committedAll(t *testing.T, ctx context.Context, adm *kadm.Client, group string, ends kadm.ListedOffsets) bool {
	t.Helper()
	if ctx.Err() != nil {
		t.Fatalf("group %s never committed the end offsets", group)
	}
	got, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	ok := true
	ends.Each(func(l kadm.ListedOffset) {
		c, found := got.Lookup(l.Topic, l.Partition)
		ok = ok && found && c.At == l.Offset
	})
	return ok
}

func checkTotals(t *testing.T, db *sql.DB, want map[string][2]int64) {
	t.Helper()
	rs, err := db.Query("SELECT customer, orders, cents FROM customer_totals")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	got := map[string][2]int64{}
	for rs.Next() {
		var c string
		var v [2]int64
		if err := rs.Scan(&c, &v[0], &v[1]); err != nil {
			t.Fatal(err)
		}
		got[c] = v
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("customer totals = %v, want %v (each event once)", got, want)
	}
}

// scratchDB opens the database in a scratch schema, dropped at cleanup.
func scratchDB(t *testing.T, raw, schema string) *sql.DB {
	t.Helper()
	admin, err := sql.Open("pgx", raw)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", raw); err == nil {
			_, _ = a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
