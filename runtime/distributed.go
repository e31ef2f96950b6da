package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// readTimeout bounds reads of an internal topic to its end and writes to it.
const readTimeout = 30 * time.Second

// forwardedHeader marks a REST request a worker forwarded to the leader, so
// that a request is forwarded at most once.
const forwardedHeader = "X-Sluice-Forwarded"

// WorkerOptions are the parts of a distributed worker that are not in
// worker.yaml.
type WorkerOptions struct {
	// Version is reported by GET / and as the plugins' version.
	Version string
	// Plugins are the connector plugins; DefaultPlugins(Version) when nil.
	Plugins []*Plugin
	// Loggers holds the named log levels; a discarding set when nil.
	Loggers *Loggers
	// KafkaOptions are added to every Kafka client (TLS, SASL, ...).
	KafkaOptions []kgo.Opt
}

// Worker is a distributed worker (Kafka Connect's DistributedHerder):
// workers with the same group.id share connectors and tasks through a Kafka
// consumer group, and keep configurations, source offsets and statuses in
// compacted internal topics. It is safe for concurrent use; its methods
// are those of the REST API (package runtime/rest).
type Worker struct {
	cfg      WorkerConfig
	opts     WorkerOptions
	h        *Herder // plugins, validation, task bodies; Offsets is the offsets topic
	log      *slog.Logger
	url      string
	workerID string
	wake     chan struct{}
	rebal    chan struct{}

	// Set by Run before the group starts.
	prod, admCl, group *kgo.Client
	adm                *kadm.Client
	configs, statusLog *kafkaLog
	offsets            *kafkaOffsets
	writeMu            sync.Mutex // serializes the leader's config writes

	mu           sync.Mutex
	conns        map[string]*distConnector
	targets      map[string]targetState
	configOffset int64
	statuses     map[string]statusRecord
	current      assignment
	running      map[string]*runningUnit
	written      map[string]string // unit → last state this worker wrote
	restarts     map[string]RestartRequest
	// Active topics (status topic): connector → topic → status; the keys
	// this worker wrote and has not read back yet; the task id of each
	// running task's connector value (what Herder.addTopic is given).
	topics       map[string]map[string]topicStatus
	topicPending map[string]bool
	taskConns    map[*connector]int
	// Session: a worker whose group session may have expired (no
	// heartbeat answered for session.timeout.ms, or kgo reported the
	// membership lost) is fenced: it stops every connector and task and
	// writes nothing until an assignment arrives again.
	lease        time.Time // the session is alive at least until then
	joinSent     time.Time // a JoinGroup or SyncGroup was written then
	joinInFlight bool      // and is not answered yet
	fenced       bool
	fenceReason  string // why it was last fenced
}

type distConnector struct {
	config map[string]string
	plugin *Plugin
	tasks  []map[string]string
}

type runningUnit struct {
	key    string // task configuration it runs, as JSON
	cancel context.CancelFunc
	stop   <-chan struct{} // closed once the task is told to stop
	done   chan struct{}
	failed bool
}

type statusRecord struct {
	State    string `json:"state"`
	Trace    string `json:"trace,omitempty"`
	WorkerID string `json:"worker_id"`
}

// NewWorker returns a worker; it connects to nothing until Run.
func NewWorker(cfg WorkerConfig, opts WorkerOptions) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker config: %w", err)
	}
	w := &Worker{cfg: cfg, opts: opts, url: cfg.AdvertisedURL(),
		wake: make(chan struct{}, 1), rebal: make(chan struct{}, 1),
		conns: map[string]*distConnector{}, targets: map[string]targetState{},
		statuses: map[string]statusRecord{}, running: map[string]*runningUnit{},
		written: map[string]string{}, restarts: map[string]RestartRequest{},
		topics: map[string]map[string]topicStatus{}, topicPending: map[string]bool{}, taskConns: map[*connector]int{}}
	if u, err := url.Parse(w.url); err == nil {
		w.workerID = u.Host
	}
	w.offsets = &kafkaOffsets{m: map[string][]byte{}, guard: w.ownerErr}
	h, err := NewHerder(Config{WorkerID: w.workerID, Brokers: cfg.Brokers(), KafkaOptions: opts.KafkaOptions,
		Offsets: workerStore{w.offsets, w}, KeyConverter: cfg.KeyConverter, ValueConverter: cfg.ValueConverter,
		Version: opts.Version, Plugins: opts.Plugins, Loggers: opts.Loggers})
	if err != nil {
		return nil, err
	}
	w.h = h
	w.log = h.loggers.Logger("sluice.runtime.worker").With("worker", w.workerID)
	return w, nil
}

