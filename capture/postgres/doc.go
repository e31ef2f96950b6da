// Package postgres is Sluice's PostgreSQL capture connector, a drop-in for
// Debezium's PostgreSQL connector: it takes a consistent initial snapshot,
// then streams changes from a logical replication slot with the pgoutput
// plugin (github.com/jackc/pglogrepl over pgx/v5), and emits Debezium-format
// event.Event values. Positions are LSNs; the slot's confirmed flush LSN
// advances only when every event up to it is acknowledged downstream.
//
// # Value mapping
//
// types.go is the one place where a Postgres value becomes a Connect value,
// shared by the snapshot and the stream. A [TypeMapper] turns a [Column]
// (type OID and modifier from the pgoutput Relation message or
// pg_attribute) into a [ColumnConverter]: the Connect field schema exactly as
// Debezium builds it (names such as io.debezium.time.MicroTimestamp,
// parameters such as scale and connect.decimal.precision) and a precomputed
// [ConvertFunc] from the value's text form to its Go value. Debezium's
// decimal.handling.mode, time.precision.mode (adaptive,
// adaptive_time_microseconds, connect), binary.handling.mode,
// hstore.handling.mode, interval.handling.mode and money.fraction.digits are
// honoured through [TypeOptions].
//
// Both paths must produce text with the same session settings Debezium's
// JDBC driver uses, because output functions depend on them: DateStyle=ISO,
// IntervalStyle=postgres and bytea_output=hex (server defaults). Timestamps
// with time zone are normalised to UTC, so TimeZone does not matter.
//
// A [TypeCatalog] resolves OIDs to pg_type entries: built-in types are
// known without a query; enums, domains (mapped as their base type) and
// extension types (citext, hstore, ltree, isbn) are loaded on first use and
// cached. Types Debezium does not map are emitted as their text in an
// optional string field, with one warning per table column.
package postgres
