package task

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// Transform changes or drops a record (false drops it). sinks/transform's
// Chain is one; the task does not depend on that package.
type Transform interface {
	Apply(r sink.Record) (sink.Record, bool, error)
}

// Busy is an optional interface of a sink.Sink: while Busy reports true the
// task pauses fetching instead of handing it more records.
type Busy interface {
	Busy() bool
}

// Option configures Run.
type Option func(*options)

type options struct {
	log            *slog.Logger
	clientOpts     []kgo.Opt
	transform      Transform
	transformClass string
	onTopic        func(string)
	key, value     Converter
	header         Converter
	busyPoll       time.Duration
	idlePoll       time.Duration
}

// WithLogger sets the task's logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClientOptions adds franz-go options (at least kgo.SeedBrokers) to the
// task's consumer and dead letter queue producer.
func WithClientOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.clientOpts = append(o.clientOpts, opts...) }
}

// WithTransform applies t to every converted record before Put; class is
// reported as __connect.errors.class.name of its failures unless the
// error names its own (a TransformClass() string method).
func WithTransform(t Transform, class string) Option {
	return func(o *options) { o.transform, o.transformClass = t, class }
}

// WithTopicHook calls fn with the topic of every consumed record (a
// connector's active topics).
func WithTopicHook(fn func(topic string)) Option { return func(o *options) { o.onTopic = fn } }

// WithConverters replaces the converters the configuration names (nil
// keeps the configured one): an Avro converter over an in-process
// registry, a test converter.
func WithConverters(key, value, header Converter) Option {
	return func(o *options) { o.key, o.value, o.header = key, value, header }
}

type runner struct {
	cfg   Config
	opts  options
	sink  sink.Sink
	log   *slog.Logger
	rep   *reporter
	convs [3]Converter // key, value, header
	class [3]string
	// track and openErr serve the optional sink hooks (hooks.go).
	track   *tracker
	openErr atomic.Pointer[error]
}

type coord struct {
	topic     string
	partition int32
	offset    int64
}

// Run consumes cfg's topics and writes them to s until ctx ends (nil) or
// the task fails. It does not close s.
// metadataMaxAge is how often a sink task looks for new topics.
const metadataMaxAge = 10 * time.Second

func Run(ctx context.Context, cfg Config, s sink.Sink, opts ...Option) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("sink task %s: %w", cfg.Name, err)
	}
	r := &runner{cfg: cfg, sink: s, opts: options{busyPoll: 50 * time.Millisecond, idlePoll: DefaultIdleCommit}, track: newTracker()}
	for _, o := range opts {
		o(&r.opts)
	}
	r.log = r.opts.log
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxPollRecords == 0 {
		r.cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	hc := cfg.HeaderConverter
	if hc.Class == "" {
		hc.Class = DefaultHeaderConverter
	}
	for i, cc := range []ConverterConfig{cfg.KeyConverter, cfg.ValueConverter, hc} {
		given := [3]Converter{r.opts.key, r.opts.value, r.opts.header}[i]
		r.class[i], _ = CanonicalConverter(cc.Class)
		if r.class[i] == "" {
			r.class[i] = cc.Class
		}
		if given != nil {
			r.convs[i] = given
			continue
		}
		c, err := NewConverter(cc)
		if err != nil {
			return fmt.Errorf("sink task %s: %w", cfg.Name, err)
		}
		r.convs[i] = c
	}
	rep, err := newReporter(ctx, r.cfg, r.log, r.opts.clientOpts)
	if err != nil {
		return fmt.Errorf("sink task %s: %w", cfg.Name, err)
	}
	r.rep = rep
	defer rep.close()

	copts := append(slices.Clone(r.opts.clientOpts),
		kgo.ConsumerGroup(GroupID(cfg.Name)),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A topic the sink names may not exist yet (its source creates it
		// with its first record) and topics.regex must see new topics:
		// refresh metadata every few seconds rather than every 5 minutes.
		kgo.MetadataMaxAge(metadataMaxAge),
		// Every record polled is flushed and committed before the client
		// may rebalance, so a revoked or lost partition has nothing
		// pending: these only log, and let a PartitionTracker sink drop
		// what it buffered past the committed offsets.
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.log.Info("partitions revoked", "partitions", m)
			r.closeParts(m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.log.Warn("partitions lost", "partitions", m)
			r.closeParts(m)
		}),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.log.Info("partitions assigned", "partitions", m)
		}),
	)
	if _, ok := s.(PartitionTracker); ok {
		copts = append(copts, kgo.AdjustFetchOffsetsFn(r.adjust))
	}
	if cfg.SessionTimeout > 0 {
		copts = append(copts, kgo.SessionTimeout(cfg.SessionTimeout))
	}
	if cfg.HeartbeatInterval > 0 {
		copts = append(copts, kgo.HeartbeatInterval(cfg.HeartbeatInterval))
	}
	if cfg.TopicsRegex != "" {
		// Kafka Connect matches the whole topic name.
		copts = append(copts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+cfg.TopicsRegex+")$"))
	} else {
		copts = append(copts, kgo.ConsumeTopics(cfg.Topics...))
	}
	cl, err := kgo.NewClient(copts...)
	if err != nil {
		return fmt.Errorf("sink task %s: consumer: %w", cfg.Name, err)
	}
	defer func() {
		// Leaving waits for a rebalance this task may block and for a
		// coordinator that may be unreachable: bounded, the group then
		// expires the member itself.
		cl.AllowRebalance()
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cl.LeaveGroupContext(lctx)
		cancel()
		cl.Close()
	}()
	return r.loop(ctx, cl)
}