// URL is the worker's advertised REST URL.
func (w *Worker) URL() string { return w.url }

// Run creates the internal topics if missing, reads them, joins the
// worker group and runs the assigned connectors and tasks until ctx ends;
// it then stops every task and leaves the group.
func (w *Worker) Run(ctx context.Context) error {
	brokers := w.cfg.Brokers()
	base := append(slices.Clone(w.opts.KafkaOptions), kgo.SeedBrokers(brokers...))
	var err error
	if w.admCl, err = kgo.NewClient(base...); err != nil {
		return fmt.Errorf("worker admin client: %w", err)
	}
	defer w.admCl.Close()
	w.adm = kadm.NewClient(w.admCl)
	if w.prod, err = kgo.NewClient(append(slices.Clone(base), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...); err != nil {
		return fmt.Errorf("worker producer: %w", err)
	}
	defer w.prod.Close()
	c := w.cfg
	if err := ensureTopics(ctx, w.adm, []topicSpec{
		{c.ConfigTopic, 1, int16(c.ConfigReplication)},
		{c.OffsetTopic, int32(c.OffsetPartitions), int16(c.OffsetReplication)},
		{c.StatusTopic, int32(c.StatusPartitions), int16(c.StatusReplication)},
	}); err != nil {
		return err
	}
	ilog := w.log.With("component", "internal-topics")
	if w.configs, err = newKafkaLog(c.ConfigTopic, brokers, w.opts.KafkaOptions, w.prod, w.adm, w.applyConfig, ilog); err != nil {
		return err
	}
	if w.offsets.log, err = newKafkaLog(c.OffsetTopic, brokers, w.opts.KafkaOptions, w.prod, w.adm, w.offsets.applyRecord, ilog); err != nil {
		return err
	}
	if w.statusLog, err = newKafkaLog(c.StatusTopic, brokers, w.opts.KafkaOptions, w.prod, w.adm, w.applyStatus, ilog); err != nil {
		return err
	}
	runCtx, stopLogs := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, l := range []*kafkaLog{w.configs, w.offsets.log, w.statusLog} {
		wg.Go(func() { l.run(runCtx) })
	}
	defer func() { stopLogs(); wg.Wait() }()
	for _, l := range []*kafkaLog{w.configs, w.statusLog} {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		err := l.readToEnd(rctx)
		cancel()
		if err != nil {
			return err
		}
	}
	w.group, err = kgo.NewClient(append(slices.Clone(base),
		kgo.ConsumerGroup(c.GroupID),
		kgo.ConsumeTopics(c.ConfigTopic), // starts group management; nothing is consumed
		kgo.Balancers(groupBalancer{w}),
		kgo.SessionTimeout(c.SessionTimeout()),
		kgo.HeartbeatInterval(c.HeartbeatInterval()),
		kgo.RebalanceTimeout(c.RebalanceTimeout()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsLost(w.onLost),
		kgo.WithHooks(sessionHooks{w}),
	)...)
	if err != nil {
		return fmt.Errorf("worker group client: %w", err)
	}
	w.log.Info("worker started", "group", c.GroupID, "url", w.url)
	var loops sync.WaitGroup
	loops.Go(func() { w.reconcileLoop(ctx) })
	loops.Go(func() { w.rebalanceLoop(ctx) })
	loops.Go(func() { w.sessionWatch(ctx) })
	// Polling is what starts kgo's group management; no partition is ever
	// assigned, so the poll only returns when ctx ends.
	loops.Go(func() {
		for ctx.Err() == nil {
			w.group.PollFetches(ctx)
		}
	})
	<-ctx.Done()
	loops.Wait()
	w.stopAll(0)
	w.group.Close() // leaves the group: the survivors rebalance at once
	w.h.Close()
	w.log.Info("worker stopped")
	return nil
}

// memberMeta is this worker's JoinGroup metadata.
func (w *Worker) memberMeta() memberMeta {
	w.mu.Lock()
	defer w.mu.Unlock()
	owned := map[string]bool{}
	for _, u := range w.current.Work {
		owned[u] = true
	}
	for u := range w.running {
		owned[u] = true
	}
	return memberMeta{URL: w.url, ConfigOffset: w.configOffset, Owned: slices.Sorted(maps.Keys(owned))}
}

// assigned takes a new assignment (from kgo's group goroutine).
func (w *Worker) assigned(a assignment) {
	w.mu.Lock()
	w.current = a
	if w.fenced {
		w.fenced = false
		w.log.Info("worker rejoined its group after being fenced")
	}
	w.mu.Unlock()
	w.log.Info("assignment", "leader", a.LeaderURL, "work", a.Work, "revoked", a.Revoked)
	w.signal(w.wake)
	if a.Revoked > 0 && a.LeaderURL == w.url {
		// Incremental cooperative rebalancing: the revoked units are
		// assigned by the next rebalance, once their owners stopped them.
		w.signal(w.rebal)
	}
}

func (w *Worker) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (w *Worker) isLeader() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current.LeaderURL == w.url
}

// rebalanceLoop lets the leader rebalance after a round that revoked work
// and after changes of the work set; a heartbeat interval between two
// rebalances leaves revoking members the time to stop their tasks.
func (w *Worker) rebalanceLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.rebal:
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(w.cfg.HeartbeatInterval()):
		}
		if w.isLeader() {
			w.group.ForceRebalance()
		}
	}
}

