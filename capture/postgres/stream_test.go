package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// pgEnv is one test's isolated schema, slot and publication.
type pgEnv struct {
	t      *testing.T
	url    string
	conn   *pgx.Conn
	schema string
	slot   string
	pub    string
}

func newPGEnv(t *testing.T, ddl ...string) *pgEnv {
	t.Helper()
	url := testenv.Require(t, "SLUICE_PG_URL")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("t%d", rand.Uint32())
	e := &pgEnv{t: t, url: url, conn: conn, schema: "s_" + id, slot: "slot_" + id, pub: "pub_" + id}
	e.exec("CREATE SCHEMA " + e.schema)
	for _, d := range ddl {
		e.exec(strings.ReplaceAll(d, "$S", e.schema))
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for range 50 { // the slot may still be active for a moment
			_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", e.slot)
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, _ = conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+e.pub)
		_, _ = conn.Exec(ctx, "DROP SCHEMA "+e.schema+" CASCADE")
		conn.Close(ctx)
	})
	return e
}

func (e *pgEnv) exec(sql string) {
	e.t.Helper()
	if _, err := e.conn.Exec(context.Background(), strings.ReplaceAll(sql, "$S", e.schema)); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *pgEnv) config() Config {
	c := DefaultConfig()
	c.SlotName = e.slot
	c.PublicationName = e.pub
	c.PublicationAutocreate = PublicationFiltered
	c.SnapshotMode = SnapshotNoData
	c.StatusUpdateIntervalMs = 100
	c.TableIncludeList = List{e.schema + `\..*`}
	return c
}

// runner runs a Source and collects its batches.
type runner struct {
	src     *Source
	cancel  context.CancelFunc
	done    chan error
	mu      sync.Mutex
	batches []event.Batch
	events  []event.Event
	notify  chan struct{}
}

