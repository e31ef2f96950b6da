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

// sourceInfo holds what is fixed for one connector, and the boxed field
// values of the last event built, which the next events of the same
// transaction (or snapshot chunk) share: boxing them anew for every event
// would cost an allocation each. Its methods are not safe for concurrent
// use; each user keeps its own.
type sourceInfo struct {
	name string // topic.prefix
	db   string // database name

	cache sourceCache
}

// sourceCache keeps boxed values keyed by what they were built from.
type sourceCache struct {
	ok               bool
	name, db         any
	ts               time.Time
	tsMs, tsUs, tsNs any
	schema, table    string
	schemaV, tableV  any
	txID             int64
	txIDV            any
	snapshot         string
	snapshotV        any
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
func (si *sourceInfo) build(p sourcePos) *event.Struct {
	c := &si.cache
	if !c.ok {
		c.ok = true
		c.name, c.db = si.name, si.db
		c.txID = -1
		c.snapshot = SnapshotFalse
		c.snapshotV = SnapshotFalse
	}
	if !p.ts.Equal(c.ts) || c.tsMs == nil {
		c.ts = p.ts
		c.tsMs, c.tsUs, c.tsNs = p.ts.UnixMilli(), p.ts.UnixMicro(), p.ts.UnixNano()
	}
	if p.schema != c.schema || c.schemaV == nil {
		c.schema, c.schemaV = p.schema, p.schema
	}
	if p.table != c.table || c.tableV == nil {
		c.table, c.tableV = p.table, p.table
	}
	snap := p.snapshot
	if snap == "" {
		snap = SnapshotFalse
	}
	if snap != c.snapshot {
		c.snapshot, c.snapshotV = snap, snap
	}
	s := event.NewStruct(sourceSchema)
	s.SetAt(0, Version)
	s.SetAt(1, ConnectorName)
	s.SetAt(2, c.name)
	s.SetAt(3, c.tsMs)
	s.SetAt(4, c.snapshotV)
	s.SetAt(5, c.db)
	s.SetAt(6, sequence(p.lastCommit, p.lsn))
	s.SetAt(7, c.tsUs)
	s.SetAt(8, c.tsNs)
	s.SetAt(9, c.schemaV)
	s.SetAt(10, c.tableV)
	if p.txID >= 0 {
		if p.txID != c.txID || c.txIDV == nil {
			c.txID, c.txIDV = p.txID, p.txID
		}
		s.SetAt(11, c.txIDV)
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
	var buf [48]byte // two 20-digit LSNs with quotes fit: no allocation but the string
	b := append(buf[:0], '[')
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