// workSet is every unit the leader assigns, after reading the config
// topic to its end; and the config offset it reflects.
func (w *Worker) workSet() ([]string, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := w.configs.readToEnd(ctx); err != nil {
		return nil, 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.workLocked(), w.configOffset, nil
}

func (w *Worker) workLocked() []string {
	var work []string
	for _, name := range slices.Sorted(maps.Keys(w.conns)) {
		work = append(work, connectorUnit(name))
		if w.targets[name] == targetStopped {
			continue
		}
		for id := range w.conns[name].tasks {
			work = append(work, taskUnit(name, id))
		}
	}
	return work
}

// Config topic records, as Kafka Connect keys them.
const (
	prefixConnector   = "connector-"
	prefixTargetState = "target-state-"
	prefixRestart     = "restart-"
	// prefixLoggerCluster keys a cluster-wide logger level.
	prefixLoggerCluster = "logger-cluster-"
)

type loggerRecord struct {
	Level string `json:"level"`
}

type connectorRecord struct {
	Properties map[string]string `json:"properties"`
}

type targetRecord struct {
	State string `json:"state"`
}

type restartRecord struct {
	Task         *int `json:"task,omitempty"`
	IncludeTasks bool `json:"include_tasks"`
	OnlyFailed   bool `json:"only_failed"`
	// Nonce keeps two identical requests distinct records.
	Nonce int64 `json:"nonce"`
}

var targetNames = map[targetState]string{targetStarted: "STARTED", targetPaused: "PAUSED", targetStopped: "STOPPED"}

func (w *Worker) applyConfig(r *kgo.Record) {
	key := string(r.Key)
	w.mu.Lock()
	before := strings.Join(w.workLocked(), ",")
	switch {
	case strings.HasPrefix(key, prefixConnector):
		name := strings.TrimPrefix(key, prefixConnector)
		if r.Value == nil {
			delete(w.conns, name)
			if w.current.LeaderURL == w.url && len(w.topics[name]) > 0 {
				// Kafka Connect forgets a deleted connector's active
				// topics; the leader writes the tombstones.
				go w.resetTopics(name)
			}
			break
		}
		var rec connectorRecord
		if err := json.Unmarshal(r.Value, &rec); err != nil {
			w.log.Warn("bad connector record", "connector", name, "err", err)
			break
		}
		p, ok := w.h.reg.Lookup(rec.Properties[KeyConnectorClass])
		if !ok {
			w.log.Warn("connector of unknown class", "connector", name, "class", rec.Properties[KeyConnectorClass])
			break
		}
		w.conns[name] = &distConnector{config: rec.Properties, plugin: p, tasks: taskConfigsOf(p, rec.Properties)}
	case strings.HasPrefix(key, prefixLoggerCluster):
		name := strings.TrimPrefix(key, prefixLoggerCluster)
		var rec loggerRecord
		if r.Value == nil || json.Unmarshal(r.Value, &rec) != nil {
			break
		}
		if _, err := w.h.loggers.Set(name, rec.Level); err != nil {
			w.log.Warn("bad cluster logger level", "logger", name, "level", rec.Level, "err", err)
		}
	case strings.HasPrefix(key, prefixTargetState):
		name := strings.TrimPrefix(key, prefixTargetState)
		var rec targetRecord
		if r.Value == nil || json.Unmarshal(r.Value, &rec) != nil {
			delete(w.targets, name)
			break
		}
		for t, n := range targetNames {
			if n == rec.State {
				w.targets[name] = t
			}
		}
	case strings.HasPrefix(key, prefixRestart) && r.Value != nil:
		var rec restartRecord
		if err := json.Unmarshal(r.Value, &rec); err == nil {
			w.markRestart(strings.TrimPrefix(key, prefixRestart), rec)
		}
	}
	w.configOffset = r.Offset + 1
	changed := strings.Join(w.workLocked(), ",") != before
	leader := w.current.LeaderURL == w.url
	w.mu.Unlock()
	w.signal(w.wake)
	if changed && leader {
		w.signal(w.rebal)
	}
}

// markRestart marks the running units a restart request names; mu held.
func (w *Worker) markRestart(name string, rec restartRecord) {
	for u, ru := range w.running {
		n, id, _ := parseUnit(u)
		if n != name || id < 0 {
			continue
		}
		if rec.Task != nil && *rec.Task != id {
			continue
		}
		if rec.Task == nil && (!rec.IncludeTasks || (rec.OnlyFailed && !ru.failed)) {
			continue
		}
		ru.key = "" // differs from every configuration: restarted by reconcile
	}
	if rec.Task == nil {
		delete(w.written, connectorUnit(name)) // rewrites the connector status
	}
}

func taskConfigsOf(p *Plugin, cfg map[string]string) []map[string]string {
	maxTasks, _ := strconv.Atoi(strings.TrimSpace(cfg[KeyTasksMax]))
	if maxTasks < 1 {
		maxTasks = 1
	}
	var tcs []map[string]string
	if p.TaskConfigs != nil {
		tcs = p.TaskConfigs(maps.Clone(cfg), maxTasks)
	} else {
		tcs = []map[string]string{maps.Clone(cfg)}
	}
	for _, tc := range tcs {
		tc[KeyTaskClass] = p.TaskClass
	}
	return tcs
}

func statusKey(name string, id int) string {
	if id < 0 {
		return "status-connector-" + name
	}
	return "status-task-" + name + "-" + strconv.Itoa(id)
}

func (w *Worker) applyStatus(r *kgo.Record) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if strings.HasPrefix(string(r.Key), prefixTopicStatus) {
		w.applyTopicStatus(string(r.Key), r.Value)
		return
	}
	var rec statusRecord
	if r.Value == nil || json.Unmarshal(r.Value, &rec) != nil {
		delete(w.statuses, string(r.Key))
		return
	}
	w.statuses[string(r.Key)] = rec
}

