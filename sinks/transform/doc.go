// Package transform implements Kafka Connect's single message transforms
// (SMTs) for Sluice's sink side, operating on sink.Record with the Connect
// data model of package event.
//
// A Chain is built from Kafka Connect's flat configuration syntax
// (transforms=unwrap,route; transforms.unwrap.type=<Java class>;
// transforms.<alias>.predicate / negate; predicates=…) by Parse, which
// accepts the Java class names users already have (Debezium's
// ExtractNewRecordState, Apache Kafka's RegexRouter, Filter, ReplaceField,
// MaskField, InsertField, ValueToKey, ExtractField, TimestampConverter, Cast,
// with their $Key/$Value variants; also TimestampRouter, DropHeaders,
// HoistField, SetSchemaMetadata and Flatten) and the predicates
// TopicNameMatches, RecordIsTombstone and HasHeaderKey. Configuration
// errors name the exact key. Keys reports which keys of a connector configuration belong to the
// transforms, so that the runtime's validation can flag the others.
//
// Behaviour follows the Java implementations, including on schemaless
// records ([]event.MapEntry or map[string]any objects) and on tombstones:
// a transform returns keep=false to drop a record (a Java SMT returning
// null). Transforms never modify their input: structs, maps and header
// slices are copied before they are changed, so a record may be shared.
// Transforms hold no per-record state and are safe for concurrent use;
// each caches the output schema it builds per input schema pointer, so
// records of one writer schema share one output schema.
//
// Debezium's MongoDB ExtractNewDocumentState
// (io.debezium.connector.mongodb.transforms.ExtractNewDocumentState,
// extractnewdoc.go) parses the MongoDB connector's extended JSON after (or
// updateDescription) into a struct whose schema it infers from each
// document, and types the key's id; it shares the delete and tombstone
// options, add.fields and add.headers with ExtractNewRecordState.
//
// ExtractNewRecordState follows Debezium 3: delete.tombstone.handling.mode
// defaults to tombstone; the legacy drop.tombstones and
// delete.handling.mode are honoured when that option is unset and one of
// them is set, as Debezium 2.5-2.7 did.
package transform
