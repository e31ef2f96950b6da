package mongodb

import (
	"cmp"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"

	"github.com/sluice-cdc/sluice/event"
)

// Transaction metadata (provide.transaction.metadata), as Debezium 3.4's
// MongoDB connector produces it through its TransactionMonitor:
//
//   - the transaction id is source.lsid + ":" + source.txnNumber
//     (MongoDbEventMetadataProvider.getTransactionId): the session id as
//     the Java driver's JSON of the lsid document, then the transaction
//     number of that session;
//   - a BEGIN record on "<topic.prefix>.transaction" before the first
//     emitted event of a transaction;
//   - the transaction block (id, total_order, data_collection_order) in
//     every event of the transaction; data collections are "db.collection";
//   - an END record with the event counts, total and per collection. A
//     change stream has no commit event, so, as in Debezium, END goes out
//     just before the next emitted event that is not part of the same
//     transaction (another transaction's, or one outside any): a quiet
//     deployment holds the END back until its next change.
//
// Only emitted events count: changes of collections that are not captured
// never reach the monitor, in Debezium as here.
//
// Positions: every event of a transaction carries the transaction's state
// so far (id and counts) in its position, and the BEGIN record the state
// with no event yet. A restart after the position of an event inside the
// transaction resumes the change stream right after that event and carries
// on counting from the stored state, without a second BEGIN. The END
// record carries the position of the transaction's last event with the
// transaction closed, so until END is acknowledged a restart emits it
// again when the next event arrives.

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

// Transaction statuses of the BEGIN and END records.
const (
	TxStatusBegin = "BEGIN"
	TxStatusEnd   = "END"
)

// TransactionTopic returns Debezium's transaction topic "<prefix>.transaction".
func TransactionTopic(prefix string) string { return prefix + ".transaction" }

// txState is the open transaction as positions store it.
type txState struct {
	ID    string   `json:"id"`
	Total int64    `json:"n"`
	Colls []txColl `json:"colls,omitempty"` // in first-seen order
}

type txColl struct {
	Name string `json:"c"`
	N    int64  `json:"n"`
}

func (t *txState) clone() *txState {
	if t == nil {
		return nil
	}
	c := *t
	c.Colls = slices.Clone(t.Colls)
	return &c
}

// count counts one event of collection coll ("db.collection") and returns
// its transaction block.
func (t *txState) count(coll string) *event.Struct {
	t.Total++
	i := slices.IndexFunc(t.Colls, func(c txColl) bool { return c.Name == coll })
	if i < 0 {
		t.Colls = append(t.Colls, txColl{Name: coll})
		i = len(t.Colls) - 1
	}
	t.Colls[i].N++
	return event.NewStruct(event.TransactionBlockSchema(), t.ID, t.Total, t.Colls[i].N)
}

// txRecord returns the BEGIN or END record of t; ts is the timestamp of the
// event that opened (BEGIN) or closed (END) it, now the record's envelope
// time.
func txRecord(prefix, status string, t *txState, ts, now time.Time) event.Event {
	var v *event.Struct
	if status == TxStatusBegin {
		v = event.NewStruct(txValueSchema, status, t.ID, nil, nil, ts.UnixMilli())
	} else {
		names := make([]string, len(t.Colls))
		counts := make(map[string]int64, len(t.Colls))
		for i, c := range t.Colls {
			names[i] = c.Name
			counts[c.Name] = c.N
		}
		colls := make([]any, 0, len(names))
		for _, n := range javaHashMapOrder(names) {
			colls = append(colls, event.NewStruct(txCollectionSchema, n, counts[n]))
		}
		v = event.NewStruct(txValueSchema, status, t.ID, t.Total, colls, ts.UnixMilli())
	}
	e := event.Event{Topic: TransactionTopic(prefix), Key: event.NewStruct(txKeySchema, t.ID), ValueSchema: txValueSchema, Raw: v}
	e.SetTimestamp(now)
	return e
}

