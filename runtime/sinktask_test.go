package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks/sink"
	sinktask "github.com/sluice-cdc/sluice/sinks/task"
)

// memSink keeps what was flushed.
type memSink struct {
	mu              sync.Mutex
	pending, values []any
}

func (m *memSink) Put(_ context.Context, recs []sink.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		m.pending = append(m.pending, r.Value)
	}
	return nil
}

func (m *memSink) Flush(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values, m.pending = append(m.values, m.pending...), nil
	return nil
}

func (m *memSink) Close() error { return nil }

func (m *memSink) got() []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.values)
}

type upper struct{}

func (upper) Apply(r sink.Record) (sink.Record, bool, error) {
	if s, ok := r.Value.(string); ok {
		r.Value = strings.ToUpper(s)
	}
	return r, true, nil
}

func memSinkPlugin(s *memSink) *Plugin {
	return &Plugin{Class: "test.MemSinkConnector", Type: SinkType, TaskClass: "test.MemSinkTask",
		NewSink: func(map[string]string) (sink.Sink, error) { return s, nil },
		NewTransform: func(cfg map[string]string) (sinktask.Transform, error) {
			if cfg["transforms"] == "up" && cfg["transforms.up.type"] == "Upper" {
				return upper{}, nil
			}
			return nil, nil
		}}
}

// A plugin with NewSink runs under sinks/task: its validation takes
// errors.tolerance all, the dead letter queue and transforms, and a bad
// record goes to the dead letter queue while the others reach the sink.
func TestSinkPluginTaskLayer(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	ctx := t.Context()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	topic := "sluice-runtime-sink-" + hex.EncodeToString(b)
	dlq := topic + "-dlq"
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(dlq), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	defer adm.DeleteTopics(context.Background(), topic, dlq)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(`"one"`)}, &kgo.Record{Topic: topic, Value: []byte(`{bad`)},
		&kgo.Record{Topic: topic, Value: []byte(`"two"`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	s := &memSink{}
	h, err := NewHerder(Config{WorkerID: "w", Brokers: brokers, Plugins: []*Plugin{memSinkPlugin(s), FileSinkPlugin("v")}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cfg := map[string]string{"name": "mem", "connector.class": "test.MemSinkConnector", "topics": topic,
		"value.converter": "json", "value.converter.schemas.enable": "false",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
		"errors.deadletterqueue.topic.replication.factor": "1", "errors.deadletterqueue.context.headers.enable": "true",
		"errors.retry.timeout": "1000", "errors.log.enable": "true",
		"transforms": "up", "transforms.up.type": "Upper"}
	infos, err := h.Validate("test.MemSinkConnector", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if infos.ErrorCount != 0 || slices.Contains(infos.Groups, UnsupportedGroup) {
		t.Fatalf("validation: %d errors %v, groups %v", infos.ErrorCount, infos.Errors(), infos.Groups)
	}
	// The FileStream sink (the runtime's own loop) still refuses them.
	fileCfg := map[string]string{"name": "f", "connector.class": "FileStreamSink", "topics": topic, "errors.tolerance": "all", "transforms": "up"}
	if infos, err := h.Validate("FileStreamSink", fileCfg); err != nil || infos.ErrorCount != 2 {
		t.Fatalf("file sink validation: %v %v", infos.Errors(), err)
	}

	if _, err := h.CreateConnector("mem", cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(s.got()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := s.got(), []any{"ONE", "TWO"}; !slices.Equal(got, want) {
		t.Fatalf("sink values %v, want %v", got, want)
	}
	var dead []*kgo.Record
	for len(dead) < 1 && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		dead = append(dead, cl.PollFetches(pctx).Records()...)
		cancel()
	}
	if len(dead) != 1 || string(dead[0].Value) != "{bad" {
		t.Fatalf("dead letter records %v", dead)
	}
	headers := map[string]string{}
	for _, hd := range dead[0].Headers {
		headers[hd.Key] = string(hd.Value)
	}
	for k, v := range map[string]string{sinktask.HeaderConnectorName: "mem", sinktask.HeaderStage: "VALUE_CONVERTER",
		sinktask.HeaderOffset: "1", sinktask.HeaderTopic: topic, sinktask.HeaderClassName: sinktask.JSONConverterClass} {
		if headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, headers[k], v)
		}
	}
	st, err := h.ConnectorStatus("mem")
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range st.Tasks {
		if ts.State != StateRunning {
			t.Fatalf("task %+v", ts)
		}
	}
}
