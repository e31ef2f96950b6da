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
// # Snapshot
//
// The snapshot reads every captured table inside one START TRANSACTION
// WITH CONSISTENT SNAPSHOT, its binlog position fixed under a brief global
// read lock (snapshot.locking.mode=minimal). Tables with an integer
// primary key are read in key order in chunks of snapshot.fetch.size rows
// (default 10240; Debezium's key of that name is a JDBC fetch size, here it
// is the chunk size), other tables in one streaming SELECT. The positions
// of the snapshot's batches carry its progress, per table the key ranges
// delivered and the GTID set each was read at, so a crash resumes after the
// last chunk Kafka acknowledged instead of starting over: the rest is read
// in a new consistent snapshot, the stream still starts at the first
// snapshot's position, and until it has passed the newer snapshots it drops
// the changes of rows whose read already shows them (GTID membership is
// exact), so no change is lost and a key's versions never go backwards.
// Tables without an integer key that were partly read are read again whole
// (at least once, as Debezium restarts them). chunk.go has the details and
// the limits; TestSnapshotResumesByChunk and TestSIGKILL show it.
//
// # Schema change events
//
// With include.schema.changes (true by default, as in Debezium) every DDL
// statement that changes a table of a captured database is published to
// the topic <topic.prefix> as Debezium's MySQL schema change record (key
// io.debezium.connector.mysql.SchemaChangeKey {databaseName}, value
// io.debezium.connector.mysql.SchemaChangeValue {source, ts_ms,
// databaseName, schemaName, ddl, tableChanges}; schemachange.go), one
// record per statement and database, with CREATE, ALTER or DROP entries
// holding the tables' definitions after the statement (columns with
// Debezium's jdbcType, typeName, length, scale, charset, position,
// optional, autoIncremented, generated, comment, defaultValueExpression and
// enumValues). The snapshot (and a no_data start) publishes, as
// Debezium's does and with source.snapshot=true, SET character_set_server,
// DROP TABLE IF EXISTS for each table, then per database DROP DATABASE IF
// EXISTS, CREATE DATABASE, USE and each table's SHOW CREATE TABLE. A schema change record counts as
// an item of its transaction: it is acknowledged through the positions like
// a row, and a restart inside the transaction skips it like a row. The
// daemon routes the records by their topic like any other, through the
// configured converters; tombstones apply to deletes only.
// TestSchemaChangeEvents compares the ALTER of Debezium's documented example
// with the documented payload (testdata/debezium/schema_change.json) and
// keeps the records as golden text; TestDaemonSchemaChanges sends them
// through the daemon to Kafka with the JSON and the Avro converter.
//
// Differences from Debezium's schema change records: statements that change
// no table (CREATE DATABASE, GRANT, ...) are not published, and neither are
// DDL statements of databases that are not captured (Debezium publishes
// every statement unless schema.history.internal.store.only.captured.*
// is set); a RENAME is a DROP of the old name and a CREATE of the new one
// (Debezium: an ALTER naming both); a statement the parser does not
// understand gets a record without tableChanges; the record goes to the
// topic's partition by key hash, not always partition 0; a resumed snapshot
// does not publish its schema statements again.
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
// SchemaHistory, chosen in this order:
//
//   - Options.History, when the wiring passes one. With
//     schema.history.internal.kafka.topic set, the daemon (internal/daemon,
//     for `sluice run` and `sluice worker` alike) passes a store in that
//     Kafka topic (internal/schemahistory: one partition, infinite
//     retention, acks=all idempotent appends; the brokers are
//     schema.history.internal.kafka.bootstrap.servers, else the daemon's
//     kafka.bootstrap.servers), as Debezium's KafkaSchemaHistory. Capture
//     packages do not import Kafka, so this package only accepts the keys.
//     The topic's records are HistoryRecord JSON, not Debezium's history
//     record format: Sluice and Debezium cannot share a history topic.
//   - A local file of JSON lines, fsynced per record
//     (schema.history.internal.file.filename, as Debezium's
//     FileSchemaHistory, history.go). Setting both keys is an error.
//   - Without either key, the file <data.dir>/<source
//     name>.mysql-schema-history.jsonl (DefaultHistoryFile,
//     Options.DataDir): the daemon passes its data.dir, so `sluice run`
//     keeps the history beside offsets.json with no configuration.
//
// Under the Connect runtime in distributed mode (`sluice worker`) the
// offsets follow a task to another worker through the offsets topic, but a
// file in the worker's data.dir does not: set
// schema.history.internal.kafka.topic (Debezium users usually name it
// schema-changes.<topic.prefix>), or point the file key at shared storage,
// or expect the catalog fallback below after such a move. The daemon logs
// a warning whenever a MySQL source falls back to the data.dir file. It
// does not pick a Kafka topic by itself: a history already kept in a file
// would be left behind silently on upgrade, and a topic with infinite
// retention is the operator's choice, as in Debezium, where the key is
// required.
//
// Only a Source built with no store, no file key and no data dir (a Go
// program using this package directly) keeps an in-memory history that
// lasts for the Source's life; a restart then warns and falls back to the
// catalog. A table the history does not know (a position older than the
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
//
// # Benchmarks
//
// bench_test.go (run by make bench) reports MariaDB → Kafka streaming
// events/s and snapshot rows/s through the whole daemon against the real
// services, and the snapshot's rows/s without Kafka.
package mysql
