package daemon

import (
	"context"
	"errors"

	"github.com/sluice-cdc/sluice/capture/mongodb"
	"github.com/sluice-cdc/sluice/event"
)

// newMongoDB builds the MongoDB source from its sluice.yaml entry (or a
// MongoDbConnector's flat Connect configuration).
func newMongoDB(cfg SourceConfig, p SourceParams) (Source, error) {
	src, err := mongodb.New(cfg.MongoDB, mongodb.Options{
		Name:        cfg.Name,
		TopicPrefix: cfg.TopicPrefix,
		URL:         cfg.URL,
		Tables:      cfg.Tables,
		Logger:      p.Logger,
		Registerer:  p.Registerer,
		Start:       p.Start,
	})
	if err != nil {
		return nil, err
	}
	return mongoSource{src}, nil
}

// mongoSource marks the MongoDB errors a restart cannot fix as permanent.
type mongoSource struct{ src *mongodb.Source }

func (s mongoSource) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	err := s.src.Run(ctx, emit)
	switch {
	case errors.Is(err, mongodb.ErrPrerequisite), // not a replica set
		errors.Is(err, mongodb.ErrBadPosition),   // the offset file is not ours
		errors.Is(err, mongodb.ErrNoDocumentKey), // the same event would fail again
		errors.Is(err, mongodb.ErrHistoryLost):   // the oplog no longer holds the position (snapshot.mode when_needed re-snapshots instead)
		return Permanent(err)
	}
	return err
}

func (s mongoSource) Ack(ctx context.Context, pos event.Position) error { return s.src.Ack(ctx, pos) }
