package task

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
	"github.com/sluice-cdc/sluice/schema/registry"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// dlqExpect is one record expected in the dead letter queue.
type dlqExpect struct {
	raw   *kgo.Record // as produced (offset filled in)
	stage Stage
	class string
	exc   string
	msg   string
}

// checkDLQ reads the dead letter topic and compares every record with
// want: original key, value, headers, then the context headers.
func checkDLQ(t *testing.T, cfg Config, dlq string, want []dlqExpect) {
	t.Helper()
	got := readTopic(t, dlq, len(want))
	slices.SortFunc(got, func(a, b *kgo.Record) int {
		return int(headerInt(t, a, HeaderOffset) - headerInt(t, b, HeaderOffset))
	})
	if len(got) != len(want) {
		t.Fatalf("%d dead letter records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if string(g.Key) != string(w.raw.Key) || string(g.Value) != string(w.raw.Value) || (g.Value == nil) != (w.raw.Value == nil) {
			t.Errorf("dlq %d: key %q value %q, want %q %q", i, g.Key, g.Value, w.raw.Key, w.raw.Value)
		}
		wantHeaders := append([]kgo.RecordHeader(nil), w.raw.Headers...)
		for _, h := range [][2]string{
			{HeaderTopic, w.raw.Topic},
			{HeaderPartition, strconv.Itoa(int(w.raw.Partition))},
			{HeaderOffset, strconv.FormatInt(w.raw.Offset, 10)},
			{HeaderConnectorName, cfg.Name},
			{HeaderTaskID, strconv.Itoa(cfg.TaskID)},
			{HeaderStage, string(w.stage)},
			{HeaderClassName, w.class},
			{HeaderExceptionClass, w.exc},
			{HeaderExceptionMsg, w.msg},
			{HeaderExceptionTrace, w.exc + ": " + w.msg + "\n"},
		} {
			wantHeaders = append(wantHeaders, kgo.RecordHeader{Key: h[0], Value: []byte(h[1])})
		}
		if len(g.Headers) != len(wantHeaders) {
			t.Errorf("dlq %d: headers %v, want %v", i, g.Headers, wantHeaders)
			continue
		}
		for j, h := range wantHeaders {
			if g.Headers[j].Key != h.Key || string(g.Headers[j].Value) != string(h.Value) {
				t.Errorf("dlq %d header %d: %s=%q, want %s=%q", i, j, g.Headers[j].Key, g.Headers[j].Value, h.Key, h.Value)
			}
		}
		if !g.Timestamp.Equal(w.raw.Timestamp) {
			t.Errorf("dlq %d: timestamp %v, want the original %v", i, g.Timestamp, w.raw.Timestamp)
		}
	}
}

func headerInt(t *testing.T, r *kgo.Record, key string) int64 {
	for _, h := range r.Headers {
		if h.Key == key {
			n, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil {
				t.Fatalf("header %s=%q", key, h.Value)
			}
			return n
		}
	}
	t.Fatalf("no header %s in %v", key, r.Headers)
	return 0
}

func errText(t *testing.T, cfg jsonconv.Config, data []byte) string {
	t.Helper()
	c, err := jsonconv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Decode(data)
	if err == nil {
		t.Fatalf("%q decodes", data)
	}
	return err.Error()
}

func envelope(s string) []byte {
	return []byte(`{"schema":{"type":"string","optional":false},"payload":` + strconv.Quote(s) + `}`)
}

func dlqConfig(t *testing.T, topic string) (Config, string) {
	cfg := baseConfig(groupName(t), topic)
	cfg.TaskID = 3
	cfg.Errors.Tolerance = ToleranceAll
	cfg.Errors.LogEnable = true
	cfg.Errors.DLQTopic = topic + "-dlq"
	cfg.Errors.DLQReplicationFactor = 1
	cfg.Errors.DLQContextHeaders = true
	t.Cleanup(func() { _, _ = admin(t).DeleteTopics(context.Background(), cfg.Errors.DLQTopic) })
	return cfg, cfg.Errors.DLQTopic
}

