package postgres

import (
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// Transaction metadata schemas (Debezium SchemaFactory.transactionKeySchema,
// transactionValueSchema, transactionEventCountPerDataCollectionSchema).
var (
	txKeySchema = event.StructOf("io.debezium.connector.common.TransactionMetadataKey",
		event.NewField("id", event.String())).WithVersion(1)
	txCollectionSchema = event.StructOf("event.collection",
		event.NewField("data_collection", event.String()),
		event.NewField("event_count", event.Int64())).WithVersion(1).Optional()
	txValueSchema = event.StructOf("io.debezium.connector.common.TransactionMetadataValue",
		event.NewField("status", event.String()),
		event.NewField("id", event.String()),
		event.NewField("event_count", event.Int64().Optional()),
		event.NewField("data_collections", event.Array(txCollectionSchema).Optional()),
		event.NewField("ts_ms", event.Int64())).WithVersion(1)
)

// TransactionTopic returns Debezium's transaction topic "<prefix>.transaction".
func TransactionTopic(prefix string) string { return prefix + ".transaction" }

// txID is the transaction id Debezium's PostgreSQL connector puts in the
// transaction block and the BEGIN/END records. Debezium's documentation shows
// "<txId>:<lsn>", but PostgresEventMetadataProvider.getTransactionId (3.x)
// returns the bare xid, and that is what Debezium actually emits.
func txID(xid uint32) string { return strconv.FormatUint(uint64(xid), 10) }

// txTracker counts the events of the current transaction for the
// transaction block and the END record.
type txTracker struct {
	id      string
	total   int64
	order   []string
	perColl map[string]int64
}

func (t *txTracker) begin(xid uint32) {
	t.id = txID(xid)
	t.total = 0
	t.order = t.order[:0]
	if t.perColl == nil {
		t.perColl = make(map[string]int64)
	}
	clear(t.perColl)
}

// event counts one data event of collection ("schema.table") and returns its
// transaction block.
func (t *txTracker) event(collection string) *event.Transaction {
	t.total++
	n, ok := t.perColl[collection]
	if !ok {
		t.order = append(t.order, collection)
	}
	n++
	t.perColl[collection] = n
	return &event.Transaction{ID: t.id, TotalOrder: t.total, DataCollectionOrder: n}
}

// beginValue and endValue build the BEGIN and END record values; ts is the
// commit time, as Debezium passes the commit timestamp to the monitor.
func (t *txTracker) beginValue(ts time.Time) *event.Struct {
	return event.NewStruct(txValueSchema, "BEGIN", t.id, nil, nil, ts.UnixMilli())
}

func (t *txTracker) endValue(ts time.Time) *event.Struct {
	colls := make([]any, len(t.order))
	for i, c := range t.order {
		colls[i] = event.NewStruct(txCollectionSchema, c, t.perColl[c])
	}
	return event.NewStruct(txValueSchema, "END", t.id, t.total, colls, ts.UnixMilli())
}

func (t *txTracker) key() *event.Struct { return event.NewStruct(txKeySchema, t.id) }
