package daemon

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sluice-cdc/sluice/event"
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
	// buf is the arena keys and values are encoded into (see encode).
	buf arena
}

// arena hands out the memory records are serialized into: a chunk is
// allocated once and records take consecutive pieces of it, so a batch of
// records costs a few allocations rather than one (or, with a growing
// buffer, several) per record. A chunk lives until the last record cut from
// it is released by the producer. Only the goroutine converting uses it.
type arena struct {
	chunk []byte // len is what is taken, cap the chunk size
	max   int    // the largest piece taken so far
}

// arenaChunk is the size of an arena chunk: large enough for dozens of
// typical events, small enough that a chunk kept alive by one slow record
// costs little.
const arenaChunk = 256 << 10

// encode encodes st with conv into the free room of the arena and returns
// the output as a piece of the arena with no spare capacity (so that
// appending to one record can never overwrite the next). When the output
// outgrows the room, conv allocates on its own and the output is used as is.
func (a *arena) encode(conv *jsonconv.Converter, st *event.Struct) ([]byte, error) {
	if st == nil {
		return nil, nil // Kafka's null
	}
	if cap(a.chunk)-len(a.chunk) <= a.max+a.max/8 {
		a.chunk = make([]byte, 0, max(arenaChunk, 2*a.max))
	}
	off := len(a.chunk)
	out, err := conv.EncodeStruct(a.chunk[off:off], st)
	if err != nil || out == nil {
		return out, err
	}
	n := len(out)
	a.max = max(a.max, n)
	if n > 0 && cap(out) == cap(a.chunk)-off && &out[0] == &a.chunk[:off+1][off] {
		a.chunk = a.chunk[:off+n]
	}
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
		rec, err := c.record(ctx, ev)
		if err != nil {
			return nil, err
		}
		if c.tombstones && ev.Op == event.OpDelete {
			rec.Position = nil
			tomb := rec
			tomb.Value = nil
			tomb.Position = position(ev.Position)
			cur.records = append(cur.records, rec, tomb)
			continue
		}
		cur.records = append(cur.records, rec)
	}
	return segs, nil
}

// record serializes one event.
func (c *converter) record(ctx context.Context, ev *event.Event) (publish.Record, error) {
	key, err := c.encode(ctx, ev, true, ev.Key)
	if err != nil {
		return publish.Record{}, fmt.Errorf("encode key for topic %q: %w", ev.Topic, err)
	}
	v, err := ev.Value()
	if err != nil {
		return publish.Record{}, fmt.Errorf("build value for topic %q: %w", ev.Topic, err)
	}
	value, err := c.encode(ctx, ev, false, v)
	if err != nil {
		return publish.Record{}, fmt.Errorf("encode value for topic %q: %w", ev.Topic, err)
	}
	rec := publish.Record{Topic: ev.Topic, Key: key, Value: value, Position: position(ev.Position)}
	if len(ev.Headers) > 0 {
		rec.Headers = make([]publish.Header, len(ev.Headers))
		for i, h := range ev.Headers {
			b, err := c.encodeHeader(h)
			if err != nil {
				return publish.Record{}, fmt.Errorf("encode header %q for topic %q: %w", h.Key, ev.Topic, err)
			}
			rec.Headers[i] = publish.Header{Key: h.Key, Value: b}
		}
	}
	return rec, nil
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
