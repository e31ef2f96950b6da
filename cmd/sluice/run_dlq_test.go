package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestRunJDBCDeadLetters feeds a JDBC sink connector (errors.tolerance all)
// a topic holding good change records and three bad ones — a value that is
// not JSON, a JSON value without the schema envelope its converter expects,
// and a row the target's CHECK constraint refuses — through "sluice run":
// the bad ones land in the dead letter topic with their original bytes and
// Kafka Connect's __connect.errors.* headers naming their coordinates and
// stage, and every good row is in the target table.
func TestRunJDBCDeadLetters(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx := context.Background()
	suffix := fmt.Sprint(time.Now().UnixNano())
	topic, dlq, table := "dlqtest-"+suffix, "dlqtest-"+suffix+"-dlq", "dlq_target_"+suffix

	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE public.` + table + ` (id int PRIMARY KEY, label text CHECK (label <> 'forbidden'))`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec(`DROP TABLE IF EXISTS public.` + table) })
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), topic, dlq) })

	key := func(id int) []byte {
		return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false},"payload":{"id":%d}}`, id)
	}
	value := func(id int, label string) []byte {
		return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"label"}],"optional":false},"payload":{"id":%d,"label":%q}}`, id, label)
	}
	type rec struct {
		k, v  []byte
		stage string // "" for a good record
	}
	recs := []rec{
		{key(1), value(1, "one"), ""},
		{key(2), []byte(`{"id": 2, "label": `), "VALUE_CONVERTER"},
		{key(3), value(3, "three"), ""},
		{key(4), []byte(`{"id":4,"label":"no envelope"}`), "VALUE_CONVERTER"},
		{key(5), value(5, "forbidden"), "TASK_PUT"},
		{key(6), value(6, "six"), ""},
	}
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: r.k, Value: r.v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	doc := fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [%s]}
data.dir: %s
connectors:
  - name: dlq-sink-%s
    config:
      connector.class: io.confluent.connect.jdbc.JdbcSinkConnector
      topics: %s
      connection.url: %q
      table.name.format: %s
      insert.mode: upsert
      pk.mode: record_key
      key.converter: org.apache.kafka.connect.json.JsonConverter
      value.converter: org.apache.kafka.connect.json.JsonConverter
      errors.tolerance: all
      errors.deadletterqueue.topic.name: %s
      errors.deadletterqueue.topic.replication.factor: "1"
      errors.deadletterqueue.context.headers.enable: "true"
`, brokers, filepath.Join(dir, "data"), suffix, topic, pgURL, table, dlq)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startRun(t, cfg, nil)
	defer func() {
		if t.Failed() {
			p.cmd.Process.Kill()
			t.Logf("sluice log:\n%s", p.output())
		}
	}()

	waitRows(t, 90*time.Second, "good rows in the target", db, "public."+table, []string{"1:one", "3:three", "6:six"})

	// The dead letter topic: the three bad records, in order, as produced.
	dead := readRecords(t, brokers, dlq, 3)
	var bad []int
	for i, r := range recs {
		if r.stage != "" {
			bad = append(bad, i)
		}
	}
	if len(dead) != len(bad) {
		t.Fatalf("dead letter topic holds %d records, want %d", len(dead), len(bad))
	}
	for j, i := range bad {
		d, r := dead[j], recs[i]
		if string(d.Key) != string(r.k) || string(d.Value) != string(r.v) {
			t.Errorf("dead letter %d: key %s value %s, want the original %s / %s", j, d.Key, d.Value, r.k, r.v)
		}
		h := map[string]string{}
		for _, kv := range d.Headers {
			h[kv.Key] = string(kv.Value)
		}
		for k, want := range map[string]string{
			"__connect.errors.topic":          topic,
			"__connect.errors.partition":      "0",
			"__connect.errors.offset":         fmt.Sprint(i),
			"__connect.errors.connector.name": "dlq-sink-" + suffix,
			"__connect.errors.task.id":        "0",
			"__connect.errors.stage":          r.stage,
		} {
			if h[k] != want {
				t.Errorf("dead letter %d: header %s = %q, want %q (headers %v)", j, k, h[k], want, h)
			}
		}
		for _, k := range []string{"__connect.errors.class.name", "__connect.errors.exception.class.name", "__connect.errors.exception.message"} {
			if h[k] == "" {
				t.Errorf("dead letter %d: no %s header (headers %v)", j, k, h)
			}
		}
	}
}
