package event

import (
	"cmp"
	"slices"
	"time"
	"unicode/utf16"
)

// The schemas of Debezium's transaction metadata records, common to its
// connectors (SchemaFactory.transactionKeySchema, transactionValueSchema and
// transactionEventCountPerDataCollectionSchema). Each source decides what a
// transaction id is and when BEGIN and END go out; the records themselves
// are the same everywhere.
var (
	txKeySchema = StructOf("io.debezium.connector.common.TransactionMetadataKey",
		NewField("id", String())).WithVersion(1)
	txCollectionSchema = StructOf("event.collection",
		NewField("data_collection", String()),
		NewField("event_count", Int64())).WithVersion(1).Optional()
	txValueSchema = StructOf("io.debezium.connector.common.TransactionMetadataValue",
		NewField("status", String()),
		NewField("id", String()),
		NewField("event_count", Int64().Optional()),
		NewField("data_collections", Array(txCollectionSchema).Optional()),
		NewField("ts_ms", Int64())).WithVersion(1)
)

// Transaction statuses of the BEGIN and END records.
const (
	TxStatusBegin = "BEGIN"
	TxStatusEnd   = "END"
)

// TransactionTopic returns Debezium's transaction topic "<prefix>.transaction".
func TransactionTopic(prefix string) string { return prefix + ".transaction" }

// CollectionCount is the number of events a transaction emitted for one data
// collection ("schema.table", "db.collection").
type CollectionCount struct {
	Name  string
	Count int64
}

// TransactionBegin returns the BEGIN record of transaction id of the
// connector with topic prefix prefix. ts is the value's ts_ms (what it is
// differs by source), now the record's envelope time.
func TransactionBegin(prefix, id string, ts, now time.Time) Event {
	return txRecord(prefix, id, NewStruct(txValueSchema, TxStatusBegin, id, nil, nil, ts.UnixMilli()), now)
}

// TransactionEnd returns the END record of transaction id: total events, and
// colls, the count per data collection in the order the collections were
// first seen (distinct names); data_collections lists them in Debezium's
// order (DataCollectionOrder). ts and now are as for TransactionBegin.
func TransactionEnd(prefix, id string, total int64, colls []CollectionCount, ts, now time.Time) Event {
	names := make([]string, len(colls))
	counts := make(map[string]int64, len(colls))
	for i, c := range colls {
		names[i] = c.Name
		counts[c.Name] = c.Count
	}
	vals := make([]any, 0, len(names))
	for _, n := range DataCollectionOrder(names) {
		vals = append(vals, NewStruct(txCollectionSchema, n, counts[n]))
	}
	return txRecord(prefix, id, NewStruct(txValueSchema, TxStatusEnd, id, total, vals, ts.UnixMilli()), now)
}

func txRecord(prefix, id string, v *Struct, now time.Time) Event {
	e := Event{Topic: TransactionTopic(prefix), Key: NewStruct(txKeySchema, id), ValueSchema: txValueSchema, Raw: v}
	e.SetTimestamp(now)
	return e
}

// DataCollectionOrder returns names (distinct, in the order first seen) in
// the order an END record's data_collections lists them: Debezium builds
// that list by iterating the java.util.HashMap<String, Long> of its
// TransactionContext. A HashMap iterates its buckets in index order and a
// bucket's entries in insertion order; the index is the spread
// String.hashCode masked by the table size, 16 doubling whenever the map
// holds more than three quarters of it. (A bucket of more than 8 entries
// turns into a tree with another order; no transaction touches that many
// colliding collections in practice.)
func DataCollectionOrder(names []string) []string {
	size := 16
	for len(names) > size*3/4 {
		size *= 2
	}
	type kb struct {
		key    string
		bucket uint32
	}
	ks := make([]kb, len(names))
	for i, k := range names {
		h := javaStringHash(k)
		ks[i] = kb{k, (h ^ h>>16) & uint32(size-1)}
	}
	slices.SortStableFunc(ks, func(a, b kb) int { return cmp.Compare(a.bucket, b.bucket) })
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.key
	}
	return out
}

// javaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + ... + s[n-1]
// over UTF-16 code units, in 32-bit wrapping arithmetic.
func javaStringHash(s string) uint32 {
	var h uint32
	for _, c := range utf16.Encode([]rune(s)) {
		h = 31*h + uint32(c)
	}
	return h
}
