// Package schema holds Sluice's record converters: how an event.Record (Kafka
// Connect data: event.Schema plus values) becomes Kafka key and value bytes
// and back.
//
// Each wire format lives in its own subpackage and must match the Kafka
// Connect converter it replaces byte for byte, so that existing Debezium
// consumers read Sluice's topics unchanged:
//
//   - jsonconv: org.apache.kafka.connect.json.JsonConverter
//   - avro (planned): Confluent's AvroConverter with a schema registry
//
// This package itself only documents the folder; shared converter contracts
// will be added here when a second converter needs them.
package schema
