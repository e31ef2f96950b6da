package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Connector and task states, as Kafka Connect reports them.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateUnassigned = "UNASSIGNED"
	StateRestarting = "RESTARTING"
)

// OffsetStore keeps source offsets; Save must be durable when it returns.
// internal/offsets.File implements it.
type OffsetStore interface {
	Load(key string) ([]byte, error)
	Save(key string, pos []byte) error
}

// Config configures a standalone Herder.
type Config struct {
	// WorkerID is reported as worker_id (Kafka Connect uses host:port).
	WorkerID string
	// Brokers are the Kafka seed brokers.
	Brokers []string
	// KafkaOptions are added to every Kafka client (TLS, SASL, ...).
	KafkaOptions []kgo.Opt
	// Offsets stores source offsets (required for source connectors).
	Offsets OffsetStore
	// KeyConverter and ValueConverter are the worker's default converters
	// (Kafka Connect's key.converter / value.converter); JsonConverter when
	// empty.
	KeyConverter   string
	ValueConverter string
	// Version is reported by GET / and as the plugins' version.
	Version string
	// Plugins are the connector plugins; DefaultPlugins(Version) when nil.
	Plugins []*Plugin
	// Loggers holds the named log levels; a discarding set when nil.
	Loggers *Loggers
	// OnTaskFailed, when set, is called (from the task's goroutine) when a
	// task fails: `sluice run` stops the process when a connector of its
	// configuration file fails.
	OnTaskFailed func(connector string, task int, err error)
}

// Herder runs connectors in one process (Kafka Connect's standalone herder):
// configurations live in memory. It is safe for concurrent use.
type Herder struct {
	cfg     Config
	reg     *Registry
	loggers *Loggers
	log     *slog.Logger

	ops   sync.Mutex // serializes lifecycle operations (held while tasks stop)
	offMu sync.Mutex // serializes read-modify-write of source offsets
	mu    sync.Mutex // guards the fields below
	// conns by name.
	conns map[string]*connector
	adm   *kadm.Client
	admCl *kgo.Client
}

type targetState int

const (
	targetStarted targetState = iota
	targetPaused
	targetStopped
)

type connector struct {
	name        string
	config      map[string]string
	plugin      *Plugin
	target      targetState
	state       string // RUNNING, RESTARTING, FAILED
	trace       string
	taskConfigs []map[string]string
	tasks       map[int]*task
	topics      map[string]struct{}
}

type task struct {
	id     int
	state  string
	trace  string
	cancel context.CancelFunc
	done   chan struct{}
}

// NewHerder returns a Herder with no connectors; it starts nothing.
func NewHerder(cfg Config) (*Herder, error) {
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.KeyConverter == "" {
		cfg.KeyConverter = JSONConverterClass
	}
	if cfg.ValueConverter == "" {
		cfg.ValueConverter = JSONConverterClass
	}
	for _, c := range []string{cfg.KeyConverter, cfg.ValueConverter} {
		if _, ok := lookupConverter(c); !ok {
			return nil, fmt.Errorf("runtime: unknown converter %s", c)
		}
	}
	if cfg.Plugins == nil {
		cfg.Plugins = DefaultPlugins(cfg.Version)
	}
	reg, err := NewRegistry(cfg.Plugins...)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	if cfg.Loggers == nil {
		cfg.Loggers = NewLoggers(slog.DiscardHandler, slog.LevelInfo)
	}
	return &Herder{cfg: cfg, reg: reg, loggers: cfg.Loggers, log: cfg.Loggers.Logger("sluice.runtime"),
		conns: map[string]*connector{}}, nil
}

// Plugins returns the plugin registry.
func (h *Herder) Plugins() *Registry { return h.reg }

// Loggers returns the named log levels.
func (h *Herder) Loggers() *Loggers { return h.loggers }

// Version is the version the Herder reports.
func (h *Herder) Version() string { return h.cfg.Version }

// Run blocks until ctx ends, then stops every task and closes the Kafka
// clients. Connectors may be created before or during Run.
func (h *Herder) Run(ctx context.Context) error {
	<-ctx.Done()
	h.Close()
	return nil
}

// Close stops every task and releases the Kafka admin client.
func (h *Herder) Close() {
	h.ops.Lock()
	defer h.ops.Unlock()
	h.mu.Lock()
	var all []*task
	for _, c := range h.conns {
		for _, t := range c.tasks {
			all = append(all, t)
		}
	}
	cl := h.admCl
	h.admCl, h.adm = nil, nil
	h.mu.Unlock()
	stopTasks(all)
	if cl != nil {
		cl.Close()
	}
}

