package mysql

import (
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// Version is the Debezium version Sluice reports in source.version (see the
// Postgres source: Sluice emits Debezium 3.4 record shapes).
const Version = "3.4.0.Final"

// ConnectorName is source.connector for the MySQL connector (MariaDB too, as
// Debezium's MySQL connector reports it).
const ConnectorName = "mysql"

// SourceSchemaName is the name of the MySQL source block schema.
const SourceSchemaName = "io.debezium.connector.mysql.Source"

// Values of source.snapshot (Debezium's SnapshotRecord, lower-cased).
const (
	SnapshotTrue              = "true"
	SnapshotFirst             = "first"
	SnapshotFirstInCollection = "first_in_data_collection"
	SnapshotLastInCollection  = "last_in_data_collection"
	SnapshotLast              = "last"
	SnapshotFalse             = "false"
)

// Header keys Debezium puts on the delete and create records that replace
// an update changing the primary key.
const (
	HeaderOldKey = "__debezium.oldkey"
	HeaderNewKey = "__debezium.newkey"
)

var sourceSchema = event.StructOf(SourceSchemaName,
	event.NewField("version", event.String()),
	event.NewField("connector", event.String()),
	event.NewField("name", event.String()),
	event.NewField("ts_ms", event.Int64()),
	event.NewField("snapshot", event.String().WithName("io.debezium.data.Enum").WithVersion(1).
		WithParam("allowed", "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental").
		WithDefault(SnapshotFalse).Optional()),
	event.NewField("db", event.String()),
	event.NewField("sequence", event.String().Optional()),
	event.NewField("ts_us", event.Int64().Optional()),
	event.NewField("ts_ns", event.Int64().Optional()),
	event.NewField("table", event.String().Optional()),
	event.NewField("server_id", event.Int64()),
	event.NewField("gtid", event.String().Optional()),
	event.NewField("file", event.String()),
	event.NewField("pos", event.Int64()),
	event.NewField("row", event.Int32()),
	event.NewField("thread", event.Int64().Optional()),
	event.NewField("query", event.String().Optional()),
).WithVersion(1)

// SourceSchema returns the schema of the Debezium 3.x MySQL source block
// (MySqlSourceInfoStructMaker): the common fields (version, connector, name,
// ts_ms, snapshot, db, sequence, ts_us, ts_ns) then table, server_id, gtid,
// file, pos, row, thread and query.
func SourceSchema() *event.Schema { return sourceSchema }

// sourcePos is what one event's source block says.
type sourcePos struct {
	ts       time.Time
	snapshot string // "" means false
	db       string
	table    string
	serverID uint32
	gtid     string // "" means null
	file     string
	pos      uint32
	row      int32
	thread   int64 // < 0 means null
	query    string
}

// sourceBlock builds the source block of one event.
func sourceBlock(name string, p sourcePos) *event.Struct {
	s := event.NewStruct(sourceSchema)
	snap := p.snapshot
	if snap == "" {
		snap = SnapshotFalse
	}
	s.SetAt(0, Version)
	s.SetAt(1, ConnectorName)
	s.SetAt(2, name)
	s.SetAt(3, p.ts.UnixMilli())
	s.SetAt(4, snap)
	s.SetAt(5, p.db)
	s.SetAt(7, p.ts.UnixMicro())
	s.SetAt(8, p.ts.UnixNano())
	if p.table != "" {
		s.SetAt(9, p.table)
	}
	s.SetAt(10, int64(p.serverID))
	if p.gtid != "" {
		s.SetAt(11, p.gtid)
	}
	s.SetAt(12, p.file)
	s.SetAt(13, int64(p.pos))
	s.SetAt(14, p.row)
	if p.thread >= 0 {
		s.SetAt(15, p.thread)
	}
	if p.query != "" {
		s.SetAt(16, p.query)
	}
	return s
}