// eventTxID returns the transaction id of a converted change event, ""
// for one outside a transaction: source.lsid + ":" + source.txnNumber, or
// either alone when the other is missing, as Debezium's
// MongoDbEventMetadataProvider does.
func eventTxID(ev event.Event) string {
	if ev.Raw == nil {
		return ""
	}
	src, _ := ev.Raw.Get(event.FieldSource).(*event.Struct)
	if src == nil {
		return ""
	}
	lsid, _ := src.Get("lsid").(string)
	txn, hasTxn := src.Get("txnNumber").(int64)
	switch {
	case lsid == "" && !hasTxn:
		return ""
	case lsid == "":
		return strconv.FormatInt(txn, 10)
	case !hasTxn:
		return lsid
	}
	return lsid + ":" + strconv.FormatInt(txn, 10)
}

// eventTime returns source.ts_ms of a converted event as a time.
func eventTime(ev event.Event) time.Time {
	if ev.Raw != nil {
		if src, _ := ev.Raw.Get(event.FieldSource).(*event.Struct); src != nil {
			if ms, ok := src.Get("ts_ms").(int64); ok {
				return time.UnixMilli(ms)
			}
		}
	}
	return time.UnixMilli(ev.TsMs)
}

// txMonitor turns a sequence of converted events into the same events with
// their transaction blocks and the BEGIN/END records between them. The
// state it keeps is the one positions store (position.Tx).
type txMonitor struct {
	prefix string
	now    func() time.Time
}

// step handles one event about to be emitted. pos is the position before
// the event (its token not yet advanced); it returns the records to emit
// before ev (END, BEGIN) with their positions, and updates pos.Tx for ev,
// counted under its source db.collection.
// ev gets its transaction block; the caller then advances pos for ev and
// encodes it into ev.Position.
func (m txMonitor) step(pos *position, ev *event.Event) []event.Event {
	id := eventTxID(*ev)
	var out []event.Event
	if pos.Tx != nil && pos.Tx.ID != id {
		end := txRecord(m.prefix, TxStatusEnd, pos.Tx, eventTime(*ev), m.now())
		pos.Tx = nil
		end.Position = pos.encode()
		out = append(out, end)
	}
	if id == "" {
		return out
	}
	if pos.Tx == nil {
		pos.Tx = &txState{ID: id}
		begin := txRecord(m.prefix, TxStatusBegin, pos.Tx, eventTime(*ev), m.now())
		begin.Position = pos.encode()
		out = append(out, begin)
	}
	src := ev.Raw.Get(event.FieldSource).(*event.Struct)
	db, _ := src.Get("db").(string)
	coll, _ := src.Get("collection").(string)
	ev.Raw.Set(event.FieldTransaction, pos.Tx.count(db+"."+coll))
	return out
}

// javaHashMapOrder returns keys (distinct, in insertion order) in the order
// a java.util.HashMap<String, Long> holding them iterates: Debezium builds
// data_collections by iterating TransactionContext's per-collection
// HashMap. A HashMap iterates its buckets in index order and a bucket's
// entries in insertion order; the index is the spread String.hashCode
// masked by the table size, 16 doubling whenever the map holds more than
// three quarters of it. (Buckets of more than 8 entries become trees with
// another order; transactions do not touch that many colliding
// collections.)
func javaHashMapOrder(keys []string) []string {
	size := 16
	for len(keys) > size*3/4 {
		size *= 2
	}
	type kb struct {
		key    string
		bucket uint32
	}
	ks := make([]kb, len(keys))
	for i, k := range keys {
		var h uint32
		for _, c := range utf16.Encode([]rune(k)) {
			h = 31*h + uint32(c)
		}
		ks[i] = kb{k, (h ^ h>>16) & uint32(size-1)}
	}
	slices.SortStableFunc(ks, func(a, b kb) int { return cmp.Compare(a.bucket, b.bucket) })
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.key
	}
	return out
}