func (w *Worker) writeStatus(name string, id int, state, trace string) {
	if err := w.ownerErr(); err != nil {
		w.log.Info("status not written", "connector", name, "task", id, "state", state, "err", err)
		return
	}
	b, _ := json.Marshal(statusRecord{State: state, Trace: trace, WorkerID: w.workerID})
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := w.statusLog.write(ctx, statusKey(name, id), b); err != nil {
		w.log.Warn("write status", "connector", name, "task", id, "err", err)
	}
}

func (w *Worker) reconcileLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		w.reconcile()
	}
}

type statusWrite struct {
	unit, name string
	id         int
	state      string
}

// reconcile makes the running units match the assignment and the
// configurations: it stops what is no longer wanted (or changed), starts
// what is, and writes the statuses of what it owns.
func (w *Worker) reconcile() {
	w.mu.Lock()
	want := map[string]string{}
	var writes []statusWrite
	assigned := map[string]bool{}
	for _, u := range w.current.Work {
		assigned[u] = true
		name, id, ok := parseUnit(u)
		c := w.conns[name]
		if !ok || c == nil {
			continue
		}
		target := w.targets[name]
		state := map[targetState]string{targetStarted: StateRunning, targetPaused: StatePaused, targetStopped: StateStopped}[target]
		if id < 0 {
			writes = append(writes, statusWrite{u, name, id, state})
			continue
		}
		if id >= len(c.tasks) || target == targetStopped {
			continue
		}
		if target == targetPaused {
			writes = append(writes, statusWrite{u, name, id, StatePaused})
			continue
		}
		key, _ := json.Marshal(c.tasks[id])
		want[u] = string(key)
	}
	var stop []*runningUnit
	for u, ru := range w.running {
		if want[u] != ru.key {
			stop = append(stop, ru)
			delete(w.written, u)
		}
	}
	for u := range w.written {
		if !assigned[u] {
			delete(w.written, u)
		}
	}
	w.mu.Unlock()
	for _, ru := range stop {
		ru.cancel()
	}
	for _, ru := range stop {
		<-ru.done
	}
	w.mu.Lock()
	for u, ru := range w.running {
		if slices.Contains(stop, ru) {
			delete(w.running, u)
		}
	}
	var start []string
	for _, u := range slices.Sorted(maps.Keys(want)) {
		if _, ok := w.running[u]; !ok {
			start = append(start, u)
		}
	}
	var todo []statusWrite
	for _, s := range writes {
		if w.written[s.unit] != s.state {
			w.written[s.unit] = s.state
			todo = append(todo, s)
		}
	}
	w.mu.Unlock()
	for _, s := range todo {
		w.writeStatus(s.name, s.id, s.state, "")
	}
	for _, u := range start {
		w.startTask(u, want[u])
	}
}

