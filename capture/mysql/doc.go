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
// # Table schemas
//
// Column lists and types come from information_schema when a table is first
// seen and after any DDL statement in its database (connector.go). That is
// correct while the connector keeps up with the server; decoding old binlog
// events after a DDL needs a schema history, which is not built yet.
//
// # Value mapping
//
// types.go is the one place where a MySQL value becomes a Connect value,
// shared by the snapshot (text protocol values) and the binlog (go-mysql's
// decoded row values), following Debezium's MySQL type-mapping table with
// decimal.handling.mode, time.precision.mode, binary.handling.mode and
// bigint.unsigned.handling.mode.
package mysql
