package daemon

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/outbox"
	"github.com/sluice-cdc/sluice/publish"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// converter turns events into serialized Kafka records, as Kafka Connect's
// key, value and header converters do for a source task.
type converter struct {
	key, value *jsonconv.Converter
	// avro, when set, encodes the sides whose converter type is avro
	// instead (see avro.go).
	avro *avroSides
	// header encodes struct, map and array header values as schemaless
	// JSON (see encodeHeader).
	header     *jsonconv.Converter
	tombstones bool
	// outbox, when set, routes the source's outbox events (outbox.go).
	outbox *outbox.Router
	// dlq, when set, takes the events whose conversion fails
	// (errors.tolerance: all, see deadletter.go).
	dlq *deadLetter
	// buf is the arena keys and values are encoded into (see encode).
	buf arena
}

// arena hands out the memory records are serialized into: records take
// consecutive pieces of a chunk, so a batch of records costs no allocation
// once chunks are recycled. A chunk goes back to the arena's free list when
// the producer has released every record cut from it (publish.Record.Buffer)
// and the arena has moved on to another; a chunk whose records are never
// released (a failed Publish) is left to the garbage collector. Only the
// goroutine converting takes pieces; releases come from the producer's.
type arena struct {
	cur  *chunk
	max  int  // the largest record (key and value) encoded so far
	size int  // the size of the current record so far
	used bool // the current record took a piece of cur
	free chunkList
}

// chunk is one arena chunk. refs counts the records using it, plus one while
// it is the arena's current chunk.
type chunk struct {
	buf  []byte // len is what is taken, cap the chunk size
	refs atomic.Int64
	home *chunkList
}

// Release implements publish.Releaser: one record no longer needs the chunk.
func (c *chunk) Release() {
	if c.refs.Add(-1) == 0 {
		c.home.put(c)
	}
}

// chunkList is the arena's free list, shared with the producer's goroutines.
type chunkList struct {
	mu    sync.Mutex
	items []*chunk
}

// maxFreeChunks bounds the free list (4 MiB of 256 KiB chunks): in a steady
// state chunks come back about as fast as they are taken.
const maxFreeChunks = 16

func (l *chunkList) put(c *chunk) {
	l.mu.Lock()
	if len(l.items) < maxFreeChunks {
		l.items = append(l.items, c)
	}
	l.mu.Unlock()
}

// get returns a free chunk of at least size bytes, or nil.
func (l *chunkList) get(size int) *chunk {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.items) > 0 {
		c := l.items[len(l.items)-1]
		l.items[len(l.items)-1] = nil
		l.items = l.items[:len(l.items)-1]
		if cap(c.buf) >= size {
			return c
		}
	}
	return nil
}

// arenaChunk is the size of an arena chunk: large enough for dozens of
// typical events, small enough that a chunk kept alive by one slow record
// costs little.
const arenaChunk = 256 << 10

// begin starts a record: it moves to a new chunk unless the current one has
// room for a record as large as the largest so far, so that a record's key
// and value share one chunk.
func (a *arena) begin() {
	a.used, a.size = false, 0
	if a.cur != nil && cap(a.cur.buf)-len(a.cur.buf) > a.max+a.max/8 {
		return
	}
	size := max(arenaChunk, 2*a.max)
	next := a.free.get(size)
	if next == nil {
		next = &chunk{buf: make([]byte, 0, size), home: &a.free}
	}
	next.buf = next.buf[:0]
	next.refs.Store(1)
	if a.cur != nil {
		a.cur.Release() // the arena's own hold
	}
	a.cur = next
}

// hold returns the chunk the current record took pieces of, counting the
// record as one more user, or nil when it took none.
func (a *arena) hold() publish.Releaser {
	if !a.used {
		return nil
	}
	a.cur.refs.Add(1)
	return a.cur
}

// encode encodes st with conv into the free room of the current chunk and
// returns the output as a piece of it with no spare capacity (so that
// appending to one record can never overwrite the next). When the output
// outgrows the room, conv allocates on its own and the output is used in
// place. Call begin first.
func (a *arena) encode(conv *jsonconv.Converter, st *event.Struct) ([]byte, error) {
	if st == nil {
		return nil, nil // Kafka's null
	}
	if a.cur == nil {
		a.begin()
	}
	c := a.cur
	off := len(c.buf)
	out, err := conv.EncodeStruct(c.buf[off:off], st)
	if err != nil || out == nil {
		return out, err
	}
	n := len(out)
	if n > 0 && cap(out) == cap(c.buf)-off && &out[0] == &c.buf[:off+1][off] {
		c.buf = c.buf[:off+n]
		a.used = true
	}
	a.size += n
	a.max = max(a.max, a.size)
	return out[:n:n], nil
}
func newConverter(c Config) (*converter, error) {
	key, err := jsonconv.New(jsonConfig(c.Converters.Key))
	if err != nil {
		return nil, fmt.Errorf("key converter: %w", err)
	}
	value, err := jsonconv.New(jsonConfig(c.Converters.Value))
	if err != nil {
		return nil, fmt.Errorf("value converter: %w", err)
	}
	hcfg := jsonconv.DefaultConfig()
	hcfg.SchemasEnable = false
	header, err := jsonconv.New(hcfg)
	if err != nil {
		return nil, fmt.Errorf("header converter: %w", err)
	}
	return &converter{key: key, value: value, header: header, tombstones: c.TombstonesOnDelete}, nil
}

