package daemon

import (
	"context"
	"errors"

	"github.com/sluice-cdc/sluice/capture/postgres"
	"github.com/sluice-cdc/sluice/event"
)

// newPostgres builds the Postgres source from its sluice.yaml entry.
func newPostgres(cfg SourceConfig, p SourceParams) (Source, error) {
	src, err := postgres.New(cfg.Postgres, postgres.Options{
		Name:        cfg.Name,
		TopicPrefix: cfg.TopicPrefix,
		URL:         cfg.URL,
		Tables:      cfg.Tables,
		Logger:      p.Logger,
		Registerer:  p.Registerer,
		Start:       p.Start,
		// The pipeline acks every position it saved.
		AwaitSnapshotAck: true,
	})
	if err != nil {
		return nil, err
	}
	return pgSource{src}, nil
}

// pgSource marks the Postgres errors a restart cannot fix as permanent.
type pgSource struct{ src *postgres.Source }

func (s pgSource) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	err := s.src.Run(ctx, emit)
	switch {
	case errors.Is(err, postgres.ErrPrerequisite), // auth, privileges, wal_level
		errors.Is(err, postgres.ErrSlotMissing), // resuming would skip changes
		errors.Is(err, postgres.ErrBadPosition): // the offset file is not ours
		return Permanent(err)
	}
	return err
}

func (s pgSource) Ack(ctx context.Context, pos event.Position) error { return s.src.Ack(ctx, pos) }