func (r *runner) loop(ctx context.Context, cl *kgo.Client) error {
	seen := map[string]bool{}
	for {
		if err := r.waitBusy(ctx, cl, seen); err != nil {
			return nil
		}
		fs := r.poll(ctx, cl)
		if ctx.Err() != nil {
			return nil
		}
		if err := r.openErr.Load(); err != nil {
			return fmt.Errorf("sink task %s-%d: %w", r.cfg.Name, r.cfg.TaskID, *err)
		}
		fs.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				r.log.Warn("fetch", "topic", topic, "partition", partition, "err", err)
			}
		})
		recs := fs.Records()
		committer, _ := r.sink.(Committer)
		if len(recs) == 0 {
			if committer != nil {
				// An idle poll: the sink may act on wall-clock time.
				if err := r.preCommit(ctx, cl, committer, nil); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					if !rejectedCommit(err) {
						return fmt.Errorf("sink task %s-%d: %w", r.cfg.Name, r.cfg.TaskID, err)
					}
					r.log.Warn("commit rejected by the group; records will be redelivered", "err", err)
				}
			}
			cl.AllowRebalance()
			continue
		}
		for _, rec := range recs {
			if !seen[rec.Topic] {
				seen[rec.Topic] = true
				if r.opts.onTopic != nil {
					r.opts.onTopic(rec.Topic)
				}
			}
		}
		if err := r.process(ctx, recs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("sink task %s-%d: %w", r.cfg.Name, r.cfg.TaskID, err)
		}
		var err error
		if committer != nil {
			err = r.preCommit(ctx, cl, committer, recs)
		} else {
			err = cl.CommitRecords(ctx, recs...)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !rejectedCommit(err) {
				return fmt.Errorf("sink task %s-%d: commit offsets of group %s: %w", r.cfg.Name, r.cfg.TaskID, GroupID(r.cfg.Name), err)
			}
			// The group moved on without us (a rebalance timed out while
			// the batch was written): the records were flushed, the next
			// owner gets them again, the sink is idempotent.
			r.log.Warn("commit rejected by the group; records will be redelivered", "err", err)
		}
		cl.AllowRebalance()
	}
}

