package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// TestTxRecordJSON checks the BEGIN and END records, schemas included,
// against the JSON Debezium's JsonConverter writes for them.
func TestTxRecordJSON(t *testing.T) {
	conv, err := jsonconv.New(jsonconv.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var tr txTracker
	tr.begin(571)
	commit := time.UnixMilli(1486500577125)
	begin := tr.record("srv", event.TxStatusBegin, 53195829, commit)
	if got := tr.event("s2.a", 53195830); *got != (event.Transaction{ID: "571:53195830", TotalOrder: 1, DataCollectionOrder: 1}) {
		t.Errorf("first event block = %+v", *got)
	}
	tr.event("s1.a", 53195831)
	if got := tr.event("s2.a", 53195831); *got != (event.Transaction{ID: "571:53195831", TotalOrder: 3, DataCollectionOrder: 2}) {
		t.Errorf("third event block = %+v", *got)
	}
	end := tr.record("srv", event.TxStatusEnd, 53195832, commit)

	keySchema := `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}`
	valueSchema := `{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},{"type":"string","optional":false,"field":"id"},` +
		`{"type":"int64","optional":true,"field":"event_count"},{"type":"array","items":{"type":"struct","fields":[` +
		`{"type":"string","optional":false,"field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],` +
		`"optional":true,"name":"event.collection","version":1},"optional":true,"field":"data_collections"},` +
		`{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}`
	tests := []struct {
		e          event.Event
		key, value string
	}{
		{begin, `{"schema":` + keySchema + `,"payload":{"id":"571:53195829"}}`,
			`{"schema":` + valueSchema + `,"payload":{"status":"BEGIN","id":"571:53195829","event_count":null,"data_collections":null,"ts_ms":1486500577125}}`},
		{end, `{"schema":` + keySchema + `,"payload":{"id":"571:53195832"}}`,
			`{"schema":` + valueSchema + `,"payload":{"status":"END","id":"571:53195832","event_count":3,"data_collections":[` +
				`{"data_collection":"s1.a","event_count":1},{"data_collection":"s2.a","event_count":2}],"ts_ms":1486500577125}}`},
	}
	for _, tt := range tests {
		rec, err := tt.e.Record()
		if err != nil {
			t.Fatal(err)
		}
		if rec.Topic != "srv.transaction" {
			t.Errorf("topic %q", rec.Topic)
		}
		k, err := conv.EncodeStruct(nil, rec.Key)
		if err != nil {
			t.Fatal(err)
		}
		v, err := conv.EncodeStruct(nil, rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(k) != tt.key {
			t.Errorf("key\n got %s\nwant %s", k, tt.key)
		}
		if string(v) != tt.value {
			t.Errorf("value\n got %s\nwant %s", v, tt.value)
		}
	}
}

// txRun is one streaming run's output, with helpers to pick out the
// records of given transactions.
type txRun struct {
	t      *testing.T
	r      *runner
	schema string
	topic  string
}

// all returns every event emitted so far that belongs to one of xids: data
// events of the test's tables and transaction records whose id starts with
// "<xid>:" (transactional logical decoding messages of other tests reach
// every slot, and with them their BEGIN/END records).
func (x txRun) all(xids ...uint32) []event.Event {
	x.r.mu.Lock()
	defer x.r.mu.Unlock()
	var out []event.Event
	for _, b := range x.r.batches {
		for _, e := range b {
			switch {
			case e.Topic == x.topic:
				id := e.Key.Get("id").(string)
				for _, xid := range xids {
					if strings.HasPrefix(id, strconv.FormatUint(uint64(xid), 10)+":") {
						out = append(out, e)
					}
				}
			case strings.Contains(e.Topic, x.schema):
				// Data events of other transactions are left out; one
				// without a transaction block is kept, to be reported.
				if e.Transaction == nil || len(xids) == 0 {
					out = append(out, e)
					continue
				}
				for _, xid := range xids {
					if strings.HasPrefix(e.Transaction.ID, strconv.FormatUint(uint64(xid), 10)+":") {
						out = append(out, e)
					}
				}
			}
		}
	}
	return out
}

// waitEnd waits for the END record of xid.
func (x txRun) waitEnd(xid uint32) []event.Event {
	x.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		for _, e := range x.all(xid) {
			if e.Topic == x.topic && e.Raw.Get("status") == event.TxStatusEnd {
				return x.all()
			}
		}
		select {
		case <-x.r.notify:
		case err := <-x.r.done:
			x.r.done <- err
			x.t.Fatalf("Run ended before the END of %d: %v", xid, err)
		case <-deadline:
			x.t.Fatalf("timed out waiting for the END of %d", xid)
		}
	}
}

// render gives one line per event: transaction records as key and value
// payload JSON, data events as topic, op, key and transaction block JSON.
func (x txRun) render(evs []event.Event) []string {
	x.t.Helper()
	enc := func(s *event.Struct) string {
		b, err := payloadConv.EncodeStruct(nil, s)
		if err != nil {
			x.t.Fatal(err)
		}
		return strings.ReplaceAll(string(b), x.schema, "S")
	}
	var out []string
	for _, e := range evs {
		v, err := e.Value()
		if err != nil {
			x.t.Fatalf("event on %s: %v", e.Topic, err)
		}
		if e.Topic == x.topic {
			out = append(out, "TX "+enc(e.Key)+" "+enc(v))
			continue
		}
		tx, _ := v.Get("transaction").(*event.Struct)
		if tx == nil {
			out = append(out, fmt.Sprintf("%s %s %s no transaction block", strings.ReplaceAll(e.Topic, x.schema, "S"), e.Op, enc(e.Key)))
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %s %s", strings.ReplaceAll(e.Topic, x.schema, "S"), e.Op, enc(e.Key), enc(tx)))
	}
	return out
}

// runTx runs stmts in one transaction and returns its xid.
func runTx(t *testing.T, e *pgEnv, stmts ...string) uint32 {
	t.Helper()
	ctx := context.Background()
	tx, err := e.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, strings.ReplaceAll(s, "$S", e.schema)); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	var xid int64
	if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&xid); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return uint32(xid) // txid_current carries the epoch above the 32-bit xid
}

