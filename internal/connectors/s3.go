package connectors

import (
	"context"
	"log/slog"

	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/sinks/s3"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// S3SinkClass is Confluent's S3 sink connector class, which Sluice's S3
// sink answers to.
const S3SinkClass = "io.confluent.connect.s3.S3SinkConnector"

// s3Plugin is the S3 sink. Its tasks.max tasks share the connector's
// consumer group; each recovers its partitions' offsets from the bucket
// when they are assigned.
func s3Plugin(o Options) *runtime.Plugin {
	return sinkPlugin(o, sinkSpec{
		class:     S3SinkClass,
		aliases:   []string{"S3SinkConnector", "s3"},
		taskClass: "io.confluent.connect.s3.S3SinkTask",
		keys:      keysOf(s3.ConfigKeys()),
		required:  []string{"s3.bucket.name", "flush.size"},
		parse: func(cfg map[string]string) error {
			_, err := s3.ParseConfig(cfg)
			return err
		},
		open: func(ctx context.Context, cfg map[string]string, log *slog.Logger) (sink.Sink, error) {
			c, err := s3.ParseConfig(cfg)
			if err != nil {
				return nil, err
			}
			return s3.New(ctx, c, nil, log)
		},
	})
}