// ServerInfo is the answer of GET /.
type ServerInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// ServerInfo describes the worker and the Kafka cluster it uses.
func (h *Herder) ServerInfo(ctx context.Context) (ServerInfo, error) {
	info := ServerInfo{Version: h.cfg.Version, Commit: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.Commit = s.Value
			}
		}
	}
	adm, err := h.admin()
	if err != nil {
		return info, err
	}
	m, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return info, internal(err, "kafka cluster metadata: %v", err)
	}
	info.KafkaClusterID = m.Cluster
	return info, nil
}

func (h *Herder) admin() (*kadm.Client, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.adm != nil {
		return h.adm, nil
	}
	cl, err := kgo.NewClient(append(slices.Clone(h.cfg.KafkaOptions), kgo.SeedBrokers(h.cfg.Brokers...))...)
	if err != nil {
		return nil, internal(err, "kafka admin client: %v", err)
	}
	h.admCl, h.adm = cl, kadm.NewClient(cl)
	return h.adm, nil
}

// Validate validates cfg for the plugin named plugin (class or alias).
func (h *Herder) Validate(plugin string, cfg map[string]string) (ConfigInfos, error) {
	p, ok := h.reg.Lookup(plugin)
	if !ok {
		return ConfigInfos{}, internal(nil, "Failed to find any class that implements Connector and which name matches %s, available connectors are: %s", plugin, h.reg.classNames())
	}
	return validate(p, h.Definitions(p), cfg), nil
}

// Definitions returns the plugin's configuration keys with the worker's
// converters as the converter keys' defaults.
func (h *Herder) Definitions(p *Plugin) []ConfigKey {
	defs := p.Definitions()
	for i, k := range defs {
		switch k.Name {
		case KeyKeyConverter:
			defs[i].Default = str(h.cfg.KeyConverter)
		case KeyValueConverter:
			defs[i].Default = str(h.cfg.ValueConverter)
		case KeyHeaderConv:
			defs[i].Default = str(StringConverterClass)
		}
	}
	return defs
}

// ConnectorInfo is a connector's name, configuration and task ids.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   PluginType        `json:"type"`
}

