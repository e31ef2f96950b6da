// Package mysql is Sluice's MySQL/MariaDB capture connector, a drop-in for
// Debezium's MySQL connector: it takes a consistent initial snapshot, then
// streams row changes from the binary log with go-mysql's BinlogSyncer in GTID
// mode, and emits Debezium-format event.Event values on
// <topic.prefix>.<database>.<table>.
//
// # Positions
//
// A position is the GTID set of every transaction completely emitted plus,
// inside a partly emitted transaction, its GTID and the number of rows already
// emitted from it (position.go). A restart asks the server for the binlog after
// that GTID set and skips the rows already emitted, so nothing is lost or
// repeated past an acknowledged position. Positions are only reported back
// through Ack; MySQL keeps no replication state for us, so Ack only records
// the newest acknowledged position.
//
// Before streaming from a stored position the connector checks that the
// server still has the binlog after it (MariaDB: the GTID state at the start
// of the oldest binlog file, BINLOG_GTID_POS; MySQL: gtid_purged). If not,
// Run fails with ErrBinlogPurged naming the position, the oldest file and
// its GTID state, or with snapshot.mode=when_needed takes a new snapshot.
//
// # Schema history
//
// Binlog row events carry values, not column names (MySQL 8 and MariaDB can
// log names with binlog_row_metadata=FULL, used here only as a check), so
// rows must be decoded with the table's shape at the event's position, not
// today's. As Debezium does, the connector keeps a schema history:
//
//   - At the start of a snapshot (and of a no_data start), under the global
//     read lock that fixes the binlog position, it reads every table of the
//     captured databases from information_schema and records them as one
//     snapshot record at that position's GTID set.
//   - Every DDL statement in a binlog query event (ALTER, CREATE [OR
//     REPLACE], DROP and RENAME TABLE, DROP DATABASE) is parsed with the TiDB
//     SQL parser (github.com/pingcap/tidb/pkg/parser, Apache-2.0, the parser
//     go-mysql's canal uses; ddl.go) and applied to an in-memory model; the
//     full new definitions of the changed tables (or their removal) are
//     appended as a record carrying the GTID set including the DDL, before
//     any position past the DDL is emitted.
//   - A restart from a stored position replays, in order, every record
//     whose GTID set the position's set contains, giving the schema as of
//     that position; records past it are skipped and appended again when the
//     stream re-reads their DDL (replaying a repeat is harmless).
//
// Records hold resulting definitions rather than statements, so recovery
// needs no parser and cannot diverge from what was decoded. The store is a
// SchemaHistory: a local file of JSON lines, fsynced per record
// (schema.history.internal.file.filename, as Debezium's FileSchemaHistory,
// history.go), or any store the wiring passes in Options.History (a Kafka
// topic as Debezium's schema.history.internal.kafka.topic needs Kafka,
// which capture packages do not import). Without the key, the file is
// <data.dir>/<source name>.mysql-schema-history.jsonl (DefaultHistoryFile,
// Options.DataDir): the daemon passes its data.dir, so `sluice run` keeps
// the history beside offsets.json with no configuration. Under the Connect
// runtime (`sluice worker`, a MySqlConnector task) data.dir is the worker's,
// "./data" by default, relative to the worker's working directory: a task
// that moves to another worker finds no history there, so set
// schema.history.internal.file.filename to shared storage, or expect the
// catalog fallback below after such a move. Only a Source built with
// neither a data dir nor the key (a Go program using this package directly)
// keeps an in-memory history that lasts for the Source's life; a restart
// then warns and falls back to the catalog. A table the history does not know (a position older than the
// history) is read from the catalog; a DDL that does not parse (GEOMETRY
// columns, for one) drops the tables it names from the model so that they
// are read from the catalog too, with a warning. Rows whose column count or
// names disagree with the model fail with ErrSchemaMismatch instead of
// being decoded into the wrong fields.
//
// # Value mapping
//
// types.go is the one place where a MySQL value becomes a Connect value,
// shared by the snapshot (text protocol values) and the binlog (go-mysql's
// decoded row values), following Debezium's MySQL type-mapping table with
// decimal.handling.mode, time.precision.mode, binary.handling.mode and
// bigint.unsigned.handling.mode.
package mysql
