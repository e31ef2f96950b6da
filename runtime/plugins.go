package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/sluice-cdc/sluice/sinks/sink"
	sinktask "github.com/sluice-cdc/sluice/sinks/task"
)

// PluginType is a plugin's kind, as GET /connector-plugins names it.
type PluginType string

// Plugin types.
const (
	SinkType            PluginType = "sink"
	SourceType          PluginType = "source"
	ConverterType       PluginType = "converter"
	HeaderConverterType PluginType = "header_converter"
)

// PluginInfo is one entry of GET /connector-plugins.
type PluginInfo struct {
	Class   string     `json:"class"`
	Type    PluginType `json:"type"`
	Version string     `json:"version"`
}

// SinkRecord is a consumed record, key and value converted.
type SinkRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       any
	Value     any
}

// SinkTask is what the runtime needs from a sink: write batches, make them
// durable on Flush (offsets are committed only after Flush returns), close.
type SinkTask interface {
	Put(ctx context.Context, recs []SinkRecord) error
	Flush(ctx context.Context) error
	Close() error
}

// SourceRecord is a record a source task hands to the runtime. Partition and
// Offset are the source partition and offset (Kafka Connect's maps), saved by
// the runtime once the record is in Kafka.
type SourceRecord struct {
	Partition map[string]any
	Offset    map[string]any
	Topic     string
	Key       any
	Value     any
}

// SourceTask is what the runtime needs from a source: a blocking Run that
// hands batches to emit in order until ctx ends. emit returns once the batch
// is in Kafka and its offsets are saved.
type SourceTask interface {
	Run(ctx context.Context, emit func(context.Context, []SourceRecord) error) error
}

// CaptureTask is a source task that publishes by itself: Run returns nil
// once ctx ends, or the error that failed the task.
type CaptureTask interface {
	Run(ctx context.Context) error
}

// TaskEnv is what the runtime gives a CaptureTask.
type TaskEnv struct {
	// Connector names the task's connector.
	Connector string
	// Offsets loads and saves the task's source offsets; they belong to the
	// runtime (the offsets file, or the offsets topic in distributed mode).
	Offsets TaskOffsets
	// Topic reports a topic the task produced to (its active topics).
	Topic func(topic string)
	// Logger is the task's logger.
	Logger *slog.Logger
}

// TaskOffsets keeps a task's source offsets, one per source partition.
type TaskOffsets interface {
	// Load returns the saved offset of partition, nil when none.
	Load(partition map[string]any) (map[string]any, error)
	// Save records offset for partition; it is durable when Save returns.
	Save(partition, offset map[string]any) error
}

// Plugin is a connector class the worker can run.
type Plugin struct {
	// Class is the canonical class name, reported by the API.
	Class string
	// Aliases are other accepted connector.class values (short names).
	Aliases []string
	Type    PluginType
	Version string
	// TaskClass is written into task configurations as task.class.
	TaskClass string
	// Configs are the plugin's own keys; the common keys are added after.
	Configs []ConfigKey
	// TaskConfigs splits a connector configuration into at most maxTasks
	// task configurations; nil gives one task with the connector's config.
	TaskConfigs func(cfg map[string]string, maxTasks int) []map[string]string
	// NewSink builds the target of a sink plugin run by sinks/task: its
	// consumer group, converters (Avro included), transforms, error
	// tolerance, retries and dead letter queue. A sink plugin sets this or
	// NewSinkTask.
	NewSink func(cfg map[string]string) (sink.Sink, error)
	// NewTransform builds the transform chain of a NewSink plugin's
	// configuration (transforms=..., transforms.<alias>.*); nil applies
	// none, and then a configuration naming transforms is refused.
	NewTransform func(cfg map[string]string) (sinktask.Transform, error)
	// NewSinkTask builds a sink task run by the runtime's own minimal loop
	// (string, bytes and schemaless JSON converters, errors.tolerance none,
	// no transforms): the FileStream sink.
	NewSinkTask func(cfg map[string]string) (SinkTask, error)
	// NewSourceTask builds a source task (source plugins); offset returns
	// the saved offset of a source partition, or nil.
	NewSourceTask func(cfg map[string]string, offset func(partition map[string]any) map[string]any) (SourceTask, error)
	// NewCaptureTask builds a source task that produces to Kafka itself
	// (Sluice's CDC connectors: their own publisher, converters and
	// acknowledgements to the database); it keeps its offsets through the
	// runtime's TaskOffsets. A source plugin sets this or NewSourceTask.
	NewCaptureTask func(cfg map[string]string, env TaskEnv) (CaptureTask, error)
	// Validate checks a whole configuration beyond each key's own Check; it
	// returns problems by key ("" for the configuration as a whole).
	Validate func(cfg map[string]string) map[string][]string
	// Accepts reports whether a key outside Configs is still one the plugin
	// uses (e.g. transforms.<alias>.*), so validation does not list it as
	// unsupported.
	Accepts func(key string) bool
	// CheckOffset validates one partition/offset pair of an alter-offsets
	// request (source plugins); a nil offset deletes the partition.
	CheckOffset func(partition, offset map[string]any) error
}

