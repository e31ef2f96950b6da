package daemon_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/offsets"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
	"github.com/sluice-cdc/sluice/schema/registry"
)

// startRegistry runs the embedded registry over a file store behind
// httptest and returns its URL.
func startRegistry(t *testing.T) string {
	t.Helper()
	s, err := registry.New(context.Background(), registry.Config{Storage: registry.StorageFile, File: filepath.Join(t.TempDir(), "schemas.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return hs.URL
}

// setCompatibility sets a subject's compatibility level through the API.
func setCompatibility(t *testing.T, url, subject, level string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url+"/config/"+subject, strings.NewReader(`{"compatibility":"`+level+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /config/%s: %s", subject, resp.Status)
	}
}

// fetchAll reads n records from the start of topic.
func fetchAll(t *testing.T, brokers []string, n int, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records of %s", len(got), n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	return got
}

// TestDeadLetterQueue: with errors.tolerance all, an event whose new schema
// the registry refuses (BACKWARD: a required column added) goes to the dead
// letter topic as JSON with Connect's context headers; the events before
// and after it reach their topic in Avro, and the offset moves past it.
func TestDeadLetterQueue(t *testing.T) {
	_, brokers := newCluster(t)
	regURL := startRegistry(t)
	setCompatibility(t, regURL, topic+"-value", "BACKWARD")

	cfg := testConfig(t, brokers)
	ac := avroconv.DefaultConfig()
	ac.SchemaRegistryURL = regURL
	cfg.Converters.Value = daemon.ConverterConfig{Type: "avro", Config: ac}
	sc := &cfg.Sources[0]
	sc.ErrorsTolerance = daemon.ToleranceAll
	sc.ErrorsDeadLetterQueueTopic = "dlq.inv"
	sc.ErrorsContextHeaders = true
	sc.ErrorsLogEnable = true

	// The refused event's table gained a required column.
	row2 := event.StructOf("db1.inventory.customers.Value",
		event.NewField("id", event.Int32()),
		event.NewField("email", event.String().Optional()),
		event.NewField("age", event.Int32()))
	env2 := event.EnvelopeSchema("db1.inventory.customers.Envelope", row2, srcSchema)
	refused := change(topic, event.OpCreate, 2, "", "x", 20, "P2")
	refused.After = event.NewStruct(row2, int32(2), "c@example.com", int32(42))
	refused.ValueSchema = env2

	j := newJournal()
	f, err := offsets.Open(cfg.OffsetsFile())
	if err != nil {
		t.Fatal(err)
	}
	src := &fakeSource{
		run: func(ctx context.Context, emit func(context.Context, event.Batch) error) error {
			for _, b := range []event.Batch{
				{change(topic, event.OpCreate, 1, "", "a@example.com", 10, "P1")},
				{refused},
				{change(topic, event.OpUpdate, 1, "a@example.com", "b@example.com", 30, "P3")},
			} {
				if err := emit(ctx, b); err != nil {
					return err
				}
			}
			<-ctx.Done()
			return ctx.Err()
		},
		ack: func(_ context.Context, pos event.Position) error { j.add("ack %s", pos); return nil },
	}
	ctors := daemon.Constructors{daemon.Postgres: func(daemon.SourceConfig, daemon.SourceParams) (daemon.Source, error) { return src, nil }}
	d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithConstructors(ctors), daemon.WithOffsetStore(savingStore{f, j}))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runDaemon(t, d)
	j.waitFor(t, "ack P3")

	// The good events, in Avro under the first schema.
	client, err := avroconv.NewClient(ac)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := avroconv.New(ac, client)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := jsonconv.New(jsonconv.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var good []string
	for _, r := range fetchAll(t, brokers, 2, topic) {
		s, v, err := conv.Decode(t.Context(), r.Value)
		if err != nil {
			t.Fatalf("decode %x: %v", r.Value, err)
		}
		js, err := plain.Encode(nil, s, v)
		if err != nil {
			t.Fatal(err)
		}
		good = append(good, string(r.Key)+" "+string(js))
	}
	wantGood := []string{
		`{"id":1} {"before":null,"after":{"id":1,"email":"a@example.com"},"source":{"lsn":10},"transaction":null,"op":"c","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789}`,
		`{"id":1} {"before":{"id":1,"email":"a@example.com"},"after":{"id":1,"email":"b@example.com"},"source":{"lsn":30},"transaction":null,"op":"u","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789}`,
	}
	if !slices.Equal(good, wantGood) {
		t.Errorf("records on %s:\n%s\nwant:\n%s", topic, strings.Join(good, "\n"), strings.Join(wantGood, "\n"))
	}

	// The refused one, as JSON with its schema, with the context headers.
	dlq := fetchAll(t, brokers, 1, "dlq.inv")
	if len(dlq) != 1 {
		t.Fatalf("dead letter records: %d, want 1", len(dlq))
	}
	r := dlq[0]
	if got, want := string(r.Key), `{"id":2}`; got != want {
		t.Errorf("dead letter key %s, want %s", got, want)
	}
	if got := string(r.Value); got != wantDLQValue {
		t.Errorf("dead letter value:\n%s\nwant:\n%s", got, wantDLQValue)
	}
	var headers []string
	for _, h := range r.Headers {
		v := string(h.Value)
		if h.Key == daemon.HeaderErrorsExceptionMessage {
			// The registry's answer ends it: check its frame only.
			if rest, ok := strings.CutPrefix(v, wantDLQMessage); ok && strings.HasSuffix(rest, "compatibility: 'BACKWARD'}] (error code 409)") {
				v = wantDLQMessage
			}
		}
		headers = append(headers, h.Key+"="+v)
	}
	wantHeaders := []string{
		"__connect.errors.topic=" + topic,
		"__connect.errors.connector.name=inv",
		"__connect.errors.task.id=0",
		"__connect.errors.stage=VALUE_CONVERTER",
		"__connect.errors.class.name=io.confluent.connect.avro.AvroConverter",
		"__connect.errors.exception.class.name=org.apache.kafka.connect.errors.DataException",
		"__connect.errors.exception.message=" + wantDLQMessage,
	}
	if !slices.Equal(headers, wantHeaders) {
		t.Errorf("dead letter headers:\n%s\nwant:\n%s", strings.Join(headers, "\n"), strings.Join(wantHeaders, "\n"))
	}

	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	// P2 (the refused event) was saved only with or after its dead letter
	// record, and the offset ends past it.
	reopened, _ := offsets.Open(cfg.OffsetsFile())
	if pos, _ := reopened.Load("inv"); string(pos) != "P3" {
		t.Errorf("offsets file holds %q, want P3", pos)
	}
}

// wantDLQValue is the refused event in JSON with its (new) schema.
const wantDLQValue = `{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"email"},{"type":"int32","optional":false,"field":"age"}],"optional":true,"name":"db1.inventory.customers.Value","field":"before"},{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"email"},{"type":"int32","optional":false,"field":"age"}],"optional":true,"name":"db1.inventory.customers.Value","field":"after"},{"type":"struct","fields":[{"type":"int64","optional":false,"field":"lsn"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"},{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"},{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"db1.inventory.customers.Envelope","version":2},"payload":{"before":null,"after":{"id":2,"email":"c@example.com","age":42},"source":{"lsn":20},"transaction":null,"op":"c","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789}}`

// wantDLQMessage starts the exception message header; the registry's own
// 409 answer (its compatibility details) follows.
const wantDLQMessage = `encode value for topic "db1.inventory.customers": schema change refused by the schema registry: table of topic db1.inventory.customers, column age added as int with no default, subject db1.inventory.customers-value (value schema of topic db1.inventory.customers); the event was not published and the offset stays before it (relax the subject's compatibility or revert the change, then restart): register schema db1.inventory.customers.Envelope under subject db1.inventory.customers-value: schema is incompatible with the subject's earlier versions: `
