package main

import (
	"context"
	"database/sql"
	binenc "encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/schema/registry"
)

// TestRunJDBCDeadLettersAvro feeds a JDBC sink connector reading Confluent
// Avro (AvroConverter on Sluice's schema registry) records whose schema id
// is unknown to the registry among good ones: those land in the dead letter
// topic (stage VALUE_CONVERTER) with their original bytes, the good rows in
// Postgres.
func TestRunJDBCDeadLettersAvro(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx := context.Background()
	suffix := fmt.Sprint(time.Now().UnixNano())
	topic, dlq, table := "dlqavro-"+suffix, "dlqavro-"+suffix+"-dlq", "dlq_avro_"+suffix

	reg, err := registry.New(ctx, registry.Config{Storage: registry.StorageFile, File: filepath.Join(t.TempDir(), "schemas.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- reg.Run(rctx) }()
	hs := httptest.NewServer(reg.Handler())
	t.Cleanup(func() { hs.Close(); cancel(); <-done })

	keySchema := `{"type":"record","name":"Key","namespace":"dlqavro","fields":[{"name":"id","type":"int"}]}`
	valueSchema := `{"type":"record","name":"Value","namespace":"dlqavro","fields":[{"name":"id","type":"int"},{"name":"label","type":["null","string"],"default":null}]}`
	register := func(subject, schema string) int {
		body, _ := json.Marshal(map[string]string{"schema": schema})
		resp, err := http.Post(hs.URL+"/subjects/"+subject+"/versions", "application/vnd.schemaregistry.v1+json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			ID int `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("register %s: %s %v", subject, resp.Status, err)
		}
		return out.ID
	}
	keyID, valueID := register(topic+"-key", keySchema), register(topic+"-value", valueSchema)
	wire := func(id int, schema string, v any) []byte {
		b, err := avro.Marshal(avro.MustParse(schema), v)
		if err != nil {
			t.Fatal(err)
		}
		out := []byte{0, 0, 0, 0, 0}
		binenc.BigEndian.PutUint32(out[1:], uint32(id))
		return append(out, b...)
	}
	key := func(id int) []byte { return wire(keyID, keySchema, map[string]any{"id": id}) }
	value := func(id int, label string) []byte {
		return wire(valueID, valueSchema, map[string]any{"id": id, "label": label})
	}
	unknown := wire(valueID+1000, valueSchema, map[string]any{"id": 2, "label": "two"})
	recs := []struct {
		k, v []byte
		bad  bool
	}{
		{key(1), value(1, "one"), false},
		{key(2), unknown, true},
		{key(3), value(3, "three"), false},
	}

	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: r.k, Value: r.v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	doc := fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [%[1]s]}
data.dir: %[2]s
connectors:
  - name: dlq-avro-%[3]s
    config:
      connector.class: io.confluent.connect.jdbc.JdbcSinkConnector
      topics: %[4]s
      connection.url: %[5]q
      table.name.format: %[6]s
      auto.create: "true"
      insert.mode: upsert
      pk.mode: record_key
      key.converter: io.confluent.connect.avro.AvroConverter
      key.converter.schema.registry.url: %[7]s
      value.converter: io.confluent.connect.avro.AvroConverter
      value.converter.schema.registry.url: %[7]s
      errors.tolerance: all
      errors.deadletterqueue.topic.name: %[8]s
      errors.deadletterqueue.topic.replication.factor: "1"
      errors.deadletterqueue.context.headers.enable: "true"
`, brokers, filepath.Join(dir, "data"), suffix, topic, pgURL, table, hs.URL, dlq)
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

	waitRows(t, 90*time.Second, "good rows in the target", db, "public."+table, []string{"1:one", "3:three"})

	dead := readRecords(t, brokers, dlq, 1)
	if len(dead) != 1 || string(dead[0].Value) != string(unknown) || string(dead[0].Key) != string(recs[1].k) {
		t.Fatalf("dead letter topic = %d records, want the one with the unknown schema id, bytes unchanged", len(dead))
	}
	h := map[string]string{}
	for _, kv := range dead[0].Headers {
		h[kv.Key] = string(kv.Value)
	}
	for k, want := range map[string]string{
		"__connect.errors.topic":  topic,
		"__connect.errors.offset": "1",
		"__connect.errors.stage":  "VALUE_CONVERTER",
	} {
		if h[k] != want {
			t.Errorf("header %s = %q, want %q (headers %v)", k, h[k], want, h)
		}
	}
	if !strings.Contains(h["__connect.errors.exception.message"], fmt.Sprint(valueID+1000)) {
		t.Errorf("exception message %q does not name schema id %d", h["__connect.errors.exception.message"], valueID+1000)
	}
}
