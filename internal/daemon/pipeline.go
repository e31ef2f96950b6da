package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/publish"
)

// OffsetStore keeps the last position each source may resume from. Save
// must be durable when it returns.
type OffsetStore interface {
	Load(key string) ([]byte, error)
	Save(key string, pos []byte) error
}

// pipeline runs one source into one publisher: one attempt, from source
// start to shutdown or failure. The supervisor makes a new one per restart.
//
// Goroutines: the caller's runs Source.Run (and emit, on the source's
// goroutine); one more runs the ack loop. The order of the commit is fixed:
// Kafka acknowledges (the tracker's Committed advances), then the offset is
// saved, then the source is acked; so a position the database forgets is
// always saved, and a saved position is always in Kafka.
type pipeline struct {
	name         string
	src          Source
	pub          *publish.Publisher
	conv         *converter
	store        OffsetStore
	log          *slog.Logger
	flushTimeout time.Duration
	// flushEvery is the least time between two commits (save and ack).
	flushEvery time.Duration

	// onTopic, when set, is told each topic the source first publishes to
	// (the runtime's active topics); seen holds those told.
	onTopic func(string)
	seen    map[string]bool

	// saved and acked are the last positions saved and acked; only the ack
	// loop, then (after it stopped) run, touch them.
	saved, acked event.Position
}

// errTrackerFailed wraps a delivery failure reported by the tracker.
var errTrackerFailed = errors.New("kafka delivery failed")

// run runs the source until ctx ends (nil), the source stops by itself
// (nil), or something fails (the error). Whatever the outcome it flushes the
// publisher, bounded by flushTimeout, and commits the final position before
// returning, so that a restart resumes as late as possible.
func (p *pipeline) run(ctx context.Context) error {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	ackCtx, stopAck := context.WithCancel(context.Background())
	ackDone := make(chan error, 1)
	go func() { ackDone <- p.ackLoop(ackCtx, cancel) }()

	srcErr := p.src.Run(runCtx, p.emit)

	fctx, fcancel := context.WithTimeout(context.Background(), p.flushTimeout)
	flushErr := p.pub.Flush(fctx)
	if flushErr != nil && ctx.Err() != nil && fctx.Err() == nil && isContextErr(flushErr) {
		// Shutdown interrupted a Publish waiting for buffer space: the
		// records before it are flushed, the rest were never handed over.
		flushErr = nil
	}
	fcancel()
	stopAck()
	ackErr := <-ackDone

	cctx, ccancel := context.WithTimeout(context.Background(), p.flushTimeout)
	commitErr := p.commit(cctx)
	ccancel()

	shutdown := ctx.Err() != nil
	switch {
	case ackErr != nil:
		return ackErr
	case srcErr != nil && !(runCtx.Err() != nil && isContextErr(srcErr)):
		return fmt.Errorf("source: %w", srcErr)
	case commitErr != nil:
		return commitErr
	case flushErr != nil && shutdown:
		return fmt.Errorf("shutdown: %w (records not flushed are sent again on the next start)", flushErr)
	case flushErr != nil:
		return flushErr
	}
	return nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// emit is the callback the source hands batches to. It blocks while the
// publisher's buffer is full, which is the source's back-pressure.
func (p *pipeline) emit(ctx context.Context, b event.Batch) error {
	segs, err := p.conv.convert(ctx, b)
	if err != nil {
		if isRetriableConvert(err) {
			return fmt.Errorf("convert: %w", err) // a registry outage
		}
		// The same events would fail again after a restart.
		return Permanent(fmt.Errorf("convert: %w", err))
	}
	for _, s := range segs {
		if p.onTopic != nil {
			for _, r := range s.records {
				if !p.seen[r.Topic] {
					if p.seen == nil {
						p.seen = map[string]bool{}
					}
					p.seen[r.Topic] = true
					p.onTopic(r.Topic)
				}
			}
		}
		if len(s.records) > 0 {
			if err := p.pub.Publish(ctx, s.records); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
		}
		if s.mark != nil {
			p.pub.Tracker().Mark(s.mark)
		}
	}
	return nil
}

// ackLoop commits each time the tracker's committed position advances,
// at most once per flushEvery: an advance sooner after the last commit is
// committed when the interval is up. On a delivery failure it commits what
// Kafka did acknowledge, cancels the source through fail and returns the
// failure.
func (p *pipeline) ackLoop(ctx context.Context, fail context.CancelCauseFunc) error {
	tr := p.pub.Tracker()
	var last time.Time // of the last commit
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var timerC <-chan time.Time // non-nil while a commit is scheduled
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tr.Notify():
		case <-timerC:
			timerC = nil
		}
		if err := tr.Err(); err != nil {
			err = fmt.Errorf("%w: %w", errTrackerFailed, err)
			if cerr := p.commit(ctx); cerr != nil {
				p.log.Error("commit after delivery failure", obs.KeyError, cerr)
			}
			fail(err)
			return err
		}
		if timerC != nil {
			continue // a commit is already scheduled
		}
		if wait := p.flushEvery - time.Since(last); wait > 0 {
			timer.Reset(wait)
			timerC = timer.C
			continue
		}
		last = time.Now()
		if err := p.commit(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // stopping; run commits once more
			}
			fail(err)
			return err
		}
	}
}

// commit saves the tracker's committed position, then acks it to the source.
func (p *pipeline) commit(ctx context.Context) error {
	v, ok := p.pub.Tracker().Committed()
	if !ok {
		return nil
	}
	pos, isPos := v.(event.Position)
	if !isPos {
		return fmt.Errorf("commit: tracker holds a %T, want event.Position", v)
	}
	if !bytes.Equal(pos, p.saved) {
		if err := p.store.Save(p.name, pos); err != nil {
			return fmt.Errorf("save offset: %w", err)
		}
		p.saved = pos
	}
	if !bytes.Equal(pos, p.acked) {
		if err := p.src.Ack(ctx, pos); err != nil {
			return fmt.Errorf("ack source: %w", err)
		}
		p.acked = pos
		p.log.Debug("position committed", obs.KeyLSN, fmt.Sprintf("%x", []byte(pos)))
	}
	return nil
}
