package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/s3/format"
	"github.com/sluice-cdc/sluice/sinks/sink"
	"github.com/sluice-cdc/sluice/sinks/task"
)

// User metadata of every object: the offsets of the set it belongs to (the
// first record's, the one after the last record's) and how many objects the
// set has. Offset recovery reads them (recover.go).
const (
	metaSetStart   = "sluice-set-start"
	metaSetEnd     = "sluice-set-end"
	metaSetObjects = "sluice-set-objects"
)

// abortTimeout bounds aborting a failed multipart upload.
const abortTimeout = 30 * time.Second

// uploadConcurrency is how many objects of a set go up at once.
const uploadConcurrency = 4

// Sink writes records to S3 objects; it implements sink.Sink,
// task.Committer and task.PartitionTracker (see the package doc).
type Sink struct {
	cfg     Config
	log     *slog.Logger
	st      *store
	part    partitioner
	rotTime extractor
	value   format.Format
	keys    format.Format
	headers format.Format
	parts   map[task.TopicPartition]*partState
	now     func() time.Time
	// spool names the spill files and holds the lock that marks them as
	// a live process's (spooldir.go).
	spool *spoolOwner
	// uploaded counts the bytes and objects uploaded.
	uploaded, objectsUp int64
	// memBytes is what the open and pending objects hold in memory;
	// spilled counts the objects moved to temporary files.
	memBytes, spilled int64
}

var (
	_ task.Committer        = (*Sink)(nil)
	_ task.PartitionTracker = (*Sink)(nil)
)

// partState is one Kafka partition's open set of files.
type partState struct {
	tp task.TopicPartition
	// next is the offset of the next record to write: records below it
	// were written to a set already (a Put the task retries) or are in
	// the bucket (recovered by OpenPartitions).
	next  int64
	files []*openFile // in creation order
	byKey map[string]*openFile
	// start is the first offset of the open set, last its last record's;
	// base its first record's time (rotate.interval.ms), opened the wall
	// clock when it was opened (rotate.schedule.interval.ms).
	start, last int64
	base        time.Time
	opened      time.Time
	// pending is a closed set not yet fully uploaded; pendingStart its
	// first offset.
	pending      []object
	pendingStart int64
	// broken is set when a side object failed to take a record its value
	// object took: Put fails with it until the partition is reopened.
	broken error
}

// openFile is one object of the open set (its value file and side files).
type openFile struct {
	topic, encoded string
	partition      int32
	start          int64
	count          int
	// The first record's schemas: those the objects' writers hold the
	// later records to (format.ErrSchemaChanged).
	valueSchema, keySchema *event.Schema
	value                  *objWriter
	keys, headers          *objWriter
}

type objWriter struct {
	f   format.Format
	buf spool
	w   format.Writer
}

type object struct {
	key  string
	body *spool
	meta map[string]string
}

// New checks the bucket and returns a sink writing to it through cl (nil:
// a client from c, see NewClient). It removes the spill files that dead
// processes left in s3.buffer.dir (see the package doc).
func New(ctx context.Context, c Config, cl *s3.Client, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cl == nil {
		var err error
		if cl, err = NewClient(ctx, c); err != nil {
			return nil, err
		}
	}
	s := &Sink{cfg: c, log: log, st: &store{cl: cl, cfg: c}, parts: map[task.TopicPartition]*partState{}, now: time.Now,
		spool: newSpoolOwner(c.SpoolDir)}
	// Spill files of processes that died (the lock they held went with
	// them) would stay forever: remove them. A failure only costs disk.
	if _, err := cleanSpoolDir(c.SpoolDir, log); err != nil {
		log.Warn("spill files of dead processes not removed", "err", err)
	}
	var err error
	if s.part, err = newPartitioner(c); err != nil {
		return nil, err
	}
	// rotate.interval.ms measures the partitioner's time for time-based
	// partitioners, the Kafka timestamp otherwise.
	s.rotTime = newExtractor(Config{Extractor: ExtractRecord})
	if tp, ok := s.part.(timePartitioner); ok {
		s.rotTime = tp.ts
	}
	if s.value, err = format.New(c.FormatClass, c.Format); err != nil {
		return nil, err
	}
	if c.StoreKeys {
		if s.keys, err = format.NewKeys(c.KeysFormatClass, c.Format); err != nil {
			return nil, fmt.Errorf("keys.format.class: %w", err)
		}
	}
	if c.StoreHeaders {
		if s.headers, err = format.NewHeaders(c.HeadersFormatClass, c.Format); err != nil {
			return nil, fmt.Errorf("headers.format.class: %w", err)
		}
	}
	if err := s.st.checkBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) state(tp task.TopicPartition) *partState {
	st := s.parts[tp]
	if st == nil {
		st = &partState{tp: tp, byKey: map[string]*openFile{}}
		s.parts[tp] = st
	}
	return st
}

