package avroconv

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/event"
)

// Registry is what the converter needs from a schema registry.
type Registry interface {
	// Register registers schema under subject (POST /subjects/{s}/versions)
	// and returns its global id; registering an identical schema again
	// returns the same id.
	Register(ctx context.Context, subject, schema string) (id int, err error)
	// SchemaByID returns the schema text of a global id.
	SchemaByID(ctx context.Context, id int) (schema string, err error)
	// Latest returns the subject's latest version.
	Latest(ctx context.Context, subject string) (id int, schema string, err error)
}

// SchemaLookup is implemented by registries that can find the id of an
// already registered schema without registering it (POST /subjects/{s}).
// auto.register.schemas=false needs it; Client implements it.
type SchemaLookup interface {
	Lookup(ctx context.Context, subject, schema string) (id int, err error)
}

// Errors callers branch on.
var (
	// ErrIncompatibleSchema: the registry refused the schema (HTTP 409)
	// because the subject's compatibility level forbids it.
	ErrIncompatibleSchema = errors.New("schema is incompatible with the subject's earlier versions")
	// ErrInvalidSchema: the registry rejected the schema text (HTTP 422).
	ErrInvalidSchema = errors.New("registry rejected the schema as invalid")
	// ErrSchemaNotFound: with auto.register.schemas=false, the schema is
	// not registered under the subject (or the subject does not exist).
	ErrSchemaNotFound = errors.New("schema not registered under subject")
	// ErrBadWireFormat: the data is not a Confluent wire-format record.
	ErrBadWireFormat = errors.New("not Confluent Avro wire format")
)

// compiled is the Avro form of one *event.Schema.
type compiled struct {
	json     []byte
	n        *node
	fp       [32]byte
	fullName string // record full name for the subject strategies
}

// writerEntry is what Encode needs for one (schema, subject): the id to
// write and the writer schema to walk.
type writerEntry struct {
	id int
	n  *node
}

type readerEntry struct {
	n *node
	s *event.Schema
}

type writerKey struct {
	s     *event.Schema
	topic string
	isKey bool
}

type subjectKey struct {
	subject string
	fp      [32]byte
}

// Converter encodes and decodes Connect data as Confluent's AvroConverter
// does. It is safe for concurrent use.
//
// Caches: the Avro schema of each *event.Schema (schemas are immutable and
// shared, so the pointer is the key), the writer id per (schema pointer,
// topic, key/value), ids per (subject, schema fingerprint) and parsed writer
// schemas per id. Encoding a record whose schema is already registered
// touches neither the registry nor the schema JSON.
type Converter struct {
	cfg      Config
	strategy Strategy
	reg      Registry

	schemas sync.Map // *event.Schema -> *compiled
	writers sync.Map // writerKey -> *writerEntry
	readers sync.Map // int -> *readerEntry

	mu  sync.Mutex
	ids map[subjectKey]*writerEntry

	pool sync.Pool // *avro.Writer
}

// New returns a converter for cfg over reg. The registry URL and TLS
// settings in cfg are the Client's business; New only uses the
// serializer settings.
func New(cfg Config, reg Registry) (*Converter, error) {
	st, err := ParseStrategy(cfg.SubjectNameStrategy)
	if err != nil {
		return nil, fmt.Errorf("avro converter config: subject.name.strategy: %w", err)
	}
	if reg == nil {
		return nil, errors.New("avro converter: nil registry")
	}
	if !cfg.AutoRegisterSchemas && !cfg.UseLatestVersion {
		if _, ok := reg.(SchemaLookup); !ok {
			return nil, errors.New("avro converter: auto.register.schemas=false needs a registry that can look schemas up")
		}
	}
	c := &Converter{cfg: cfg, strategy: st, reg: reg, ids: map[subjectKey]*writerEntry{}}
	c.pool.New = func() any { return avro.NewWriter(nil, 512) }
	return c, nil
}

// Compile returns the Avro schema JSON for s (AvroSchema), cached by
// pointer. The slice is shared; do not modify it.
func (c *Converter) Compile(s *event.Schema) ([]byte, error) {
	cs, err := c.compile(s)
	if err != nil {
		return nil, err
	}
	return cs.json, nil
}

func (c *Converter) compile(s *event.Schema) (*compiled, error) {
	if v, ok := c.schemas.Load(s); ok {
		return v.(*compiled), nil
	}
	n, err := toAvro(s)
	if err != nil {
		return nil, err
	}
	w := &schemaWriter{known: map[string]*node{}}
	if err := w.write(n); err != nil {
		return nil, err
	}
	if _, err := parseHamba(w.buf); err != nil {
		return nil, fmt.Errorf("avro schema for %s: %w", s.Name(), err)
	}
	cs := &compiled{json: w.buf, n: n, fp: sha256.Sum256(w.buf), fullName: n.typ}
	if n.typ == "record" {
		cs.fullName = n.fullName()
	}
	v, _ := c.schemas.LoadOrStore(s, cs)
	return v.(*compiled), nil
}

// Encode returns the Confluent wire-format bytes of v for topic; isKey
// selects the key or value subject. A nil v is Kafka's null (a tombstone or
// a null key) and returns nil, nil.
func (c *Converter) Encode(ctx context.Context, topic string, isKey bool, v *event.Struct) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return c.EncodeValue(ctx, topic, isKey, v.Schema(), v)
}

