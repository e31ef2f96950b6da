package postgres

import (
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// Version is the Debezium version Sluice reports in source.version. Consumers
// (Debezium's own SMTs, sink connectors, dashboards) parse it as a Debezium
// release, so it must look like one: Sluice emits the record shapes of
// Debezium 3.4 (source schema version 1, seven-valued snapshot enum, no
// origin/origin_lsn fields, which 3.5 added), hence "3.4.0.Final".
const Version = "3.4.0.Final"

// ConnectorName is source.connector for the PostgreSQL connector.
const ConnectorName = "postgresql"

// SourceSchemaName is the name of the Postgres source block schema.
const SourceSchemaName = "io.debezium.connector.postgresql.Source"

// Values of source.snapshot (Debezium's SnapshotRecord, lower-cased).
const (
	SnapshotTrue              = "true"
	SnapshotFirst             = "first"
	SnapshotFirstInCollection = "first_in_data_collection"
	SnapshotLastInCollection  = "last_in_data_collection"
	SnapshotLast              = "last"
	SnapshotFalse             = "false"
	SnapshotIncremental       = "incremental"
)

var sourceSchema = event.StructOf(SourceSchemaName,
	event.NewField("version", event.String()),
	event.NewField("connector", event.String()),
	event.NewField("name", event.String()),
	event.NewField("ts_ms", event.Int64()),
	event.NewField("snapshot", event.String().WithName(NameEnum).WithVersion(1).
		WithParam("allowed", "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental").
		WithDefault(SnapshotFalse).Optional()),
	event.NewField("db", event.String()),
	event.NewField("sequence", event.String().Optional()),
	event.NewField("ts_us", event.Int64().Optional()),
	event.NewField("ts_ns", event.Int64().Optional()),
	event.NewField("schema", event.String()),
	event.NewField("table", event.String()),
	event.NewField("txId", event.Int64().Optional()),
	event.NewField("lsn", event.Int64().Optional()),
	event.NewField("xmin", event.Int64().Optional()),
).WithVersion(1)

// SourceSchema returns the schema of the Debezium 3.x PostgreSQL source block
// (PostgresSourceInfoStructMaker): version, connector, name, ts_ms, snapshot,
// db, sequence, ts_us, ts_ns, schema, table, txId, lsn, xmin.
func SourceSchema() *event.Schema { return sourceSchema }

// sourceInfo holds what is fixed for one connector.
type sourceInfo struct {
	name string // topic.prefix
	db   string // database name
}

// sourcePos is what changes from event to event.
type sourcePos struct {
	ts         time.Time // commit time (streaming) or read time (snapshot)
	snapshot   string
	schema     string
	table      string
	txID       int64 // < 0: none
	lsn        uint64
	lastCommit uint64 // 0: unknown (null in sequence)
}

// build returns the source block for one event.
func (si sourceInfo) build(p sourcePos) *event.Struct {
	s := event.NewStruct(sourceSchema)
	s.SetAt(0, Version)
	s.SetAt(1, ConnectorName)
	s.SetAt(2, si.name)
	s.SetAt(3, p.ts.UnixMilli())
	snap := p.snapshot
	if snap == "" {
		snap = SnapshotFalse
	}
	s.SetAt(4, snap)
	s.SetAt(5, si.db)
	s.SetAt(6, sequence(p.lastCommit, p.lsn))
	s.SetAt(7, p.ts.UnixMicro())
	s.SetAt(8, p.ts.UnixNano())
	s.SetAt(9, p.schema)
	s.SetAt(10, p.table)
	if p.txID >= 0 {
		s.SetAt(11, p.txID)
	}
	if p.lsn != 0 {
		s.SetAt(12, int64(p.lsn))
	}
	return s
}

// sequence renders Debezium's source.sequence: a JSON array of the last
// completely processed (commit) LSN and the event's LSN, as decimal strings,
// null when unknown.
func sequence(lastCommit, lsn uint64) string {
	b := make([]byte, 0, 48)
	b = append(b, '[')
	b = appendLSN(b, lastCommit)
	b = append(b, ',')
	b = appendLSN(b, lsn)
	return string(append(b, ']'))
}

func appendLSN(b []byte, lsn uint64) []byte {
	if lsn == 0 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = strconv.AppendUint(b, lsn, 10)
	return append(b, '"')
}