func startSource(t *testing.T, cfg Config, opts Options) *runner {
	t.Helper()
	filter := cfg.TableIncludeList[0][:len(cfg.TableIncludeList[0])-len(`\..*`)]
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	src, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{src: src, cancel: cancel, done: make(chan error, 1), notify: make(chan struct{}, 1)}
	go func() {
		r.done <- src.Run(ctx, func(_ context.Context, b event.Batch) error {
			r.mu.Lock()
			r.batches = append(r.batches, b)
			// Logical decoding messages reach every slot of the database:
			// keep only this test's (topics and message prefixes carry
			// the test's schema name).
			for _, e := range b {
				if strings.Contains(e.Topic, filter) || e.Message != nil && strings.HasPrefix(e.Message.Prefix, filter) {
					r.events = append(r.events, e)
				}
			}
			r.mu.Unlock()
			select {
			case r.notify <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *runner) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
}

// wait returns the first n events, failing after a generous timeout.
func (r *runner) wait(t *testing.T, n int) []event.Event {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		got := len(r.events)
		if got >= n {
			out := append([]event.Event(nil), r.events[:n]...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case err := <-r.done:
			r.done <- err
			t.Fatalf("Run ended after %d of %d events: %v", got, n, err)
		case <-deadline:

			t.Fatalf("timed out with %d of %d events", got, n)
		}
	}
}

var payloadConv, _ = jsonconv.New(jsonconv.Config{ReplaceNullWithDefault: true})

// describe renders an event's stable parts: topic, op, key, before, after
// and headers as Connect JSON payloads, plus source schema/table/snapshot.
func describe(t *testing.T, e event.Event, schema string) string {
	t.Helper()
	enc := func(s *event.Struct) string {
		if s == nil {
			return "null"
		}
		b, err := payloadConv.EncodeStruct(nil, s)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		return string(b)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s key=%s", strings.ReplaceAll(e.Topic, schema, "S"), e.Op, strings.ReplaceAll(enc(e.Key), schema, "S"))
	if e.Op == event.OpMessage {
		fmt.Fprintf(&b, " msg=%s:%v", strings.ReplaceAll(e.Message.Prefix, schema, "S"), e.Message.Content)
	} else {
		fmt.Fprintf(&b, " before=%s after=%s", enc(e.Before), enc(e.After))
	}
	for _, h := range e.Headers {
		fmt.Fprintf(&b, " %s=%s", h.Key, enc(h.Value.(*event.Struct)))
	}
	if e.Source != nil {
		fmt.Fprintf(&b, " src=%s.%s/%s", strings.ReplaceAll(e.Source.Get("schema").(string), schema, "S"), e.Source.Get("table"), e.Source.Get("snapshot"))
	}
	if e.Transaction != nil {
		fmt.Fprintf(&b, " tx=%d/%d", e.Transaction.TotalOrder, e.Transaction.DataCollectionOrder)
	}
	if _, err := e.Record(); err != nil {
		t.Errorf("event %s: Record: %v", b.String(), err)
	}
	return b.String()
}

func checkEvents(t *testing.T, got []event.Event, schema string, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = describe(t, got[i], schema)
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			if len(g) > 300 {
				g = g[:300] + "..."
			}
			t.Errorf("event %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func TestStreamDML(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t,
		"CREATE TABLE $S.d (id int PRIMARY KEY, name text NOT NULL, big text)",
		"CREATE TABLE $S.f (id int PRIMARY KEY, name text)",
		"ALTER TABLE $S.f REPLICA IDENTITY FULL",
		"CREATE TABLE $S.nokey (v int)",
	)
	cfg := e.config()
	cfg.SkippedOperations = List{"none"} // Debezium's default skips truncates
	r := startSource(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: e.url})
	// Wait until the slot exists so that the changes below are captured.
	waitSlot(t, e)

	// Random hex does not compress below the TOAST threshold.
	e.exec("INSERT INTO $S.d SELECT 1, 'a', string_agg(md5(random()::text), '') FROM generate_series(1, 500)")
	var big string
	if err := e.conn.QueryRow(context.Background(), "SELECT big FROM "+e.schema+".d").Scan(&big); err != nil {
		t.Fatal(err)
	}
	e.exec("UPDATE $S.d SET name = 'b' WHERE id = 1") // big unchanged: TOAST placeholder
	e.exec("DELETE FROM $S.d WHERE id = 1")
	e.exec("INSERT INTO $S.f VALUES (1, 'x')")
	e.exec("UPDATE $S.f SET name = 'y' WHERE id = 1")
	e.exec("DELETE FROM $S.f WHERE id = 1")
	e.exec("INSERT INTO $S.d VALUES (2, 'k', NULL)")
	e.exec("UPDATE $S.d SET id = 3 WHERE id = 2")
	e.exec("INSERT INTO $S.nokey VALUES (7)")
	e.exec("TRUNCATE $S.nokey")
	e.exec("SELECT pg_logical_emit_message(true, '$S.pfx', 'in tx')")
	e.exec("SELECT pg_logical_emit_message(false, '$S.pfx2', 'no tx')")
	e.exec("ALTER TABLE $S.f ADD COLUMN extra int DEFAULT 5")
	e.exec("INSERT INTO $S.f VALUES (2, 'z')")

	got := r.wait(t, 14)
	ph := DefaultUnavailableValue
	checkEvents(t, got, e.schema, []string{
		`p.S.d c key={"id":1} before=null after={"id":1,"name":"a","big":"` + big + `"} src=S.d/false`,
		`p.S.d u key={"id":1} before=null after={"id":1,"name":"b","big":"` + ph + `"} src=S.d/false`,
		`p.S.d d key={"id":1} before={"id":1,"name":"","big":null} after=null src=S.d/false`,
		`p.S.f c key={"id":1} before=null after={"id":1,"name":"x"} src=S.f/false`,
		`p.S.f u key={"id":1} before={"id":1,"name":"x"} after={"id":1,"name":"y"} src=S.f/false`,
		`p.S.f d key={"id":1} before={"id":1,"name":"y"} after=null src=S.f/false`,
		`p.S.d c key={"id":2} before=null after={"id":2,"name":"k","big":null} src=S.d/false`,
		`p.S.d d key={"id":2} before={"id":2,"name":"","big":null} after=null __debezium.newkey={"id":3} src=S.d/false`,
		`p.S.d c key={"id":3} before=null after={"id":3,"name":"k","big":null} __debezium.oldkey={"id":2} src=S.d/false`,
		`p.S.nokey c key=null before=null after={"v":7} src=S.nokey/false`,
		`p.S.nokey t key=null before=null after=null src=S.nokey/false`,
		`p.message m key={"prefix":"S.pfx"} msg=S.pfx:[105 110 32 116 120] src=./false`,
		`p.message m key={"prefix":"S.pfx2"} msg=S.pfx2:[110 111 32 116 120] src=./false`,
		`p.S.f c key={"id":2} before=null after={"id":2,"name":"z","extra":5} src=S.f/false`,
	})
	// Every event's envelope has the row schema of its table version.
	if f := got[13].ValueSchema.FieldByName("after"); f == nil || f.FieldIndex("extra") != 2 {
		t.Errorf("after DDL the value schema lacks column extra: %v", f)
	}
	// Source block details of the first event.
	src := got[0].Source
	if src.Get("version") != Version || src.Get("connector") != "postgresql" || src.Get("name") != "p" || src.Get("db") != "sluice" {
		t.Errorf("source = %v", src)
	}
	lsn := src.Get("lsn").(int64)
	if seq := src.Get("sequence").(string); !strings.HasSuffix(seq, fmt.Sprintf(`,"%d"]`, lsn)) {
		t.Errorf("sequence %s does not end with lsn %d", seq, lsn)
	}
	if got[0].Source.Get("txId") == nil || got[12].Source.Get("txId") != nil {
		t.Errorf("txId: data event %v, non-transactional message %v", got[0].Source.Get("txId"), got[12].Source.Get("txId"))
	}
}

func waitSlot(t *testing.T, e *pgEnv) {
	t.Helper()
	for range 600 {
		var active bool
		err := e.conn.QueryRow(context.Background(), "SELECT active AND confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = $1", e.slot).Scan(&active)
		if err == nil && active {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("slot never became active")
}

func TestCheckSettings(t *testing.T) {
	ok := serverSettings{WalLevel: "logical", Replication: true, MaxSlots: 10, ServerVersion: 150000}
	if err := checkSettings(ok); err != nil {
		t.Fatalf("checkSettings(ok) = %v", err)
	}
	bad := ok
	bad.WalLevel = "replica"
	bad.Replication = false
	err := checkSettings(bad)
	if !errors.Is(err, ErrPrerequisite) || !strings.Contains(err.Error(), `wal_level is "replica", logical decoding needs wal_level=logical`) ||
		!strings.Contains(err.Error(), "ALTER ROLE <user> REPLICATION") {
		t.Fatalf("checkSettings(bad) = %v", err)
	}
}

func slotConfirmed(t *testing.T, e *pgEnv) uint64 {
	t.Helper()
	var s string
	if err := e.conn.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", e.slot).Scan(&s); err != nil {
		t.Fatal(err)
	}
	var hi, lo uint64
	fmt.Sscanf(s, "%X/%X", &hi, &lo)
	return hi<<32 | lo
}

// TestRestartAndAck: acked positions are confirmed (never backwards), a
// restart from a position inside a partly published transaction skips what
// was published, and a fully acked transaction is not re-emitted.
func TestRestartAndAck(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)")
	cfg := e.config()
	cfg.MaxBatchSize = 3
	cfg.MaxQueueSize = 10
	opts := Options{Name: "t", TopicPrefix: "p", URL: e.url}
	r := startSource(t, cfg, opts)
	waitSlot(t, e)
	e.exec("INSERT INTO $S.a VALUES (1)")
	e.exec("INSERT INTO $S.a SELECT generate_series(2, 8)") // one tx, 7 events: batches of 3
	got := r.wait(t, 8)
	r.mu.Lock()
	batches := append([]event.Batch(nil), r.batches...)
	r.mu.Unlock()
	for _, b := range batches {
		if len(b) > cfg.MaxBatchSize {
			t.Errorf("batch of %d > max.batch.size", len(b))
		}
		if b.Last() == nil {
			t.Errorf("batch without a position on its last event")
		}
	}
	// Ack the first transaction and the first batch inside the second one.
	first := got[0].Position
	if first == nil {
		t.Fatal("first transaction's event has no position")
	}
	var mid event.Position
	for i := 1; i < 8; i++ {
		if got[i].Position != nil {
			mid = got[i].Position
			break
		}
	}
	if mid == nil {
		t.Fatal("no mid-transaction position")
	}
	midPos, _ := decodePosition(mid)
	if midPos.Tx == nil {
		t.Fatalf("mid position %s has no tx part", mid)
	}
	before := slotConfirmed(t, e)
	if err := r.src.Ack(context.Background(), mid); err != nil {
		t.Fatal(err)
	}
	if err := r.src.Ack(context.Background(), first); err != nil { // older: ignored
		t.Fatal(err)
	}
	fp, _ := decodePosition(first)
	deadline := time.Now().Add(30 * time.Second)
	for slotConfirmed(t, e) < uint64(fp.LSN) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	c := slotConfirmed(t, e)
	if c != uint64(fp.LSN) || c < before {
		t.Fatalf("confirmed_flush_lsn = %X, want %X (was %X)", c, uint64(fp.LSN), before)
	}
	r.stop(t)

	// Restart from the mid position: the rest of the second tx only.
	opts.Start = mid
	r2 := startSource(t, cfg, opts)
	e.exec("INSERT INTO $S.a VALUES (100)")
	rest := r2.wait(t, 8-1-int(midPos.Tx.N)+1)
	var ids []string
	for _, ev := range rest {
		ids = append(ids, fmt.Sprint(ev.After.Get("id")))
	}
	want := []string{}
	for i := int(midPos.Tx.N) + 2; i <= 8; i++ {
		want = append(want, fmt.Sprint(i))
	}
	want = append(want, "100")
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("after restart got ids %v, want %v", ids, want)
	}
	if slotConfirmed(t, e) < c {
		t.Fatal("confirmed LSN moved backwards")
	}
}

func TestSlotMissing(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)")
	cfg := e.config()
	src, err := New(cfg, Options{Name: "t", TopicPrefix: "p", URL: e.url, Start: position{LSN: 0x1000}.encode()})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(context.Background(), func(context.Context, event.Batch) error { return nil })
	if !errors.Is(err, ErrSlotMissing) {
		t.Fatalf("Run = %v, want ErrSlotMissing", err)
	}
}

// TestLargeTransaction streams a 200k-row transaction; batches stay within
// max.batch.size (events are emitted as they arrive, not per transaction).
func TestLargeTransaction(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.big (id int PRIMARY KEY, v text)")
	cfg := e.config()
	r := startSource(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: e.url})
	waitSlot(t, e)
	const n = 200_000
	e.exec(fmt.Sprintf("INSERT INTO $S.big SELECT g, 'row ' || g FROM generate_series(1, %d) g", n))
	got := r.wait(t, n)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range r.batches {
		if len(b) > cfg.MaxBatchSize {
			t.Fatalf("batch %d has %d events > %d", i, len(b), cfg.MaxBatchSize)
		}
	}
	if len(r.batches) < n/cfg.MaxBatchSize {
		t.Fatalf("%d batches for %d events", len(r.batches), n)
	}
	for i, ev := range got {
		if id := ev.After.Get("id"); id != int32(i+1) {
			t.Fatalf("event %d: id %v (%s %s), want %d", i, id, ev.Topic, ev.Op, i+1)
		}
	}
	last, _ := decodePosition(got[n-1].Position)
	if last.Tx != nil || last.LSN == 0 {
		t.Fatalf("last event position %s should be the commit end", got[n-1].Position)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestSnapshotThenStream: snapshot.mode initial reads existing rows as op=r
// with Debezium's snapshot markers, then streams later changes.
func TestSnapshotThenStream(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t,
		"CREATE TABLE $S.a (id int PRIMARY KEY, v text)",
		"CREATE TABLE $S.b (id int PRIMARY KEY)",
		"INSERT INTO $S.a VALUES (1, 'x'), (2, 'y'), (3, 'z')",
		"INSERT INTO $S.b VALUES (10)",
	)
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	cfg.MaxBatchSize = 2
	cfg.MaxQueueSize = 4
	r := startSource(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: e.url})
	got := r.wait(t, 4)
	checkEvents(t, got, e.schema, []string{
		`p.S.a r key={"id":1} before=null after={"id":1,"v":"x"} src=S.a/first`,
		`p.S.a r key={"id":2} before=null after={"id":2,"v":"y"} src=S.a/true`,
		`p.S.a r key={"id":3} before=null after={"id":3,"v":"z"} src=S.a/last_in_data_collection`,
		`p.S.b r key={"id":10} before=null after={"id":10} src=S.b/last`,
	})
	last, err := decodePosition(got[3].Position)
	if err != nil || last.Snapshot != nil || last.LSN == 0 {
		t.Fatalf("last snapshot position %s: %v", got[3].Position, err)
	}
	if p, _ := decodePosition(got[1].Position); got[1].Position == nil || p.Snapshot == nil {
		t.Fatalf("mid-snapshot position %s should mark the snapshot in progress", got[1].Position)
	}
	e.exec("INSERT INTO $S.b VALUES (11)")
	got = r.wait(t, 5)
	checkEvents(t, got[4:], e.schema, []string{`p.S.b c key={"id":11} before=null after={"id":11} src=S.b/false`})
}
