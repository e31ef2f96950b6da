package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/schemahistory"
	"github.com/sluice-cdc/sluice/publish"
)

// newMySQL builds the MySQL/MariaDB source from its sluice.yaml entry.
func newMySQL(cfg SourceConfig, p SourceParams) (Source, error) {
	opts := mysql.Options{
		Name:        cfg.Name,
		TopicPrefix: cfg.TopicPrefix,
		URL:         cfg.URL,
		Tables:      cfg.Tables,
		Logger:      p.Logger,
		Registerer:  p.Registerer,
		Start:       p.Start,
		DataDir:     p.DataDir,
	}
	var hist *schemahistory.Kafka
	if topic := cfg.MySQL.SchemaHistoryKafkaTopic; topic != "" {
		// The history's clients connect as the publishers do (client.id,
		// kafka.security), to the daemon's brokers unless the source names
		// its own: kafka.security applies to those too.
		kc := p.Kafka
		if b := cfg.MySQL.SchemaHistoryKafkaBrokers; len(b) > 0 {
			kc.Brokers = []string(b)
		}
		kopts, err := publish.ConnOptions(kc, p.Logger)
		if err != nil {
			return nil, fmt.Errorf("schema history: kafka: %w", err)
		}
		hist, err = schemahistory.New(schemahistory.Config{Brokers: kc.Brokers, Topic: topic, Logger: p.Logger, ClientOptions: kopts})
		if err != nil {
			return nil, fmt.Errorf("schema.history.internal.kafka.topic: %w", err)
		}
		opts.History = hist
	} else if cfg.MySQL.SchemaHistoryFile == "" && p.DataDir != "" && p.Logger != nil {
		p.Logger.Warn("the schema history is a file in data.dir: it does not follow the connector to another worker (sluice worker); set schema.history.internal.kafka.topic to keep it in Kafka",
			"file", mysql.DefaultHistoryFile(p.DataDir, cfg.Name))
	}
	src, err := mysql.New(cfg.MySQL, opts)
	if err != nil {
		return nil, err
	}
	return mySource{src: src, hist: hist}, nil
}

// mySource marks the MySQL errors a restart cannot fix as permanent, and
// releases the Kafka schema history's clients when the source stops.
type mySource struct {
	src  *mysql.Source
	hist *schemahistory.Kafka // nil unless the history is in Kafka
}

func (s mySource) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	if s.hist != nil {
		defer s.hist.Close()
	}
	err := s.src.Run(ctx, emit)
	switch {
	case errors.Is(err, mysql.ErrPrerequisite), // binlog settings, privileges
		errors.Is(err, mysql.ErrBadPosition),         // the offset file is not ours
		errors.Is(err, mysql.ErrBinlogPurged),        // needs snapshot.mode=when_needed or a reset
		errors.Is(err, mysql.ErrSchemaMismatch),      // the schema history is missing or wrong
		errors.Is(err, schemahistory.ErrTopicLayout): // the history topic could lose or reorder records
		return Permanent(err)
	}
	return err
}

func (s mySource) Ack(ctx context.Context, pos event.Position) error { return s.src.Ack(ctx, pos) }