func jsonConfig(c ConverterConfig) jsonconv.Config {
	j := jsonconv.DefaultConfig()
	j.SchemasEnable = c.SchemasEnable
	return j
}

// segment is a run of records to publish followed, optionally, by a
// position with no record of its own (a source heartbeat that has no
// topic) to mark on the tracker once the records are tracked.
type segment struct {
	records []publish.Record
	mark    event.Position
}

// convert serializes batch in order. An event with an empty Topic carries
// only its position and ends a segment.
//
// Every event gives its position to its last record: when a delete is
// followed by a tombstone, the delete record has none, so that the position
// is confirmed only once both are in Kafka.
func (c *converter) convert(ctx context.Context, batch event.Batch) ([]segment, error) {
	segs := []segment{{records: make([]publish.Record, 0, len(batch))}}
	for i := range batch {
		ev := &batch[i]
		cur := &segs[len(segs)-1]
		if ev.Topic == "" {
			if len(ev.Position) > 0 {
				cur.mark = ev.Position
				segs = append(segs, segment{})
			}
			continue
		}
		if c.outbox != nil {
			var routed bool
			var err error
			if segs, routed, err = c.routeOutbox(ctx, segs, ev); err != nil {
				return nil, err
			} else if routed {
				continue
			}
		}
		rec, err := c.record(ctx, ev)
		if err != nil {
			if !c.dlq.tolerates(ctx, err) {
				return nil, err
			}
			cur.records = append(cur.records, c.dlq.record(ev, err))
			continue
		}
		if c.tombstones && ev.Op == event.OpDelete {
			rec.Position = nil
			tomb := rec
			tomb.Value = nil
			tomb.Position = position(ev.Position)
			if tomb.Buffer != nil {
				tomb.Buffer = c.buf.hold() // the key is shared
			}
			cur.records = append(cur.records, rec, tomb)
			continue
		}
		cur.records = append(cur.records, rec)
	}
	return segs, nil
}

// record serializes one event.
func (c *converter) record(ctx context.Context, ev *event.Event) (publish.Record, error) {
	c.buf.begin()
	key, err := c.encode(ctx, ev, true, ev.Key)
	if err != nil {
		return publish.Record{}, &stageError{stageKeyConverter, c.converterClass(true), fmt.Errorf("encode key for topic %q: %w", ev.Topic, err)}
	}
	var v *event.Struct
	if c.avro == nil || c.avro.value.conv == nil {
		// jsonconv checks every value against its schema as it writes it:
		// no need to walk the value once more beforehand.
		v, err = ev.UncheckedValue()
	} else {
		v, err = ev.Value()
	}
	if err != nil {
		return publish.Record{}, &stageError{stageValueConverter, c.converterClass(false), fmt.Errorf("build value for topic %q: %w", ev.Topic, err)}
	}
	value, err := c.encode(ctx, ev, false, v)
	if err != nil {
		return publish.Record{}, &stageError{stageValueConverter, c.converterClass(false), fmt.Errorf("encode value for topic %q: %w", ev.Topic, err)}
	}
	rec := publish.Record{Topic: ev.Topic, Key: key, Value: value, Position: position(ev.Position), Buffer: c.buf.hold()}
	if len(ev.Headers) > 0 {
		rec.Headers = make([]publish.Header, len(ev.Headers))
		for i, h := range ev.Headers {
			b, err := c.encodeHeader(h)
			if err != nil {
				return publish.Record{}, &stageError{stageHeaderConverter, classHeaderConverter, fmt.Errorf("encode header %q for topic %q: %w", h.Key, ev.Topic, err)}
			}
			rec.Headers[i] = publish.Header{Key: h.Key, Value: b}
		}
	}
	return rec, nil
}

// converterClass names the Connect class of the key or value converter.
func (c *converter) converterClass(isKey bool) string {
	if c.avro != nil && (isKey && c.avro.key.conv != nil || !isKey && c.avro.value.conv != nil) {
		return classAvroConverter
	}
	return classJSONConverter
}

// position returns pos as a tracker position: nil (no resume point) for an
// empty one, so that a nil event.Position never becomes a non-nil any.
func position(pos event.Position) any {
	if len(pos) == 0 {
		return nil
	}
	return pos
}

// encodeHeader writes a header value the simple way Kafka Connect's default
// SimpleHeaderConverter does for the common cases: strings and bytes raw,
// numbers and booleans as text, null as a null header. Structs, maps and
// arrays are written as schemaless JSON, which is simpler than, and not byte
// for byte, Connect's own string form; Debezium's only Postgres header with
// structure, __debezium.oldkey, reads back the same in JSON.
func (c *converter) encodeHeader(h event.Header) ([]byte, error) {
	switch v := h.Value.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	case bool:
		return strconv.AppendBool(nil, v), nil
	case int8, int16, int32, int64:
		return fmt.Appendf(nil, "%d", v), nil
	case float32:
		return strconv.AppendFloat(nil, float64(v), 'g', -1, 32), nil
	case float64:
		return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
	}
	return c.header.Encode(nil, h.Schema, h.Value)
}
