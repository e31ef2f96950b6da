package connectors

import (
	"context"
	"log/slog"
	"strings"

	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/sinks/s3"
	"github.com/sluice-cdc/sluice/sinks/sink"
	"github.com/sluice-cdc/sluice/sinks/transform"
)

// S3SinkClass is Confluent's S3 sink connector class, which Sluice's S3
// sink answers to.
const S3SinkClass = "io.confluent.connect.s3.S3SinkConnector"

func s3Plugin(o Options) *runtime.Plugin {
	var keys []runtime.ConfigKey
	for i, k := range s3.ConfigKeys() {
		ck := runtime.ConfigKey{Name: k.Name, Type: s3Type(k.Type), Importance: runtime.Medium,
			Documentation: k.Doc, Group: "Connector", Width: "MEDIUM", Order: i + 1}
		switch k.Name {
		case "s3.bucket.name", "flush.size":
			ck.Required, ck.Importance = true, runtime.High
		default:
			d := k.Default
			ck.Default = &d
		}
		keys = append(keys, ck)
	}
	return &runtime.Plugin{
		Class:     S3SinkClass,
		Aliases:   []string{"S3SinkConnector", "s3"},
		Type:      runtime.SinkType,
		Version:   o.Version,
		TaskClass: "io.confluent.connect.s3.S3SinkTask",
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
			if strings.TrimSpace(cfg["s3.bucket.name"]) == "" || strings.TrimSpace(cfg["flush.size"]) == "" {
				return problems // the keys' own checks report them
			}
			if _, err := s3.ParseConfig(cfg); err != nil {
				problems[""] = append(problems[""], err.Error())
			}
			if _, err := transform.Parse(cfg); err != nil {
				problems["transforms"] = append(problems["transforms"], err.Error())
			}
			return problems
		},
		// tasks.max tasks share the connector's consumer group, as in
		// Kafka Connect; each recovers its partitions' offsets from the
		// bucket when they are assigned.
		TaskConfigs: func(cfg map[string]string, maxTasks int) []map[string]string {
			out := make([]map[string]string, maxTasks)
			for i := range out {
				out[i] = cfg
			}
			return out
		},
		NewSink: func(cfg map[string]string) (sink.Sink, error) {
			c, err := s3.ParseConfig(cfg)
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
			defer cancel()
			// The plugin API hands the sink no logger.
			return s3.New(ctx, c, nil, slog.Default().With("connector", cfg["name"]))
		},
		NewTransform: newTransform,
	}
}

func s3Type(t string) runtime.Type {
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
