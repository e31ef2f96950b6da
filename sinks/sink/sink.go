// Package sink holds what every part of Sluice's sink side shares: the
// Record a sink task hands to transforms and to a sink (Kafka Connect's
// SinkRecord: coordinates, key and value with their Connect schemas,
// headers) and the Sink interface a target implements. It is a leaf: the
// task layer (sinks/task), the transforms (sinks/transform) and the targets
// (sinks/jdbc, …) import it, never each other's internals.
//
// Values follow the event package's Connect data model: with a schema, a
// struct is *event.Struct, a map []event.MapEntry, an array []any, and
// primitives int8…int64, float32/float64, bool, string, []byte (logical
// types as the event package represents them); without a schema (JSON with
// schemas.enable false), objects are []event.MapEntry, numbers int64 or
// float64, as schema/jsonconv decodes them. A nil Value is a tombstone.
package sink

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// Header is one Kafka record header, converted (Kafka Connect's Header).
type Header struct {
	Key    string
	Schema *event.Schema // nil when schemaless
	Value  any
}

// Record is one consumed Kafka record, key and value converted to Connect
// data. Topic may be changed by transforms (RegexRouter); the original
// coordinates stay in OriginalTopic, Partition and Offset, which is what
// offsets are committed for and what the dead letter queue reports.
type Record struct {
	Topic         string
	OriginalTopic string
	Partition     int32
	Offset        int64
	Timestamp     time.Time
	KeySchema     *event.Schema
	Key           any
	ValueSchema   *event.Schema
	Value         any
	Headers       []Header
}

// Clone returns a copy of r whose Headers slice may be changed without
// touching r's (keys and values are shared: transforms build new ones).
func (r Record) Clone() Record {
	r.Headers = append([]Header(nil), r.Headers...)
	return r
}

// IsTombstone reports whether the record's value is null.
func (r Record) IsTombstone() bool { return r.Value == nil }

// Sink is a target: Put writes a batch (it may buffer), Flush makes every
// record Put so far durable in the target (the task commits the batch's
// offsets only after Flush returns nil), Close releases the target.
// A sink must be idempotent under redelivery: after a crash the task hands
// it again the records after the last committed offsets.
type Sink interface {
	Put(ctx context.Context, recs []Record) error
	Flush(ctx context.Context) error
	Close() error
}

// RecordError is returned by a sink for one record it cannot write
// (a constraint violation, a value it cannot map): with errors.tolerance
// all the task sends that record to the dead letter queue, with none it
// fails naming the record. From Put, the task then puts the rest of the
// batch again without it; from Flush, the sink must have dropped that
// record and kept the others, and the task flushes again.
type RecordError struct {
	Record Record
	Err    error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %s/%d@%d: %v", e.Record.OriginalTopic, e.Record.Partition, e.Record.Offset, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }
