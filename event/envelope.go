package event

// Envelope field names (Debezium's Envelope.FieldName) and the message block
// field of op=m values.
const (
	FieldBefore      = "before"
	FieldAfter       = "after"
	FieldSource      = "source"
	FieldTransaction = "transaction"
	FieldOp          = "op"
	FieldTsMs        = "ts_ms"
	FieldTsUs        = "ts_us"
	FieldTsNs        = "ts_ns"
	FieldMessage     = "message"
)

// EnvelopeVersion is the envelope schema version of Debezium 2.6 and later
// (DBZ-7107 bumped it from 1 to 2 when ts_us and ts_ns were added). Sluice
// targets Debezium 3.x output.
const EnvelopeVersion = 2

// EnvelopeSuffix ends every envelope schema name.
const EnvelopeSuffix = ".Envelope"

// TransactionBlockName and TransactionBlockVersion name Debezium's
// transaction block schema.
const (
	TransactionBlockName    = "event.block"
	TransactionBlockVersion = 1
)

var transactionBlock = StructOf(TransactionBlockName,
	NewField("id", String()),
	NewField("total_order", Int64()),
	NewField("data_collection_order", Int64()),
).Optional().WithVersion(TransactionBlockVersion)

// TransactionBlockSchema returns Debezium's optional transaction block schema
// ("event.block", version 1: id string, total_order int64,
// data_collection_order int64). Debezium includes the field in every
// envelope, null when transaction metadata is off.
func TransactionBlockSchema() *Schema { return transactionBlock }

// EnvelopeName returns Debezium's envelope schema name for a data change
// topic: "<topic>.Envelope", e.g. "server.public.customers.Envelope".
// Debezium passes it through its schema name adjuster; callers that adjust
// names do so before or after as their naming requires.
func EnvelopeName(topic string) string { return topic + EnvelopeSuffix }

// EnvelopeSchema builds the value schema Debezium 3.x gives a table, as its
// TableSchemaBuilder and SchemaFactory.datatypeEnvelopeSchema do: a required
// struct named name, version 2, with fields
//
//	before       row (optional row schema)
//	after        row
//	source       source (connector's source block schema)
//	transaction  TransactionBlockSchema()
//	op           string (required)
//	ts_ms        optional int64
//	ts_us        optional int64
//	ts_ns        optional int64
//
// row is made optional as Debezium does (valSchemaBuilder.optional()).
func EnvelopeSchema(name string, row, source *Schema) *Schema {
	if !row.optional {
		row = row.Optional()
	}
	return StructOf(name,
		NewField(FieldBefore, row),
		NewField(FieldAfter, row),
		NewField(FieldSource, source),
		NewField(FieldTransaction, transactionBlock),
		NewField(FieldOp, String()),
		NewField(FieldTsMs, Int64().Optional()),
		NewField(FieldTsUs, Int64().Optional()),
		NewField(FieldTsNs, Int64().Optional()),
	).WithVersion(EnvelopeVersion)
}
