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
// # Heartbeats
//
// With heartbeat.interval.ms set, the stream emits a heartbeat record (key
// io.debezium.connector.common.ServerNameKey {serverName}, value
// io.debezium.connector.common.Heartbeat {ts_ms}, as Debezium's) to
// __debezium-heartbeat.<topic.prefix> each interval, and only between
// transactions, so its position is a clean resume point: the GTID set of
// everything read so far (keeping the rows still to skip of a transaction
// partly emitted before a restart). When only tables that are not captured
// change, heartbeats are what moves the stored position forward, so that a
// restart does not read their binlog again or find it purged. The wait for
// the next binlog event ends when a heartbeat is due, so an idle server
// gets them on time; inside a long transaction they wait for its end.
// heartbeat.action.query is not supported.
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
// bigint.unsigned.handling.mode. TINYINT(1) is INT16, as Debezium emits for
// any table it learns from the catalog (a snapshot); BIT(1) is BOOLEAN.
// BINARY(n) values are right-padded with 0x00 to n bytes, as Debezium does:
// the binlog drops their trailing zero bytes, the snapshot does not.
//
// # Compatibility with Debezium
//
// golden_test.go streams a table of the common types (TINYINT(1), signed
// and unsigned integers, DECIMAL, FLOAT, DOUBLE, DATE, DATETIME(0/3/6),
// TIMESTAMP(0/3), TIME(0/6), YEAR, CHAR, VARCHAR, TEXT, BLOB, BINARY,
// VARBINARY, ENUM, SET, JSON, BIT(1/12/64)) through a snapshot, inserts, an
// update and a delete. testdata/golden/types.json holds the records as the
// JSON converter writes them (go test -update rewrites it);
// testdata/debezium/types.json holds, written by hand from Debezium's
// type-mapping documentation and its MySQL connector tests, the field
// schemas and values Debezium emits for the same rows. The test requires
// every column to match except the deliberate differences below.
//
// Deliberate differences from Debezium:
//
//   - A column Debezium learns from a streamed CREATE or ALTER statement is
//     typed by the words of the statement: BOOLEAN becomes BOOLEAN and, on
//     MariaDB, JSON becomes io.debezium.data.Json, while the same columns
//     read from the catalog (any snapshot, or after Debezium's history is
//     rebuilt) are TINYINT(1) → INT16 and LONGTEXT → plain STRING. Sluice
//     always uses the catalog's view (TINYINT(1) and LONGTEXT on MariaDB),
//     so a table's schema does not change with the way the connector met it.
//     MySQL's native JSON type is io.debezium.data.Json in both.
//   - Column defaults are not carried into the field schemas ("default" in
//     the JSON schema): Sluice's schema history records types, not
//     defaults. Fields are optional exactly where Debezium's are.
//
// The golden table declares no defaults, so the second point does not show
// there; the first is asserted by TestDebeziumStreamedDDL. The envelope and
// the source block are in the golden file, with the field list of
// Debezium's documented MySQL events (version, connector, name, ts_ms,
// snapshot, db, sequence, ts_us, ts_ns, table, server_id, gtid, file, pos,
// row, thread, query), but only the row columns are compared with a
// Debezium reference mechanically.
package mysql
