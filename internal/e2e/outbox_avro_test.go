package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/outbox"
)

// TestOutboxAvroPostgres routes outbox events whose key and payload are not
// structs (table.expand.json.payload off: the aggregate id and the payload
// text) through the Avro converter on the embedded registry, as
// AvroConverter writes primitives: each side its primitive schema (a union
// with null when optional), under <topic>-key and <topic>-value. Confluent's
// Python AvroDeserializer must read back the key and the payload text (a
// null payload as Kafka's null), from the outbox table (a jsonb payload)
// and from logical messages (a JSON payload, a plain string payload).
func TestOutboxAvroPostgres(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	py := pythonAvro(t)
	ctx := context.Background()

	run := fmt.Sprintf("oba%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	pool := pgEnv(t, pgURL, schema, run)
	runSQL(t, pool, strings.Replace(readMigration(t, "001_outbox.postgres.sql"), "CREATE TABLE IF NOT EXISTS outbox", "CREATE TABLE "+schema+".outbox", 1))

	dir := t.TempDir()
	regAddr := freeAddr(t)
	regURL := "http://" + regAddr
	cfg := fmt.Sprintf(outboxAvroConfig, dir, brokers, "_schemas_"+run, regAddr, run, pgURL, schema, run, schema, run)
	p := startProc(t, filepath.Join(dir, "sluice.log"), "run", "-c", writeFile(t, filepath.Join(dir, "sluice.yaml"), cfg))
	waitSlot(t, pool, run, p)
	waitHTTP(t, regURL+"/subjects", p)

	tableAgg, msgAgg := "Row"+run, "Msg"+run
	table, err := outbox.NewWriter(outbox.WriterConfig{Table: schema + ".outbox"})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := outbox.NewWriter(outbox.WriterConfig{Prefix: run})
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		key   string
		value any // as the Python side prints it
	}
	want := map[string][]sent{}
	for _, e := range []struct {
		w       func(context.Context, outbox.Execer, outbox.Event) (outbox.UUID, error)
		agg     string
		payload any
		value   any
	}{
		{table.Write, tableAgg, json.RawMessage(`{"total": 12, "lines": ["a"]}`), `{"lines": ["a"], "total": 12}`}, // jsonb's text
		{table.Write, tableAgg, nil, nil},
		{msgs.Emit, msgAgg, json.RawMessage(`{"paid":true}`), `{"paid":true}`},
		{msgs.Emit, msgAgg, "plain <text>", "plain <text>"},
	} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			_, err := e.w(ctx, outbox.Pgx(tx), outbox.Event{AggregateType: e.agg, AggregateID: "k-" + e.agg, Type: "t", Payload: e.payload})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		want[e.agg] = append(want[e.agg], sent{key: "k-" + e.agg, value: e.value})
	}
	for _, agg := range []string{tableAgg, msgAgg} {
		topic := "outbox.event." + agg
		recs := pyConsume(t, py, brokers, regURL, topic, len(want[agg]))
		for i, r := range recs {
			w := want[agg][i]
			if r.Key != w.key || r.Value != w.value {
				t.Errorf("%s record %d: key %#v value %#v, want key %#v value %#v", topic, i, r.Key, r.Value, w.key, w.value)
			}
			if r.KeyID == nil || (w.value != nil) != (r.ValueID != nil) {
				t.Errorf("%s record %d: schema ids key %v value %v", topic, i, r.KeyID, r.ValueID)
			}
		}
	}
	resp, err := http.Get(regURL + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var subjects []string
	if err := json.Unmarshal(b, &subjects); err != nil {
		t.Fatalf("subjects %s: %v", b, err)
	}
	for _, agg := range []string{tableAgg, msgAgg} {
		for _, side := range []string{"key", "value"} {
			if s := "outbox.event." + agg + "-" + side; !slices.Contains(subjects, s) {
				t.Errorf("subject %s not registered (subjects %v)", s, subjects)
			}
		}
	}
	_ = p.stop(t, syscall.SIGTERM)
}

// outboxAvroConfig: data dir, brokers, registry topic, registry listen,
// topic prefix, pg url, schema, slot/publication, outbox schema, message
// prefix.
const outboxAvroConfig = configHead + `converters:
  key: {type: avro, schema.registry.url: embedded}
  value: {type: avro, schema.registry.url: embedded}
registry:
  topic: %s
  listen: %s
sources:
  - name: outbox
    connector: postgres
    topic.prefix: %s
    url: %s
    tables: [%s.outbox]
    postgres:
      slot.name: %s
      publication.name: %[8]s
      publication.autocreate.mode: filtered
      snapshot.mode: no_data
    outbox:
      table: %s.outbox
      message.prefix: %s
`
