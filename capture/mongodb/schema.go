package mongodb

import (
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// Version is the Debezium version Sluice reports in source.version (see the
// Postgres source: Sluice emits Debezium 3.4 record shapes).
const Version = "3.4.0.Final"

// ConnectorName is source.connector for the MongoDB connector.
const ConnectorName = "mongodb"

// Schema names of Debezium 3.4's MongoDB connector.
const (
	SourceSchemaName            = "io.debezium.connector.mongo.Source"
	UpdateDescriptionSchemaName = "io.debezium.connector.mongodb.changestream.updatedescription"
	TruncatedArraySchemaName    = "io.debezium.connector.mongodb.changestream.truncatedarray"
	JSONSchemaName              = "io.debezium.data.Json"
)

// Values of source.snapshot (Debezium's SnapshotRecord, lower-cased).
const (
	SnapshotTrue  = "true"
	SnapshotLast  = "last"
	SnapshotFalse = "false"
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
	event.NewField("collection", event.String()),
	event.NewField("ord", event.Int32()),
	event.NewField("lsid", event.String().Optional()),
	event.NewField("txnNumber", event.Int64().Optional()),
	event.NewField("wallTime", event.Int64().Optional()),
).WithVersion(1)

// SourceSchema returns the schema of the Debezium 3.4 MongoDB source block
// (MongoDbSourceInfoStructMaker): the common fields (version, connector,
// name, ts_ms, snapshot, db, sequence, ts_us, ts_ns), then collection, ord,
// lsid, txnNumber and wallTime. Debezium 2.x dropped the rs field.
func SourceSchema() *event.Schema { return sourceSchema }

var jsonString = event.String().WithName(JSONSchemaName).WithVersion(1).Optional()

var truncatedArraySchema = event.StructOf(TruncatedArraySchemaName,
	event.NewField("field", event.String()),
	event.NewField("size", event.Int32()),
).WithVersion(1)

var updateDescriptionSchema = event.StructOf(UpdateDescriptionSchemaName,
	event.NewField("removedFields", event.Array(event.String()).Optional()),
	event.NewField("updatedFields", jsonString),
	event.NewField("truncatedArrays", event.Array(truncatedArraySchema).Optional()),
).Optional().WithVersion(1)

// collectionSchemas are the key and value schemas of one collection's topic.
type collectionSchemas struct {
	topic string
	key   *event.Schema
	value *event.Schema
}

// schemasFor builds the schemas Debezium's MongoDbSchema gives a collection:
// key <topic>.Key {id: string}; value <topic>.Envelope {before, after
// (io.debezium.data.Json), updateDescription, source, op, ts_ms,
// transaction}. Unlike the relational connectors the MongoDB envelope has no
// ts_us or ts_ns and op is optional.
func schemasFor(topic string) collectionSchemas {
	return collectionSchemas{
		topic: topic,
		key: event.StructOf(topic+".Key",
			event.NewField("id", event.String()),
		),
		value: event.StructOf(event.EnvelopeName(topic),
			event.NewField(event.FieldBefore, jsonString),
			event.NewField(event.FieldAfter, jsonString),
			event.NewField("updateDescription", updateDescriptionSchema),
			event.NewField(event.FieldSource, sourceSchema),
			event.NewField(event.FieldOp, event.String().Optional()),
			event.NewField(event.FieldTsMs, event.Int64().Optional()),
			event.NewField(event.FieldTransaction, event.TransactionBlockSchema()),
		),
	}
}

// sourcePos is what one event's source block says.
type sourcePos struct {
	ts         time.Time // wallTime, else the cluster time's seconds; read time in a snapshot
	snapshot   string    // "" means false
	db, coll   string
	ord        int32 // the cluster time's increment, -1 when unknown
	lsid       string
	txnNumber  int64 // with lsid
	wallTimeMs int64 // 0: absent
}

func sourceBlock(name string, p sourcePos) *event.Struct {
	s := event.NewStruct(sourceSchema)
	snap := p.snapshot
	if snap == "" {
		snap = SnapshotFalse
	}
	s.Set("version", Version)
	s.Set("connector", ConnectorName)
	s.Set("name", name)
	s.Set("ts_ms", p.ts.UnixMilli())
	s.Set("snapshot", snap)
	s.Set("db", p.db)
	s.Set("ts_us", p.ts.UnixMicro())
	s.Set("ts_ns", p.ts.UnixNano())
	s.Set("collection", p.coll)
	s.Set("ord", p.ord)
	if p.lsid != "" {
		s.Set("lsid", p.lsid)
		s.Set("txnNumber", p.txnNumber)
	}
	if p.wallTimeMs != 0 {
		s.Set("wallTime", p.wallTimeMs)
	}
	return s
}