// Bad JSON, a wrong envelope, a bad key, a failing transform and a record
// the sink rejects land in the dead letter queue with Kafka Connect's
// context headers and their original bytes; the good records reach the
// sink and every offset is committed.
func TestDeadLetterQueue(t *testing.T) {
	topic := newTopic(t, 1)
	ts := time.UnixMilli(1700000000123)
	vals := [][]byte{envelope("one"), []byte("{not json"), []byte(`{"a":1}`), envelope("bad key"),
		envelope("reject"), envelope("two"), envelope("boom"), envelope("three")}
	keys := []string{`"a"`, `"b"`, `"c"`, `{bad`, `"d"`, `"e"`, `"f"`, `"g"`}
	var recs []*kgo.Record
	for i, v := range vals {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(keys[i]), Value: v, Timestamp: ts.Add(time.Duration(i) * time.Millisecond)})
	}
	recs[1].Headers = []kgo.RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "h2", Value: nil}}
	produce(t, recs...)

	cfg, dlq := dlqConfig(t, topic)
	cfg.KeyConverter = ConverterConfig{Class: "json", Props: map[string]string{"schemas.enable": "false"}}
	cfg.ValueConverter = ConverterConfig{Class: "org.apache.kafka.connect.json.JsonConverter"}
	errReject := errors.New("value violates check constraint")
	s := &memSink{put: func(recs []sink.Record) error {
		for _, r := range recs {
			if r.Value == "reject" {
				return &sink.RecordError{Record: r, Err: errReject}
			}
		}
		return nil
	}}
	tr := transformFunc(func(r sink.Record) (sink.Record, bool, error) {
		if r.Value == "boom" {
			return r, false, errors.New("boom: cannot transform")
		}
		return r, true, nil
	})
	stop, _ := start(t, cfg, s, WithTransform(tr, "test.Boom"))
	waitFor(t, "commit", func() bool { return committed(t, GroupID(cfg.Name), topic)[0] == int64(len(recs)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.values(), []any{"one", "two", "three"}; !slices.Equal(got, want) {
		t.Fatalf("sink values %v, want %v", got, want)
	}
	schemaless := jsonconv.Config{}
	withSchemas := jsonconv.DefaultConfig()
	checkDLQ(t, cfg, dlq, []dlqExpect{
		{recs[1], StageValueConverter, JSONConverterClass, DataExceptionClass, errText(t, withSchemas, vals[1])},
		{recs[2], StageValueConverter, JSONConverterClass, DataExceptionClass, errText(t, withSchemas, vals[2])},
		{recs[3], StageKeyConverter, JSONConverterClass, DataExceptionClass, errText(t, schemaless, []byte(keys[3]))},
		{recs[4], StageTaskPut, "test.MemSinkTask", ConnectExceptionClass, errReject.Error()},
		{recs[6], StageTransformation, "test.Boom", DataExceptionClass, "boom: cannot transform"},
	})
}

// registryURL starts Sluice's schema registry (over a Kafka topic) for one
// test.
func registryURL(t *testing.T) string {
	t.Helper()
	topic := newTopic(t, 1)
	s, err := registry.New(context.Background(), registry.Config{Storage: registry.StorageKafka, Topic: topic}, registry.WithKafka(brokers(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("registry: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("registry not ready")
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
	})
	return hs.URL
}

// Avro records written with two different writer schemas decode through
// the registry; a record naming an unknown schema id goes to the dead
// letter queue.
func TestAvroAnyWriterSchema(t *testing.T) {
	url := registryURL(t)
	topic := newTopic(t, 1)
	ac := avroconv.DefaultConfig()
	ac.SchemaRegistryURL = url
	cl, err := avroconv.NewClient(ac)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := avroconv.New(ac, cl)
	if err != nil {
		t.Fatal(err)
	}
	v1 := event.StructOf("test.Row", event.NewField("id", event.Int32()))
	v2 := event.StructOf("test.Row", event.NewField("id", event.Int32()), event.NewField("name", event.String().Optional()))
	ctx := context.Background()
	var vals [][]byte
	for _, st := range []*event.Struct{event.NewStruct(v1, int32(1)), event.NewStruct(v2, int32(2), "two"), event.NewStruct(v2, int32(3), nil)} {
		b, err := enc.Encode(ctx, topic, false, st)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, b)
	}
	unknown := []byte{0, 0x7f, 0xff, 0xff, 0xf0, 2}
	vals = slices.Insert(vals, 1, unknown)
	var recs []*kgo.Record
	for i, v := range vals {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: v, Timestamp: time.UnixMilli(1700000000000 + int64(i))})
	}
	produce(t, recs...)

	cfg, dlq := dlqConfig(t, topic)
	cfg.ValueConverter = ConverterConfig{Class: AvroConverterClass, Props: map[string]string{"schema.registry.url": url}}
	s := &memSink{}
	stop, _ := start(t, cfg, s)
	waitFor(t, "commit", func() bool { return committed(t, GroupID(cfg.Name), topic)[0] == int64(len(recs)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := s.records()
	if len(got) != 3 {
		t.Fatalf("sink got %d records: %v", len(got), s.values())
	}
	want := []*event.Struct{event.NewStruct(v1, int32(1)), event.NewStruct(v2, int32(2), "two"), event.NewStruct(v2, int32(3), nil)}
	for i, r := range got {
		st, ok := r.Value.(*event.Struct)
		if !ok {
			t.Fatalf("record %d value %T", i, r.Value)
		}
		if r.ValueSchema == nil || r.ValueSchema.Name() != "test.Row" || len(st.Schema().Fields()) != len(want[i].Schema().Fields()) {
			t.Fatalf("record %d schema %v", i, r.ValueSchema)
		}
		for _, f := range want[i].Schema().Fields() {
			if !event.ValueEqual(st.Get(f.Name), want[i].Get(f.Name)) {
				t.Fatalf("record %d field %s = %v, want %v", i, f.Name, st.Get(f.Name), want[i].Get(f.Name))
			}
		}
	}
	avroDec, err := avroconv.New(ac, cl)
	if err != nil {
		t.Fatal(err)
	}
	_, _, decErr := avroDec.Decode(ctx, unknown)
	if decErr == nil {
		t.Fatal("unknown schema id decodes")
	}
	checkDLQ(t, cfg, dlq, []dlqExpect{{recs[1], StageValueConverter, AvroConverterClass, DataExceptionClass, decErr.Error()}})
}
