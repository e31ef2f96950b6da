package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// testCluster is a set of in-process distributed workers of one group.
type testCluster struct {
	brokers []string
	prefix  string
	workers []*Worker
	stops   []func()
	adm     *kadm.Client
}

func newTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	c := &testCluster{brokers: brokers, prefix: "sluice-rt-" + randomSuffix()}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	c.adm = kadm.NewClient(cl)
	t.Cleanup(func() {
		for _, stop := range c.stops {
			stop()
		}
		c.adm.DeleteTopics(context.Background(), c.prefix+"-configs", c.prefix+"-offsets", c.prefix+"-status")
		cl.Close()
	})
	for i := range n {
		c.start(t, i)
	}
	return c
}

func (c *testCluster) config(i int) WorkerConfig {
	cfg := DefaultWorkerConfig()
	cfg.GroupID = c.prefix
	cfg.BootstrapServers = strings.Join(c.brokers, ",")
	cfg.ConfigTopic, cfg.OffsetTopic, cfg.StatusTopic = c.prefix+"-configs", c.prefix+"-offsets", c.prefix+"-status"
	cfg.OffsetPartitions, cfg.StatusPartitions = 3, 2
	cfg.RESTListen = fmt.Sprintf("127.0.0.1:%d", 18000+i) // never listened on: names the worker
	cfg.SessionTimeoutMs, cfg.HeartbeatIntervalMs, cfg.RebalanceTimeoutMs = 6000, 500, 10000
	return cfg
}

// start starts worker i (again, if it was stopped).
func (c *testCluster) start(t *testing.T, i int) {
	t.Helper()
	w, err := NewWorker(c.config(i), WorkerOptions{Version: "test", Plugins: testPlugins(),
		Loggers: NewLoggers(slog.NewTextHandler(t.Output(), nil), slog.LevelInfo)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker %d: %v", i, err)
		}
	}
	if i < len(c.workers) {
		c.workers[i], c.stops[i] = w, stop
	} else {
		c.workers, c.stops = append(c.workers, w), append(c.stops, stop)
	}
}

// testPlugins are the file plugins, with a sink that runs tasks.max tasks
// (each writing file.<id>).
func testPlugins() []*Plugin {
	sink := FileSinkPlugin("test")
	sink.TaskConfigs = func(cfg map[string]string, maxTasks int) []map[string]string {
		out := make([]map[string]string, maxTasks)
		for i := range out {
			out[i] = maps.Clone(cfg)
			out[i]["file"] = fmt.Sprintf("%s.%d", cfg["file"], i)
		}
		return out
	}
	return []*Plugin{sink, FileSourcePlugin("test")}
}

func (c *testCluster) createTopics(t *testing.T, names ...string) {
	t.Helper()
	resp, err := c.adm.CreateTopics(t.Context(), 1, 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.adm.DeleteTopics(context.Background(), names...) })
}

// waitFor retries check until it returns nil, for at most a minute.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runningUnits lists the units worker w runs.
func runningUnits(w *Worker) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.running))
}

// leader returns a worker that is the group leader.
func (c *testCluster) leader(t *testing.T) *Worker {
	t.Helper()
	var l *Worker
	waitFor(t, "a leader", func() error {
		for _, w := range c.workers {
			if w.isLeader() {
				l = w
				return nil
			}
		}
		return fmt.Errorf("no worker leads")
	})
	return l
}

// TestWorkerActiveTopics: two workers each run one task of a file sink over
// two topics; both report the topics the tasks used, from status topic
// records in Kafka Connect's format; a reset clears them on both, and the
// next use records them again.
func TestWorkerActiveTopics(t *testing.T) {
	c := newTestCluster(t, 2)
	ta, tb := c.prefix+"-a", c.prefix+"-b"
	c.createTopics(t, ta, tb)
	if _, err := c.leader(t).CreateConnector("sink", map[string]string{"connector.class": "FileStreamSink",
		"topics": ta + "," + tb, "tasks.max": "2", "file": filepath.Join(t.TempDir(), "out.txt")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one task on each worker", func() error {
		a, b := runningUnits(c.workers[0]), runningUnits(c.workers[1])
		if len(a) != 1 || len(b) != 1 {
			return fmt.Errorf("running %v and %v", a, b)
		}
		return nil
	})
	produce := func(topics ...string) {
		t.Helper()
		prod, err := kgo.NewClient(kgo.SeedBrokers(c.brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer prod.Close()
		for _, topic := range topics {
			if err := prod.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Value: []byte(`"x"`)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantTopics := func(want ...string) {
		t.Helper()
		waitFor(t, fmt.Sprintf("both workers report %v", want), func() error {
			for i, w := range c.workers {
				if got := w.activeTopics("sink"); !slices.Equal(got, want) {
					return fmt.Errorf("worker %d reports %v", i, got)
				}
			}
			return nil
		})
	}
	produce(ta, tb)
	wantTopics(ta, tb)

	// The records, as Kafka Connect's KafkaStatusBackingStore writes them.
	status := readTopic(t, c.brokers, c.prefix+"-status")
	for _, topic := range []string{ta, tb} {
		key := "status-topic-" + topic + ":connector-sink"
		vals := status[key]
		re := regexp.MustCompile(`^\{"topic":\{"name":"` + topic + `","connector":"sink","task":[01],"discoverTimestamp":[0-9]{13}\}\}$`)
		if len(vals) != 1 || !re.MatchString(vals[0]) {
			t.Errorf("status topic %s = %q, want one record matching %s", key, vals, re)
		}
	}

	if err := c.workers[1].resetTopics("sink"); err != nil {
		t.Fatal(err)
	}
	wantTopics()
	produce(ta)
	wantTopics(ta)

	// Deleting the connector forgets its topics (the leader resets them).
	if err := c.leader(t).DeleteConnector("sink"); err != nil {
		t.Fatal(err)
	}
	wantTopics()
}

// readTopic returns the values of every record of topic, by key ("<null>"
// for a tombstone).
func readTopic(t *testing.T, brokers []string, topic string) map[string][]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	want := int64(0)
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	out := map[string][]string{}
	for n := int64(0); n < want; {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if ctx.Err() != nil && fs.NumRecords() == 0 {
			t.Fatalf("read %s: %d of %d records", topic, n, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			v := string(r.Value)
			if r.Value == nil {
				v = "<null>"
			}
			out[string(r.Key)] = append(out[string(r.Key)], v)
		})
	}
	return out
}
