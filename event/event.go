package event

import (
	"errors"
	"fmt"
	"time"
)

// Op is a Debezium operation code, the envelope's "op" field.
type Op byte

// Debezium operation codes.
const (
	OpCreate   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpRead     Op = 'r' // snapshot read
	OpTruncate Op = 't'
	OpMessage  Op = 'm' // logical decoding message (Postgres pg_logical_emit_message)
)

// String returns the one-letter code, as in the envelope.
func (o Op) String() string {
	if s := opStrings[o]; s != "" {
		return s
	}
	return string(rune(o))
}

// opStrings and opValues hold each defined code as a string and as that
// string boxed, so that building an envelope allocates neither.
var (
	opStrings [256]string
	opValues  [256]any
)

func init() {
	for _, o := range []Op{OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate, OpMessage} {
		opStrings[o] = string(rune(o))
		opValues[o] = opStrings[o]
	}
}

// value returns o.String() as an any.
func (o Op) value() any {
	if v := opValues[o]; v != nil {
		return v
	}
	return o.String()
}

// Valid reports whether o is one of the defined codes.
func (o Op) Valid() bool {
	switch o {
	case OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate, OpMessage:
		return true
	}
	return false
}

// Position is a source's opaque position for an event (for example an
// encoded Postgres LSN). Only the source that produced it interprets it;
// everything downstream just carries it back in acknowledgements, in the
// source's emit order.
type Position []byte

// Transaction is Debezium's transaction block (provide.transaction.metadata).
type Transaction struct {
	ID                  string
	TotalOrder          int64
	DataCollectionOrder int64
}

// Message is the content of a logical decoding message event (op=m).
// Content must match the schema of the "message.content" field the source
// built: []byte for binary.handling.mode=bytes, a string for base64, base64
// URL-safe or hex; the source applies the mode.
type Message struct {
	Prefix  string
	Content any
}

// Header is one Kafka record header carried as Connect data, e.g. Debezium's
// __debezium.oldkey on primary-key changes. Converters encode it with the
// header converter.
type Header struct {
	Key    string
	Schema *Schema
	Value  any
}

// Event is one change record as a source produces it.
//
// Topic, Key and the schemas are decided by the source (topic naming, key
// columns, envelope). ValueSchema is the record value schema: normally the
// table's EnvelopeSchema, or for op=m the source's message value schema.
// Value builds the record value from it.
type Event struct {
	Op          Op
	Before      *Struct // row before the change; nil for create, read, truncate
	After       *Struct // row after the change; nil for delete, truncate
	Source      *Struct // connector-specific source block
	Transaction *Transaction
	Message     *Message // op=m only

	// Envelope timestamps: when the connector processed the event.
	TsMs, TsUs, TsNs int64

	Topic       string
	Key         *Struct // nil when the table has no key (and for truncate)
	ValueSchema *Schema
	Headers     []Header

	// Raw, when set, is the whole record value: Value returns it as is and
	// ignores ValueSchema and the envelope fields. Sources use it for
	// records that are not change envelopes and carry fields Value cannot
	// fill by name, such as Debezium's transaction BEGIN/END records.
	Raw *Struct

	// Position is the source position of this event, opaque to all but the
	// source.
	Position Position
}

// SetTimestamp fills TsMs, TsUs and TsNs from t as Debezium does (truncating).
func (e *Event) SetTimestamp(t time.Time) {
	e.TsMs = t.UnixMilli()
	e.TsUs = t.UnixMicro()
	e.TsNs = t.UnixNano()
}

// ErrNoValueSchema is returned by Value when the event has neither Raw nor a
// ValueSchema.
var ErrNoValueSchema = errors.New("event has no value schema")

// Value returns the record value: Raw when it is set, otherwise a Struct of
// ValueSchema whose fields are filled by name from the event (before, after,
// source, transaction, op, ts_ms, ts_us, ts_ns, message). Fields the schema
// lacks are skipped, fields the event does not know stay null. It validates
// the result.
func (e *Event) Value() (*Struct, error) {
	v, err := e.UncheckedValue()
	if err != nil {
		return nil, err
	}
	if err := v.Validate(); err != nil {
		return nil, fmt.Errorf("value for topic %q: %w", e.Topic, err)
	}
	return v, nil
}