// Definitions returns the plugin's keys followed by the common keys.
func (p *Plugin) Definitions() []ConfigKey {
	doc := "Name or alias of the class for this connector. Must be a subclass of org.apache.kafka.connect.connector.Connector. " +
		"If the connector is " + p.Class + ", you can either specify this full name, or use " + quoteList(p.Aliases) +
		" to make the configuration a bit shorter"
	out := slices.Clone(p.Configs)
	for _, k := range commonKeys(p.Type, doc, p.NewSink != nil) {
		// A plugin's own definition of a common key wins (a source that
		// supports errors.tolerance all, transforms, ...).
		if !slices.ContainsFunc(p.Configs, func(c ConfigKey) bool { return c.Name == k.Name }) {
			out = append(out, k)
		}
	}
	return out
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = `"` + n + `"`
	}
	return strings.Join(q, " or ")
}

// Info returns the plugin's GET /connector-plugins entry.
func (p *Plugin) Info() PluginInfo {
	return PluginInfo{Class: p.Class, Type: p.Type, Version: p.Version}
}

// Registry is the set of plugins a worker knows.
type Registry struct {
	plugins []*Plugin
}

// NewRegistry returns a registry of the given plugins; an alias or class
// used twice is an error.
func NewRegistry(plugins ...*Plugin) (*Registry, error) {
	seen := map[string]string{}
	for _, p := range plugins {
		for _, n := range append([]string{p.Class}, p.Aliases...) {
			if prev, ok := seen[n]; ok {
				return nil, fmt.Errorf("plugin name %s used by %s and %s", n, prev, p.Class)
			}
			seen[n] = p.Class
		}
	}
	return &Registry{plugins: plugins}, nil
}

// Lookup finds a plugin by class name or alias.
func (r *Registry) Lookup(name string) (*Plugin, bool) {
	for _, p := range r.plugins {
		if p.Class == name || slices.Contains(p.Aliases, name) {
			return p, true
		}
	}
	return nil, false
}

// Connectors lists the connector plugins.
func (r *Registry) Connectors() []PluginInfo {
	out := make([]PluginInfo, 0, len(r.plugins))
	for _, p := range r.plugins {
		out = append(out, p.Info())
	}
	return out
}

// All lists the connector plugins, then the converters and header converters
// (GET /connector-plugins?connectorsOnly=false).
func (r *Registry) All(version string) []PluginInfo {
	out := r.Connectors()
	for _, t := range []PluginType{ConverterType, HeaderConverterType} {
		for _, c := range converters {
			out = append(out, PluginInfo{Class: c.class, Type: t, Version: version})
		}
	}
	return out
}

func (r *Registry) classNames() string {
	names := make([]string, len(r.plugins))
	for i, p := range r.plugins {
		names[i] = p.Class
	}
	return strings.Join(names, ", ")
}
