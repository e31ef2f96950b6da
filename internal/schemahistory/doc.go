// Package schemahistory keeps the MySQL source's schema history in a Kafka
// topic, as Debezium's KafkaSchemaHistory does for
// schema.history.internal.kafka.topic, so that a connector task that moves
// to another worker (or a daemon started on another machine) finds the
// table definitions it needs to decode old binlog events. capture/mysql
// declares the store it needs (mysql.SchemaHistory); this package
// implements it with franz-go, because nothing under capture/ imports Kafka.
//
// # Topic
//
// One topic with exactly one partition, so that the records keep their
// append order. A missing topic is created with one partition, the
// broker's default replication factor (or Config.ReplicationFactor) and
// cleanup.policy=delete, retention.ms=-1, retention.bytes=-1: the history
// must never lose a record, since a restart from an old position replays
// every record before it. An existing topic with more than one partition,
// a finite retention.ms or retention.bytes, or compaction in its
// cleanup.policy is refused with ErrTopicLayout (Debezium refuses a
// multi-partition topic and only warns about retention; losing history
// silently is worse than a clear error at start).
//
// # Records
//
// Each record's value is one mysql.HistoryRecord as JSON (the same line
// FileHistory writes, without the newline), with no key. This is Sluice's
// format, not Debezium's ({"source":…,"position":…,"ddl":…,"tableChanges":…}):
// a topic written by Debezium cannot be read by Sluice nor the other way
// round, so give Sluice its own topic when migrating.
//
// # Guarantees
//
// Append returns only once the broker has acknowledged the record with
// acks=all from an idempotent producer, so a record Append returned for
// survives a crash of this process. A failed or canceled Append may still
// land later; the source tolerates repeated records. Load reads the
// partition from its start up to the high watermark it finds when called
// (records appended meanwhile are not returned) and returns them in offset
// order; read_committed is not needed, nothing here is transactional.
//
// # Security
//
// Config.ClientOptions carries extra franz-go options (TLS, SASL). The
// daemon passes publish.ConnOptions of its kafka block, so the history
// client connects with sluice.yaml's kafka.security like every other
// client, also when schema.history.internal.kafka.bootstrap.servers names
// other brokers.
package schemahistory
