package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
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
	// opts are extra Kafka options of worker i.
	opts map[int][]kgo.Opt
}

func newTestCluster(t *testing.T, n int, opts map[int][]kgo.Opt) *testCluster {
	t.Helper()
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	c := &testCluster{brokers: brokers, prefix: "sluice-rt-" + randomSuffix(), opts: opts}
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
	w, err := NewWorker(c.config(i), WorkerOptions{Version: "test", Plugins: testPlugins(), KafkaOptions: c.opts[i],
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

// testPlugins are the file plugins, running tasks.max tasks each (task i
// reads or writes file.<i>).
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
	source := FileSourcePlugin("test")
	source.TaskConfigs = sink.TaskConfigs
	return []*Plugin{sink, source}
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
	c := newTestCluster(t, 2, nil)
	ta, tb := c.prefix+"-a", c.prefix+"-b"
	c.createTopics(t, ta, tb)
	// Sink consumer groups are connect-<name>: a name of this test only.
	sink := c.prefix + "-sink"
	if _, err := c.leader(t).CreateConnector(sink, map[string]string{"connector.class": "FileStreamSink",
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
				if got := w.activeTopics(sink); !slices.Equal(got, want) {
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
		key := "status-topic-" + topic + ":connector-" + sink
		vals := status[key]
		re := regexp.MustCompile(`^\{"topic":\{"name":"` + topic + `","connector":"` + sink + `","task":[01],"discoverTimestamp":[0-9]{13}\}\}$`)
		if len(vals) != 1 || !re.MatchString(vals[0]) {
			t.Errorf("status topic %s = %q, want one record matching %s", key, vals, re)
		}
	}

	if err := c.workers[1].resetTopics(sink); err != nil {
		t.Fatal(err)
	}
	wantTopics()
	produce(ta)
	wantTopics(ta)

	// Deleting the connector forgets its topics (the leader resets them).
	if err := c.leader(t).DeleteConnector(sink); err != nil {
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

// netCut is a dialer whose connections can be cut, as a network partition
// between one worker and Kafka would: refused (new dials fail, open
// connections are closed) or stalled (nothing gets through, connections
// stay open: requests wait for their deadlines).
type netCut struct {
	mu    sync.Mutex
	conns []net.Conn
	heal  chan struct{} // closed when not stalled
	// refuse makes new dials fail.
	refuse bool
}

func newNetCut() *netCut {
	n := &netCut{heal: make(chan struct{})}
	close(n.heal)
	return n
}

func (n *netCut) dial(ctx context.Context, network, host string) (net.Conn, error) {
	n.mu.Lock()
	refuse, heal := n.refuse, n.heal
	n.mu.Unlock()
	if refuse {
		return nil, errors.New("network cut by the test")
	}
	select {
	case <-heal:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.conns = append(n.conns, conn)
	n.mu.Unlock()
	return &stallConn{Conn: conn, n: n, closed: make(chan struct{})}, nil
}

// refuseAll closes every connection and fails new dials.
func (n *netCut) refuseAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.refuse = true
	for _, c := range n.conns {
		c.Close()
	}
	n.conns = nil
}

// stall stops all traffic until restore.
func (n *netCut) stall() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.heal = make(chan struct{})
}

func (n *netCut) restore() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.refuse = false
	select {
	case <-n.heal:
	default:
		close(n.heal)
	}
}

func (n *netCut) healed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.heal
}

// stallConn blocks reads and writes while its netCut is stalled, up to the
// deadlines kgo sets.
type stallConn struct {
	net.Conn
	n      *netCut
	mu     sync.Mutex
	rd, wd time.Time
	once   sync.Once
	closed chan struct{}
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.rd, c.wd = t, t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rd = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wd = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *stallConn) wait(deadline *time.Time) error {
	c.mu.Lock()
	d := *deadline
	c.mu.Unlock()
	var timeout <-chan time.Time
	if !d.IsZero() {
		timer := time.NewTimer(time.Until(d))
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-c.n.healed():
		return nil
	case <-timeout:
		return os.ErrDeadlineExceeded
	case <-c.closed:
		return net.ErrClosed
	}
}

func (c *stallConn) Read(b []byte) (int, error) {
	if err := c.wait(&c.rd); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *stallConn) Write(b []byte) (int, error) {
	if err := c.wait(&c.wd); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// twoSinks creates file sinks <prefix>-s0 and -s1 (one task each; names of
// this test only, so that their consumer groups are too) and waits until
// each worker runs one task.
func (c *testCluster) twoSinks(t *testing.T) {
	t.Helper()
	t0, t1 := c.prefix+"-0", c.prefix+"-1"
	c.createTopics(t, t0, t1)
	dir := t.TempDir()
	for i, topic := range []string{t0, t1} {
		name := fmt.Sprintf("%s-s%d", c.prefix, i)
		if _, err := c.leader(t).CreateConnector(name, map[string]string{"connector.class": "FileStreamSink",
			"topics": topic, "file": filepath.Join(dir, name+".txt")}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "one task on each worker", func() error {
		a, b := runningUnits(c.workers[0]), runningUnits(c.workers[1])
		if len(a) != 1 || len(b) != 1 {
			return fmt.Errorf("running %v and %v", a, b)
		}
		return nil
	})
}

// taskStates returns "sN/task=state@worker" for both sinks' tasks, from
// worker w's view of the status topic.
func (c *testCluster) taskStates(w *Worker) (string, error) {
	var out []string
	for i := range 2 {
		st, err := w.ConnectorStatus(fmt.Sprintf("%s-s%d", c.prefix, i))
		if err != nil {
			return "", err
		}
		for _, tk := range st.Tasks {
			out = append(out, fmt.Sprintf("s%d/%d=%s@%s", i, *tk.ID, tk.State, tk.WorkerID))
		}
	}
	return strings.Join(out, " "), nil
}

func units(w *Worker) []*runningUnit {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Values(w.running))
}

// TestWorkerFencedOnLost drives kgo's OnPartitionsLost callback of a live
// worker: it returns only once the worker's tasks have stopped, the worker
// then writes neither statuses nor offsets, and once it rejoins (what kgo
// does after the callback) it runs work again.
func TestWorkerFencedOnLost(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	c.twoSinks(t)
	w := c.workers[1]
	before := units(w)
	w.onLost(t.Context(), w.group, map[string][]int32{})
	for _, ru := range before {
		select {
		case <-ru.done:
		default:
			t.Fatal("onLost returned before the worker's task stopped")
		}
	}
	if got := runningUnits(w); len(got) != 0 {
		t.Fatalf("fenced worker runs %v", got)
	}
	if err := w.offsets.SaveAll(map[string][]byte{`["x",{"p":1}]`: []byte(`{"o":1}`)}); !errors.Is(err, errFenced) {
		t.Errorf("offsets write of a fenced worker = %v, want errFenced", err)
	}
	end := func() int64 {
		ends, err := c.adm.ListEndOffsets(t.Context(), c.prefix+"-status")
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	n := end()
	w.writeStatus(c.prefix+"-s0", 0, StateRunning, "")
	if got := end(); got != n {
		t.Errorf("a fenced worker wrote %d status records", got-n)
	}
	w.group.ForceRebalance()
	waitFor(t, "the worker runs a task again", func() error {
		if got := runningUnits(w); len(got) != 1 || w.ownerErr() != nil {
			return fmt.Errorf("running %v, %v", got, w.ownerErr())
		}
		return nil
	})
}

// TestWorkerFencedWhenCutOff cuts one worker's network to Kafka: the worker
// stops its tasks while still cut off, the other worker takes them over,
// and once the network is back the worker rejoins and gets its share
// again. Refused connections make kgo's heartbeat fail (OnPartitionsLost);
// a stalled network leaves kgo waiting on its requests, and the worker's
// own session watch fences it.
func TestWorkerFencedWhenCutOff(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cut    func(*netCut)
		reason string
	}{
		{"refused", (*netCut).refuseAll, "group membership lost"},
		{"stalled", (*netCut).stall, "no heartbeat answered within session.timeout.ms (6s)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cut := newNetCut()
			c := newTestCluster(t, 2, map[int][]kgo.Opt{1: {kgo.Dialer(cut.dial)}})
			c.twoSinks(t)
			w0, w1 := c.workers[0], c.workers[1]
			before := units(w1)
			tt.cut(cut)
			// The task is told to stop (its goroutine may still wait
			// to leave its consumer group over the cut network).
			for _, ru := range before {
				select {
				case <-ru.stop:
				case <-time.After(2 * time.Minute):
					t.Fatal("the cut-off worker did not stop its task")
				}
			}
			if got := runningUnits(w1); len(got) != 0 {
				t.Errorf("the cut-off worker runs %v", got)
			}
			w1.mu.Lock()
			reason, ownerErr := w1.fenceReason, w1.ownerErrLocked(time.Now())
			w1.mu.Unlock()
			if reason != tt.reason || !errors.Is(ownerErr, errFenced) {
				t.Errorf("cut-off worker: fenced because %q (%v), want %q", reason, ownerErr, tt.reason)
			}
			id0 := w0.workerID
			waitFor(t, "both tasks RUNNING on the other worker", func() error {
				got, err := c.taskStates(w0)
				if want := "s0/0=RUNNING@" + id0 + " s1/0=RUNNING@" + id0; err != nil || got != want {
					return fmt.Errorf("%s, %v; want %s", got, err, want)
				}
				return nil
			})
			cut.restore()
			waitFor(t, "one task on each worker again", func() error {
				a, b := runningUnits(w0), runningUnits(w1)
				if len(a) != 1 || len(b) != 1 {
					return fmt.Errorf("running %v and %v", a, b)
				}
				got, err := c.taskStates(w0)
				if err != nil || strings.Count(got, "RUNNING@"+id0) != 1 || strings.Count(got, "RUNNING@"+w1.workerID) != 1 {
					return fmt.Errorf("statuses %s, %v", got, err)
				}
				return nil
			})
			for _, ru := range before {
				<-ru.done // the old task has ended by now
			}
		})
	}
}

// newIdleWorker returns a worker that is not started (no Kafka needed).
func newIdleWorker(t *testing.T) *Worker {
	t.Helper()
	cfg := DefaultWorkerConfig()
	cfg.GroupID, cfg.BootstrapServers = "g", "127.0.0.1:1"
	cfg.SessionTimeoutMs, cfg.HeartbeatIntervalMs, cfg.RebalanceTimeoutMs = 6000, 500, 10000
	w, err := NewWorker(cfg, WorkerOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestApplyTopicStatus(t *testing.T) {
	val := func(topic, conn string, task int) []byte {
		return fmt.Appendf(nil, `{"topic":{"name":%q,"connector":%q,"task":%d,"discoverTimestamp":1700000000000}}`, topic, conn, task)
	}
	tests := []struct {
		name string
		recs [][2]any // key, value ([]byte or nil)
		want string
	}{
		{"two topics of two connectors", [][2]any{
			{"status-topic-orders:connector-sink", val("orders", "sink", 0)},
			{"status-topic-users:connector-sink", val("users", "sink", 1)},
			{"status-topic-orders:connector-other", val("orders", "other", 0)},
		}, "other=[orders] sink=[orders users]"},
		{"tombstone removes one", [][2]any{
			{"status-topic-orders:connector-sink", val("orders", "sink", 0)},
			{"status-topic-users:connector-sink", val("users", "sink", 1)},
			{"status-topic-orders:connector-sink", nil},
		}, "sink=[users]"},
		// A connector name may hold the separator; the topic cannot hold
		// a colon.
		{"connector name with separator", [][2]any{
			{"status-topic-t:connector-a:connector-b", val("t", "a:connector-b", 0)},
		}, "a:connector-b=[t]"},
		{"bad keys and values are skipped", [][2]any{
			{"status-topic-:connector-x", val("", "x", 0)},
			{"status-topic-t:connector-", val("t", "", 0)},
			{"status-topic-t", val("t", "", 0)},
			{"status-topic-t:connector-x", []byte("{")},
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newIdleWorker(t)
			for _, r := range tt.recs {
				v, _ := r[1].([]byte)
				w.applyStatus(&kgo.Record{Key: []byte(r[0].(string)), Value: v})
			}
			var got []string
			for _, name := range slices.Sorted(maps.Keys(w.topics)) {
				got = append(got, fmt.Sprintf("%s=%v", name, w.activeTopics(name)))
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("topics %s, want %s", strings.Join(got, " "), tt.want)
			}
			if len(w.statuses) != 0 {
				t.Errorf("topic records taken as statuses: %v", w.statuses)
			}
		})
	}
}

func TestOwnerErr(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name       string
		fenced     bool
		lease      time.Duration // from now; 0: never had a session
		joinSentAt time.Duration // from now; 0: no join in flight
		ok         bool
	}{
		{"never joined", false, 0, 0, false},
		{"live session", false, time.Second, 0, true},
		{"session over", false, -time.Millisecond, 0, false},
		{"session over, join in flight", false, -time.Second, -2 * time.Second, true},
		{"join in flight past rebalance.timeout.ms", false, -time.Second, -11 * time.Second, false},
		{"fenced", true, time.Second, 0, false},
	}
	for _, tt := range tests {
		w := newIdleWorker(t)
		w.fenced = tt.fenced
		if tt.lease != 0 {
			w.lease = now.Add(tt.lease)
		}
		if tt.joinSentAt != 0 {
			w.joinSent, w.joinInFlight = now.Add(tt.joinSentAt), true
		}
		if err := w.ownerErrLocked(now); (err == nil) != tt.ok {
			t.Errorf("%s: ownerErr = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// TestSessionHooks: answered heartbeats extend the session from when they
// were written; failed requests do not; a join in flight is tracked.
func TestSessionHooks(t *testing.T) {
	w := newIdleWorker(t)
	h := sessionHooks{w}
	before := time.Now()
	h.OnBrokerE2E(kgo.BrokerMetadata{}, keyHeartbeat, kgo.BrokerE2E{ReadWait: 2 * time.Second, TimeToRead: time.Second})
	after := time.Now()
	// Written 3 s before the answer was read: alive until then + 6 s.
	if lo, hi := before.Add(3*time.Second), after.Add(3*time.Second); w.lease.Before(lo) || w.lease.After(hi) {
		t.Errorf("lease %v, want within [%v, %v]", w.lease, lo, hi)
	}
	lease := w.lease
	h.OnBrokerE2E(kgo.BrokerMetadata{}, keyHeartbeat, kgo.BrokerE2E{ReadErr: errors.New("broken pipe")})
	h.OnBrokerE2E(kgo.BrokerMetadata{}, 1 /* Fetch */, kgo.BrokerE2E{})
	if !w.lease.Equal(lease) {
		t.Errorf("a failed heartbeat or another request moved the lease to %v", w.lease)
	}
	h.OnBrokerWrite(kgo.BrokerMetadata{}, keyJoinGroup, 100, 0, 0, nil)
	if !w.joinInFlight {
		t.Error("JoinGroup written: no join in flight")
	}
	h.OnBrokerE2E(kgo.BrokerMetadata{}, keyJoinGroup, kgo.BrokerE2E{TimeToRead: time.Millisecond})
	if w.joinInFlight || !w.lease.After(after.Add(5*time.Second)) {
		t.Errorf("after the JoinGroup answer: in flight %v, lease %v", w.joinInFlight, w.lease)
	}
}

// TestWorkerSourceOffsetsTwoTasks runs two tasks of one file source
// connector, one on each worker, each reading its own file (its own source
// partition): both workers report both partitions' offsets at the end of
// their files, and the offsets topic holds Kafka Connect's records.
func TestWorkerSourceOffsetsTwoTasks(t *testing.T) {
	c := newTestCluster(t, 2, nil)
	topic := c.prefix + "-lines"
	c.createTopics(t, topic)
	base := filepath.Join(t.TempDir(), "in.txt")
	write := func(from, to int) {
		t.Helper()
		for i := range 2 {
			f, err := os.OpenFile(fmt.Sprintf("%s.%d", base, i), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			for j := from; j < to; j++ {
				fmt.Fprintf(f, "file%d-line%d\n", i, j)
			}
			f.Close()
		}
	}
	write(0, 50)
	name := c.prefix + "-src"
	if _, err := c.leader(t).CreateConnector(name, map[string]string{"connector.class": "FileStreamSource",
		"file": base, "topic": topic, "tasks.max": "2", "batch.size": "7"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one task on each worker", func() error {
		a, b := runningUnits(c.workers[0]), runningUnits(c.workers[1])
		if len(a) != 1 || len(b) != 1 {
			return fmt.Errorf("running %v and %v", a, b)
		}
		return nil
	})
	wantOffsets := func() string {
		var parts []string
		for i := range 2 {
			fi, err := os.Stat(fmt.Sprintf("%s.%d", base, i))
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, fmt.Sprintf(`{"partition":{"filename":"%s.%d"},"offset":{"position":%d}}`, base, i, fi.Size()))
		}
		return `{"offsets":[` + strings.Join(parts, ",") + `]}`
	}
	check := func() {
		t.Helper()
		want := wantOffsets()
		waitFor(t, "both workers report both partitions at the end of their files", func() error {
			for i, w := range c.workers {
				offs, err := w.Offsets(t.Context(), name)
				if err != nil {
					return err
				}
				if b, _ := encodeJSON(offs); string(b) != want {
					return fmt.Errorf("worker %d: %s\nwant %s", i, b, want)
				}
			}
			return nil
		})
	}
	check()
	write(50, 120)
	check()

	offsets := readTopic(t, c.brokers, c.prefix+"-offsets")
	for i := range 2 {
		key := fmt.Sprintf(`["%s",{"filename":"%s.%d"}]`, name, base, i)
		vals := offsets[key]
		fi, _ := os.Stat(fmt.Sprintf("%s.%d", base, i))
		if want := fmt.Sprintf(`{"position":%d}`, fi.Size()); len(vals) == 0 || vals[len(vals)-1] != want {
			t.Errorf("offsets topic %s = %q, want last %s", key, vals, want)
		}
	}
	if len(offsets) != 2 {
		t.Errorf("offsets topic keys %v, want the two partitions", slices.Sorted(maps.Keys(offsets)))
	}
}
