package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/semaphore"
)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("publisher closed")

// Publisher produces batches of records to Kafka and acknowledges each
// record's position to its Tracker once Kafka has it. One Publisher serves one
// source: the order of Publish calls is the order positions are tracked in.
type Publisher struct {
	log      *slog.Logger
	client   *kgo.Client
	topics   *topicCreator
	tracker  *Tracker
	m        *metrics
	buf      *semaphore.Weighted
	maxBuf   int64
	timeout  time.Duration // delivery.timeout.ms
	brokers  []string
	embedded *EmbeddedCluster         // started by New, stopped by Close
	promise  func(*kgo.Record, error) // p.onAck, made once

	mu     sync.Mutex // serializes Publish so tracking order is call order
	closed atomic.Bool

	errMu sync.Mutex
	err   error // first fatal error
}

// Option configures a Publisher.
type Option func(*options)

type options struct {
	log     *slog.Logger
	reg     prometheus.Registerer
	tracker *Tracker
	kgoOpts []kgo.Opt
}

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithRegisterer registers the publisher's metrics on reg; without it the
// metrics are kept but not exported.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithTracker makes the publisher acknowledge into t instead of a new Tracker.
func WithTracker(t *Tracker) Option { return func(o *options) { o.tracker = t } }

// WithClientOptions appends franz-go client options after the ones derived
// from Config (for tests and tuning the Config does not cover). Options that
// change acks, idempotence or the partitioner void this package's guarantees.
func WithClientOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kgoOpts = append(o.kgoOpts, opts...) }
}

// New validates cfg and returns a Publisher. It starts no goroutines of its
// own beyond the franz-go client's, except with bootstrap.servers [embedded],
// where it also starts the in-process broker (see EmbeddedCluster), which
// Close stops.
func New(cfg Config, opts ...Option) (*Publisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("publish config: %w", err)
	}
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.tracker == nil {
		o.tracker = NewTracker()
	}
	specs, err := newTopicSpecs(cfg.Topics)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	p := &Publisher{
		log:     o.log,
		tracker: o.tracker,
		m:       m,
		maxBuf:  int64(cfg.MaxBufferedBytes),
		timeout: time.Duration(cfg.DeliveryTimeoutMs) * time.Millisecond,
		buf:     semaphore.NewWeighted(int64(cfg.MaxBufferedBytes)),
	}
	p.promise = p.onAck
	if cfg.IsEmbedded() {
		e, err := StartEmbedded()
		if err != nil {
			return nil, err
		}
		p.embedded = e
		cfg.Brokers = e.Addrs()
		o.log.Warn("using the embedded in-memory Kafka broker: records are not durable", "brokers", cfg.Brokers)
	}
	p.brokers = cfg.Brokers
	kopts, err := clientOpts(cfg, o.log)
	if err != nil {
		p.closeEmbedded()
		return nil, err
	}
	client, err := kgo.NewClient(append(kopts, o.kgoOpts...)...)
	if err != nil {
		p.closeEmbedded()
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	p.client = client
	p.topics = &topicCreator{
		adm:   kadm.NewClient(client),
		specs: specs,
		auto:  cfg.Topics.AutoCreate,
		known: make(map[string]struct{}),
	}
	return p, nil
}

// Tracker returns the tracker the publisher acknowledges into.
func (p *Publisher) Tracker() *Tracker { return p.tracker }

// Brokers returns the seed brokers the publisher connects to; with the
// embedded broker, its loopback address.
func (p *Publisher) Brokers() []string { return p.brokers }

// Publish hands batch to the producer in order and returns once every record
// is buffered (it blocks while MaxBufferedBytes are waiting for acks). Each
// record's Position is tracked before it is produced; the Tracker learns of
// its acknowledgement asynchronously. Topics not yet known to exist are
// created first.
//
// An error means the batch was not fully handed over. If it occurs before
// any record of the batch was tracked (topic creation), the Publisher stays
// usable; otherwise (a canceled ctx while waiting for buffer space, a prior
// delivery failure) the Publisher is failed for good and Err reports why.
// Either way the source must not assume anything past Tracker().Committed().
func (p *Publisher) Publish(ctx context.Context, batch []Record) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if err := p.Err(); err != nil {
		return err
	}
	if err := p.topics.ensure(ctx, batch); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()

	// One allocation each for the batch's client records, their promise
	// state and their headers.
	recs := make([]kgo.Record, len(batch))
	infl := make([]inflight, len(batch))
	nh := 0
	for i := range batch {
		nh += len(batch[i].Headers)
	}
	var hdrs []kgo.RecordHeader
	if nh > 0 {
		hdrs = make([]kgo.RecordHeader, nh)
	}
	var tm *topicMetrics
	for i := 0; i < len(batch); {
		// Wait for buffer space for a run of records at once, then hand
		// them over; each record's promise releases its own share.
		j, cost := i, int64(0)
		for j < len(batch) && j-i < acquireRun {
			c := min(int64(batch[j].size()+recordOverhead), p.maxBuf)
			if j > i && cost+c > p.maxBuf/acquireRun {
				break
			}
			infl[j].cost = c
			cost += c
			j++
		}
		if err := p.buf.Acquire(ctx, cost); err != nil {
			err = fmt.Errorf("publish: wait for buffer space: %w", err)
			if i > 0 {
				p.fail(err)
			}
			return err
		}
		if err := p.Err(); err != nil {
			p.buf.Release(cost)
			return err
		}
		start := time.Now()
		p.m.buffered.Add(float64(j - i))
		for ; i < j; i++ {
			r := &batch[i]
			kr := &recs[i]
			kr.Topic, kr.Key, kr.Value = r.Topic, r.Key, r.Value
			kr.Timestamp = r.Timestamp // zero: the client stamps it now
			if len(r.Headers) > 0 {
				h := hdrs[:len(r.Headers):len(r.Headers)]
				hdrs = hdrs[len(r.Headers):]
				for k, rh := range r.Headers {
					h[k] = kgo.RecordHeader{Key: rh.Key, Value: rh.Value}
				}
				kr.Headers = h
			}
			if tm == nil || tm.topic != r.Topic {
				tm = p.m.topic(r.Topic)
			}
			st := &infl[i]
			st.tk = p.tracker.Track(r.Position)
			st.size = r.size()
			st.start = start
			st.deadline = start.Add(p.timeout)
			st.tm = tm
			st.buf = r.Buffer
			st.partition, st.explicit = r.Partition, r.ExplicitPartition
			// The record carries its promise state in its Context, done
			// only once the delivery timeout has passed: the context given
			// to Publish only bounded the wait above; a record once handed
			// over lives until Kafka answers or the delivery timeout fails
			// it, so that canceling a Publish never fails records behind
			// the source's back.
			kr.Context = st
			p.client.Produce(context.Background(), kr, p.promise)
		}
	}
	return nil
}

