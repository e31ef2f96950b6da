// Package outbox implements the transactional outbox: Debezium's Outbox
// Event Router semantics on the capture side, and a small library services
// call to write outbox rows inside their own database transaction. The
// outbox tables it expects are created by the SQL under migrations/.
//
// # Router
//
// Router is io.debezium.transforms.outbox.EventRouter for Sluice's event
// model, configured with Debezium's keys (Config). An insert (or snapshot
// read) of the outbox table becomes one Record: topic from route.by.field
// through route.topic.regex and route.topic.replacement (Kafka RegexRouter
// semantics: the regex must match the whole value, Java's $n and ${name}
// in the replacement), key the table.field.event.key column, value the
// payload column (or an envelope struct when some additional field is
// placed in the envelope), and the event id in the "id" header. The record
// timestamp is table.field.event.timestamp's value (Timestamp,
// MicroTimestamp or NanoTimestamp column, in milliseconds), else the change
// event's ts_ms (Record.TimestampMs), and the Kafka record gets it as its
// CreateTime. A column placed with column:partition sets the Kafka
// partition (Record.Partition): an integer column as Debezium's INT32 (other
// integer types are taken when the value fits), a null value leaves the
// partition to the key hash, a negative or non-integer value is an error,
// and a partition the topic does not have fails the produce, so the
// pipeline stops before the event instead of losing it. Deletes and
// truncates are dropped; updates are dropped with a warning, an error log or
// a fatal error (table.op.invalid.behavior). The Record is still Connect
// data: the daemon encodes it with the configured converters, so bytes on
// Kafka match what Debezium with the same converters writes (with the Avro
// converter, a string key or an unexpanded payload is an Avro primitive,
// a union with null when optional, as AvroConverter writes it).
//
// With Options.Mongo the router is Debezium's MongoEventRouter
// (io.debezium.connector.mongodb.transforms.outbox.MongoEventRouter): the
// outbox is a collection, each inserted document is parsed from the
// change event's extended JSON into a row (the _id is the event id, an
// ObjectId as its hex string; a sub-document payload is its relaxed JSON
// text), and the collection.* spellings of the keys are accepted (see
// mongo.go).
//
// Logical decoding messages whose prefix is Config.MessagePrefix are routed
// the same way: their content is a JSON object whose keys play the outbox
// columns. This is the table-free variant: nothing to delete, no bloat.
//
// # Writer
//
// Write inserts an Event into the outbox table inside the caller's
// transaction (*sql.Tx directly, pgx.Tx through Pgx), optionally deleting it
// right away (WriterConfig.DeleteAfterInsert); on Postgres, Emit writes it
// with pg_logical_emit_message(true, prefix, json) instead. The package
// functions speak Postgres; a Writer with WriterConfig.Dialect MySQL writes
// to the MySQL/MariaDB table of migrations/002_outbox.mysql.sql (CHAR(36)
// id, JSON payload, DATETIME(6) timestamp set to UTC_TIMESTAMP(6)). Either way nothing
// reaches Kafka unless the transaction commits, and ids are UUIDv7s unless
// the caller gives one. Delivery is at least once: consumers deduplicate on
// the id header.
package outbox
