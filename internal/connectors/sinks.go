package connectors

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/sinks/sink"
	sinktask "github.com/sluice-cdc/sluice/sinks/task"
	"github.com/sluice-cdc/sluice/sinks/transform"
)

// openTimeout bounds connecting to a sink's target when its task starts.
const openTimeout = 30 * time.Second

// sinkPlugins returns the sink plugins run by the sink task layer.
func sinkPlugins(o Options) []*runtime.Plugin {
	return []*runtime.Plugin{
		jdbcPlugin(o),
		elasticsearchPlugin(o),
		s3Plugin(o),
	}
}

// sinkKey is one configuration key of a sink package; each package's Key
// type has these fields, in this order.
type sinkKey struct {
	Name    string
	Type    string // string, int, long, boolean, list, password
	Default string // "" when none
	Doc     string
}

// keysOf converts a sink package's keys.
func keysOf[K ~struct{ Name, Type, Default, Doc string }](keys []K) []sinkKey {
	out := make([]sinkKey, len(keys))
	for i, k := range keys {
		out[i] = sinkKey(k)
	}
	return out
}

// sinkSpec is what differs between the sink plugins.
type sinkSpec struct {
	class, taskClass string
	aliases          []string
	keys             []sinkKey
	// required keys have no default; Validate parses the configuration
	// only once they are all set (their own checks report them missing).
	required []string
	// parse checks a configuration as the sink would when opening it.
	parse func(cfg map[string]string) error
	// open connects to the target; log carries the connector's name.
	open func(ctx context.Context, cfg map[string]string, log *slog.Logger) (sink.Sink, error)
}

// sinkPlugin builds the runtime plugin of a sink: its keys as Connect
// ConfigKeys, the consumer settings the task layer reads, validation of
// the sink's keys and transforms, tasks.max tasks sharing the connector's
// consumer group (as in Kafka Connect), and the sink and transforms of a
// task.
func sinkPlugin(o Options, s sinkSpec) *runtime.Plugin {
	keys := make([]runtime.ConfigKey, 0, len(s.keys))
	for i, k := range s.keys {
		ck := runtime.ConfigKey{Name: k.Name, Type: keyType(k.Type), Importance: runtime.Medium,
			Documentation: k.Doc, Group: "Connector", Width: "MEDIUM", Order: i + 1}
		if contains(s.required, k.Name) {
			ck.Required, ck.Importance = true, runtime.High
		} else {
			d := k.Default
			ck.Default = &d
		}
		keys = append(keys, ck)
	}
	return &runtime.Plugin{
		Class:     s.class,
		Aliases:   s.aliases,
		Type:      runtime.SinkType,
		Version:   o.Version,
		TaskClass: s.taskClass,
		Configs:   keys,
		Accepts: func(key string) bool {
			switch key {
			case "consumer.override.max.poll.records", "consumer.override.session.timeout.ms", "consumer.override.heartbeat.interval.ms":
				return true
			}
			return false
		},
		Validate: func(cfg map[string]string) map[string][]string {
			problems := map[string][]string{}
			for _, k := range s.required {
				if strings.TrimSpace(cfg[k]) == "" {
					return problems // the key's own check reports it
				}
			}
			if err := s.parse(cfg); err != nil {
				problems[""] = append(problems[""], err.Error())
			}
			if _, err := transform.Parse(cfg); err != nil {
				problems["transforms"] = append(problems["transforms"], err.Error())
			}
			return problems
		},
		TaskConfigs: func(cfg map[string]string, maxTasks int) []map[string]string {
			out := make([]map[string]string, maxTasks)
			for i := range out {
				out[i] = cfg
			}
			return out
		},
		NewSink: func(cfg map[string]string) (sink.Sink, error) {
			ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
			defer cancel()
			// The plugin API hands the sink no logger: its warnings go to
			// the process's default, tagged with the connector.
			return s.open(ctx, cfg, slog.Default().With("connector", cfg["name"]))
		},
		NewTransform: newTransform,
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// newTransform parses a sink connector's transforms; nil when it has none.
func newTransform(cfg map[string]string) (sinktask.Transform, error) {
	c, err := transform.Parse(cfg)
	if err != nil || c == nil || c.Len() == 0 {
		return nil, err
	}
	return c, nil
}

func keyType(t string) runtime.Type {
	switch t {
	case "int":
		return runtime.TypeInt
	case "long":
		return runtime.TypeLong
	case "boolean":
		return runtime.TypeBoolean
	case "list":
		return runtime.TypeList
	case "password":
		return runtime.TypePassword
	}
	return runtime.TypeString
}
