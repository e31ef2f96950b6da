package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Stage is where a record failed, named as Kafka Connect's Stage.
type Stage string

// The stages of a sink task.
const (
	StageKeyConverter    Stage = "KEY_CONVERTER"
	StageValueConverter  Stage = "VALUE_CONVERTER"
	StageHeaderConverter Stage = "HEADER_CONVERTER"
	StageTransformation  Stage = "TRANSFORMATION"
	StageTaskPut         Stage = "TASK_PUT"
)

// The __connect.errors.* context headers of a dead letter queue record.
const (
	HeaderTopic          = "__connect.errors.topic"
	HeaderPartition      = "__connect.errors.partition"
	HeaderOffset         = "__connect.errors.offset"
	HeaderConnectorName  = "__connect.errors.connector.name"
	HeaderTaskID         = "__connect.errors.task.id"
	HeaderStage          = "__connect.errors.stage"
	HeaderClassName      = "__connect.errors.class.name"
	HeaderExceptionClass = "__connect.errors.exception.class.name"
	HeaderExceptionMsg   = "__connect.errors.exception.message"
	HeaderExceptionTrace = "__connect.errors.exception.stacktrace"
)

// Exception class names reported for Sluice errors.
const (
	DataExceptionClass    = "org.apache.kafka.connect.errors.DataException"
	ConnectExceptionClass = "org.apache.kafka.connect.errors.ConnectException"
)

// retryDelayMin is Kafka Connect's first backoff (RETRIES_DELAY_MIN_MS).
const retryDelayMin = 300 * time.Millisecond

// ErrToleranceExceeded is wrapped by the error of a record that failed
// under errors.tolerance none.
var ErrToleranceExceeded = errors.New("tolerance exceeded in error handler")

type retriableError struct{ err error }

func (e retriableError) Error() string   { return e.err.Error() }
func (e retriableError) Unwrap() error   { return e.err }
func (e retriableError) Retriable() bool { return true }

// Retriable marks err as retriable (Kafka Connect's RetriableException):
// the task retries the operation within errors.retry.timeout.
func Retriable(err error) error {
	if err == nil {
		return nil
	}
	return retriableError{err}
}

// IsRetriable reports whether an error in err's chain says it is retriable:
// a Retriable() bool, Temporary() bool or Timeout() bool method returning
// true (network errors), or a retriable Kafka error.
func IsRetriable(err error) bool {
	for e := err; e != nil; {
		switch x := e.(type) {
		case interface{ Retriable() bool }:
			if x.Retriable() {
				return true
			}
		case interface{ Temporary() bool }:
			if x.Temporary() {
				return true
			}
		case interface{ Timeout() bool }:
			if x.Timeout() {
				return true
			}
		}
		switch x := e.(type) {
		case interface{ Unwrap() error }:
			e = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, in := range x.Unwrap() {
				if IsRetriable(in) {
					return true
				}
			}
			return false
		default:
			return kerr.IsRetriable(e)
		}
	}
	return false
}

