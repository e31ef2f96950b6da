// Package event is Sluice's in-memory change record: the Kafka-Connect-style
// schema and struct model, Debezium's change-event envelope, tombstones and
// batches.
//
// Every source under capture/ produces [Event] values and every converter under
// schema/ encodes them; this package imports nothing internal and knows no wire
// format.
//
// # Schemas
//
// A [Schema] mirrors org.apache.kafka.connect.data.Schema: a [Type], optional
// flag, name, version, doc, ordered parameters, default and, for structs,
// ordered fields. Schemas are immutable: every modifier (Optional, WithName,
// ...) returns a new *Schema and never changes its receiver, so a source
// builds a table's schemas once and shares them across goroutines.
//
//	row := event.StructOf("server.public.customers.Value",
//		event.NewField("id", event.Int32()),
//		event.NewField("email", event.String().Optional()),
//	).Optional()
//
// # Values
//
// Values are plain Go values chosen by the schema type: int8, int16, int32,
// int64, float32, float64, bool, string, []byte, []any (array), []MapEntry or
// map[string]any (map) and *Struct (struct); nil for a missing optional value.
// Connect logical types use their underlying representation: Decimal is
// []byte holding the unscaled value as big-endian two's complement (see
// [DecimalBytes]; a *big.Int unscaled value is accepted too), Date is int32
// days since the epoch, Time is int32 milliseconds of the day and Timestamp
// is int64 epoch milliseconds.
//
// # Envelope
//
// [EnvelopeSchema] builds the value schema Debezium 2.6+/3.x gives every
// table (envelope schema version 2: before, after, source, transaction, op,
// ts_ms, ts_us, ts_ns) and [Event.Value] fills it in, so a converter only
// ever encodes one *Struct per record. The Postgres logical-decoding message
// value (op=m) has a different schema that the source builds; Value fills
// it in by field name too. Records that are no envelope at all (Debezium's
// transaction BEGIN/END records) carry their finished value in [Event.Raw],
// which Value returns as is.
//
// # Tombstones
//
// Debezium follows every delete with a tombstone (same topic, key and headers,
// null value) when tombstones.on.delete is true, its default. [Event.Tombstone]
// makes that follow-up record; whether to emit it is the caller's
// configuration.
package event
