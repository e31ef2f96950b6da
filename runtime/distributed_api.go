package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"time"
)

// This file holds the Worker's REST-facing methods, the same as the
// standalone Herder's. Reads answer from this worker's view of the internal
// topics; writes are served by the leader only (Forward sends them there),
// which serializes them, reads the config topic to its end, checks, and
// writes the record.

// Plugins returns the plugin registry.
func (w *Worker) Plugins() *Registry { return w.h.reg }

// Loggers returns the named log levels.
func (w *Worker) Loggers() *Loggers { return w.h.loggers }

// Version is the version the worker reports.
func (w *Worker) Version() string { return w.h.Version() }

// ServerInfo describes the worker and the Kafka cluster it uses.
func (w *Worker) ServerInfo(ctx context.Context) (ServerInfo, error) { return w.h.ServerInfo(ctx) }

// Validate validates cfg for the plugin named plugin (class or alias).
func (w *Worker) Validate(plugin string, cfg map[string]string) (ConfigInfos, error) {
	return w.h.Validate(plugin, cfg)
}

// Definitions returns the plugin's configuration keys.
func (w *Worker) Definitions(p *Plugin) []ConfigKey { return w.h.Definitions(p) }

// Forward wraps the REST API: a write under /connectors reaching a worker
// that is not the leader is sent to the leader's advertised URL, once (a
// forwarded request reaching a non-leader gets Kafka Connect's 409 for a
// rebalance in progress). The leader's answer is passed on as it is, headers
// included: an answer without Content-Type (415) keeps none.
func (w *Worker) Forward(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		write := r.Method != http.MethodGet && r.Method != http.MethodHead && strings.HasPrefix(r.URL.Path, "/connectors")
		if !write {
			next.ServeHTTP(rw, r)
			return
		}
		w.mu.Lock()
		leaderURL := w.current.LeaderURL
		w.mu.Unlock()
		if leaderURL == w.url {
			next.ServeHTTP(rw, r)
			return
		}
		if leaderURL == "" || r.Header.Get(forwardedHeader) != "" {
			forwardError(rw, http.StatusConflict,
				"Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.")
			return
		}
		target, err := url.Parse(leaderURL)
		if err != nil {
			forwardError(rw, http.StatusInternalServerError, fmt.Sprintf("Invalid leader URL %s: %v", leaderURL, err))
			return
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		orig := proxy.Director
		proxy.Director = func(req *http.Request) {
			orig(req)
			req.Header.Set(forwardedHeader, w.url)
		}
		// As Kafka Connect when the leader cannot be reached: 500.
		proxy.ErrorHandler = func(rw http.ResponseWriter, _ *http.Request, err error) {
			forwardError(rw, http.StatusInternalServerError, "IO Error trying to forward REST request: "+err.Error())
		}
		// The proxy adds the leader's headers to these: a present but nil
		// Content-Type stops net/http from sniffing one when the leader's
		// answer has none.
		rw.Header()["Content-Type"] = nil
		proxy.ServeHTTP(rw, r)
	})
}

// forwardError writes Kafka Connect's error body.
func forwardError(rw http.ResponseWriter, status int, msg string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]any{"error_code": status, "message": msg})
}

func (w *Worker) readConfigs() error {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if err := w.configs.readToEnd(ctx); err != nil {
		return internal(err, "%v", err)
	}
	return nil
}

// SetLoggerCluster sets a logger's level on every worker of the cluster
// (PUT /admin/loggers/{name}?scope=cluster): as Kafka Connect, a record
// logger-cluster-<name> in the config topic that each worker applies as it
// reads it (this one included, before answering).
func (w *Worker) SetLoggerCluster(name, level string) error {
	if _, ok := ParseLevel(level); !ok {
		return notFound("invalid log level '%s'.", level)
	}
	return w.writeConfig([2]any{prefixLoggerCluster + name, loggerRecord{Level: level}})
}

// writeConfig writes config topic records in order, then reads the topic
// to its end so that this worker's view includes them.
func (w *Worker) writeConfig(recs ...[2]any) error {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	for _, kv := range recs {
		var val []byte
		if kv[1] != nil {
			b, err := json.Marshal(kv[1])
			if err != nil {
				return internal(err, "encode %s: %v", kv[0], err)
			}
			val = b
		}
		if err := w.configs.write(ctx, kv[0].(string), val); err != nil {
			return internal(err, "%v", err)
		}
	}
	if err := w.configs.readToEnd(ctx); err != nil {
		return internal(err, "%v", err)
	}
	return nil
}

func (w *Worker) view(name string) (*distConnector, targetState, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.conns[name]
	return c, w.targets[name], ok
}

// Connectors lists the connector names, sorted.
func (w *Worker) Connectors() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string{}, slices.Sorted(maps.Keys(w.conns))...)
}

// CreateConnector creates a connector; KindConflict when the name exists.
func (w *Worker) CreateConnector(name string, cfg map[string]string) (ConnectorInfo, error) {
	info, _, err := w.putConfig(name, cfg, false)
	return info, err
}

