package connectors

import (
	"context"
	"log/slog"
	"strings"

	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/sinks/elasticsearch"
	"github.com/sluice-cdc/sluice/sinks/sink"
	"github.com/sluice-cdc/sluice/sinks/transform"
)

// ElasticsearchSinkClass is Confluent's Elasticsearch sink connector class,
// which Sluice's Elasticsearch/OpenSearch sink answers to.
const ElasticsearchSinkClass = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"

func elasticsearchPlugin(o Options) *runtime.Plugin {
	var keys []runtime.ConfigKey
	for i, k := range elasticsearch.ConfigKeys() {
		ck := runtime.ConfigKey{Name: k.Name, Type: esType(k.Type), Importance: runtime.Medium,
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
		Class:     ElasticsearchSinkClass,
		Aliases:   []string{"ElasticsearchSinkConnector", "elasticsearch", "opensearch"},
		Type:      runtime.SinkType,
		Version:   o.Version,
		TaskClass: "io.confluent.connect.elasticsearch.ElasticsearchSinkTask",
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
			if strings.TrimSpace(cfg["connection.url"]) == "" {
				return problems // the key's own check reports it
			}
			if _, err := elasticsearch.ParseConfig(cfg); err != nil {
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
			// The plugin API hands the sink no logger: its warnings
			// (dropped records and documents) go to the process's default.
			log := slog.Default().With("connector", cfg["name"])
			return elasticsearch.New(ctx, cfg, elasticsearch.WithLogger(log))
		},
		NewTransform: newTransform,
	}
}

func esType(t string) runtime.Type {
	if t == "long" {
		return runtime.TypeLong
	}
	return jdbcType(t)
}