// expectTx builds the expected lines of one transaction from its data events
// (as streamed) and the commit LSN carried by the END record's position:
// BEGIN, the events with their running orders, END with the counts.
func expectTx(t *testing.T, xid uint32, data []event.Event, end event.Event, schema string, serverVersion int) []string {
	t.Helper()
	pos, err := decodePosition(end.Position)
	if err != nil || pos.Tx != nil {
		t.Fatalf("END position %s: %v (want a completed position)", end.Position, err)
	}
	first := data[0].Source
	beginLSN := first.Get("lsn").(int64)
	if serverVersion < 150000 {
		// Before PostgreSQL 15 pgoutput sends BEGIN at the transaction's
		// first WAL record, which need not be a captured change.
		t.Skip("BEGIN LSN expectations are written for PostgreSQL 15+")
	}
	ts := first.Get("ts_ms").(int64)
	id := func(lsn int64) string { return fmt.Sprintf("%d:%d", xid, lsn) }
	lines := []string{fmt.Sprintf(`TX {"id":"%s"} {"status":"BEGIN","id":"%s","event_count":null,"data_collections":null,"ts_ms":%d}`,
		id(beginLSN), id(beginLSN), ts)}
	per := map[string]int64{}
	var order []string
	for i, e := range data {
		lsn := e.Source.Get("lsn").(int64)
		if lsn >= int64(pos.LSN) {
			t.Errorf("event lsn %d not before the END LSN %d", lsn, pos.LSN)
		}
		coll := strings.ReplaceAll(e.Source.Get("schema").(string)+"."+e.Source.Get("table").(string), schema, "S")
		if _, ok := per[coll]; !ok {
			order = append(order, coll)
		}
		per[coll]++
		lines = append(lines, fmt.Sprintf(`%s %s %s {"id":"%s","total_order":%d,"data_collection_order":%d}`,
			strings.ReplaceAll(e.Topic, schema, "S"), e.Op, strings.ReplaceAll(mustPayload(t, e.Key), schema, "S"), id(lsn), i+1, per[coll]))
	}
	// data_collections follows Java's HashMap order of the real names.
	real := make([]string, len(order))
	for i, c := range order {
		real[i] = strings.ReplaceAll(c, "S.", schema+".")
	}
	var colls []string
	for _, c := range event.DataCollectionOrder(real) {
		s := strings.ReplaceAll(c, schema, "S")
		colls = append(colls, fmt.Sprintf(`{"data_collection":"%s","event_count":%d}`, s, per[s]))
	}
	endID := id(int64(pos.LSN))
	lines = append(lines, fmt.Sprintf(`TX {"id":"%s"} {"status":"END","id":"%s","event_count":%d,"data_collections":[%s],"ts_ms":%d}`,
		endID, endID, len(data), strings.Join(colls, ","), ts))
	return lines
}