// startTask starts the task unit u with the configuration key (JSON).
func (w *Worker) startTask(u, key string) {
	name, id, _ := parseUnit(u)
	w.mu.Lock()
	c := w.conns[name]
	w.mu.Unlock()
	if c == nil {
		return
	}
	var cfg map[string]string
	if err := json.Unmarshal([]byte(key), &cfg); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ru := &runningUnit{key: key, cancel: cancel, stop: ctx.Done(), done: make(chan struct{})}
	conn := &connector{name: name, topics: map[string]struct{}{}}
	w.mu.Lock()
	if w.fenced || !slices.Contains(w.current.Work, u) {
		w.mu.Unlock()
		cancel()
		return
	}
	w.taskConns[conn] = id
	w.running[u] = ru
	w.written[u] = StateRunning
	w.mu.Unlock()
	w.writeStatus(name, id, StateRunning, "")
	log := w.h.loggers.Logger("sluice.runtime.task").With("connector", name, "task", id)
	log.Info("task starting")
	go func() {
		defer close(ru.done)
		defer func() {
			w.mu.Lock()
			delete(w.taskConns, conn)
			w.mu.Unlock()
			log.Info("task stopped")
		}()
		var err error
		switch c.plugin.Type {
		case SinkType:
			err = w.h.runSink(ctx, conn, id, c.plugin, cfg, log)
		case SourceType:
			err = w.h.runSource(ctx, conn, c.plugin, cfg, log)
		default:
			err = fmt.Errorf("plugin %s of type %s cannot run tasks", c.plugin.Class, c.plugin.Type)
		}
		if err != nil && ctx.Err() == nil {
			log.Error("task failed", "err", err)
			w.mu.Lock()
			ru.failed = true
			w.written[u] = StateFailed
			w.mu.Unlock()
			w.writeStatus(name, id, StateFailed, err.Error())
		}
	}()
}

// stopAll stops every running unit and waits for them, at most for
// within when it is positive; it reports whether they all ended.
func (w *Worker) stopAll(within time.Duration) bool {
	w.mu.Lock()
	all := slices.Collect(maps.Values(w.running))
	w.running = map[string]*runningUnit{}
	w.mu.Unlock()
	for _, ru := range all {
		ru.cancel()
	}
	var timeout <-chan time.Time
	if within > 0 {
		t := time.NewTimer(within)
		defer t.Stop()
		timeout = t.C
	}
	for _, ru := range all {
		select {
		case <-ru.done:
		case <-timeout:
			return false
		}
	}
	return true
}