// UncheckedValue is Value without its final validation of the whole value
// against the schema, for callers whose encoder checks every value against
// its schema as it writes it (jsonconv does), so that the check is not made
// twice per event.
func (e *Event) UncheckedValue() (*Struct, error) {
	if e.Raw != nil {
		return e.Raw, nil
	}
	s := e.ValueSchema
	if s == nil {
		return nil, ErrNoValueSchema
	}
	if s.typ != TypeStruct {
		return nil, fmt.Errorf("value schema %q: not a struct", s.name)
	}
	v := NewStruct(s)
	for i, f := range s.fields {
		switch f.Name {
		case FieldBefore:
			if e.Before != nil {
				v.vals[i] = e.Before
			}
		case FieldAfter:
			if e.After != nil {
				v.vals[i] = e.After
			}
		case FieldSource:
			if e.Source != nil {
				v.vals[i] = e.Source
			}
		case FieldTransaction:
			if e.Transaction != nil {
				if f.Schema.typ != TypeStruct {
					return nil, fmt.Errorf("value schema %q: transaction field is not a struct", s.name)
				}
				t := NewStruct(f.Schema)
				if err := setIfPresent(t, "id", e.Transaction.ID); err != nil {
					return nil, err
				}
				if err := setIfPresent(t, "total_order", e.Transaction.TotalOrder); err != nil {
					return nil, err
				}
				if err := setIfPresent(t, "data_collection_order", e.Transaction.DataCollectionOrder); err != nil {
					return nil, err
				}
				v.vals[i] = t
			}
		case FieldOp:
			v.vals[i] = e.Op.value()
		case FieldTsMs:
			v.vals[i] = e.TsMs
		case FieldTsUs:
			v.vals[i] = e.TsUs
		case FieldTsNs:
			v.vals[i] = e.TsNs
		case FieldMessage:
			if e.Message != nil {
				if f.Schema.typ != TypeStruct {
					return nil, fmt.Errorf("value schema %q: message field is not a struct", s.name)
				}
				m := NewStruct(f.Schema)
				if err := setIfPresent(m, "prefix", e.Message.Prefix); err != nil {
					return nil, err
				}
				if err := setIfPresent(m, "content", e.Message.Content); err != nil {
					return nil, err
				}
				v.vals[i] = m
			}
		}
	}
	return v, nil
}

func setIfPresent(st *Struct, name string, v any) error {
	i := st.schema.FieldIndex(name)
	if i < 0 {
		return fmt.Errorf("schema %q has no field %q", st.schema.name, name)
	}
	st.vals[i] = v
	return nil
}

// Record is a Kafka-bound record in Connect form: what a converter encodes.
// A nil Value is a tombstone (Kafka null value).
type Record struct {
	Topic    string
	Key      *Struct
	Value    *Struct
	Headers  []Header
	Position Position
}

// Record returns the event as a Record with its value built by Value.
func (e *Event) Record() (Record, error) {
	v, err := e.Value()
	if err != nil {
		return Record{}, err
	}
	return Record{Topic: e.Topic, Key: e.Key, Value: v, Headers: e.Headers, Position: e.Position}, nil
}

// Tombstone returns the record Debezium sends after a delete when
// tombstones.on.delete is true (the default): same topic, key, headers and
// position, null value. ok is false when e is not a delete. Like Debezium it
// does not check the key: a keyless table gets a null-key tombstone.
func (e *Event) Tombstone() (r Record, ok bool) {
	if e.Op != OpDelete {
		return Record{}, false
	}
	return Record{Topic: e.Topic, Key: e.Key, Headers: e.Headers, Position: e.Position}, true
}

// Batch is a slice of events moved between goroutines as one unit. Events in
// a batch are in source emit order.
type Batch []Event

// Last returns the position of the last event, nil for an empty batch.
func (b Batch) Last() Position {
	if len(b) == 0 {
		return nil
	}
	return b[len(b)-1].Position
}
