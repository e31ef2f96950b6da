package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/outbox"
)

// TestOutboxPartitionPostgres: with table.fields.additional.placement
// kpart:partition, sluice produces each outbox event to the partition its
// kpart column names (a null kpart leaves it to the key hash, as the Java
// client picks it), with the outbox row's timestamp as the record
// timestamp. An event naming a partition the topic does not have stops the
// pipeline with an error naming the topic and the partition: the slot is
// never confirmed past it.
func TestOutboxPartitionPostgres(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	run := fmt.Sprintf("obp%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	pool := pgSchema(t, pgURL, schema, run)
	runSQL(t, pool, readMigration(t, "001_outbox.postgres.sql"), "ALTER TABLE outbox ADD COLUMN kpart integer")
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, fmt.Sprintf(outboxPartitionConfig, dir, brokers, run, pgURL, schema, run, run, schema))
	logf := filepath.Join(dir, "sluice.log")
	p := startSluice(t, cfgPath, logf)
	defer func() {
		_ = p.Process.Signal(syscall.SIGKILL)
		_ = p.Wait()
	}()
	waitOutboxSlot(t, ctx, pool, run)

	aggType := "Part" + run
	topic := "outbox.event." + aggType
	// write commits one event per transaction and returns its id and the
	// WAL insert position right after its row.
	write := func(agg string, kpart any) (string, string) {
		t.Helper()
		var id outbox.UUID
		var lsn string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var err error
			id, err = outbox.Write(ctx, outbox.Pgx(tx), outbox.Event{AggregateType: aggType, AggregateID: agg, Type: "t",
				Payload: map[string]string{"agg": agg}, Fields: map[string]any{"kpart": kpart}})
			if err != nil {
				return err
			}
			return tx.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn)
		})
		if err != nil {
			t.Fatal(err)
		}
		return id.String(), lsn
	}
	// The same key on two partitions, a null kpart (key hash), partition 0.
	hashed := kgo.StickyKeyPartitioner(nil).ForTopic(topic).Partition(&kgo.Record{Key: []byte(`"c"`)}, 3)
	want := map[string]int32{}
	for _, e := range []struct {
		agg   string
		kpart any
		part  int32
	}{{"a", int32(2), 2}, {"a", int32(1), 1}, {"c", nil, int32(hashed)}, {"b", int32(0), 0}} {
		id, _ := write(e.agg, e.kpart)
		want[id] = e.part
	}

	var got []*kgo.Record
	poll := pollRecords(ctx, fromStart(t, brokers, topic), &got)
	for len(got) < len(want) && ctx.Err() == nil {
		poll(time.Second)
	}
	wantTs := pgOutboxTimestamps(t, ctx, pool)
	seen := map[string]bool{}
	for _, r := range got {
		id := headerValue(r, "id")
		part, ok := want[id]
		switch {
		case !ok:
			t.Errorf("unexpected record %s on partition %d", id, r.Partition)
		case r.Partition != part:
			t.Errorf("event %s (key %s) on partition %d, want %d", id, r.Key, r.Partition, part)
		}
		seen[id] = true
	}
	if len(seen) != len(want) {
		t.Fatalf("read %d of %d events", len(seen), len(want))
	}
	for _, problem := range checkTimestamps(got, wantTs) {
		t.Error(problem)
	}

	// Partition 7 of 3: the pipeline stops there and says why.
	_, lsn := write("d", int32(7))
	wantErr := fmt.Sprintf(`produce to topic \"%s\" partition 7`, topic) // as slog's text handler quotes it
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(logf)
		if strings.Contains(string(b), wantErr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in sluice's log:\n%s", wantErr, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // time to (wrongly) confirm the slot past it
	var past bool
	if err := pool.QueryRow(ctx, "SELECT coalesce(confirmed_flush_lsn >= $2::pg_lsn, false) FROM pg_replication_slots WHERE slot_name = $1", run, lsn).Scan(&past); err != nil {
		t.Fatal(err)
	}
	if past {
		t.Fatal("the slot was confirmed past the event that could not be produced")
	}
}

// outboxPartitionConfig: data dir, brokers, topic prefix, url, schema, slot,
// publication, outbox table schema.
const outboxPartitionConfig = jsonHead3 + `sources:
  - name: outbox
    connector: postgres
    topic.prefix: %s
    url: %s
    tables: [%s.outbox]
    postgres:
      slot.name: %s
      publication.name: %s
      publication.autocreate.mode: filtered
    outbox:
      table: %s.outbox
      message.prefix: "-"
      table.fields.additional.placement: kpart:partition
      table.field.event.timestamp: timestamp
`
