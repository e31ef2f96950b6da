package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-cdc/sluice/event"
)

// Transaction metadata (provide.transaction.metadata), as Debezium 3.4's
// PostgreSQL connector produces it:
//
//   - a BEGIN record on "<topic.prefix>.transaction" when the BEGIN message
//     arrives (PostgresStreamingChangeEventSource dispatches a transaction
//     started event for every BEGIN, so BEGIN is not lazy: a transaction
//     whose changes are all filtered out by table.include.list still gets a
//     BEGIN and an END with event_count 0; one that touches no published
//     table produces nothing because pgoutput (PostgreSQL 15+) sends no
//     BEGIN/COMMIT for it);
//   - the transaction block (id, total_order, data_collection_order) in every
//     data event and transactional logical decoding message;
//   - an END record at COMMIT with the event count, total and per data
//     collection.
//
// Positions: the BEGIN record carries {"tx":{...,"n":0}}, so a restart from
// any position inside the transaction knows BEGIN was emitted and does not
// emit it again. The END record is the one that carries the commit position
// ({"lsn": end LSN}), so it is re-emitted after a crash until that position
// is acknowledged (at-least-once, like the data events). After a restart in
// the middle of a transaction the server resends it from its BEGIN; the
// events already emitted are decoded and counted again but not emitted, so
// total_order, data_collection_order and the END counts are those of the
// whole transaction. (Debezium 3.4 itself emits a second BEGIN and restarts
// the counters at that point; Debezium fixed that later by continuing the
// counters restored from its offsets, which is what this does.)

// messageCollection is the data collection Debezium counts transactional
// logical decoding messages under (LogicalDecodingMessageId).
const messageCollection = "LOGICAL_DECODING_MESSAGE"

// TransactionTopic returns Debezium's transaction topic "<prefix>.transaction".
func TransactionTopic(prefix string) string { return event.TransactionTopic(prefix) }

// txID is the transaction id Debezium's PostgreSQL connector writes in the
// transaction block, the record key and the BEGIN/END values: "<xid>:<lsn>",
// the LSN in decimal. PostgresEventMetadataProvider.getTransactionId returns
// the bare xid, but PostgresTransactionMonitor (DBZ-5329, in every 3.x
// release) rewrites the id of every struct it makes to
// "<xid>:<lastSeenLsn>", where lastSeenLsn is the LSN of the replication
// message being processed: the BEGIN message for BEGIN, the change for a
// data event (its source.lsn), the COMMIT message for END. So the id is not
// constant within a transaction, as the documentation's example shows
// ("571:53195829" on BEGIN, "571:53195832" on END).
func txID(xid uint32, lsn uint64) string {
	return strconv.FormatUint(uint64(xid), 10) + ":" + strconv.FormatUint(lsn, 10)
}

// txTracker counts the events of the current transaction for the
// transaction block and the END record.
type txTracker struct {
	xid     uint32
	total   int64
	order   []string // collections in first-seen order
	perColl map[string]int64
}

func (t *txTracker) begin(xid uint32) {
	t.xid = xid
	t.total = 0
	t.order = t.order[:0]
	if t.perColl == nil {
		t.perColl = make(map[string]int64)
	}
	clear(t.perColl)
}

// event counts one event of collection ("schema.table") at lsn and returns
// its transaction block.
func (t *txTracker) event(collection string, lsn uint64) *event.Transaction {
	t.total++
	n, ok := t.perColl[collection]
	if !ok {
		t.order = append(t.order, collection)
	}
	n++
	t.perColl[collection] = n
	return &event.Transaction{ID: txID(t.xid, lsn), TotalOrder: t.total, DataCollectionOrder: n}
}

// record returns a BEGIN or END record for the message at lsn; ts is the
// commit time, which Debezium passes to the monitor for both.
func (t *txTracker) record(prefix, status string, lsn uint64, ts time.Time) event.Event {
	id := txID(t.xid, lsn)
	if status == event.TxStatusBegin {
		return event.TransactionBegin(prefix, id, ts, time.Now())
	}
	colls := make([]event.CollectionCount, len(t.order))
	for i, c := range t.order {
		colls[i] = event.CollectionCount{Name: c, Count: t.perColl[c]}
	}
	return event.TransactionEnd(prefix, id, t.total, colls, ts, time.Now())
}

// txBegin emits the BEGIN record of the transaction just begun (st.begin
// ran) whose BEGIN message was sent at lsn. A transaction that was already
// emitted, or resumed after a restart, gets none: its BEGIN went out before
// the position it resumes from.
func (st *streamer) txBegin(ctx context.Context, lsn uint64) error {
	if !st.s.cfg.ProvideTxMetadata || st.skipTx {
		return nil
	}
	if p := st.skipFrom; p != nil && p.Xid == st.xid && uint64(p.Commit) == st.commitLSN {
		return nil
	}
	if len(st.pending) >= st.s.cfg.MaxBatchSize {
		// The pending events end an earlier transaction, so the last one
		// carries its position already.
		if err := st.flush(ctx, 0); err != nil {
			return err
		}
	}
	e := st.tx.record(st.s.opts.TopicPrefix, event.TxStatusBegin, lsn, st.commitTime)
	// Acknowledging BEGIN says: this transaction, none of its events yet.
	e.Position = position{LSN: lsnText(st.resume), Tx: &txPosition{Xid: st.xid, Commit: lsnText(st.commitLSN), N: 0}}.encode()
	st.pending = append(st.pending, e)
	return nil
}

// txEnd adds the END record of the current transaction before commit
// updates the stream state; commit then gives it the transaction's end
// position, as the last pending event.
func (st *streamer) txEnd(ctx context.Context, m *pglogrepl.CommitMessage) error {
	if !st.s.cfg.ProvideTxMetadata || st.skipTx || !st.inTx {
		return nil
	}
	if len(st.pending) >= st.s.cfg.MaxBatchSize {
		// Still inside the transaction: the flushed batch ends at event n.
		if err := st.flush(ctx, 0); err != nil {
			return err
		}
	}
	// COMMIT's XLogData starts at the transaction's end LSN.
	st.pending = append(st.pending, st.tx.record(st.s.opts.TopicPrefix, event.TxStatusEnd,
		uint64(m.TransactionEndLSN), m.CommitTime))
	return nil
}
