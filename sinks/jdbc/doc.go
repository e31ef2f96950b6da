// Package jdbc is Sluice's JDBC sink: it writes Kafka Connect records into
// Postgres, MySQL/MariaDB and SQLite tables, configured with the keys of
// Confluent's JDBC sink connector (insert.mode, pk.mode, pk.fields,
// delete.enabled, auto.create, auto.evolve, table.name.format, …; see
// [ConfigKeys]). Despite the name no JDBC is involved: connection.url may be
// a JDBC URL (jdbc:postgresql://…, jdbc:mysql://…, jdbc:mariadb://…,
// jdbc:sqlite:/path/file.db) or the native DSN of the Go driver (pgx,
// go-sql-driver/mysql, modernc.org/sqlite).
//
// # Records
//
// Values must carry a Connect schema whose type is struct (the row). A value
// that is a raw Debezium envelope (a struct with before, after and op
// fields) is accepted without the unwrap transform, as Debezium's own JDBC
// sink does: op c, r and u write after, op d deletes by the record key, and
// t and m records are skipped. A tombstone (null value) deletes by key.
// Deletes need delete.enabled=true, which needs pk.mode=record_key; with
// delete.enabled=false tombstones and op d records are skipped.
//
// # Writes
//
// Put converts and buffers records (a record it cannot map is returned as a
// *sink.RecordError and nothing of that Put is buffered); Flush writes the
// buffer in one transaction with multi-row statements of at most batch.size
// rows (and 4 MiB of values, under MariaDB's max_allowed_packet); on
// Postgres inserts bind one array per column and select from unnest, so the
// statement and its plan do not depend on the row count. With insert.mode=upsert the batch is first reduced to the last
// operation per primary key (a delete after an insert deletes; an insert
// after a delete writes), so that a batch applied twice leaves the same
// table: the sink is idempotent under redelivery. Upserts are INSERT … ON
// CONFLICT (pk) DO UPDATE on Postgres and SQLite and INSERT … ON DUPLICATE
// KEY UPDATE on MySQL/MariaDB.
//
// When the batch fails with an error about the data (a constraint
// violation, a value the column refuses), Flush rolls it back and applies
// the buffered operations one by one, each in its own transaction; the first
// one the target refuses comes back as a *sink.RecordError, the operations
// before it are then durable, the refused one is dropped from the buffer and
// the ones after it stay buffered for the next Flush. Errors of any other
// kind (connection lost) leave the buffer intact for a retry.
//
// # Tables
//
// table.name.format (default ${topic}) names the table. Dots that come from
// the topic are part of the table name, which is quoted as one identifier
// ("server.public.customers" is one table); dots written in the format itself
// qualify it: "sink.${topic}" is table "server.public.customers" in schema
// (Postgres), database (MySQL) or attached database (SQLite) "sink". With
// quote.sql.identifiers=never names are written bare, so the database folds
// them as it does (Postgres lower-cases).
//
// auto.create creates a missing table: primary key columns first (from the
// key with pk.mode=record_key, the Kafka coordinates with pk.mode=kafka),
// then the value fields, with SQL types mapped from the Connect and Debezium
// schemas per dialect (see sqlType). auto.evolve adds a nullable column for
// each new optional field (or required field with a default). A change it
// cannot apply — a new required field without default, or a field whose type
// does not fit the existing column — fails with an error wrapping
// [ErrSchemaChange] naming table and column.
package jdbc