// Active topics are recorded as Kafka Connect's KafkaStatusBackingStore
// records them: key status-topic-<topic>:connector-<connector>, value
// {"topic":{"name","connector","task","discoverTimestamp"}}, written by the
// worker running the task that first used the topic; a reset writes
// tombstones. Every worker reads them from the status topic.
const (
	prefixTopicStatus = "status-topic-"
	topicStatusSep    = ":connector-"
)

func topicStatusKey(topic, connector string) string {
	return prefixTopicStatus + topic + topicStatusSep + connector
}

type topicStatus struct {
	Name              string `json:"name"`
	Connector         string `json:"connector"`
	Task              int    `json:"task"`
	DiscoverTimestamp int64  `json:"discoverTimestamp"`
}

type topicStatusRecord struct {
	Topic topicStatus `json:"topic"`
}

// workerStore is the OffsetStore a Worker gives its Herder: the offsets
// topic, and the recorder of active topics that tasks reach through
// Herder.addTopic.
type workerStore struct {
	*kafkaOffsets
	w *Worker
}

// topicRecorder records a topic used by a task of a distributed worker
// (Herder.addTopic checks for it on the offset store).
type topicRecorder interface {
	recordTopic(c *connector, topic string)
}

func (s workerStore) recordTopic(c *connector, topic string) { s.w.recordTopic(c, topic) }

// applyTopicStatus applies a status-topic- record; mu held. Topic names
// cannot hold a colon, so the topic ends at the first one (as Kafka Connect
// parses it).
func (w *Worker) applyTopicStatus(key string, value []byte) {
	delete(w.topicPending, key)
	rest := strings.TrimPrefix(key, prefixTopicStatus)
	i := strings.IndexByte(rest, ':')
	if i <= 0 || !strings.HasPrefix(rest[i:], topicStatusSep) || len(rest[i:]) == len(topicStatusSep) {
		w.log.Warn("bad topic status key", "key", key)
		return
	}
	topic, name := rest[:i], rest[i+len(topicStatusSep):]
	if value == nil {
		delete(w.topics[name], topic)
		if len(w.topics[name]) == 0 {
			delete(w.topics, name)
		}
		return
	}
	var rec topicStatusRecord
	if err := json.Unmarshal(value, &rec); err != nil {
		w.log.Warn("bad topic status", "key", key, "err", err)
		return
	}
	if w.topics[name] == nil {
		w.topics[name] = map[string]topicStatus{}
	}
	w.topics[name][topic] = rec.Topic
}

// recordTopic writes the active topic status of a task's first use of
// topic (as Kafka Connect: once per topic until the topics are reset).
func (w *Worker) recordTopic(c *connector, topic string) {
	key := topicStatusKey(topic, c.name)
	w.mu.Lock()
	id, ok := w.taskConns[c]
	_, known := w.topics[c.name][topic]
	if !ok || known || w.topicPending[key] || w.fencedLocked() {
		w.mu.Unlock()
		return
	}
	w.topicPending[key] = true // until read back from the status topic
	w.mu.Unlock()
	b, _ := json.Marshal(topicStatusRecord{Topic: topicStatus{Name: topic, Connector: c.name, Task: id,
		DiscoverTimestamp: time.Now().UnixMilli()}})
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := w.statusLog.write(ctx, key, b); err != nil {
		w.log.Warn("record active topic", "connector", c.name, "topic", topic, "err", err)
		w.mu.Lock()
		delete(w.topicPending, key)
		w.mu.Unlock()
	}
}

// activeTopics lists the topics connector name used (from the status
// topic, as far as this worker has read it), sorted.
func (w *Worker) activeTopics(name string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, slices.Sorted(maps.Keys(w.topics[name]))...)
}

// resetTopics forgets connector name's active topics: it reads the status
// topic to its end and writes a tombstone for each.
func (w *Worker) resetTopics(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := w.statusLog.readToEnd(ctx); err != nil {
		return internal(err, "%v", err)
	}
	for _, topic := range w.activeTopics(name) {
		if err := w.statusLog.write(ctx, topicStatusKey(topic, name), nil); err != nil {
			return internal(err, "%v", err)
		}
	}
	// Read back, so that this worker answers without them at once.
	if err := w.statusLog.readToEnd(ctx); err != nil {
		return internal(err, "%v", err)
	}
	return nil
}

// fencedLocked reports whether this worker must not act as an owner; mu
// held.
func (w *Worker) fencedLocked() bool { return w.ownerErrLocked(time.Now()) != nil }

