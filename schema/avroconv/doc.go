// Package avroconv is Confluent's AvroConverter for Sluice's event model, so
// that consumers of Debezium's Avro topics read Sluice's topics unchanged.
//
// # Schemas
//
// AvroSchema turns a Connect schema into the Avro schema JSON that
// Confluent's AvroData.fromConnectSchema (Confluent Platform 7.8/7.9) builds
// with the AvroConverter defaults Debezium users run (connect.meta.data=true,
// enhanced.avro.schema.support=false, scrub.invalid.names=false,
// discard.type.doc.default=false), written as Avro 1.12's Schema.toString:
//
//   - a struct is a record named after the Connect name split at its last
//     dot (namespace, name); unnamed structs are
//     io.confluent.connect.avro.ConnectDefault, ConnectDefault2, ...;
//   - properties follow the base type in AvroData's order: Decimal's scale
//     and precision (connect.decimal.precision, default 64), connect.doc,
//     connect.version, connect.parameters, connect.default, connect.name,
//     connect.type (int8/int16 on an int), logicalType (decimal,
//     time-millis, timestamp-millis, date), then any "avro*" parameter;
//   - optional schemas are unions with null first and field default null;
//     an optional schema with a default puts its own branch first and uses
//     the default (an optional struct is always [null, record]);
//   - maps with required string keys are Avro maps, other maps arrays of
//     io.confluent.connect.avro.MapEntry {key, value} records;
//   - a record equal to one already written (before/after) or of a name
//     already defined is written as a name, relative to the enclosing
//     namespace; field defaults Avro would reject are dropped as Confluent
//     does.
//
// Not reproduced: Connect schemas built for enhanced Avro support (enums,
// fixed), Confluent 8's field-level connect.parameters on repeated named
// types, and Java HashMap order for map-valued defaults (Go map defaults
// are written in key order).
//
// # Wire format
//
// Encode writes magic byte 0, the big-endian int32 schema id and the Avro
// binary encoding (hamba/avro's writer) of the value; a nil struct (a
// tombstone or null key) stays nil. As in Connect, a null field with a
// schema default is written as the default. Decode reads the id, fetches
// the writer schema through the Registry (cached by id), rebuilds the
// Connect schema from the connect.* properties (or from Avro logical types
// for foreign schemas) and decodes the value. A [null, T] union is an
// optional T; a general union (more than one non-null branch) is
// Confluent's io.confluent.connect.avro.Union struct with one optional
// field per branch (UnionSchemaName); encoding such structs back is not
// supported.
//
// # Registry use
//
// Subjects follow TopicNameStrategy, RecordNameStrategy or
// TopicRecordNameStrategy. With auto.register.schemas (default) each new
// schema is registered; without it the schema is looked up
// (POST /subjects/{s}) and must exist (ErrSchemaNotFound). With
// use.latest.version (and auto.register.schemas=false, as in Confluent's
// serializer) the subject's latest schema is the writer schema provided
// hamba/avro's schema-resolution check says it can read the record's own
// schema; struct fields are matched to it by name and fields it adds are
// written with its defaults. The latest version is resolved once per
// schema and then cached (Confluent's latest.cache.ttl.sec=-1).
//
// The hot path, Encode of an already registered *event.Schema, is one
// sync.Map lookup keyed by the schema pointer (schemas are immutable and
// shared): no registry call and no schema JSON.
//
// # Client
//
// Client implements Registry on franz-go's pkg/sr. sr speaks the HTTP API
// and fails over to the next URL on network errors, but caches nothing
// and never retries; Client adds id and (subject, schema) caches and
// retries 5xx answers and network errors with capped exponential backoff
// (never 4xx). A 409 becomes ErrIncompatibleSchema and a 422
// ErrInvalidSchema, both wrapped with the subject and the registry's
// message. basic.auth.user.info and TLS (ssl.ca.location,
// ssl.certificate.location, ssl.key.location) are supported.
package avroconv