// PutConnectorConfig creates the connector or replaces its configuration.
func (w *Worker) PutConnectorConfig(name string, cfg map[string]string) (ConnectorInfo, bool, error) {
	return w.putConfig(name, cfg, true)
}

// PatchConnectorConfig merges patch into the configuration (a nil value
// removes the key). The read, merge and write happen under one write lock,
// so a concurrent write is not lost.
func (w *Worker) PatchConnectorConfig(name string, patch map[string]*string) (ConnectorInfo, error) {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if err := w.readConfigs(); err != nil {
		return ConnectorInfo{}, err
	}
	c, _, ok := w.view(name)
	if !ok {
		return ConnectorInfo{}, notFound("Connector %s not found", name)
	}
	merged := maps.Clone(c.config)
	for k, v := range patch {
		if v == nil {
			delete(merged, k)
		} else {
			merged[k] = *v
		}
	}
	info, _, err := w.putConfigLocked(name, merged, true)
	return info, err
}

func (w *Worker) putConfig(name string, cfg map[string]string, allowUpdate bool) (ConnectorInfo, bool, error) {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if err := w.readConfigs(); err != nil {
		return ConnectorInfo{}, false, err
	}
	return w.putConfigLocked(name, cfg, allowUpdate)
}

// putConfigLocked checks and writes a configuration; the caller holds
// writeMu and has read the config topic to its end.
func (w *Worker) putConfigLocked(name string, cfg map[string]string, allowUpdate bool) (ConnectorInfo, bool, error) {
	old, _, exists := w.view(name)
	cfg = maps.Clone(cfg)
	if exists && allowUpdate {
		unmask(cfg, old.config)
	}
	// As Kafka Connect: the configuration is validated first, so an invalid
	// one is 400 even under an existing name; only a valid one is 409.
	p, cfg, err := w.h.checkConfig(name, cfg)
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	if exists && !allowUpdate {
		return ConnectorInfo{}, false, &Error{Kind: KindConflict, Message: fmt.Sprintf("Connector %s already exists", name)}
	}
	if err := w.writeConfig([2]any{prefixConnector + name, connectorRecord{Properties: cfg}}); err != nil {
		return ConnectorInfo{}, false, err
	}
	info := ConnectorInfo{Name: name, Config: masked(cfg), Tasks: []TaskID{}, Type: p.Type}
	if exists {
		info.Tasks = distTaskIDs(name, len(old.tasks))
	}
	w.log.Info("connector configuration written", "connector", name, "created", !exists)
	return info, !exists, nil
}

func distTaskIDs(name string, n int) []TaskID {
	ids := make([]TaskID, n)
	for i := range ids {
		ids[i] = TaskID{Connector: name, Task: i}
	}
	return ids
}

// DeleteConnector removes a connector; its offsets are kept.
func (w *Worker) DeleteConnector(name string) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if err := w.readConfigs(); err != nil {
		return err
	}
	c, _, ok := w.view(name)
	if !ok {
		return notFound("Connector %s not found", name)
	}
	if err := w.writeConfig([2]any{prefixConnector + name, nil}, [2]any{prefixTargetState + name, nil}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	for id := -1; id < len(c.tasks); id++ {
		if err := w.statusLog.write(ctx, statusKey(name, id), nil); err != nil {
			w.log.Warn("remove status", "connector", name, "task", id, "err", err)
		}
	}
	return nil
}

// Pause pauses the connector's tasks.
func (w *Worker) Pause(name string) error { return w.setTarget(name, targetPaused) }

// Resume restarts a paused or stopped connector.
func (w *Worker) Resume(name string) error { return w.setTarget(name, targetStarted) }

// Stop stops the connector and its tasks.
func (w *Worker) Stop(name string) error { return w.setTarget(name, targetStopped) }

func (w *Worker) setTarget(name string, t targetState) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if err := w.readConfigs(); err != nil {
		return err
	}
	if _, _, ok := w.view(name); !ok {
		return notFound("Unknown connector %s", name)
	}
	return w.writeConfig([2]any{prefixTargetState + name, targetRecord{State: targetNames[t]}})
}

// RestartConnector asks the owners to restart the connector and, as
// requested, its tasks.
func (w *Worker) RestartConnector(name string, req RestartRequest) (*ConnectorStatus, error) {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if err := w.readConfigs(); err != nil {
		return nil, err
	}
	if _, _, ok := w.view(name); !ok {
		return nil, notFound("Unknown connector: %s", name)
	}
	var st *ConnectorStatus
	if req.IncludeTasks || req.OnlyFailed {
		s, err := w.ConnectorStatus(name)
		if err != nil {
			return nil, err
		}
		if !req.OnlyFailed || s.Connector.State == StateFailed {
			s.Connector.State = StateRestarting
		}
		for i, t := range s.Tasks {
			if req.IncludeTasks && (!req.OnlyFailed || t.State == StateFailed) {
				s.Tasks[i].State = StateRestarting
			}
		}
		st = &s
	}
	err := w.writeConfig([2]any{prefixRestart + name, restartRecord{IncludeTasks: req.IncludeTasks, OnlyFailed: req.OnlyFailed, Nonce: time.Now().UnixNano()}})
	return st, err
}