// errFenced is returned by writes of a worker whose group session may have
// expired: another worker may own its work by now.
var errFenced = errors.New("worker is not a live member of its group (fenced): not writing")

// ownerErrLocked reports whether this worker may act as the owner of its
// assignment at now; mu held. The session lasts session.timeout.ms from the
// last heartbeat the coordinator answered (counted from when the request
// was written, an earlier time than the coordinator saw it), and a member
// waiting for a JoinGroup or SyncGroup answer is kept alive by the
// coordinator (up to rebalance.timeout.ms).
func (w *Worker) ownerErrLocked(now time.Time) error {
	if w.fenced || w.lease.IsZero() {
		return errFenced
	}
	if now.Before(w.lease) || (w.joinInFlight && now.Before(w.joinSent.Add(w.cfg.RebalanceTimeout()))) {
		return nil
	}
	return errFenced
}

func (w *Worker) ownerErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ownerErrLocked(time.Now())
}

// sessionHooks watch the group client's requests to the coordinator.
type sessionHooks struct{ w *Worker }

const (
	keyJoinGroup = 11
	keyHeartbeat = 12
	keySyncGroup = 14
)

var (
	_ kgo.HookBrokerWrite = sessionHooks{}
	_ kgo.HookBrokerE2E   = sessionHooks{}
)

func (s sessionHooks) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if (key != keyJoinGroup && key != keySyncGroup) || err != nil {
		return
	}
	s.w.mu.Lock()
	s.w.joinSent, s.w.joinInFlight = time.Now(), true
	s.w.mu.Unlock()
}

func (s sessionHooks) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	if key != keyJoinGroup && key != keySyncGroup && key != keyHeartbeat {
		return
	}
	now := time.Now()
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if key != keyHeartbeat {
		w.joinInFlight = false
	}
	if e2e.Err() != nil {
		return
	}
	// A heartbeat refreshed the session when the coordinator read it,
	// after it was written; a join or sync when the coordinator answered.
	// (An answer carrying an error still comes from a live session;
	// errors that end it reach onLost.)
	at := now.Add(-e2e.TimeToRead)
	if key == keyHeartbeat {
		at = at.Add(-e2e.ReadWait)
	}
	if until := at.Add(w.cfg.SessionTimeout()); until.After(w.lease) {
		w.lease = until
	}
}

// onLost is kgo's OnPartitionsLost: the group session ended with an error
// (member unknown, generation stale, fenced, coordinator unreachable).
// kgo rejoins once it returns, so the work is stopped first.
func (w *Worker) onLost(context.Context, *kgo.Client, map[string][]int32) {
	w.fence("group membership lost")
}

// fence stops every connector and task of this worker and drops its
// assignment; nothing is written until the next assignment.
func (w *Worker) fence(reason string) {
	w.mu.Lock()
	if w.fenced {
		w.mu.Unlock()
		return
	}
	w.fenced, w.fenceReason = true, reason
	w.lease = time.Time{}
	w.current = assignment{}
	w.written = map[string]string{}
	n := len(w.running)
	w.mu.Unlock()
	w.log.Warn("worker fenced: stopping its connectors and tasks until it rejoins the group", "reason", reason, "tasks", n)
	// The tasks are told to stop at once; waiting for them is bounded, as
	// a task may wait on Kafka it cannot reach (leaving its consumer
	// group) while it does no more work.
	if !w.stopAll(w.cfg.SessionTimeout()) {
		w.log.Warn("fenced worker: some tasks are still closing their Kafka clients")
	}
	w.signal(w.wake)
}

// sessionWatch fences the worker when its session may have expired without
// kgo noticing (heartbeats unanswered), and then makes it rejoin.
func (w *Worker) sessionWatch(ctx context.Context) {
	tick := min(max(w.cfg.HeartbeatInterval()/4, 20*time.Millisecond), 250*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		expired := !w.fenced && !w.lease.IsZero() && w.ownerErrLocked(time.Now()) != nil
		w.mu.Unlock()
		if expired {
			w.fence(fmt.Sprintf("no heartbeat answered within session.timeout.ms (%v)", w.cfg.SessionTimeout()))
			w.group.ForceRebalance()
		}
	}
}