// retry runs op until it succeeds, fails with a non-retriable error, or
// the retry timeout passes; the backoff doubles from 300 ms up to max.
func retry(ctx context.Context, ec ErrorsConfig, log *slog.Logger, what string, op func() error) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || ec.RetryTimeout == 0 || !IsRetriable(err) || ctx.Err() != nil {
			return err
		}
		wait := backoff(attempt, ec.RetryDelayMax)
		if ec.RetryTimeout > 0 {
			left := ec.RetryTimeout - time.Since(start)
			if left <= 0 {
				return err
			}
			wait = min(wait, left)
		}
		log.Warn("retriable error, retrying", "what", what, "attempt", attempt, "backoff", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// backoff is the wait after the attempt-th failure: 300 ms doubling,
// capped at max.
func backoff(attempt int, maxDelay time.Duration) time.Duration {
	d := retryDelayMin
	for i := 1; i < attempt && d < maxDelay; i++ {
		d *= 2
	}
	return max(min(d, maxDelay), 0)
}

// failure is one record set aside (tolerance all) or failing the task.
type failure struct {
	rec   *kgo.Record
	stage Stage
	class string // the executing class
	err   error
}

func (f failure) exceptionClass() string {
	var ec interface{ ExceptionClass() string }
	if errors.As(f.err, &ec) {
		return ec.ExceptionClass()
	}
	if f.stage == StageTaskPut {
		return ConnectExceptionClass
	}
	return DataExceptionClass
}

// fatal is the task's error for f under tolerance none.
func (f failure) fatal() error {
	return fmt.Errorf("%w: stage %s (%s) of record %s/%d@%d: %w", ErrToleranceExceeded,
		f.stage, f.class, f.rec.Topic, f.rec.Partition, f.rec.Offset, f.err)
}

// reporter logs failures (errors.log.enable) and writes the dead letter
// queue.
type reporter struct {
	cfg     Config
	log     *slog.Logger
	cl      *kgo.Client // nil without a DLQ
	pending []*kgo.Record
}

func newReporter(ctx context.Context, cfg Config, log *slog.Logger, clientOpts []kgo.Opt) (*reporter, error) {
	r := &reporter{cfg: cfg, log: log}
	if cfg.Errors.DLQTopic == "" || cfg.Errors.Tolerance != ToleranceAll {
		return r, nil
	}
	cl, err := kgo.NewClient(append(clientOpts, kgo.ProducerLinger(0))...)
	if err != nil {
		return nil, fmt.Errorf("dead letter queue producer: %w", err)
	}
	// Kafka Connect creates the topic with one partition when missing.
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, cfg.Errors.DLQReplicationFactor, nil, cfg.Errors.DLQTopic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		cl.Close()
		return nil, fmt.Errorf("create dead letter queue topic %s: %w", cfg.Errors.DLQTopic, err)
	}
	r.cl = cl
	return r, nil
}

func (r *reporter) close() {
	if r.cl != nil {
		r.cl.Close()
	}
}

// report logs f and queues its dead letter record.
func (r *reporter) report(f failure) {
	ec := r.cfg.Errors
	if ec.LogEnable {
		attrs := []any{"connector", r.cfg.Name, "task", r.cfg.TaskID, "stage", string(f.stage), "class", f.class,
			"topic", f.rec.Topic, "partition", f.rec.Partition, "offset", f.rec.Offset, "err", f.err}
		if ec.LogIncludeMessages {
			attrs = append(attrs, "timestamp", f.rec.Timestamp, "key", f.rec.Key, "value", f.rec.Value)
		}
		r.log.Error("error encountered in task", attrs...)
	}
	if r.cl == nil {
		return
	}
	out := &kgo.Record{Topic: ec.DLQTopic, Key: f.rec.Key, Value: f.rec.Value, Timestamp: f.rec.Timestamp,
		Headers: append([]kgo.RecordHeader(nil), f.rec.Headers...)}
	if ec.DLQContextHeaders {
		msg := f.err.Error()
		exc := f.exceptionClass()
		for _, h := range [][2]string{
			{HeaderTopic, f.rec.Topic},
			{HeaderPartition, strconv.Itoa(int(f.rec.Partition))},
			{HeaderOffset, strconv.FormatInt(f.rec.Offset, 10)},
			{HeaderConnectorName, r.cfg.Name},
			{HeaderTaskID, strconv.Itoa(r.cfg.TaskID)},
			{HeaderStage, string(f.stage)},
			{HeaderClassName, f.class},
			{HeaderExceptionClass, exc},
			{HeaderExceptionMsg, msg},
			{HeaderExceptionTrace, exc + ": " + msg + "\n"},
		} {
			if slices.ContainsFunc(out.Headers, func(o kgo.RecordHeader) bool { return o.Key == h[0] }) {
				r.log.Error("dead letter record already has the header; kept the original", "header", h[0])
				continue
			}
			out.Headers = append(out.Headers, kgo.RecordHeader{Key: h[0], Value: []byte(h[1])})
		}
	}
	r.pending = append(r.pending, out)
}

// flush produces the queued dead letter records; the batch's offsets are
// committed only after it returns nil.
func (r *reporter) flush(ctx context.Context) error {
	if len(r.pending) == 0 {
		return nil
	}
	if err := r.cl.ProduceSync(ctx, r.pending...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d records to dead letter queue %s: %w", len(r.pending), r.cfg.Errors.DLQTopic, err)
	}
	r.pending = r.pending[:0]
	return nil
}
