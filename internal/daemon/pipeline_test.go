package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-cdc/sluice/capture/postgres"
	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/internal/offsets"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// fakeSource is a function-field Source.
type fakeSource struct {
	run func(ctx context.Context, emit func(context.Context, event.Batch) error) error
	ack func(ctx context.Context, pos event.Position) error
}

func (f *fakeSource) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	return f.run(ctx, emit)
}

func (f *fakeSource) Ack(ctx context.Context, pos event.Position) error { return f.ack(ctx, pos) }

// journal records saves and acks in the order they happen.
type journal struct {
	mu      sync.Mutex
	entries []string
	changed chan struct{}
}

func newJournal() *journal { return &journal{changed: make(chan struct{}, 1)} }

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
	j.mu.Unlock()
	select {
	case j.changed <- struct{}{}:
	default:
	}
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.entries)
}

// waitFor waits until the journal holds entry.
func (j *journal) waitFor(t *testing.T, entry string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !slices.Contains(j.list(), entry) {
		select {
		case <-j.changed:
		case <-deadline:
			t.Fatalf("journal never got %q: %q", entry, j.list())
		}
	}
}

// savingStore is the real offset file, journaling each save.
type savingStore struct {
	*offsets.File
	j *journal
}

func (s savingStore) Save(key string, pos []byte) error {
	if err := s.File.Save(key, pos); err != nil {
		return err
	}
	s.j.add("save %s %s", key, pos)
	return nil
}

var (
	keySchema = event.StructOf("db1.inventory.customers.Key", event.NewField("id", event.Int32()))
	rowSchema = event.StructOf("db1.inventory.customers.Value",
		event.NewField("id", event.Int32()),
		event.NewField("email", event.String().Optional()))
	srcSchema = event.StructOf("io.debezium.connector.postgresql.Source", event.NewField("lsn", event.Int64()))
	envSchema = event.EnvelopeSchema("db1.inventory.customers.Envelope", rowSchema, srcSchema)
)

const topic = "db1.inventory.customers"

// change builds one change event on topic.
func change(topic string, op event.Op, id int32, before, after string, lsn int64, pos string) event.Event {
	row := func(email string) *event.Struct {
		if email == "" {
			return nil
		}
		return event.NewStruct(rowSchema, id, email)
	}
	ev := event.Event{
		Op:          op,
		Before:      row(before),
		After:       row(after),
		Source:      event.NewStruct(srcSchema, lsn),
		Topic:       topic,
		Key:         event.NewStruct(keySchema, id),
		ValueSchema: envSchema,
	}
	if pos != "" {
		ev.Position = event.Position(pos)
	}
	ev.SetTimestamp(time.UnixMilli(1700000000123).Add(456789 * time.Nanosecond))
	return ev
}

// testConfig returns a configuration with one postgres source named inv,
// writing to brokers, with schemaless JSON so the expected bytes stay short.
func testConfig(t *testing.T, brokers []string) daemon.Config {
	cfg := daemon.DefaultConfig()
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.LingerMs = 0
	cfg.Converters.Key.SchemasEnable = false
	cfg.Converters.Value.SchemasEnable = false
	cfg.DataDir = t.TempDir()
	cfg.Sources = []daemon.SourceConfig{{
		Name: "inv", Connector: "postgres", TopicPrefix: "db1", URL: "postgres://h/db",
		Postgres: postgres.DefaultConfig(),
	}}
	return cfg
}

func newCluster(t *testing.T) (*kfake.Cluster, []string) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// runDaemon starts d and returns a stop function that cancels it and
// returns Run's error.
func runDaemon(t *testing.T, d *daemon.Daemon) (stop func() error, done <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- d.Run(ctx) }()
	var once sync.Once
	var err error
	t.Cleanup(func() { cancel(); <-ch })
	return func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-ch:
			case <-time.After(60 * time.Second):
				err = errors.New("Run did not return after cancel")
			}
			ch <- err
		})
		return err
	}, ch
}

type record struct{ topic, key, value, headers string }

func (r record) String() string {
	return r.topic + " " + r.key + " " + r.value + r.headers
}

// consume reads n records from the start of topics.
func consume(t *testing.T, brokers []string, n int, topics ...string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records: %q", len(got), n, got)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Errorf("fetch %s[%d]: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			rec := record{topic: r.Topic, key: string(r.Key), value: string(r.Value)}
			if r.Value == nil {
				rec.value = "<null>"
			}
			for _, h := range r.Headers {
				rec.headers += fmt.Sprintf(" [%s=%s]", h.Key, h.Value)
			}
			got = append(got, rec.String())
		})
	}
	return got
}