// EncodeValue is Encode for any Connect schema and value, as AvroConverter
// takes them: a primitive (an outbox record's string key or payload) is
// written with its schema, a union with null when optional, and registered
// under the subject of the topic like a record. A nil v is Kafka's null.
func (c *Converter) EncodeValue(ctx context.Context, topic string, isKey bool, s *event.Schema, v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	we, err := c.writer(ctx, topic, isKey, s)
	if err != nil {
		return nil, err
	}
	w := c.pool.Get().(*avro.Writer)
	defer c.pool.Put(w)
	w.Reset(nil)
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[1:], uint32(we.id))
	_, _ = w.Write(hdr[:])
	if err := encodeValue(w, we.n, s, v); err != nil {
		return nil, fmt.Errorf("encode %s for topic %s: %w", s.Name(), topic, err)
	}
	if w.Error != nil {
		return nil, fmt.Errorf("encode %s for topic %s: %w", s.Name(), topic, w.Error)
	}
	return append([]byte(nil), w.Buffer()...), nil
}

func (c *Converter) writer(ctx context.Context, topic string, isKey bool, s *event.Schema) (*writerEntry, error) {
	key := writerKey{s, topic, isKey}
	if v, ok := c.writers.Load(key); ok {
		return v.(*writerEntry), nil
	}
	cs, err := c.compile(s)
	if err != nil {
		return nil, err
	}
	subject := c.strategy.Subject(topic, isKey, cs.fullName)
	sk := subjectKey{subject, cs.fp}
	c.mu.Lock()
	we := c.ids[sk]
	c.mu.Unlock()
	if we == nil {
		if we, err = c.resolve(ctx, subject, s, cs); err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.ids[sk] = we
		c.mu.Unlock()
	}
	c.writers.Store(key, we)
	return we, nil
}

// resolve finds the writer id for a schema under a subject: register it,
// look it up, or take the subject's latest version.
func (c *Converter) resolve(ctx context.Context, subject string, s *event.Schema, cs *compiled) (*writerEntry, error) {
	switch {
	case c.cfg.AutoRegisterSchemas:
		id, err := c.reg.Register(ctx, subject, string(cs.json))
		if err != nil {
			return nil, fmt.Errorf("register schema %s under subject %s: %w", s.Name(), subject, err)
		}
		c.readers.LoadOrStore(id, &readerEntry{n: cs.n, s: s})
		return &writerEntry{id: id, n: cs.n}, nil
	case c.cfg.UseLatestVersion:
		id, latest, err := c.reg.Latest(ctx, subject)
		if err != nil {
			return nil, fmt.Errorf("latest schema of subject %s: %w", subject, err)
		}
		ln, err := parseSchema([]byte(latest))
		if err != nil {
			return nil, fmt.Errorf("latest schema of subject %s (id %d): %w", subject, id, err)
		}
		if err := canRead(latest, cs.json); err != nil {
			return nil, fmt.Errorf("%w: latest schema of subject %s (id %d) cannot be used for %s: %v",
				ErrIncompatibleSchema, subject, id, s.Name(), err)
		}
		return &writerEntry{id: id, n: ln}, nil
	default:
		id, err := c.reg.(SchemaLookup).Lookup(ctx, subject, string(cs.json))
		if err != nil {
			return nil, fmt.Errorf("look up schema %s under subject %s (auto.register.schemas=false): %w", s.Name(), subject, err)
		}
		c.readers.LoadOrStore(id, &readerEntry{n: cs.n, s: s})
		return &writerEntry{id: id, n: cs.n}, nil
	}
}

// canRead checks that a reader with schema reader can read data written
// with schema writer (Avro schema resolution, by hamba/avro).
func canRead(reader string, writer []byte) error {
	rs, err := parseHamba([]byte(reader))
	if err != nil {
		return err
	}
	ws, err := parseHamba(writer)
	if err != nil {
		return err
	}
	return avro.NewSchemaCompatibility().Compatible(rs, ws)
}

// Decode reads a Confluent wire-format record: it fetches the writer schema
// by the id the record carries (cached), rebuilds the Connect schema from
// the Avro schema's connect.* properties and decodes the value. nil data (a
// tombstone) gives nil, nil, nil.
func (c *Converter) Decode(ctx context.Context, data []byte) (*event.Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	if len(data) < 5 || data[0] != 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes, magic byte %#x", ErrBadWireFormat, len(data), firstByte(data))
	}
	id := int(binary.BigEndian.Uint32(data[1:5]))
	re, err := c.reader(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	r := &decoder{Reader: avro.NewReader(nil, 0).Reset(data[5:]), size: int64(len(data))}
	v, err := decodeValue(r, re.n, re.s)
	if err == nil && r.Error != nil {
		err = r.Error
	}
	if err != nil {
		return nil, nil, fmt.Errorf("decode record with schema id %d: %w", id, err)
	}
	return re.s, v, nil
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func (c *Converter) reader(ctx context.Context, id int) (*readerEntry, error) {
	if v, ok := c.readers.Load(id); ok {
		return v.(*readerEntry), nil
	}
	text, err := c.reg.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	if _, err := parseHamba([]byte(text)); err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	n, err := parseSchema([]byte(text))
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	s, err := toConnect(n)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	v, _ := c.readers.LoadOrStore(id, &readerEntry{n: n, s: s})
	return v.(*readerEntry), nil
}
