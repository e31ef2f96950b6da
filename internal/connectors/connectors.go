// Package connectors makes Sluice's capture sources plugins of the Connect
// runtime: io.debezium.connector.postgresql.PostgresConnector and
// io.debezium.connector.mysql.MySqlConnector, configured with Debezium's
// flat keys (internal/daemon's connect.go maps them to a source), each run
// as one task through the daemon's pipeline (capture → convert → publish →
// save → ack), so that a connector created through the REST API behaves as
// one from sluice.yaml.
//
// The task's position is a runtime source offset: partition
// {"server": <topic.prefix>} (as Debezium's), offset the source's position
// object. The runtime keeps it (the offsets file standalone, the offsets
// topic distributed), so GET /connectors/{name}/offsets shows it and a task
// moved to another worker resumes from it.
package connectors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/runtime"
)

// Runner runs one source under the daemon's supervisor (*daemon.Env).
type Runner interface {
	RunSource(ctx context.Context, sc daemon.SourceConfig, store daemon.OffsetStore, onTopic func(string)) error
}

// Options configures the plugins.
type Options struct {
	// Version is reported as the plugins' version.
	Version string
	// Base holds the process-wide settings a connector may override
	// (converters, tombstones.on.delete).
	Base daemon.Config
	// Runner runs the tasks' sources.
	Runner Runner
	// Legacy, when set, holds positions that earlier Sluice versions saved
	// under the source name; a task with no runtime offset starts from its
	// source's legacy position.
	Legacy daemon.OffsetStore
}

// Kinds are the connector kinds with a plugin, in registration order.
var kinds = []string{daemon.Postgres, daemon.MySQL, daemon.MongoDB}

// aliases are the short connector.class names of each kind.
var aliases = map[string][]string{
	daemon.Postgres: {"PostgresConnector", "postgres", "postgresql"},
	daemon.MySQL:    {"MySqlConnector", "mysql"},
	daemon.MongoDB:  {"MongoDbConnector", "mongodb"},
}

// Plugins returns the source plugins and the sink plugins (the JDBC sink,
// sinks.go).
func Plugins(o Options) []*runtime.Plugin {
	out := make([]*runtime.Plugin, 0, len(kinds)+1)
	for _, kind := range kinds {
		out = append(out, plugin(kind, o))
	}
	return append(out, sinkPlugins(o)...)
}

func plugin(kind string, o Options) *runtime.Plugin {
	class := daemon.ConnectorClass(kind)
	return &runtime.Plugin{
		Class:     class,
		Aliases:   aliases[kind],
		Type:      runtime.SourceType,
		Version:   o.Version,
		TaskClass: class + "Task",
		Configs:   configKeys(kind, o.Base),
		Accepts:   daemon.AcceptsConnectKey,
		Validate: func(cfg map[string]string) map[string][]string {
			_, problems := daemon.SourceFromConnect(cfg[runtime.KeyName], cfg, o.Base)
			return problems
		},
		// One task, as Debezium's: a replication slot or a binlog has one
		// reader.
		TaskConfigs: func(cfg map[string]string, _ int) []map[string]string { return []map[string]string{cfg} },
		NewCaptureTask: func(cfg map[string]string, env runtime.TaskEnv) (runtime.CaptureTask, error) {
			sc, problems := daemon.SourceFromConnect(env.Connector, cfg, o.Base)
			if len(problems) > 0 {
				return nil, fmt.Errorf("connector %s: %s", env.Connector, problemText(problems))
			}
			return &task{sc: sc, env: env, o: o}, nil
		},
		CheckOffset: func(partition, offset map[string]any) error {
			if _, ok := partition["server"].(string); !ok || len(partition) != 1 {
				return fmt.Errorf("the partition of a %s offset must be {\"server\": <topic.prefix>}", class)
			}
			return nil
		},
	}
}

// configKeys returns the runtime definitions of a kind's keys.
func configKeys(kind string, base daemon.Config) []runtime.ConfigKey {
	var out []runtime.ConfigKey
	for i, k := range daemon.ConnectKeys(kind, base) {
		ck := runtime.ConfigKey{Name: k.Name, Type: runtime.Type(k.Type), Default: k.Default, Required: k.Required,
			Importance: runtime.Medium, Documentation: k.Doc, Group: "Connector", Width: "MEDIUM", Order: i + 1}
		if k.Required {
			ck.Importance = runtime.High
			// The whole-configuration check reports it when missing.
			ck.Check = func(*string, map[string]string) []string { return nil }
		}
		out = append(out, ck)
	}
	return out
}

func problemText(p daemon.ConnectProblems) string {
	var msgs []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		msgs = append(msgs, p[k]...)
	}
	return strings.Join(msgs, "; ")
}

// task runs one source connector's source.
type task struct {
	sc  daemon.SourceConfig
	env runtime.TaskEnv
	o   Options
}

func (t *task) Run(ctx context.Context) error {
	log := t.env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store := &offsetStore{name: t.sc.Name, partition: map[string]any{"server": t.sc.TopicPrefix}, offsets: t.env.Offsets, legacy: t.o.Legacy, log: log}
	err := t.o.Runner.RunSource(ctx, t.sc, store, t.env.Topic)
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// offsetStore is the daemon.OffsetStore of a task: the position of the
// task's one source partition, as a runtime source offset.
type offsetStore struct {
	name      string
	partition map[string]any
	offsets   runtime.TaskOffsets
	legacy    daemon.OffsetStore
	log       *slog.Logger
	// legacyGone is set once a legacy position no longer exists: the first
	// runtime save deletes it, so that a later offsets reset through the
	// API does not bring it back.
	legacyGone bool
}

// Load returns the saved position: the runtime offset as JSON, else the
// legacy position.
func (s *offsetStore) Load(string) ([]byte, error) {
	off, err := s.offsets.Load(s.partition)
	if err != nil {
		return nil, fmt.Errorf("load offset of %s: %w", s.name, err)
	}
	if off == nil {
		if s.legacy == nil {
			return nil, nil
		}
		pos, err := s.legacy.Load(s.name)
		if err == nil && pos != nil {
			s.log.Info("resuming from the position saved by an earlier version", "key", s.name)
		}
		return pos, err
	}
	if raw, ok := off[rawKey].(string); ok && len(off) == 1 {
		return []byte(raw), nil
	}
	b, err := json.Marshal(off)
	if err != nil {
		return nil, fmt.Errorf("encode offset of %s: %w", s.name, err)
	}
	return b, nil
}

// rawKey holds a position that is not a JSON object.
const rawKey = "sluice.position"

// Save stores pos as the partition's offset: the position's JSON object as
// is (Debezium's offsets are such objects too).
func (s *offsetStore) Save(_ string, pos []byte) error {
	var off map[string]any
	d := json.NewDecoder(bytes.NewReader(pos))
	d.UseNumber()
	if err := d.Decode(&off); err != nil || off == nil {
		off = map[string]any{rawKey: string(pos)}
	}
	if err := s.offsets.Save(s.partition, off); err != nil {
		return fmt.Errorf("save offset of %s: %w", s.name, err)
	}
	if s.legacy != nil && !s.legacyGone {
		if old, err := s.legacy.Load(s.name); err == nil && old != nil {
			if err := s.legacy.Save(s.name, nil); err != nil {
				return fmt.Errorf("remove the earlier position of %s: %w", s.name, err)
			}
		}
		s.legacyGone = true
	}
	return nil
}
