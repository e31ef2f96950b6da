package connectors

import (
	"context"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/sinks/jdbc"
	"github.com/sluice-cdc/sluice/sinks/sink"
	sinktask "github.com/sluice-cdc/sluice/sinks/task"
	"github.com/sluice-cdc/sluice/sinks/transform"
)

// JDBCSinkClass is Confluent's JDBC sink connector class, which Sluice's
// JDBC sink answers to.
const JDBCSinkClass = "io.confluent.connect.jdbc.JdbcSinkConnector"

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

func jdbcPlugin(o Options) *runtime.Plugin {
	var keys []runtime.ConfigKey
	for i, k := range jdbc.ConfigKeys() {
		ck := runtime.ConfigKey{Name: k.Name, Type: jdbcType(k.Type), Importance: runtime.Medium,
			Documentation: k.Doc, Group: "Connector", Width: "MEDIUM", Order: i + 1}
		if k.Name == "connection.url" {
			ck.Required, ck.Importance = true, runtime.High
		} else {
			d := k.Default
			ck.Default = &d
		}
		keys = append(keys, ck)
	}
	return &runtime.Plugin{
		Class:     JDBCSinkClass,
		Aliases:   []string{"JdbcSinkConnector", "jdbc"},
		Type:      runtime.SinkType,
		Version:   o.Version,
		TaskClass: "io.confluent.connect.jdbc.sink.JdbcSinkTask",
		Configs:   keys,
		// The consumer settings the sink task layer reads.
		Accepts: func(key string) bool {
			switch key {
			case "consumer.override.max.poll.records", "consumer.override.session.timeout.ms", "consumer.override.heartbeat.interval.ms":
				return true
			}
			return false
		},
		Validate: func(cfg map[string]string) map[string][]string {
			problems := map[string][]string{}
			if strings.TrimSpace(cfg["connection.url"]) == "" {
				return problems // the key's own check reports it
			}
			c, err := jdbc.ParseConfig(cfg)
			if err == nil {
				err = c.Validate()
			}
			if err != nil {
				problems[""] = append(problems[""], err.Error())
			}
			if _, err := transform.Parse(cfg); err != nil {
				problems["transforms"] = append(problems["transforms"], err.Error())
			}
			return problems
		},
		// tasks.max tasks share the connector's consumer group, as in
		// Kafka Connect.
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
			return jdbc.New(ctx, cfg)
		},
		NewTransform: newTransform,
	}
}

// newTransform parses a sink connector's transforms; nil when it has none.
func newTransform(cfg map[string]string) (sinktask.Transform, error) {
	c, err := transform.Parse(cfg)
	if err != nil || c == nil || c.Len() == 0 {
		return nil, err
	}
	return c, nil
}

func jdbcType(t string) runtime.Type {
	switch t {
	case "int":
		return runtime.TypeInt
	case "boolean":
		return runtime.TypeBoolean
	case "list":
		return runtime.TypeList
	case "password":
		return runtime.TypePassword
	}
	return runtime.TypeString
}
