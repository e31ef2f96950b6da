package connectors

import (
	"context"
	"log/slog"

	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/sinks/elasticsearch"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// ElasticsearchSinkClass is Confluent's Elasticsearch sink connector class,
// which Sluice's Elasticsearch/OpenSearch sink answers to.
const ElasticsearchSinkClass = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"

func elasticsearchPlugin(o Options) *runtime.Plugin {
	return sinkPlugin(o, sinkSpec{
		class:     ElasticsearchSinkClass,
		aliases:   []string{"ElasticsearchSinkConnector", "elasticsearch", "opensearch"},
		taskClass: "io.confluent.connect.elasticsearch.ElasticsearchSinkTask",
		keys:      keysOf(elasticsearch.ConfigKeys()),
		required:  []string{"connection.url"},
		parse: func(cfg map[string]string) error {
			_, err := elasticsearch.ParseConfig(cfg)
			return err
		},
		open: func(ctx context.Context, cfg map[string]string, log *slog.Logger) (sink.Sink, error) {
			return elasticsearch.New(ctx, cfg, elasticsearch.WithLogger(log))
		},
	})
}