func mustPayload(t *testing.T, s *event.Struct) string {
	t.Helper()
	b, err := payloadConv.EncodeStruct(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func serverVersion(t *testing.T, e *pgEnv) int {
	t.Helper()
	var v int
	if err := e.conn.QueryRow(context.Background(), "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// split separates the records of one transaction into its data events and
// its BEGIN and END records.
func split(evs []event.Event, topic string, xid uint32) (begins, data []event.Event, end event.Event, ends int) {
	prefix := strconv.FormatUint(uint64(xid), 10) + ":"
	for _, e := range evs {
		switch {
		case e.Topic == topic:
			if !strings.HasPrefix(e.Key.Get("id").(string), prefix) {
				continue
			}
			if e.Raw.Get("status") == event.TxStatusBegin {
				begins = append(begins, e)
			} else {
				end = e
				ends++
			}
		case e.Transaction != nil && strings.HasPrefix(e.Transaction.ID, prefix):
			data = append(data, e)
		}
	}
	return begins, data, end, ends
}

// TestTxMetadataStream: two transactions over two tables give BEGIN, data
// events with their transaction blocks and END with the counts, in order; a
// transaction touching no captured table gives nothing.
func TestTxMetadataStream(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t,
		"CREATE TABLE $S.a (id int PRIMARY KEY, v text)",
		"CREATE TABLE $S.b (id int PRIMARY KEY)",
		"CREATE SCHEMA $S_x", // not captured, not published
		"CREATE TABLE $S_x.t (id int PRIMARY KEY)",
	)
	t.Cleanup(func() { _, _ = e.conn.Exec(context.Background(), "DROP SCHEMA "+e.schema+"_x CASCADE") })
	cfg := e.config()
	cfg.ProvideTxMetadata = true
	cfg.MaxBatchSize = 2 // BEGIN and END fall on batch boundaries too
	r := startSource(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: e.url})
	waitSlot(t, e)
	x := txRun{t: t, r: r, schema: e.schema, topic: TransactionTopic("p")}

	x1 := runTx(t, e, "INSERT INTO $S.a VALUES (1, 'x')", "INSERT INTO $S.b VALUES (1)",
		"INSERT INTO $S.a VALUES (2, 'y')", "UPDATE $S.a SET v = 'z' WHERE id = 1")
	x2 := runTx(t, e, "INSERT INTO $S_x.t VALUES (1)")
	x3 := runTx(t, e, "INSERT INTO $S.b VALUES (2)", "DELETE FROM $S.a WHERE id = 2", "INSERT INTO $S.b VALUES (3)")
	x.waitEnd(x3)
	got := x.all(x1, x2, x3)

	var want []string
	ver := serverVersion(t, e)
	for _, xid := range []uint32{x1, x3} {
		begins, data, end, ends := split(got, x.topic, xid)
		if len(begins) != 1 || ends != 1 {
			t.Fatalf("xid %d: %d BEGIN and %d END records", xid, len(begins), ends)
		}
		if p, err := decodePosition(begins[0].Position); err != nil || p.Tx == nil || p.Tx.Xid != xid || p.Tx.N != 0 {
			t.Errorf("BEGIN position %s: %v", begins[0].Position, err)
		}
		want = append(want, expectTx(t, xid, data, end, e.schema, ver)...)
	}
	if b, d, _, n := split(got, x.topic, x2); len(b)+len(d)+n != 0 {
		t.Errorf("transaction %d on an uncaptured table gave %d BEGIN, %d data, %d END records", x2, len(b), len(d), n)
	}
	gotLines := x.render(got)
	if len(gotLines) != 11 || !slices.Equal(gotLines, want) {
		t.Errorf("got %d records:\n%s\nwant:\n%s", len(gotLines), strings.Join(gotLines, "\n"), strings.Join(want, "\n"))
	}
	// A readable spot check of what expectTx builds.
	if len(gotLines) == 11 && (!strings.HasPrefix(gotLines[2], `p.S.b c {"id":1} {"id":"`) ||
		!strings.HasSuffix(gotLines[4], `"total_order":4,"data_collection_order":3}`)) {
		t.Errorf("unexpected data event lines: %q, %q", gotLines[2], gotLines[4])
	}
	r.mu.Lock()
	for _, b := range r.batches {
		if len(b) > cfg.MaxBatchSize || b.Last() == nil {
			t.Errorf("batch of %d events, last position %s", len(b), b.Last())
		}
	}
	r.mu.Unlock()
}

// TestTxMetadataRestart restarts from positions inside and after a
// transaction: no second BEGIN, the orders and the END counts are those of
// the whole transaction, and an acknowledged END is not sent again.
func TestTxMetadataRestart(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)", "CREATE TABLE $S.b (id int PRIMARY KEY)")
	cfg := e.config()
	cfg.ProvideTxMetadata = true
	cfg.MaxBatchSize = 2
	opts := Options{Name: "t", TopicPrefix: "p", URL: e.url}
	topic := TransactionTopic("p")
	r := startSource(t, cfg, opts)
	waitSlot(t, e)
	x := txRun{t: t, r: r, schema: e.schema, topic: topic}
	xid := runTx(t, e, "INSERT INTO $S.a VALUES (1)", "INSERT INTO $S.b VALUES (1)", "INSERT INTO $S.a VALUES (2)",
		"INSERT INTO $S.a VALUES (3)", "INSERT INTO $S.b VALUES (2)", "INSERT INTO $S.a VALUES (4)", "INSERT INTO $S.a VALUES (5)")
	x.waitEnd(xid)
	full := x.all(xid)
	r.stop(t)
	fullLines := x.render(full)
	if len(fullLines) != 9 {
		t.Fatalf("first run: %d records, want BEGIN, 7 events, END:\n%s", len(fullLines), strings.Join(fullLines, "\n"))
	}

	// Positions to restart from: BEGIN's (n=0), every mid-transaction one,
	// and END's. Each restart must give exactly the rest of the first run.
	for i, ev := range full {
		if ev.Position == nil {
			continue
		}
		p, err := decodePosition(ev.Position)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("from_%d", i), func(t *testing.T) {
			opts := opts
			opts.Start = ev.Position
			r2 := startSource(t, cfg, opts)
			x2 := txRun{t: t, r: r2, schema: e.schema, topic: topic}
			// A marker transaction bounds the output.
			marker := runTx(t, e, fmt.Sprintf("INSERT INTO $S.b VALUES (%d)", 100+i))
			x2.waitEnd(marker)
			r2.stop(t)
			rest := x2.render(x2.all(xid))
			if p.Tx == nil {
				if i != len(full)-1 {
					t.Fatalf("record %d has a completed position %s", i, ev.Position)
				}
			} else if int(p.Tx.N) != i { // record i is BEGIN (i=0, n=0) or event i
				t.Fatalf("record %d has position n=%d", i, p.Tx.N)
			}
			if want := fullLines[i+1:]; !slices.Equal(rest, want) {
				t.Errorf("restart from %s gave:\n%s\nwant:\n%s", ev.Position, strings.Join(rest, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
