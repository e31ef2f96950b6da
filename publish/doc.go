// Package publish writes serialized change events to Kafka and tells the
// sources how far they may acknowledge their log.
//
// The producer is franz-go's, idempotent with acks=all; keys are partitioned
// exactly as the Java client does (murmur2), so a key lands on the partition
// Debezium and Kafka Connect would pick. Topics are created with kadm before
// the first record is produced to them. A record may instead name its own
// partition (Record.ExplicitPartition, the outbox router's partition
// placement; a partition the topic lacks fails the publisher) and its own
// timestamp (Record.Timestamp; zero is the time Publish hands it over).
// delivery.timeout.ms counts from Publish, not from the record's timestamp.
// A Tracker records each record's source position and reports the highest
// position up to which every record is acknowledged by Kafka: that is the
// only position a source may confirm to its database.
package publish
