package mongodb

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// readChanges reads recorded change events, one extended JSON document a
// line, as the driver hands them on: the event and its resume token (_id).
func readChanges(t testing.TB, path string) []streamed {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []streamed
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d bson.D
		if err := bson.UnmarshalExtJSON(sc.Bytes(), false, &d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		raw := bson.Raw(b)
		out = append(out, streamed{ns: eventNamespace(raw), raw: raw, token: raw.Lookup("_id").Document()})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// renderPayload is an event as the JSON converter without schemas writes
// it (topic, key, value), then its position.
func renderPayload(t *testing.T, ev event.Event) string {
	t.Helper()
	conv, err := jsonconv.New(jsonconv.Config{DecimalFormat: jsonconv.DecimalBase64, ReplaceNullWithDefault: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := ev.Value()
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	b = append(b, ev.Topic+" "...)
	if b, err = conv.EncodeStruct(b, ev.Key); err != nil {
		t.Fatal(err)
	}
	b = append(b, ' ')
	if b, err = conv.EncodeStruct(b, v); err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n  position " + string(ev.Position) + "\n"
}

func txSource(t testing.TB) *Source {
	t.Helper()
	s, err := New(Config{ProvideTxMetadata: true}, Options{
		Name: "m", TopicPrefix: "fulfillment", URL: "mongodb://127.0.0.1:1",
		Tables: []string{"inventory.customers", "inventory.orders"},
		Now:    fixedNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// feed runs recorded change events through a scope-wide stream's emitting
// logic from position pos.
func feed(t testing.TB, s *Source, pos position, in []streamed) []event.Event {
	t.Helper()
	st := &streamState{s: s, conv: newConverter(s.opts.TopicPrefix, s.cfg.withDefaults().updateFull(), fixedNow),
		shared: true, pos: &pos, mon: txMonitor{prefix: s.opts.TopicPrefix, now: fixedNow}}
	var out event.Batch
	for _, m := range in {
		var err error
		if out, err = st.handle(out, m); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestTransactionMetadata runs a recorded scope-wide change stream
// (testdata/txn/stream.jsonl: a transaction over inventory.orders,
// inventory.customers and the uncaptured inventory.audit, a change outside
// any transaction, then two transactions of two sessions back to back)
// with provide.transaction.metadata: every event keeps its stream order,
// the transaction events carry Debezium's block, and BEGIN/END records
// (id lsid:txnNumber) surround them; compared with testdata/golden.
func TestTransactionMetadata(t *testing.T) {
	s := txSource(t)
	out := feed(t, s, position{Start: clusterTime{T: 1700000000}}, readChanges(t, "testdata/txn/stream.jsonl"))

	lsid1 := `{"id": {"$binary": "FA7YEzXgQXSX9OxmzllH2w==","$type": "04"},"uid": {"$binary": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","$type": "00"}}`
	lsid2 := `{"id": {"$binary": "k3dM7nWxR9C0q5L2cX8fYw==","$type": "04"},"uid": {"$binary": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","$type": "00"}}`
	type want struct {
		topic, key, status, txID string
		total, collOrder, count  int64
	}
	tx := "fulfillment.transaction"
	orders, customers := "fulfillment.inventory.orders", "fulfillment.inventory.customers"
	wants := []want{
		{topic: tx, key: lsid1 + ":1", status: "BEGIN"},
		{topic: orders, key: "10001", txID: lsid1 + ":1", total: 1, collOrder: 1},
		{topic: customers, key: "1004", txID: lsid1 + ":1", total: 2, collOrder: 1},
		{topic: orders, key: "10002", txID: lsid1 + ":1", total: 3, collOrder: 2},
		{topic: tx, key: lsid1 + ":1", status: "END", count: 3},
		{topic: orders, key: "10001"},
		{topic: tx, key: lsid1 + ":2", status: "BEGIN"},
		{topic: customers, key: "1005", txID: lsid1 + ":2", total: 1, collOrder: 1},
		{topic: tx, key: lsid1 + ":2", status: "END", count: 1},
		{topic: tx, key: lsid2 + ":7", status: "BEGIN"},
		{topic: customers, key: "1005", txID: lsid2 + ":7", total: 1, collOrder: 1},
		{topic: orders, key: "10003", txID: lsid2 + ":7", total: 2, collOrder: 1},
		{topic: tx, key: lsid2 + ":7", status: "END", count: 2},
		{topic: customers, key: "1006"},
	}
	if len(out) != len(wants) {
		for _, e := range out {
			t.Log(renderPayload(t, e))
		}
		t.Fatalf("%d records, want %d", len(out), len(wants))
	}
	for i, w := range wants {
		e := out[i]
		v, err := e.Value()
		if err != nil {
			t.Fatal(err)
		}
		if e.Topic != w.topic {
			t.Errorf("record %d: topic %s, want %s", i, e.Topic, w.topic)
			continue
		}
		if w.topic == tx {
			if id := e.Key.Get("id"); id != w.key || v.Get("id") != w.key || v.Get("status") != w.status {
				t.Errorf("record %d: %s %v, want %s %s", i, v.Get("status"), id, w.status, w.key)
			}
			if w.status == "END" && v.Get("event_count") != w.count {
				t.Errorf("record %d: event_count %v, want %d", i, v.Get("event_count"), w.count)
			}
			continue
		}
		if k := e.Key.Get("id"); k != w.key {
			t.Errorf("record %d: key %v, want %s", i, k, w.key)
		}
		blk, _ := v.Get(event.FieldTransaction).(*event.Struct)
		switch {
		case w.txID == "" && blk != nil:
			t.Errorf("record %d: transaction block %v outside a transaction", i, blk)
		case w.txID != "" && blk == nil:
			t.Errorf("record %d: no transaction block", i)
		case w.txID != "" && (blk.Get("id") != w.txID || blk.Get("total_order") != w.total || blk.Get("data_collection_order") != w.collOrder):
			t.Errorf("record %d: transaction %v, want %s %d %d", i, blk, w.txID, w.total, w.collOrder)
		}
	}

	var got strings.Builder
	for _, e := range out {
		got.WriteString(renderPayload(t, e))
	}
	golden := filepath.Join("testdata", "golden", "txn_stream.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantText, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got.String() != string(wantText) {
		t.Errorf("records differ from %s:\n got %s\nwant %s", golden, got.String(), wantText)
	}
}

// TestTransactionResume restarts from the position of every record of
// TestTransactionMetadata's stream in turn, with the change stream resumed
// after that position's token: the records that follow are exactly those
// of the uninterrupted run (no second BEGIN, counts carried on, END
// repeated only when it was not yet acknowledged).
func TestTransactionResume(t *testing.T) {
	s := txSource(t)
	in := readChanges(t, "testdata/txn/stream.jsonl")
	full := feed(t, s, position{Start: clusterTime{T: 1700000000}}, in)
	for k, e := range full {
		pos, err := decodePosition(e.Position)
		if err != nil {
			t.Fatal(err)
		}
		from := 0 // the stream resumes after pos's token, or at the start
		if tok, err := pos.scopeToken(); err != nil {
			t.Fatal(err)
		} else if tok != nil {
			from = slices.IndexFunc(in, func(m streamed) bool { return bytes.Equal(m.token, tok) }) + 1
			if from == 0 {
				t.Fatalf("record %d: token of position %s is not in the stream", k, e.Position)
			}
		}
		got := feed(t, s, pos, in[from:])
		if len(got) != len(full)-k-1 {
			t.Errorf("restart after record %d: %d records, want %d", k, len(got), len(full)-k-1)
			continue
		}
		for i, g := range got {
			if a, b := renderPayload(t, g), renderPayload(t, full[k+1+i]); a != b {
				t.Errorf("restart after record %d: record %d\n got %s\nwant %s", k, i, a, b)
			}
		}
	}
}

// TestNoTransactionMetadata: without provide.transaction.metadata the same
// stream gives only the change events, without blocks.
func TestNoTransactionMetadata(t *testing.T) {
	s := txSource(t)
	s.cfg.ProvideTxMetadata = false
	out := feed(t, s, position{}, readChanges(t, "testdata/txn/stream.jsonl"))
	var keys []string
	for _, e := range out {
		v, _ := e.Value()
		if v.Get(event.FieldTransaction) != nil {
			t.Errorf("%s: transaction block without provide.transaction.metadata", e.Topic)
		}
		p, _ := decodePosition(e.Position)
		if p.Tx != nil {
			t.Errorf("%s: position %s has a transaction", e.Topic, e.Position)
		}
		keys = append(keys, e.Key.Get("id").(string))
	}
	if want := []string{"10001", "1004", "10002", "10001", "1005", "1005", "10003", "1006"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

func TestTablesScope(t *testing.T) {
	for _, c := range []struct {
		colls []namespace
		want  string // level, target and $match as relaxed JSON
	}{
		{[]namespace{{"inventory", "orders"}}, `collection inventory.orders null`},
		{[]namespace{{"inventory", "orders"}, {"inventory", "customers"}},
			`database inventory {"$or":[{"ns.coll":{"$in":["orders","customers"]}},{"operationType":"invalidate"}]}`},
		{[]namespace{{"inventory", "orders"}, {"crm", "customers"}},
			`deployment deployment {"$or":[{"ns.db":"inventory","ns.coll":"orders"},{"ns.db":"crm","ns.coll":"customers"},{"operationType":"invalidate"}]}`},
	} {
		sc := tablesScope(c.colls)
		m := "null"
		if sc.match != nil {
			b, err := bson.MarshalExtJSON(sc.match, false, false)
			if err != nil {
				t.Fatal(err)
			}
			m = string(b)
		}
		if got := sc.level + " " + sc.String() + " " + m; got != c.want {
			t.Errorf("%v: %s, want %s", c.colls, got, c.want)
		}
	}
}

func TestScopeFor(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "deployment deployment"},
		{Config{CaptureScope: ScopeDatabase, CaptureTarget: "inventory"}, "database inventory"},
		{Config{CaptureScope: ScopeCollection, CaptureTarget: "inventory.orders"}, "collection inventory.orders"},
	} {
		s, err := New(c.cfg, Options{TopicPrefix: "p", URL: "mongodb://127.0.0.1:1"})
		if err != nil {
			t.Fatal(err)
		}
		if sc := s.scopeFor(); sc.level+" "+sc.String() != c.want || sc.match != nil {
			t.Errorf("%+v: %s %s %v, want %s", c.cfg, sc.level, sc, sc.match, c.want)
		}
	}
}

// TestCapturesEvent: a scope-wide stream leaves out events of collections
// the lists or the tables list do not capture, and of system databases.
func TestCapturesEvent(t *testing.T) {
	ev := func(db, coll string) bson.Raw {
		b, _ := bson.Marshal(bson.D{{Key: "operationType", Value: "insert"}, {Key: "ns", Value: bson.D{{Key: "db", Value: db}, {Key: "coll", Value: coll}}}})
		return b
	}
	invalidate, _ := bson.Marshal(bson.D{{Key: "operationType", Value: "invalidate"}})
	lists, err := New(Config{CollectionExcludeList: List{`inventory\.audit.*`}}, Options{TopicPrefix: "p", URL: "mongodb://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	tables := txSource(t)
	for _, c := range []struct {
		s    *Source
		raw  bson.Raw
		want bool
	}{
		{lists, ev("inventory", "orders"), true},
		{lists, ev("inventory", "audit_log"), false},
		{lists, ev("config", "system.sessions"), false},
		{lists, ev("inventory", "system.views"), false},
		{lists, invalidate, true},
		{tables, ev("inventory", "orders"), true},
		{tables, ev("inventory", "audit"), false},
		{tables, ev("crm", "orders"), false},
	} {
		if got := c.s.capturesEvent(c.raw); got != c.want {
			t.Errorf("%s: %v, want %v", c.raw, got, c.want)
		}
	}
}

// TestHelloAllowsScope: scope-wide streams on replica sets and mongos, per
// collection streams otherwise (the stand-in test server, which answers
// no hello, is checked in TestScopeStreamsStandIn).
func TestHelloAllowsScope(t *testing.T) {
	for _, c := range []struct {
		hello string
		want  bool
	}{
		{`{"isWritablePrimary": true, "setName": "rs0", "hosts": ["mongo:27017"], "ok": 1}`, true},
		{`{"isWritablePrimary": true, "msg": "isdbgrid", "ok": 1}`, true},
		{`{"isWritablePrimary": true, "ok": 1}`, false},
	} {
		var d bson.D
		if err := bson.UnmarshalExtJSON([]byte(c.hello), false, &d); err != nil {
			t.Fatal(err)
		}
		raw, _ := bson.Marshal(d)
		if got := helloAllowsScope(raw); got != c.want {
			t.Errorf("%s: %v, want %v", c.hello, got, c.want)
		}
	}
}

// TestScopeStreamsStandIn: the stand-in test server answers no hello, so
// the connector keeps one change stream per collection on it (its
// database-level streams open but never return an event), and nothing it
// runs exercises the scope-wide stream or transactions (it has no
// sessions).
func TestScopeStreamsStandIn(t *testing.T) {
	c, _ := connect(t)
	if scopeStreams(t.Context(), c) {
		t.Fatal("the stand-in server reports a replica set: the scope-wide stream would be used; revisit doc.go")
	}
}

// TestTransactionMetadataStandIn streams two collections of the stand-in
// server with provide.transaction.metadata: it takes the per-collection
// path and, as its writes carry no session (lsid/txnNumber), emits the
// changes with no transaction block and no BEGIN/END records, streamed
// ones with per-collection tokens in their positions.
func TestTransactionMetadataStandIn(t *testing.T) {
	c, url := connect(t)
	db := freshDB(t, c, "a", "b")
	cfg := fastPoll
	cfg.ProvideTxMetadata = true
	_, col := run(t, cfg, Options{Name: "m", TopicPrefix: "tx", URL: url,
		Tables: []string{db.Name() + ".a", db.Name() + ".b"}})
	// The first document is read by the snapshot or the stream; once it is
	// there the streams have their start time and the second one streams.
	if _, err := db.Collection("a").InsertOne(t.Context(), bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	col.wait(t, 1)
	if _, err := db.Collection("b").InsertOne(t.Context(), bson.D{{Key: "_id", Value: 2}}); err != nil {
		t.Fatal(err)
	}
	evs := col.wait(t, 2)
	topics := []string{evs[0].Topic, evs[1].Topic}
	slices.Sort(topics)
	if want := []string{"tx." + db.Name() + ".a", "tx." + db.Name() + ".b"}; !slices.Equal(topics, want) {
		t.Fatalf("topics %v, want %v", topics, want)
	}
	for _, e := range evs {
		v, err := e.Value()
		if err != nil {
			t.Fatal(err)
		}
		if v.Get(event.FieldTransaction) != nil {
			t.Errorf("%s: transaction block %v", e.Topic, v.Get(event.FieldTransaction))
		}
		p, err := decodePosition(e.Position)
		if err != nil {
			t.Fatal(err)
		}
		if p.Tx != nil || p.Token != "" || (e.Op != event.OpRead && len(p.Tokens) == 0) {
			t.Errorf("%s: position %s is not a per-collection one without a transaction", e.Topic, e.Position)
		}
	}
}

// BenchmarkTransactionStream runs the recorded stream of
// TestTransactionMetadata (14 records, 3 transactions) through the
// emitting logic with provide.transaction.metadata.
func BenchmarkTransactionStream(b *testing.B) {
	s := txSource(b)
	in := readChanges(b, "testdata/txn/stream.jsonl")
	b.ReportAllocs()
	for b.Loop() {
		feed(b, s, position{Start: clusterTime{T: 1700000000}}, in)
	}
}