const (
	wantCreate = `db1.inventory.customers {"id":1} {"before":null,"after":{"id":1,"email":"a@example.com"},"source":{"lsn":10},"transaction":null,"op":"c","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789}`
	wantUpdate = `db1.inventory.customers {"id":1} {"before":{"id":1,"email":"a@example.com"},"after":{"id":1,"email":"b@example.com"},"source":{"lsn":20},"transaction":null,"op":"u","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789} [__debezium.oldkey={"id":0}] [note=plain text]`
	wantDelete = `db1.inventory.customers {"id":1} {"before":{"id":1,"email":"b@example.com"},"after":null,"source":{"lsn":30},"transaction":null,"op":"d","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789}`
	wantTomb   = `db1.inventory.customers {"id":1} <null>`
)

// TestPipelineDelivers runs a fake source through the daemon into kfake:
// the records arrive with exact bytes, positions are saved only after Kafka
// acknowledged them and acked to the source only after being saved.
func TestPipelineDelivers(t *testing.T) {
	cluster, brokers := newCluster(t)
	cfg := testConfig(t, brokers)

	// Hold produce responses until released, to see that nothing is saved
	// before Kafka answers.
	arrived := make(chan struct{}, 16)
	gate := make(chan struct{})
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		arrived <- struct{}{}
		cluster.SleepControl(func() { <-gate })
		return nil, nil, false
	})

	j := newJournal()
	f, err := offsets.Open(cfg.OffsetsFile())
	if err != nil {
		t.Fatal(err)
	}
	var starts []event.Position
	src := &fakeSource{
		run: func(ctx context.Context, emit func(context.Context, event.Batch) error) error {
			upd := change(topic, event.OpUpdate, 1, "a@example.com", "b@example.com", 20, "P2")
			upd.Headers = []event.Header{
				{Key: "__debezium.oldkey", Schema: keySchema, Value: event.NewStruct(keySchema, int32(0))},
				{Key: "note", Schema: event.String(), Value: "plain text"},
			}
			batches := []event.Batch{
				{change(topic, event.OpCreate, 1, "", "a@example.com", 10, ""), upd},
				{change(topic, event.OpDelete, 1, "b@example.com", "", 30, "P3")},
				{{Position: event.Position("P4")}}, // heartbeat: a position and no record
			}
			for _, b := range batches {
				if err := emit(ctx, b); err != nil {
					return err
				}
			}
			<-ctx.Done()
			return ctx.Err()
		},
		ack: func(_ context.Context, pos event.Position) error {
			j.add("ack %s", pos)
			return nil
		},
	}
	ctors := daemon.Constructors{daemon.Postgres: func(sc daemon.SourceConfig, p daemon.SourceParams) (daemon.Source, error) {
		if sc.Name != "inv" || sc.Postgres.SlotName != "debezium" {
			t.Errorf("constructor got %+v", sc)
		}
		starts = append(starts, p.Start)
		return src, nil
	}}
	d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithConstructors(ctors), daemon.WithOffsetStore(savingStore{f, j}))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runDaemon(t, d)

	<-arrived
	if got := j.list(); len(got) != 0 {
		t.Fatalf("before Kafka answered: %q, want nothing saved or acked", got)
	}
	close(gate)
	j.waitFor(t, "ack P4")

	got := consume(t, brokers, 4, topic)
	want := []string{wantCreate, wantUpdate, wantDelete, wantTomb}
	if !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	// Every save precedes its ack; positions only grow.
	entries := j.list()
	var saved []string
	for i, e := range entries {
		if pos, ok := strings.CutPrefix(e, "ack "); ok {
			if !slices.Contains(entries[:i], "save inv "+pos) {
				t.Errorf("ack %s before its save: %q", pos, entries)
			}
		} else {
			saved = append(saved, e)
		}
	}
	if !slices.IsSorted(saved) || saved[len(saved)-1] != "save inv P4" {
		t.Errorf("saves %q: want increasing, ending with P4", saved)
	}
	if len(starts) != 1 || starts[0] != nil {
		t.Errorf("starts = %q, want one start from nil", starts)
	}
	reopened, _ := offsets.Open(cfg.OffsetsFile())
	if pos, _ := reopened.Load("inv"); string(pos) != "P4" {
		t.Errorf("offsets file holds %q, want P4", pos)
	}
}