// waitBusy pauses fetching while the sink reports busy.
func (r *runner) waitBusy(ctx context.Context, cl *kgo.Client, seen map[string]bool) error {
	b, ok := r.sink.(Busy)
	if !ok || !b.Busy() {
		return nil
	}
	topics := slices.Clone(r.cfg.Topics)
	for t := range seen {
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	cl.PauseFetchTopics(topics...)
	defer cl.ResumeFetchTopics(topics...)
	r.log.Debug("sink busy, fetching paused", "topics", topics)
	t := time.NewTicker(r.opts.busyPoll)
	defer t.Stop()
	for b.Busy() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// process converts, transforms, puts and flushes one batch, and writes its
// dead letter records.
func (r *runner) process(ctx context.Context, recs []*kgo.Record) error {
	raws := make(map[coord]*kgo.Record, len(recs))
	batch := make([]sink.Record, 0, len(recs))
	for _, raw := range recs {
		raws[coord{raw.Topic, raw.Partition, raw.Offset}] = raw
		rec, keep, f, err := r.convert(ctx, raw)
		if err != nil {
			return err
		}
		if f != nil {
			if err := r.handle(*f); err != nil {
				return err
			}
			continue
		}
		if keep {
			batch = append(batch, rec)
		}
	}
	if len(batch) > 0 {
		// A PartitionTracker's Open may run meanwhile (kgo fetches a new
		// assignment's offsets concurrently with polls of the others).
		r.track.mu.Lock()
		err := r.put(ctx, batch, raws)
		if _, ok := r.sink.(Committer); err == nil && !ok {
			err = r.flush(ctx, raws)
		}
		r.track.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return r.rep.flush(ctx)
}

// flush flushes the sink. A record the target refused at flush time comes
// back as a *sink.RecordError (the sink dropped it and kept the rest): it
// is set aside or fails the task, as at Put, and the sink is flushed again.
func (r *runner) flush(ctx context.Context, raws map[coord]*kgo.Record) error {
	refused := map[coord]bool{}
	for {
		err := retry(ctx, r.cfg.Errors, r.log, "flush", func() error { return r.sink.Flush(ctx) })
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var re *sink.RecordError
		if !errors.As(err, &re) {
			return fmt.Errorf("flush: %w", err)
		}
		c := coord{re.Record.OriginalTopic, re.Record.Partition, re.Record.Offset}
		if raws[c] == nil || refused[c] {
			return fmt.Errorf("flush: the sink refused a record not in the batch, or one it had already dropped: %w", err)
		}
		refused[c] = true
		if err := r.handle(failure{rec: raws[c], stage: StageTaskPut, class: r.taskClass(), err: re.Err}); err != nil {
			return err
		}
	}
}

// handle sets a failed record aside (tolerance all) or fails the task.
func (r *runner) handle(f failure) error {
	if r.cfg.Errors.Tolerance != ToleranceAll {
		if r.cfg.Errors.LogEnable {
			r.rep.report(f) // logs only: no dead letter queue under none
		}
		return f.fatal()
	}
	r.rep.report(f)
	return nil
}

func (r *runner) put(ctx context.Context, batch []sink.Record, raws map[coord]*kgo.Record) error {
	for len(batch) > 0 {
		err := retry(ctx, r.cfg.Errors, r.log, "put", func() error { return r.sink.Put(ctx, batch) })
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var re *sink.RecordError
		if !errors.As(err, &re) {
			return fmt.Errorf("put %d records: %w", len(batch), err)
		}
		c := coord{re.Record.OriginalTopic, re.Record.Partition, re.Record.Offset}
		i := slices.IndexFunc(batch, func(b sink.Record) bool {
			return b.OriginalTopic == c.topic && b.Partition == c.partition && b.Offset == c.offset
		})
		if i < 0 || raws[c] == nil {
			return fmt.Errorf("put %d records: the sink rejected a record not in the batch: %w", len(batch), err)
		}
		if err := r.handle(failure{rec: raws[c], stage: StageTaskPut, class: r.taskClass(), err: re.Err}); err != nil {
			return err
		}
		batch = slices.Delete(slices.Clone(batch), i, i+1)
	}
	return nil
}

func (r *runner) taskClass() string {
	if r.cfg.TaskClass != "" {
		return r.cfg.TaskClass
	}
	return fmt.Sprintf("%T", r.sink)
}

// convert turns raw into a sink.Record: a failure when a stage fails for
// good, an error only when ctx ends.
func (r *runner) convert(ctx context.Context, raw *kgo.Record) (sink.Record, bool, *failure, error) {
	rec := sink.Record{Topic: raw.Topic, OriginalTopic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Timestamp: raw.Timestamp}
	conv := func(i int, stage Stage, data []byte) (*event.Schema, any, *failure) {
		var s *event.Schema
		var v any
		err := retry(ctx, r.cfg.Errors, r.log, string(stage), func() error {
			var err error
			s, v, err = r.convs[i].ToConnect(ctx, raw.Topic, data)
			return err
		})
		if err != nil {
			return nil, nil, &failure{rec: raw, stage: stage, class: r.class[i], err: err}
		}
		return s, v, nil
	}
	var f *failure
	if rec.KeySchema, rec.Key, f = conv(0, StageKeyConverter, raw.Key); f != nil {
		return rec, false, f, ctx.Err()
	}
	if rec.ValueSchema, rec.Value, f = conv(1, StageValueConverter, raw.Value); f != nil {
		return rec, false, f, ctx.Err()
	}
	for _, h := range raw.Headers {
		s, v, f := conv(2, StageHeaderConverter, h.Value)
		if f != nil {
			return rec, false, f, ctx.Err()
		}
		rec.Headers = append(rec.Headers, sink.Header{Key: h.Key, Schema: s, Value: v})
	}
	if r.opts.transform == nil {
		return rec, true, nil, nil
	}
	var out sink.Record
	var keep bool
	err := retry(ctx, r.cfg.Errors, r.log, string(StageTransformation), func() error {
		var err error
		out, keep, err = r.opts.transform.Apply(rec.Clone())
		return err
	})
	if err != nil {
		class := r.opts.transformClass
		if class == "" {
			class = fmt.Sprintf("%T", r.opts.transform)
		}
		var tc interface{ TransformClass() string }
		if errors.As(err, &tc) {
			class = tc.TransformClass()
		}
		return rec, false, &failure{rec: raw, stage: StageTransformation, class: class, err: err}, ctx.Err()
	}
	// Offsets belong to the consumed record whatever a transform did.
	out.OriginalTopic, out.Partition, out.Offset = raw.Topic, raw.Partition, raw.Offset
	return out, keep, nil, nil
}