// Put writes recs into the open sets, uploading each set that rotates. A
// record counts as written (a retried Put skips it) once it is in its
// object, even when the upload its rotation started fails: that set stays
// pending and goes up first next time.
func (s *Sink) Put(ctx context.Context, recs []sink.Record) error {
	for _, rec := range recs {
		st := s.state(task.TopicPartition{Topic: rec.OriginalTopic, Partition: rec.Partition})
		if err := s.upload(ctx, st); err != nil {
			return err
		}
		if rec.Offset < st.next {
			continue
		}
		if st.broken != nil {
			return st.broken
		}
		if err := s.write(ctx, st, rec); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) write(ctx context.Context, st *partState, rec sink.Record) error {
	if rec.Value == nil {
		switch s.cfg.NullValues {
		case NullIgnore:
			st.next = rec.Offset + 1
			return nil
		case NullFail:
			return &sink.RecordError{Record: rec, Err: errors.New("null value (behavior.on.null.values is fail)")}
		}
	}
	if err := s.checkSides(rec); err != nil {
		return err
	}
	if len(st.files) > 0 && s.cfg.RotateInterval > 0 {
		t, err := s.rotTime(rec)
		if err != nil {
			return &sink.RecordError{Record: rec, Err: err}
		}
		if t.Sub(st.base) >= s.cfg.RotateInterval {
			if err := s.rotate(ctx, st, "rotate.interval.ms"); err != nil {
				return err
			}
		}
	}
	enc, err := s.part.encode(rec)
	if err != nil {
		return &sink.RecordError{Record: rec, Err: err}
	}
	id := rec.Topic + "\x00" + enc
	f := st.byKey[id]
	// A new value or key schema starts new objects. Decided before
	// anything of the record is written, so that the value, keys and
	// headers objects of a set always hold the same records.
	if f != nil {
		if why := s.schemaChange(f, rec); why != "" {
			if err := s.rotate(ctx, st, why); err != nil {
				return err
			}
			f = nil
		}
	}
	for attempt := 0; ; attempt++ {
		if f == nil {
			if f, err = s.newFile(st, rec, enc); err != nil {
				return err
			}
			st.byKey[id] = f
			st.files = append(st.files, f)
		}
		err = s.account(f.spools(), func() error { return f.value.w.Write(rec) })
		if errors.Is(err, format.ErrSchemaChanged) && attempt == 0 {
			// schemaChange missed what the format saw; the value
			// writer wrote nothing and the side writers come after
			// it, so the set can still rotate cleanly.
			if err := s.rotate(ctx, st, "value schema change"); err != nil {
				return err
			}
			f = nil
			continue
		}
		if err != nil {
			return fmt.Errorf("write record %s/%d@%d to %s: %w", rec.OriginalTopic, rec.Partition, rec.Offset, s.objectKey(f, s.value), err)
		}
		break
	}
	for _, side := range []*objWriter{f.keys, f.headers} {
		if side == nil {
			continue
		}
		if err := s.account(f.spools(), func() error { return side.w.Write(rec) }); err != nil {
			// The value object has the record and this one has not:
			// the open set can be neither uploaded nor continued. The
			// partition fails until it is reopened (the task restarts
			// from a committed offset, at most the set's start).
			// The cause is kept as text only: the task must not retry
			// (a retriable cause, such as a full disk under a spill
			// file, would have it retry Put forever).
			st.broken = fmt.Errorf("write record %s/%d@%d to %s: %w at offset %d: %v",
				rec.OriginalTopic, rec.Partition, rec.Offset, s.objectKey(f, side.f), errOutOfStep, st.start, err)
			return st.broken
		}
	}
	// The record is in all its objects: it counts as written whatever
	// fails next, so that a retried Put does not write it again and the
	// cut points stay those of the records.
	f.count++
	st.last = rec.Offset
	st.next = rec.Offset + 1
	var err2 error
	if f.count >= s.cfg.FlushSize {
		err2 = s.rotate(ctx, st, "flush.size")
	}
	if err := s.enforceBudget(); err != nil && err2 == nil {
		err2 = err
	}
	return err2
}

// errOutOfStep marks a partition whose open set's objects no longer hold
// the same records.
var errOutOfStep = errors.New("the open set's objects are out of step")

// checkSides rejects, before anything of rec is written, a record the
// keys or headers object cannot take for want of data (Confluent fails on
// these too): a null key, no headers, a null header value.
func (s *Sink) checkSides(rec sink.Record) error {
	if s.keys != nil && rec.Key == nil {
		return &sink.RecordError{Record: rec, Err: errors.New("null key (store.kafka.keys is true)")}
	}
	if s.headers == nil {
		return nil
	}
	if len(rec.Headers) == 0 {
		return &sink.RecordError{Record: rec, Err: errors.New("no headers (store.kafka.headers is true)")}
	}
	for _, h := range rec.Headers {
		if h.Value == nil {
			return &sink.RecordError{Record: rec, Err: fmt.Errorf("header %q is null (store.kafka.headers is true)", h.Key)}
		}
	}
	return nil
}

// schemaChange returns why rec cannot join f because its value or key
// schema differs from f's first record's, or "". It is the check of the
// formats' writers (format.ErrSchemaChanged): a null value or key never
// differs, the headers' schema is fixed.
func (s *Sink) schemaChange(f *openFile, rec sink.Record) string {
	if rec.Value != nil && !rec.ValueSchema.Equal(f.valueSchema) {
		return "value schema change"
	}
	if s.keys != nil && rec.Key != nil && !rec.KeySchema.Equal(f.keySchema) {
		return "key schema change"
	}
	return ""
}

// newFile starts an object (and its side objects) with rec, opening the
// partition's set when it is empty.
func (s *Sink) newFile(st *partState, rec sink.Record, enc string) (*openFile, error) {
	f := &openFile{topic: rec.Topic, encoded: enc, partition: rec.Partition, start: rec.Offset,
		valueSchema: rec.ValueSchema, keySchema: rec.KeySchema}
	var err error
	mk := func(ff format.Format) *objWriter {
		if ff == nil || err != nil {
			return nil
		}
		ow := &objWriter{f: ff}
		if err = s.account([]*spool{&ow.buf}, func() error { ow.w, err = ff.NewWriter(&ow.buf, rec); return err }); err != nil {
			err = &sink.RecordError{Record: rec, Err: fmt.Errorf("start %s: %w", s.objectKey(f, ff), err)}
		}
		return ow
	}
	f.value, f.keys, f.headers = mk(s.value), mk(s.keys), mk(s.headers)
	if err != nil {
		for _, sp := range f.spools() {
			s.memBytes -= sp.inMemory()
			sp.release()
		}
		return nil, err
	}
	if len(st.files) == 0 {
		st.start = rec.Offset
		st.opened = s.now()
		if s.cfg.RotateInterval > 0 {
			if st.base, err = s.rotTime(rec); err != nil {
				return nil, &sink.RecordError{Record: rec, Err: err}
			}
		}
	}
	return f, nil
}

// objectKey is Confluent's object name of f in format ff:
// <topics.dir>/<topic>/<encoded partition>/<topic>+<partition>+<start>.<ext>.
func (s *Sink) objectKey(f *openFile, ff format.Format) string {
	d := s.cfg.DirDelim
	var b strings.Builder
	if s.cfg.TopicsDir != "" {
		b.WriteString(s.cfg.TopicsDir + d)
	}
	b.WriteString(f.topic + d + f.encoded + d + f.topic + s.cfg.FileDelim + strconv.Itoa(int(f.partition)) + s.cfg.FileDelim)
	b.WriteString(padOffset(f.start, s.cfg.PadWidth))
	b.WriteString(ff.Extension())
	return b.String()
}

func padOffset(off int64, width int) string {
	s := strconv.FormatInt(off, 10)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// rotate closes the partition's open set and uploads it.
func (s *Sink) rotate(ctx context.Context, st *partState, why string) error {
	if len(st.files) == 0 {
		return nil
	}
	var objs []object
	for _, f := range st.files {
		for _, ow := range []*objWriter{f.value, f.keys, f.headers} {
			if ow == nil {
				continue
			}
			key := s.objectKey(f, ow.f)
			if err := s.account(f.spools(), ow.w.Close); err != nil {
				return fmt.Errorf("finish %s: %w", key, err)
			}
			objs = append(objs, object{key: key, body: &ow.buf})
		}
	}
	meta := map[string]string{
		metaSetStart:   strconv.FormatInt(st.start, 10),
		metaSetEnd:     strconv.FormatInt(st.last+1, 10),
		metaSetObjects: strconv.Itoa(len(objs)),
	}
	for i := range objs {
		objs[i].meta = meta
	}
	s.log.Debug("rotate", "topic", st.tp.Topic, "partition", st.tp.Partition, "offset", st.start,
		"end", st.last+1, "objects", len(objs), "reason", why)
	st.pending, st.pendingStart = objs, st.start
	st.files, st.byKey = nil, map[string]*openFile{}
	return s.upload(ctx, st)
}

// upload uploads the partition's pending set, if any.
func (s *Sink) upload(ctx context.Context, st *partState) error {
	if len(st.pending) == 0 {
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadConcurrency)
	for _, o := range st.pending {
		g.Go(func() error { return s.st.put(gctx, o.key, o.body.reader(), o.body.size, o.meta) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("upload %s-%d set at offset %d: %w", st.tp.Topic, st.tp.Partition, st.pendingStart, err)
	}
	for _, o := range st.pending {
		s.uploaded += o.body.size
		s.objectsUp++
		s.memBytes -= o.body.inMemory()
		o.body.release()
	}
	st.pending = nil
	return nil
}

// Uploaded returns how many bytes and objects the sink has uploaded.
func (s *Sink) Uploaded() (bytes, objects int64) { return s.uploaded, s.objectsUp }

// Flush does nothing: the task commits what PreCommit returns.
func (s *Sink) Flush(context.Context) error { return nil }

// PreCommit uploads pending sets and those rotate.schedule.interval.ms
// closes, and returns per partition the offset before which everything is
// in the bucket: the open (or pending) set's first offset, or what the
// task consumed when nothing is open.
func (s *Sink) PreCommit(ctx context.Context, consumed map[task.TopicPartition]int64) (map[task.TopicPartition]int64, error) {
	out := make(map[task.TopicPartition]int64, len(consumed))
	for _, tp := range slices.SortedFunc(maps.Keys(s.parts), func(a, b task.TopicPartition) int {
		return strings.Compare(a.String(), b.String())
	}) {
		st := s.parts[tp]
		if err := s.upload(ctx, st); err != nil {
			return nil, err
		}
		if s.cfg.RotateSchedule > 0 && len(st.files) > 0 && st.broken == nil && s.now().Sub(st.opened) >= s.cfg.RotateSchedule {
			if err := s.rotate(ctx, st, "rotate.schedule.interval.ms"); err != nil {
				return nil, err
			}
		}
	}
	for tp, off := range consumed {
		st := s.parts[tp]
		switch {
		case st == nil:
			out[tp] = off
		case len(st.pending) > 0:
			out[tp] = st.pendingStart
		case len(st.files) > 0:
			out[tp] = st.start
		default:
			out[tp] = off
		}
	}
	return out, nil
}

// OpenPartitions drops any state of parts and recovers from the bucket
// where each one's last complete set ends.
func (s *Sink) OpenPartitions(ctx context.Context, parts []task.TopicPartition) (map[task.TopicPartition]int64, error) {
	for _, tp := range parts {
		s.drop(tp)
	}
	ends, err := s.recoverOffsets(ctx, parts)
	if err != nil {
		return nil, err
	}
	for tp, end := range ends {
		s.state(tp).next = end
		s.log.Info("offset recovered from the bucket", "topic", tp.Topic, "partition", tp.Partition, "offset", end)
	}
	return ends, nil
}

// ClosePartitions drops what was buffered for parts.
func (s *Sink) ClosePartitions(parts []task.TopicPartition) {
	for _, tp := range parts {
		s.drop(tp)
	}
}

// Close drops every open set: what was not uploaded is written again after
// a restart from the committed offsets. It removes the spill files and
// their lock file.
func (s *Sink) Close() error {
	for tp := range s.parts {
		s.drop(tp)
	}
	s.spool.close()
	return nil
}

// drop forgets a partition's open and pending objects.
func (s *Sink) drop(tp task.TopicPartition) {
	st := s.parts[tp]
	if st == nil {
		return
	}
	for _, sp := range st.spools() {
		s.memBytes -= sp.inMemory()
		sp.release()
	}
	delete(s.parts, tp)
}

// spools returns the buffers of the partition's open and pending objects.
func (st *partState) spools() []*spool {
	var out []*spool
	for _, o := range st.pending {
		out = append(out, o.body)
	}
	for _, f := range st.files {
		out = append(out, f.spools()...)
	}
	return out
}

func (f *openFile) spools() []*spool {
	var out []*spool
	for _, ow := range []*objWriter{f.value, f.keys, f.headers} {
		if ow != nil {
			out = append(out, &ow.buf)
		}
	}
	return out
}

// account runs fn, a write to the objects of sps, and adds what it put in memory
// to the sink's total.
func (s *Sink) account(sps []*spool, fn func() error) error {
	before := int64(0)
	for _, sp := range sps {
		before += sp.inMemory()
	}
	err := fn()
	after := int64(0)
	for _, sp := range sps {
		after += sp.inMemory()
	}
	s.memBytes += after - before
	return err
}

// enforceBudget moves the largest in-memory objects to temporary files
// until the sink holds at most s3.buffer.memory.bytes in memory. Where the
// bytes are kept changes nothing of what is uploaded.
func (s *Sink) enforceBudget() error {
	for s.memBytes > s.cfg.MemoryBudget {
		var largest *spool
		for _, st := range s.parts {
			for _, sp := range st.spools() {
				if largest == nil || sp.inMemory() > largest.inMemory() {
					largest = sp
				}
			}
		}
		if largest == nil || largest.inMemory() == 0 {
			return nil
		}
		n := largest.inMemory()
		if err := largest.spill(s.spool); err != nil {
			return err
		}
		s.memBytes -= n
		s.spilled++
	}
	return nil
}