// failProduce answers a produce request with a non-retriable error for
// every partition.
func failProduce(req kmsg.Request) kmsg.Response {
	r := req.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range r.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = kerr.InvalidRecord.Code
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// TestPipelineRestartsAfterPublisherFailure fails one produce request: the
// pipeline fails, the supervisor restarts it with a fresh publisher and the
// source from the last saved position, and the replay gets through.
func TestPipelineRestartsAfterPublisherFailure(t *testing.T) {
	cluster, brokers := newCluster(t)
	cfg := testConfig(t, brokers)
	j := newJournal()
	f, err := offsets.Open(cfg.OffsetsFile())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		starts []string
		fail   = make(chan struct{}, 1)
	)
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		select {
		case <-fail:
			return failProduce(req), nil, true
		default:
			return nil, nil, false
		}
	})
	ctors := daemon.Constructors{daemon.Postgres: func(_ daemon.SourceConfig, p daemon.SourceParams) (daemon.Source, error) {
		mu.Lock()
		starts = append(starts, string(p.Start))
		mu.Unlock()
		return &fakeSource{
			run: func(ctx context.Context, emit func(context.Context, event.Batch) error) error {
				// The log: P1 then P2; a start resumes after its position.
				if p.Start == nil {
					if err := emit(ctx, event.Batch{change(topic, event.OpCreate, 1, "", "a@example.com", 10, "P1")}); err != nil {
						return err
					}
					j.waitFor(t, "ack P1")
					fail <- struct{}{}
				}
				if err := emit(ctx, event.Batch{change(topic, event.OpUpdate, 1, "a@example.com", "b@example.com", 20, "P2")}); err != nil {
					return err
				}
				<-ctx.Done()
				return ctx.Err()
			},
			ack: func(_ context.Context, pos event.Position) error {
				j.add("ack %s", pos)
				return nil
			},
		}, nil
	}}
	m := obs.NewMetrics()
	d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithConstructors(ctors), daemon.WithMetrics(m),
		daemon.WithOffsetStore(savingStore{f, j}), daemon.WithBackoff(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runDaemon(t, d)
	j.waitFor(t, "ack P2")
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(starts, []string{"", "P1"}) {
		t.Errorf("starts = %q, want a first start and a restart from P1", starts)
	}
	got := consume(t, brokers, 2, topic)
	if len(got) != 2 || !strings.Contains(got[0], `"op":"c"`) || !strings.Contains(got[1], `"op":"u"`) {
		t.Errorf("records:\n%s\nwant the create once, then the update", strings.Join(got, "\n"))
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`sluice_source_restarts_total{connector="inv"} 1`,
		`sluice_publish_records_total{connector="inv",topic="db1.inventory.customers"} 2`,
		`sluice_publish_errors_total{connector="inv",topic="db1.inventory.customers"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestShutdownFlushes stops the daemon while Kafka has not yet answered:
// Run waits for the answer and saves and acks the final position.
func TestShutdownFlushes(t *testing.T) {
	cluster, brokers := newCluster(t)
	cfg := testConfig(t, brokers)
	arrived := make(chan struct{}, 16)
	gate := make(chan struct{})
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		arrived <- struct{}{}
		cluster.SleepControl(func() { <-gate })
		return nil, nil, false
	})
	j := newJournal()
	f, err := offsets.Open(cfg.OffsetsFile())
	if err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{})
	src := &fakeSource{
		run: func(ctx context.Context, emit func(context.Context, event.Batch) error) error {
			defer close(returned)
			if err := emit(ctx, event.Batch{change(topic, event.OpCreate, 1, "", "a@example.com", 10, "P1")}); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		},
		ack: func(_ context.Context, pos event.Position) error {
			j.add("ack %s", pos)
			return nil
		},
	}
	ctors := daemon.Constructors{daemon.Postgres: func(daemon.SourceConfig, daemon.SourceParams) (daemon.Source, error) { return src, nil }}
	d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithConstructors(ctors), daemon.WithOffsetStore(savingStore{f, j}))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runDaemon(t, d)
	<-arrived
	result := make(chan error, 1)
	go func() { result <- stop() }()
	<-returned // the source stopped with its record still unanswered
	if got := j.list(); len(got) != 0 {
		t.Fatalf("journal %q before Kafka answered", got)
	}
	close(gate)
	if err := <-result; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := j.list(); !slices.Equal(got, []string{"save inv P1", "ack P1"}) {
		t.Errorf("journal = %q, want the final position saved then acked", got)
	}
}

// TestPermanentErrorStops checks that a permanent source error stops the
// daemon without a restart.
func TestPermanentErrorStops(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(t, brokers)
	errAuth := errors.New("password authentication failed")
	builds := 0
	ctors := daemon.Constructors{daemon.Postgres: func(daemon.SourceConfig, daemon.SourceParams) (daemon.Source, error) {
		builds++
		return &fakeSource{
			run: func(context.Context, func(context.Context, event.Batch) error) error {
				return daemon.Permanent(errAuth)
			},
			ack: func(context.Context, event.Position) error { return nil },
		}, nil
	}}
	d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithConstructors(ctors), daemon.WithBackoff(time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background())
	if !errors.Is(err, errAuth) || !daemon.IsPermanent(err) || builds != 1 {
		t.Errorf("Run = %v after %d builds, want the permanent error after 1", err, builds)
	}
}

// TestConnectorUnavailable checks the error for a connector this binary
// does not have.
func TestConnectorUnavailable(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(t, brokers)
	cfg.Sources[0].Connector = "mysql"
	cfg.Sources[0].URL = "mysql://h/db"
	d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithConstructors(daemon.Constructors{}))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Run(context.Background())
	if !errors.Is(err, daemon.ErrConnectorUnavailable) || err.Error() != `source "inv": source "inv": connector mysql: connector not available yet` {
		t.Errorf("Run = %v", err)
	}
}

func TestIsPermanent(t *testing.T) {
	base := errors.New("x")
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{base, false},
		{daemon.Permanent(base), true},
		{fmt.Errorf("wrapped: %w", daemon.Permanent(base)), true},
		{errors.Join(base, daemon.Permanent(base)), true},
		{ownPermanent{}, true},
	}
	for _, tt := range tests {
		if got := daemon.IsPermanent(tt.err); got != tt.want {
			t.Errorf("IsPermanent(%v) = %v", tt.err, got)
		}
	}
	if daemon.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
}

// ownPermanent is how a connector marks an error without importing daemon.
type ownPermanent struct{}

func (ownPermanent) Error() string   { return "own" }
func (ownPermanent) Permanent() bool { return true }

// TestRealBroker runs the delivery path against the real Kafka.
func TestRealBroker(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	cfg := testConfig(t, brokers)
	tp := fmt.Sprintf("sluice-daemon-test-%d.inventory.customers", time.Now().UnixNano())
	j := newJournal()
	src := &fakeSource{
		run: func(ctx context.Context, emit func(context.Context, event.Batch) error) error {
			if err := emit(ctx, event.Batch{
				change(tp, event.OpCreate, 1, "", "a@example.com", 10, "P1"),
				change(tp, event.OpDelete, 1, "a@example.com", "", 20, "P2"),
			}); err != nil {
				return err
			}
			<-ctx.Done()
			return ctx.Err()
		},
		ack: func(_ context.Context, pos event.Position) error {
			j.add("ack %s", pos)
			return nil
		},
	}
	ctors := daemon.Constructors{daemon.Postgres: func(daemon.SourceConfig, daemon.SourceParams) (daemon.Source, error) { return src, nil }}
	d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithConstructors(ctors))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runDaemon(t, d)
	j.waitFor(t, "ack P2")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := consume(t, brokers, 3, tp)
	want := []string{
		tp + ` {"id":1} {"before":null,"after":{"id":1,"email":"a@example.com"},"source":{"lsn":10},"transaction":null,"op":"c","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789}`,
		tp + ` {"id":1} {"before":{"id":1,"email":"a@example.com"},"after":null,"source":{"lsn":20},"transaction":null,"op":"d","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789}`,
		tp + ` {"id":1} <null>`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOffsetFlushInterval: an advance right after a commit waits for the
// interval (here longer than the test), and shutdown still commits the last
// position Kafka acknowledged.
func TestOffsetFlushInterval(t *testing.T) {
	_, brokers := newCluster(t)
	cfg := testConfig(t, brokers)
	cfg.OffsetFlushIntervalMs = int(time.Hour / time.Millisecond)
	j := newJournal()
	f, err := offsets.Open(cfg.OffsetsFile())
	if err != nil {
		t.Fatal(err)
	}
	emitted := make(chan struct{})
	src := &fakeSource{
		run: func(ctx context.Context, emit func(context.Context, event.Batch) error) error {
			if err := emit(ctx, event.Batch{change(topic, event.OpCreate, 1, "", "a@example.com", 10, "P1")}); err != nil {
				return err
			}
			j.waitFor(t, "ack P1") // the first advance commits at once
			for _, pos := range []string{"P2", "P3"} {
				if err := emit(ctx, event.Batch{change(topic, event.OpCreate, 1, "", "a@example.com", 10, pos)}); err != nil {
					return err
				}
			}
			close(emitted)
			<-ctx.Done()
			return ctx.Err()
		},
		ack: func(_ context.Context, pos event.Position) error {
			j.add("ack %s", pos)
			return nil
		},
	}
	ctors := daemon.Constructors{daemon.Postgres: func(daemon.SourceConfig, daemon.SourceParams) (daemon.Source, error) { return src, nil }}
	d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithConstructors(ctors), daemon.WithOffsetStore(savingStore{f, j}))
	if err != nil {
		t.Fatal(err)
	}
	stop, _ := runDaemon(t, d)
	<-emitted
	consume(t, brokers, 3, topic) // P2 and P3 are in Kafka
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := []string{"save inv P1", "ack P1", "save inv P3", "ack P3"}
	if got := j.list(); !slices.Equal(got, want) {
		t.Errorf("journal %q, want %q", got, want)
	}
}
