// Package avroconv is Confluent's AvroConverter for Sluice's event model:
// Connect schemas become the Avro schemas Debezium users see in their schema
// registry, values become Confluent wire-format records (magic byte 0,
// big-endian int32 schema id, Avro binary).
package avroconv