// acquireRun is the most records Publish waits for buffer space for at
// once; a run also stays under MaxBufferedBytes/acquireRun bytes (or is a
// single record), so that waiting in runs never holds back much memory.
const acquireRun = 64

// inflight is the promise state of one record handed to the client, and
// its Context: a context with no values that is done once the record's
// delivery timeout has passed.
type inflight struct {
	tk    Ticket
	cost  int64
	size  int
	start time.Time
	tm    *topicMetrics
	buf   Releaser
	// partition is the record's own partition when explicit is set; the
	// partitioner reads it from the record's Context (see
	// explicitPartitioner).
	partition int32
	explicit  bool
	deadline  time.Time // start + delivery.timeout.ms
}

// errDeliveryTimeout is the Context error of a record past its delivery
// timeout; it wraps kgo.ErrRecordTimeout, which franz-go's own timeout
// returns.
var errDeliveryTimeout = fmt.Errorf("delivery.timeout.ms passed: %w", kgo.ErrRecordTimeout)

// closedDone is the Done channel of a record past its deadline.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Done is the delivery timeout. franz-go only polls a record's Context
// (before writing its batch, and after a response or a failed metadata
// load: the moments it may fail a batch without breaking the idempotent
// producer's sequence numbers, as with its own RecordDeliveryTimeout), so
// a channel chosen at each poll is enough: no timer per record. Until the
// deadline Done is nil, which franz-go takes for "never canceled".
func (st *inflight) Done() <-chan struct{} {
	if time.Now().After(st.deadline) {
		return closedDone
	}
	return nil
}

// Err reports errDeliveryTimeout once the deadline has passed.
func (st *inflight) Err() error {
	if time.Now().After(st.deadline) {
		return errDeliveryTimeout
	}
	return nil
}

// Deadline implements context.Context.
func (st *inflight) Deadline() (time.Time, bool) { return st.deadline, true }

// Value implements context.Context: a record's Context carries no values.
func (st *inflight) Value(any) any { return nil }

// explicitPartition implements partitionPinner.
func (st *inflight) explicitPartition() (int32, bool) { return st.partition, st.explicit }

// onAck is the promise of every record; kr.Context is its *inflight.
func (p *Publisher) onAck(kr *kgo.Record, err error) {
	st := kr.Context.(*inflight)
	if st.buf != nil {
		// The client is done with the record's bytes.
		st.buf.Release()
	}
	p.buf.Release(st.cost)
	p.m.buffered.Dec()
	if err != nil {
		p.m.errors.WithLabelValues(kr.Topic).Inc()
		if st.explicit {
			err = fmt.Errorf("produce to topic %q partition %d: %w", kr.Topic, st.partition, err)
		} else {
			err = fmt.Errorf("produce to topic %q: %w", kr.Topic, err)
		}
		p.fail(err)
		p.tracker.Ack(st.tk, err)
		return
	}
	p.m.latency.Observe(time.Since(st.start).Seconds())
	st.tm.records.Inc()
	st.tm.bytes.Add(float64(st.size))
	p.tracker.Ack(st.tk, nil)
}

// fail records the first fatal error.
func (p *Publisher) fail(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err != nil {
		return
	}
	p.err = err
	p.log.Error("publisher failed; the committed position will not advance", "err", err)
}

// Err returns the error that failed the publisher (a record Kafka did not
// acknowledge within the delivery timeout, or an interrupted Publish), or
// nil. Once set it never clears: the publisher must be replaced and the
// source restarted from Tracker().Committed().
func (p *Publisher) Err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err != nil {
		return p.err
	}
	return p.tracker.Err()
}

// Flush waits until every record handed to Publish so far is acknowledged or
// failed, and returns Err. After a nil return, Tracker().Committed() is the
// position of the last record published (or of a later Mark).
func (p *Publisher) Flush(ctx context.Context) error {
	if err := p.client.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return p.Err()
}

// Close closes the client without flushing: records still buffered fail,
// and the tracker stops before them. Call Flush first for a clean shutdown.
// With the embedded broker, Close also stops it.
func (p *Publisher) Close() {
	if p.closed.Swap(true) {
		return
	}
	p.client.Close()
	p.closeEmbedded()
}

func (p *Publisher) closeEmbedded() {
	if p.embedded != nil {
		p.embedded.Close()
	}
}