// RestartTask asks the owner of a task to restart it.
func (w *Worker) RestartTask(name string, id int) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	if err := w.readConfigs(); err != nil {
		return err
	}
	c, _, ok := w.view(name)
	if !ok {
		return notFound("Unknown connector: %s", name)
	}
	if id < 0 || id >= len(c.tasks) {
		return notFound("Unknown task: %s-%d", name, id)
	}
	return w.writeConfig([2]any{prefixRestart + name, restartRecord{Task: &id, Nonce: time.Now().UnixNano()}})
}

// ConnectorInfo returns a connector's configuration (masked) and tasks.
func (w *Worker) ConnectorInfo(name string) (ConnectorInfo, error) {
	c, target, ok := w.view(name)
	if !ok {
		return ConnectorInfo{}, notFound("Connector %s not found", name)
	}
	n := len(c.tasks)
	if target == targetStopped {
		n = 0
	}
	return ConnectorInfo{Name: name, Config: masked(c.config), Tasks: distTaskIDs(name, n), Type: c.plugin.Type}, nil
}

// ConnectorConfig returns a connector's configuration (masked).
func (w *Worker) ConnectorConfig(name string) (map[string]string, error) {
	info, err := w.ConnectorInfo(name)
	return info.Config, err
}

// TaskConfigs returns the task configurations (masked).
func (w *Worker) TaskConfigs(name string) ([]TaskInfo, error) {
	c, target, ok := w.view(name)
	if !ok {
		return nil, notFound("Connector %s not found", name)
	}
	out := []TaskInfo{}
	if target == targetStopped {
		return out, nil
	}
	for i, tc := range c.tasks {
		out = append(out, TaskInfo{ID: TaskID{Connector: name, Task: i}, Config: masked(tc)})
	}
	return out, nil
}

// ConnectorStatus returns the state of a connector and its tasks, from the
// status topic (written by the workers running them).
func (w *Worker) ConnectorStatus(name string) (ConnectorStatus, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.conns[name]
	if !ok {
		return ConnectorStatus{}, notFound("No status found for connector %s", name)
	}
	st := ConnectorStatus{Name: name, Type: c.plugin.Type, Tasks: []StateInfo{},
		Connector: w.stateLocked(c, name, -1)}
	if w.targets[name] == targetStopped {
		return st, nil
	}
	for id := range c.tasks {
		st.Tasks = append(st.Tasks, w.stateLocked(c, name, id))
	}
	return st, nil
}

func (w *Worker) stateLocked(c *distConnector, name string, id int) StateInfo {
	s, ok := w.statuses[statusKey(name, id)]
	if !ok {
		s = statusRecord{State: StateUnassigned}
	}
	info := StateInfo{State: s.State, WorkerID: s.WorkerID, Version: c.plugin.Version, Trace: s.Trace}
	if id >= 0 {
		info.ID = &id
	}
	return info
}

// TaskStatus returns one task's state.
func (w *Worker) TaskStatus(name string, id int) (StateInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.conns[name]
	if ok && w.targets[name] != targetStopped && id >= 0 && id < len(c.tasks) {
		return w.stateLocked(c, name, id), nil
	}
	return StateInfo{}, notFound("No status found for task %s-%d", name, id)
}

// ActiveTopics lists the topics a connector's tasks used, as recorded in
// the status topic by the workers running them.
func (w *Worker) ActiveTopics(name string) []string { return w.activeTopics(name) }

// ResetActiveTopics forgets a connector's active topics (tombstones in the
// status topic).
func (w *Worker) ResetActiveTopics(name string) {
	if err := w.resetTopics(name); err != nil {
		w.log.Warn("reset active topics", "connector", name, "err", err)
	}
}

// Offsets returns a connector's offsets (offsets topic for a source,
// consumer group offsets for a sink).
func (w *Worker) Offsets(ctx context.Context, name string) (ConnectorOffsets, error) {
	c, _, ok := w.view(name)
	if !ok {
		return ConnectorOffsets{}, notFound("Connector %s not found", name)
	}
	return w.h.offsetsOf(ctx, name, c.plugin)
}

func (w *Worker) stopped(name string) (*distConnector, error) {
	if err := w.readConfigs(); err != nil {
		return nil, err
	}
	c, target, ok := w.view(name)
	if !ok {
		return nil, notFound("Connector %s not found", name)
	}
	if target != targetStopped {
		return nil, badRequest("Connectors must be in the STOPPED state before their offsets can be modified. "+
			"This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	return c, nil
}

// AlterOffsets sets or removes offsets of a STOPPED connector.
func (w *Worker) AlterOffsets(ctx context.Context, name string, req ConnectorOffsets) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	c, err := w.stopped(name)
	if err != nil {
		return err
	}
	return w.h.alterOffsets(ctx, name, c.plugin, req)
}

// ResetOffsets removes every offset of a STOPPED connector.
func (w *Worker) ResetOffsets(ctx context.Context, name string) error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	c, err := w.stopped(name)
	if err != nil {
		return err
	}
	return w.h.resetOffsets(ctx, name, c.plugin)
}
