package daemon

import (
	"context"
	"errors"

	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/event"
)

// newMySQL builds the MySQL/MariaDB source from its sluice.yaml entry.
func newMySQL(cfg SourceConfig, p SourceParams) (Source, error) {
	src, err := mysql.New(cfg.MySQL, mysql.Options{
		Name:        cfg.Name,
		TopicPrefix: cfg.TopicPrefix,
		URL:         cfg.URL,
		Tables:      cfg.Tables,
		Logger:      p.Logger,
		Registerer:  p.Registerer,
		Start:       p.Start,
		DataDir:     p.DataDir,
	})
	if err != nil {
		return nil, err
	}
	return mySource{src}, nil
}

// mySource marks the MySQL errors a restart cannot fix as permanent.
type mySource struct{ src *mysql.Source }

func (s mySource) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	err := s.src.Run(ctx, emit)
	switch {
	case errors.Is(err, mysql.ErrPrerequisite), // binlog settings, privileges
		errors.Is(err, mysql.ErrBadPosition),    // the offset file is not ours
		errors.Is(err, mysql.ErrBinlogPurged),   // needs snapshot.mode=when_needed or a reset
		errors.Is(err, mysql.ErrSchemaMismatch): // the schema history is missing or wrong
		return Permanent(err)
	}
	return err
}

func (s mySource) Ack(ctx context.Context, pos event.Position) error { return s.src.Ack(ctx, pos) }