// TaskID names a task.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// TaskInfo is a task's id and configuration (GET /connectors/{name}/tasks).
type TaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// StateInfo is the state of a connector or task.
type StateInfo struct {
	ID       *int   `json:"id,omitempty"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Version  string `json:"version"`
	Trace    string `json:"trace,omitempty"`
}

// ConnectorStatus is the answer of GET /connectors/{name}/status.
type ConnectorStatus struct {
	Name      string      `json:"name"`
	Connector StateInfo   `json:"connector"`
	Tasks     []StateInfo `json:"tasks"`
	Type      PluginType  `json:"type"`
}

// Connectors lists the connector names, sorted.
func (h *Herder) Connectors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{}, slices.Sorted(maps.Keys(h.conns))...)
}

// checkConfig resolves and validates a connector configuration whose name
// is name; it returns the plugin and the configuration with name set.
func (h *Herder) checkConfig(name string, cfg map[string]string) (*Plugin, map[string]string, error) {
	cfg = maps.Clone(cfg)
	if cfg == nil {
		cfg = map[string]string{}
	}
	name = strings.TrimSpace(name)
	if n, ok := cfg[KeyName]; ok && n != name {
		return nil, nil, badRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name)
	}
	cfg[KeyName] = name
	class, ok := cfg[KeyConnectorClass]
	if !ok || class == "" {
		return nil, nil, badRequest("Connector config %s contains no connector type", javaMap(cfg))
	}
	p, ok := h.reg.Lookup(class)
	if !ok {
		return nil, nil, badRequest("Failed to find any class that implements Connector and which name matches %s, available connectors are: %s", class, h.reg.classNames())
	}
	infos := validate(p, h.Definitions(p), cfg)
	if errs := infos.Errors(); len(errs) > 0 {
		return nil, nil, badRequest("%s", invalidConfigMessage(errs))
	}
	return p, cfg, nil
}

// CreateConnector creates and starts a connector; it fails with KindConflict
// when the name exists.
func (h *Herder) CreateConnector(name string, cfg map[string]string) (ConnectorInfo, error) {
	info, _, err := h.putConfig(name, cfg, false)
	return info, err
}

// PutConnectorConfig creates the connector or replaces its configuration
// (restarting its tasks); created reports which.
func (h *Herder) PutConnectorConfig(name string, cfg map[string]string) (info ConnectorInfo, created bool, err error) {
	return h.putConfig(name, cfg, true)
}

// PatchConnectorConfig merges patch into the configuration (a nil value
// removes the key) and applies it as PutConnectorConfig.
func (h *Herder) PatchConnectorConfig(name string, patch map[string]*string) (ConnectorInfo, error) {
	h.mu.Lock()
	c, ok := h.conns[name]
	var merged map[string]string
	if ok {
		merged = maps.Clone(c.config)
	}
	h.mu.Unlock()
	if !ok {
		return ConnectorInfo{}, notFound("Connector %s not found", name)
	}
	for k, v := range patch {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = *v
		}
	}
	info, _, err := h.putConfig(name, merged, true)
	return info, err
}

func (h *Herder) putConfig(name string, cfg map[string]string, allowUpdate bool) (ConnectorInfo, bool, error) {
	h.ops.Lock()
	defer h.ops.Unlock()
	h.mu.Lock()
	c, exists := h.conns[name]
	if exists && allowUpdate {
		unmask(cfg, c.config)
	}
	h.mu.Unlock()
	// Kafka Connect validates first: an invalid config under a taken name
	// is a 400, a valid one a 409.
	p, cfg, err := h.checkConfig(name, cfg)
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	if exists && !allowUpdate {
		return ConnectorInfo{}, false, &Error{Kind: KindConflict, Message: fmt.Sprintf("Connector %s already exists", name)}
	}
	if !exists {
		c = &connector{name: name, config: cfg, plugin: p, state: StateRunning, tasks: map[int]*task{}, topics: map[string]struct{}{}}
		info := ConnectorInfo{Name: name, Config: masked(cfg), Tasks: []TaskID{}, Type: p.Type}
		h.mu.Lock()
		h.conns[name] = c
		h.mu.Unlock()
		h.startConnector(c)
		h.log.Info("connector created", "connector", name, "class", p.Class)
		return info, true, nil
	}
	h.mu.Lock()
	info := ConnectorInfo{Name: name, Config: masked(cfg), Tasks: taskIDs(c), Type: p.Type}
	h.mu.Unlock()
	old := h.detachTasks(c)
	stopTasks(old)
	h.mu.Lock()
	c.config, c.plugin = cfg, p
	h.mu.Unlock()
	h.startConnector(c)
	h.log.Info("connector reconfigured", "connector", name)
	return info, false, nil
}

func taskIDs(c *connector) []TaskID {
	ids := make([]TaskID, len(c.taskConfigs))
	for i := range c.taskConfigs {
		ids[i] = TaskID{Connector: c.name, Task: i}
	}
	return ids
}

// startConnector computes the task configurations and starts the tasks,
// unless the connector is paused or stopped. ops held.
func (h *Herder) startConnector(c *connector) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.state, c.trace = StateRunning, ""
	if c.target == targetStopped {
		c.taskConfigs = nil
		return
	}
	maxTasks, _ := strconv.Atoi(strings.TrimSpace(c.config[KeyTasksMax]))
	if maxTasks < 1 {
		maxTasks = 1
	}
	var tcs []map[string]string
	if c.plugin.TaskConfigs != nil {
		tcs = c.plugin.TaskConfigs(maps.Clone(c.config), maxTasks)
	} else {
		tcs = []map[string]string{maps.Clone(c.config)}
	}
	for _, tc := range tcs {
		tc[KeyTaskClass] = c.plugin.TaskClass
	}
	c.taskConfigs = tcs
	for id := range tcs {
		t := &task{id: id, state: StatePaused}
		c.tasks[id] = t
		if c.target == targetStarted {
			h.startTask(c, t)
		}
	}
}

// startTask starts t's goroutine; mu held.
func (h *Herder) startTask(c *connector, t *task) {
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel, t.done = cancel, make(chan struct{})
	t.state, t.trace = StateRunning, ""
	cfg := maps.Clone(c.taskConfigs[t.id])
	p := c.plugin
	log := h.loggers.Logger("sluice.runtime.task").With("connector", c.name, "task", t.id)
	go func() {
		defer close(t.done)
		var err error
		switch p.Type {
		case SinkType:
			err = h.runSink(ctx, c, t.id, p, cfg, log)
		case SourceType:
			err = h.runSource(ctx, c, p, cfg, log)
		default:
			err = fmt.Errorf("plugin %s of type %s cannot run tasks", p.Class, p.Type)
		}
		if err != nil && ctx.Err() == nil {
			log.Error("task failed", "err", err)
			h.mu.Lock()
			t.state, t.trace = StateFailed, err.Error()
			h.mu.Unlock()
			if h.cfg.OnTaskFailed != nil {
				h.cfg.OnTaskFailed(c.name, t.id, err)
			}
		}
	}()
}

// stopTasks cancels tasks and waits for them; mu must not be held.
func stopTasks(ts []*task) {
	for _, t := range ts {
		if t.cancel != nil {
			t.cancel()
		}
	}
	for _, t := range ts {
		if t.done != nil {
			<-t.done
		}
	}
}

// detachTasks removes c's tasks and returns them to be stopped.
func (h *Herder) detachTasks(c *connector) []*task {
	h.mu.Lock()
	defer h.mu.Unlock()
	ts := slices.Collect(maps.Values(c.tasks))
	c.tasks = map[int]*task{}
	c.taskConfigs = nil
	return ts
}

func (h *Herder) lookup(name string) (*connector, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	return c, ok
}

// ConnectorInfo returns a connector's configuration (masked) and tasks.
func (h *Herder) ConnectorInfo(name string) (ConnectorInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	if !ok {
		return ConnectorInfo{}, notFound("Connector %s not found", name)
	}
	return ConnectorInfo{Name: name, Config: masked(c.config), Tasks: taskIDs(c), Type: c.plugin.Type}, nil
}

// ConnectorConfig returns a connector's configuration (masked).
func (h *Herder) ConnectorConfig(name string) (map[string]string, error) {
	info, err := h.ConnectorInfo(name)
	return info.Config, err
}

// TaskConfigs returns the task configurations (masked).
func (h *Herder) TaskConfigs(name string) ([]TaskInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	if !ok {
		return nil, notFound("Connector %s not found", name)
	}
	out := make([]TaskInfo, len(c.taskConfigs))
	for i, tc := range c.taskConfigs {
		out[i] = TaskInfo{ID: TaskID{Connector: name, Task: i}, Config: masked(tc)}
	}
	return out, nil
}

// ConnectorStatus returns the state of a connector and its tasks.
func (h *Herder) ConnectorStatus(name string) (ConnectorStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	if !ok {
		return ConnectorStatus{}, notFound("No status found for connector %s", name)
	}
	return h.status(c), nil
}

// status snapshots c; mu held.
func (h *Herder) status(c *connector) ConnectorStatus {
	st := ConnectorStatus{Name: c.name, Type: c.plugin.Type, Tasks: []StateInfo{},
		Connector: StateInfo{State: c.state, WorkerID: h.cfg.WorkerID, Version: c.plugin.Version, Trace: c.trace}}
	switch c.target {
	case targetPaused:
		st.Connector.State = StatePaused
	case targetStopped:
		st.Connector.State = StateStopped
		return st
	}
	for _, id := range slices.Sorted(maps.Keys(c.tasks)) {
		st.Tasks = append(st.Tasks, h.taskState(c, c.tasks[id]))
	}
	return st
}

func (h *Herder) taskState(c *connector, t *task) StateInfo {
	id := t.id
	return StateInfo{ID: &id, State: t.state, WorkerID: h.cfg.WorkerID, Version: c.plugin.Version, Trace: t.trace}
}

// TaskStatus returns one task's state.
func (h *Herder) TaskStatus(name string, id int) (StateInfo, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	if ok && c.target != targetStopped {
		if t, ok := c.tasks[id]; ok {
			return h.taskState(c, t), nil
		}
	}
	return StateInfo{}, notFound("No status found for task %s-%d", name, id)
}

// Pause stops the connector's tasks and reports them PAUSED.
func (h *Herder) Pause(name string) error { return h.setTarget(name, targetPaused) }

// Resume restarts a paused or stopped connector.
func (h *Herder) Resume(name string) error { return h.setTarget(name, targetStarted) }

// Stop stops the connector and removes its tasks; offsets may then be
// altered or reset.
func (h *Herder) Stop(name string) error { return h.setTarget(name, targetStopped) }

func (h *Herder) setTarget(name string, target targetState) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	c, ok := h.lookup(name)
	if !ok {
		return notFound("Unknown connector %s", name)
	}
	h.mu.Lock()
	prev := c.target
	c.target = target
	h.mu.Unlock()
	if prev == target {
		return nil
	}
	switch target {
	case targetStopped:
		stopTasks(h.detachTasks(c))
	case targetPaused:
		h.mu.Lock()
		ts := slices.Collect(maps.Values(c.tasks))
		h.mu.Unlock()
		stopTasks(ts)
		h.mu.Lock()
		for _, t := range ts {
			t.state, t.trace, t.cancel, t.done = StatePaused, "", nil, nil
		}
		h.mu.Unlock()
	case targetStarted:
		if prev == targetStopped {
			h.startConnector(c)
			break
		}
		h.mu.Lock()
		for _, t := range c.tasks {
			h.startTask(c, t)
		}
		h.mu.Unlock()
	}
	h.log.Info("connector target state", "connector", name, "target", target)
	return nil
}

// RestartRequest selects what POST /connectors/{name}/restart restarts.
type RestartRequest struct {
	IncludeTasks bool
	OnlyFailed   bool
}

// RestartConnector restarts a connector and, as requested, its tasks. For a
// plain restart (both flags false) it returns nil status (Kafka Connect
// answers 204); otherwise the status with the restarted parts RESTARTING.
func (h *Herder) RestartConnector(name string, req RestartRequest) (*ConnectorStatus, error) {
	h.ops.Lock()
	defer h.ops.Unlock()
	c, ok := h.lookup(name)
	if !ok {
		return nil, notFound("Unknown connector: %s", name)
	}
	h.mu.Lock()
	restartConn := !req.OnlyFailed || c.state == StateFailed
	var restart []*task
	if req.IncludeTasks && c.target == targetStarted {
		for _, id := range slices.Sorted(maps.Keys(c.tasks)) {
			if t := c.tasks[id]; !req.OnlyFailed || t.state == StateFailed {
				t.state = StateRestarting
				restart = append(restart, t)
			}
		}
	}
	if restartConn && (req.IncludeTasks || req.OnlyFailed) {
		c.state = StateRestarting
	}
	var st *ConnectorStatus
	if req.IncludeTasks || req.OnlyFailed {
		s := h.status(c)
		st = &s
	}
	h.mu.Unlock()
	h.restartTasks(c, restart)
	if restartConn {
		h.mu.Lock()
		c.state, c.trace = StateRunning, ""
		h.mu.Unlock()
	}
	return st, nil
}

// restartTasks stops and starts tasks of c; ops held.
func (h *Herder) restartTasks(c *connector, ts []*task) {
	stopTasks(ts)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range ts {
		if c.tasks[t.id] == t {
			h.startTask(c, t)
		}
	}
}

// RestartTask restarts one task.
func (h *Herder) RestartTask(name string, id int) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	c, ok := h.lookup(name)
	if !ok {
		return notFound("Unknown connector: %s", name)
	}
	h.mu.Lock()
	t, ok := c.tasks[id]
	running := c.target == targetStarted
	h.mu.Unlock()
	if !ok {
		return notFound("Unknown task: %s-%d", name, id)
	}
	if running {
		h.restartTasks(c, []*task{t})
	}
	return nil
}

// DeleteConnector stops and removes a connector. Sink consumer offsets and
// source offsets are kept, as Kafka Connect does.
func (h *Herder) DeleteConnector(name string) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	c, ok := h.lookup(name)
	if !ok {
		return notFound("Connector %s not found", name)
	}
	stopTasks(h.detachTasks(c))
	h.mu.Lock()
	delete(h.conns, name)
	h.mu.Unlock()
	h.log.Info("connector deleted", "connector", name)
	return nil
}

// ActiveTopics lists the topics a connector has used since it was created or
// its topics were reset; unknown connectors have none (as Kafka Connect).
func (h *Herder) ActiveTopics(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	if !ok {
		return []string{}
	}
	return append([]string{}, slices.Sorted(maps.Keys(c.topics))...)
}

// ResetActiveTopics forgets a connector's active topics.
func (h *Herder) ResetActiveTopics(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.conns[name]; ok {
		c.topics = map[string]struct{}{}
	}
}

func (h *Herder) addTopic(c *connector, topic string) {
	h.mu.Lock()
	standalone := h.conns[c.name] == c
	if _, ok := c.topics[topic]; !ok && standalone {
		c.topics[topic] = struct{}{}
	}
	h.mu.Unlock()
	// The tasks of a distributed worker record their topics in the status
	// topic, through the worker's store.
	if r, ok := h.cfg.Offsets.(topicRecorder); ok && !standalone {
		r.recordTopic(c, topic)
	}
}

// converters returns the key and value converters of a configuration.
func (h *Herder) converters(cfg map[string]string) (key, value Converter, err error) {
	kn, vn := cfg[KeyKeyConverter], cfg[KeyValueConverter]
	if kn == "" {
		kn = h.cfg.KeyConverter
	}
	if vn == "" {
		vn = h.cfg.ValueConverter
	}
	key, ok := lookupConverter(kn)
	if !ok {
		return nil, nil, fmt.Errorf("unknown key converter %s", kn)
	}
	value, ok = lookupConverter(vn)
	if !ok {
		return nil, nil, fmt.Errorf("unknown value converter %s", vn)
	}
	return key, value, nil
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// jsonNumber keeps numbers exact when decoding offsets.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	return d.Decode(v)
}
