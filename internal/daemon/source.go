package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/publish"
)

// Source is what the daemon needs from a capture connector: a blocking Run
// that hands batches of events to emit in log order, and Ack, called from
// another goroutine once every event up to a position is in Kafka and the
// position is saved.
type Source interface {
	Run(ctx context.Context, emit func(context.Context, event.Batch) error) error
	Ack(ctx context.Context, pos event.Position) error
}

// SourceParams is what a connector constructor gets besides its config.
type SourceParams struct {
	Logger *slog.Logger
	// Registerer is the process registry. A source labels its metrics with
	// connector=<name> itself and reuses collectors already registered by
	// an earlier start (prometheus.AlreadyRegisteredError).
	Registerer prometheus.Registerer
	// Start is the last saved position, nil on the first start.
	Start event.Position
	// DataDir is the daemon's data.dir, where a source may keep local state
	// of its own (the MySQL source's schema history file, for one).
	DataDir string
	// Kafka is the Kafka the source's events go to (the embedded broker's
	// address when embedded): the MySQL source keeps its schema history
	// there when schema.history.internal.kafka.topic names no other.
	Kafka publish.Config
}

// Constructor builds one source from its configuration. It is called again
// for every restart, with the position saved by then. It must start no
// goroutines and do no I/O; configuration problems are permanent errors.
type Constructor func(cfg SourceConfig, p SourceParams) (Source, error)

// Constructors maps connector kinds (see [SourceConfig.Kind]) to their
// constructors.
type Constructors map[string]Constructor

// ErrConnectorUnavailable is returned when no constructor is registered for a
// connector kind.
var ErrConnectorUnavailable = errors.New("connector not available yet")

// DefaultConstructors returns the connectors built into this binary.
func DefaultConstructors() Constructors {
	return Constructors{Postgres: newPostgres, MySQL: newMySQL, MongoDB: newMongoDB}
}

func (cs Constructors) build(cfg SourceConfig, p SourceParams) (Source, error) {
	ctor := cs[cfg.Kind()]
	if ctor == nil {
		return nil, Permanent(fmt.Errorf("source %q: connector %s: %w", cfg.Name, cfg.Kind(), ErrConnectorUnavailable))
	}
	src, err := ctor(cfg, p)
	if err != nil {
		// A constructor only validates, so retrying cannot help.
		return nil, Permanent(fmt.Errorf("source %q: %w", cfg.Name, err))
	}
	return src, nil
}

// Permanent marks err as one a restart cannot fix (bad configuration,
// authentication refused, a missing prerequisite): the supervisor stops
// instead of restarting the pipeline. A nil err stays nil.
//
// A connector need not import this package to mark an error: any error in
// the chain with a method Permanent() bool returning true counts, as
// [IsPermanent] checks.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or the first error it wraps that has a
// method Permanent() bool, says it is permanent.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() error   { return e.err }
func (e permanentError) Permanent() bool { return true }
