package connectors

import (
	"context"
	"log/slog"

	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/sinks/jdbc"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// JDBCSinkClass is Confluent's JDBC sink connector class, which Sluice's
// JDBC sink answers to.
const JDBCSinkClass = "io.confluent.connect.jdbc.JdbcSinkConnector"

func jdbcPlugin(o Options) *runtime.Plugin {
	return sinkPlugin(o, sinkSpec{
		class:     JDBCSinkClass,
		aliases:   []string{"JdbcSinkConnector", "jdbc"},
		taskClass: "io.confluent.connect.jdbc.sink.JdbcSinkTask",
		keys:      keysOf(jdbc.ConfigKeys()),
		required:  []string{"connection.url"},
		parse: func(cfg map[string]string) error {
			c, err := jdbc.ParseConfig(cfg)
			if err == nil {
				err = c.Validate()
			}
			return err
		},
		open: func(ctx context.Context, cfg map[string]string, log *slog.Logger) (sink.Sink, error) {
			return jdbc.New(ctx, cfg, jdbc.WithLogger(log))
		},
	})
}
