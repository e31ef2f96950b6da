package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// idLabelRows reads a sink target's (id, label) rows as "id:label", by id.
func idLabelRows(db *sql.DB, table string) ([]string, error) {
	rows, err := db.Query(`SELECT id, label FROM ` + table + ` ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int
		var label string
		if err := rows.Scan(&id, &label); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%d:%s", id, label))
	}
	return out, rows.Err()
}

// waitRows waits until table holds exactly want (see idLabelRows).
func waitRows(t *testing.T, within time.Duration, what string, db *sql.DB, table string, want []string) {
	t.Helper()
	eventually(t, within, what, func() error {
		got, err := idLabelRows(db, table)
		if err != nil || !slices.Equal(got, want) {
			return fmt.Errorf("rows %v, %v; want %v", got, err, want)
		}
		return nil
	})
}

// readRecords reads topic from the start until it has n records or a
// minute has passed, and returns what it read.
func readRecords(t *testing.T, brokers, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}
