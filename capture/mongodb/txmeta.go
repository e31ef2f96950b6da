package mongodb

import (
	"slices"
	"strconv"
	"time"

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

// Transaction statuses of the BEGIN and END records.
const (
	TxStatusBegin = event.TxStatusBegin
	TxStatusEnd   = event.TxStatusEnd
)

// TransactionTopic returns Debezium's transaction topic "<prefix>.transaction".
func TransactionTopic(prefix string) string { return event.TransactionTopic(prefix) }

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
	if status == TxStatusBegin {
		return event.TransactionBegin(prefix, t.ID, ts, now)
	}
	colls := make([]event.CollectionCount, len(t.Colls))
	for i, c := range t.Colls {
		colls[i] = event.CollectionCount{Name: c.Name, Count: c.N}
	}
	return event.TransactionEnd(prefix, t.ID, t.Total, colls, ts, now)
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
