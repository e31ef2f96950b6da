package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/event"
)

// gauge returns the value of the metric name{connector=connector} from reg,
// and whether it is there.
func gauge(t *testing.T, reg *prometheus.Registry, name, connector string) (float64, bool) {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "connector" && l.GetValue() == connector {
					switch {
					case m.Gauge != nil:
						return m.Gauge.GetValue(), true
					case m.Counter != nil:
						return m.Counter.GetValue(), true
					}
				}
			}
		}
	}
	return 0, false
}

// until polls cond every 50ms for up to a minute.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// terminate kills the ordinary connections of the connector named app and
// returns how many there were.
func (e *pgEnv) terminate(app string) int {
	e.t.Helper()
	var n int
	err := e.conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int FROM pg_stat_activity
WHERE application_name = $1 AND backend_type = 'client backend'`, "sluice-"+app).Scan(&n)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// walsender returns the pid of the process streaming from the test's slot,
// waiting for one that is not old.
func (e *pgEnv) walsender(old int32) int32 {
	e.t.Helper()
	var pid int32
	until(e.t, "a new walsender", func() bool {
		var p *int32
		err := e.conn.QueryRow(context.Background(), "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", e.slot).Scan(&p)
		if err != nil {
			e.t.Fatal(err)
		}
		if p != nil && *p != old {
			pid = *p
			return true
		}
		return false
	})
	return pid
}

// killWalsender terminates the test slot's walsender and returns its pid.
func (e *pgEnv) killWalsender() int32 {
	e.t.Helper()
	// The walsender seen may be exiting already (its session just lost its
	// other connection): then wait for the next one and kill that.
	for range 50 {
		pid := e.walsender(0)
		var ok bool
		err := e.conn.QueryRow(context.Background(), "SELECT pg_terminate_backend($1)", pid).Scan(&ok)
		if err != nil {
			e.t.Fatalf("terminate walsender %d: %v", pid, err)
		}
		if ok {
			return pid
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatal("could not terminate a walsender")
	return 0
}

// TestReconnect kills the walsender and the ordinary connections several
// times while transactions stream in; the source reconnects (counting each
// in sluice_postgres_reconnects_total) and every committed change arrives
// exactly once, in commit order.
func TestReconnect(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.r (id int PRIMARY KEY, tx int NOT NULL)")
	cfg := e.config()
	cfg.MaxBatchSize = 4 // mid-transaction positions
	cfg.MaxQueueSize = 10
	reg := prometheus.NewRegistry()
	name := "rc_" + e.slot
	r := startSource(t, cfg, Options{Name: name, TopicPrefix: "p", URL: e.url, Registerer: reg})
	waitSlot(t, e)

	// Transactions of 1 to 9 rows, committed while the connections die.
	const txs = 120
	var wg sync.WaitGroup
	wg.Add(1)
	total := 0
	for i := range txs {
		total += 1 + i%9
	}
	writer, err := pgx.Connect(context.Background(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close(context.Background())
	writeErr := make(chan error, 1)
	go func() {
		defer wg.Done()
		id := 0
		for i := range txs {
			n := 1 + i%9
			sql := fmt.Sprintf("INSERT INTO %s.r SELECT g, %d FROM generate_series(%d, %d) g", e.schema, i, id+1, id+n)
			if _, err := writer.Exec(context.Background(), sql); err != nil {
				writeErr <- err
				return
			}
			id += n
			time.Sleep(5 * time.Millisecond)
		}
	}()

	const kills = 4
	for k := range kills {
		// Wait for progress, then kill the walsender (and, every other
		// time, the ordinary connections too).
		r.wait(t, (k+1)*total/(kills+2))
		if k%2 == 1 {
			e.walsender(0) // a session is up: its connections exist
			if n := e.terminate(name); n == 0 {
				t.Fatalf("kill %d: no ordinary connection to terminate", k)
			}
		}
		pid := e.killWalsender()
		e.walsender(pid)
	}
	wg.Wait()
	select {
	case err := <-writeErr:
		t.Fatal(err)
	default:
	}
	// Kill only the ordinary connections while streaming, then make the
	// stream need its catalog connection: the DDL's Relation message.
	pid := e.walsender(0)
	if n := e.terminate(name); n == 0 {
		t.Fatal("no ordinary connection to terminate")
	}
	e.exec("ALTER TABLE $S.r ADD COLUMN extra int")
	e.exec(fmt.Sprintf("INSERT INTO $S.r VALUES (%d, -1, 7)", total+1))

	got := r.wait(t, total+1)
	for i, ev := range got {
		if id := ev.After.Get("id"); id != int32(i+1) {
			t.Fatalf("event %d: id %v, want %d (a change was lost or duplicated)", i, id, i+1)
		}
	}
	if x := got[total].After.Get("extra"); x != int32(7) {
		t.Errorf("after the DDL: extra = %v, want 7", x)
	}
	// No duplicates after the last one either.
	time.Sleep(200 * time.Millisecond)
	r.mu.Lock()
	n := len(r.events)
	r.mu.Unlock()
	if n != total+1 {
		t.Errorf("%d events, want %d", n, total+1)
	}
	// Each walsender kill and the final termination restart the session
	// once; a termination of the ordinary connections while a session is
	// still starting (loading columns) restarts it once more before its
	// walsender is killed.
	rc, ok := gauge(t, reg, "sluice_postgres_reconnects_total", name)
	if lo, hi := float64(kills+1), float64(kills+1+kills/2); !ok || rc < lo || rc > hi {
		t.Errorf("sluice_postgres_reconnects_total = %v (present %v), want %v to %v", rc, ok, lo, hi)
	}
	if e.walsender(0) == pid {
		t.Error("losing the catalog connection did not restart the session")
	}
}

// TestBackoff checks the reconnect delays: doubling from minBackoff, capped
// at maxBackoff.
func TestBackoff(t *testing.T) {
	var got []time.Duration
	b := minBackoff
	for range 12 {
		got = append(got, b)
		b = nextBackoff(b)
	}
	want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond,
		3200 * time.Millisecond, 6400 * time.Millisecond, 12800 * time.Millisecond, 25600 * time.Millisecond,
		30 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("backoff = %v, want %v", got, want)
	}
}

// TestHeartbeats: heartbeat records have Debezium's topic and schemas and a
// position; acking them advances confirmed_flush_lsn past WAL written by
// tables that are not captured; heartbeat.action.query runs and its change
// is captured; the slot-lag gauge reports the unconfirmed WAL.
func TestHeartbeats(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t,
		"CREATE TABLE $S.cap (id int PRIMARY KEY)",
		"CREATE TABLE $S.hb (id serial PRIMARY KEY, ts timestamptz NOT NULL DEFAULT now())",
		"CREATE TABLE $S.busy (id int, v text)",
	)
	cfg := e.config()
	cfg.HeartbeatIntervalMs = 100
	cfg.HeartbeatActionQuery = "INSERT INTO " + e.schema + ".hb DEFAULT VALUES"
	reg := prometheus.NewRegistry()
	name := "hb_" + e.slot
	prefix := "p"
	r := startSource(t, cfg, Options{Name: name, TopicPrefix: prefix, URL: e.url, Registerer: reg,
		Tables: []string{e.schema + ".cap", e.schema + ".hb"}})
	waitSlot(t, e)

	e.exec("INSERT INTO $S.cap VALUES (1)")
	// The action query's inserts are captured: two of them.
	var capEvent event.Event
	until(t, "captured change and two heartbeat action changes", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		hb := 0
		for _, ev := range r.events {
			switch ev.Topic {
			case prefix + "." + e.schema + ".hb":
				if ev.Op != event.OpCreate {
					t.Fatalf("action query event op %s", ev.Op)
				}
				hb++
			case prefix + "." + e.schema + ".cap":
				capEvent = ev
			}
		}
		return hb >= 2 && capEvent.Topic != ""
	})

	// Heartbeat records.
	heartbeats := func() []event.Event {
		r.mu.Lock()
		defer r.mu.Unlock()
		var out []event.Event
		for _, b := range r.batches {
			for _, ev := range b {
				if ev.Topic == HeartbeatTopic(prefix) {
					out = append(out, ev)
				}
			}
		}
		return out
	}
	until(t, "heartbeats", func() bool { return len(heartbeats()) >= 2 })
	h := heartbeats()[0]
	if h.Topic != "__debezium-heartbeat.p" {
		t.Errorf("heartbeat topic %q", h.Topic)
	}
	if h.Position == nil {
		t.Error("heartbeat without a position")
	}
	ks := h.Key.Schema()
	if v, _ := ks.Version(); ks.Name() != "io.debezium.connector.common.ServerNameKey" || v != 1 || ks.NumFields() != 1 ||
		ks.Field(0).Name != "serverName" || ks.Field(0).Schema.Type() != event.TypeString || ks.Field(0).Schema.IsOptional() {
		t.Errorf("heartbeat key schema %s", ks)
	}
	if h.Key.Get("serverName") != prefix {
		t.Errorf("heartbeat key serverName = %v", h.Key.Get("serverName"))
	}
	val, err := h.Value()
	if err != nil {
		t.Fatal(err)
	}
	vs := val.Schema()
	if v, _ := vs.Version(); vs.Name() != "io.debezium.connector.common.Heartbeat" || v != 1 || vs.NumFields() != 1 ||
		vs.Field(0).Name != "ts_ms" || vs.Field(0).Schema.Type() != event.TypeInt64 || vs.Field(0).Schema.IsOptional() {
		t.Errorf("heartbeat value schema %s", vs)
	}
	if ts, ok := val.Get("ts_ms").(int64); !ok || ts < time.Now().Add(-time.Hour).UnixMilli() || ts > time.Now().UnixMilli() {
		t.Errorf("heartbeat ts_ms = %v", val.Get("ts_ms"))
	}
	rec, err := h.Record()
	if err != nil || rec.Topic != h.Topic {
		t.Errorf("heartbeat Record: %v %v", rec.Topic, err)
	}

	// Nothing is acked yet: WAL written by the busy table (not captured)
	// is unconfirmed, which the lag gauge shows.
	before := slotConfirmed(t, e)
	for i := range 20 {
		e.exec(fmt.Sprintf("INSERT INTO $S.busy SELECT g, repeat('x', 200) FROM generate_series(1, 500) g -- %d", i))
	}
	var lsnText string
	if err := e.conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&lsnText); err != nil {
		t.Fatal(err)
	}
	var hi, lo uint64
	fmt.Sscanf(lsnText, "%X/%X", &hi, &lo)
	busyEnd := hi<<32 | lo
	until(t, "slot lag gauge to cover the busy WAL", func() bool {
		v, ok := gauge(t, reg, "sluice_postgres_slot_lag_bytes", name)
		return ok && v >= float64(busyEnd-before)
	})
	if c := slotConfirmed(t, e); c != before {
		t.Fatalf("confirmed_flush_lsn moved from %X to %X without any ack", before, c)
	}

	// Acking heartbeats (and so everything before them) advances the slot
	// past the busy WAL.
	until(t, "confirmed_flush_lsn to pass the busy WAL", func() bool {
		hs := heartbeats()
		if err := r.src.Ack(context.Background(), hs[len(hs)-1].Position); err != nil {
			t.Fatal(err)
		}
		return slotConfirmed(t, e) >= busyEnd
	})
	until(t, "slot lag gauge to drop", func() bool {
		v, ok := gauge(t, reg, "sluice_postgres_slot_lag_bytes", name)
		return ok && v >= 0 && v < float64(busyEnd-before)
	})
	if !strings.HasPrefix(capEvent.Topic, prefix+".") {
		t.Errorf("captured event topic %q", capEvent.Topic)
	}
}

// TestProtoVersion2 streams the same DML under proto.version 1 and 2 and
// compares the events.
func TestProtoVersion2(t *testing.T) {
	t.Parallel()
	run := func(version int) []string {
		e := newPGEnv(t,
			"CREATE TABLE $S.a (id int PRIMARY KEY, v text, n numeric(10,2))",
			"CREATE TABLE $S.f (id int PRIMARY KEY, v text)",
			"ALTER TABLE $S.f REPLICA IDENTITY FULL",
		)
		cfg := e.config()
		cfg.ProtoVersion = version
		cfg.SkippedOperations = List{"none"}
		cfg.ProvideTxMetadata = true
		r := startSource(t, cfg, Options{Name: fmt.Sprintf("v%d_%s", version, e.slot), TopicPrefix: "p", URL: e.url})
		waitSlot(t, e)
		e.exec("INSERT INTO $S.a VALUES (1, 'x', 1.5), (2, 'y', NULL)")
		e.exec("BEGIN; UPDATE $S.a SET v = 'z' WHERE id = 1; INSERT INTO $S.f VALUES (1, 'a'); UPDATE $S.f SET v = 'b'; COMMIT")
		e.exec("UPDATE $S.a SET id = 3 WHERE id = 2")
		e.exec("DELETE FROM $S.a WHERE id = 1")
		e.exec("DELETE FROM $S.f")
		e.exec("SELECT pg_logical_emit_message(true, '$S.m', 'tx')")
		e.exec("TRUNCATE $S.a")
		e.exec("ALTER TABLE $S.a ADD COLUMN w int DEFAULT 4")
		e.exec("INSERT INTO $S.a VALUES (5, 'q', 0)")
		got := r.wait(t, 12)
		var out []string
		for _, ev := range got {
			out = append(out, describe(t, ev, e.schema))
		}
		return out
	}
	v1, v2 := run(1), run(2)
	if len(v1) != 12 || fmt.Sprint(v1) == fmt.Sprint([]string{}) {
		t.Fatalf("version 1 gave %d events", len(v1))
	}
	for i := range v1 {
		if v1[i] != v2[i] {
			t.Errorf("event %d:\nproto 1: %s\nproto 2: %s", i, v1[i], v2[i])
		}
	}
}

func TestDefaultText(t *testing.T) {
	cases := []struct {
		oid  uint32
		expr string
		want string
		ok   bool
	}{
		{23, "42", "42", true},
		{23, "'-7'::integer", "-7", true},
		{23, "nextval('s.t_id_seq'::regclass)", "0", true},
		{20, "'9223372036854775807'::bigint", "9223372036854775807", true},
		{25, "'it''s'::text", "it's", true},
		{25, "''::text", "", true},
		{1043, "'a b'::character varying", "a b", true},
		{25, "NULL::text", "", false},
		{25, "('a'::text || 'b'::text)", "", false},
		{25, "E'a\\nb'", "", false},
		{16, "true", "true", true},
		{1184, "CURRENT_TIMESTAMP", "1970-01-01 00:00:00+00", true},
		{1184, "now()", "1970-01-01 00:00:00+00", true},
		{1114, "(now() + '1 day'::interval)", "1970-01-01 00:00:00", true},
		{2950, "gen_random_uuid()", "00000000-0000-0000-0000-000000000000", true},
		{1560, "B'101'::\"bit\"", "101", true},
		{1560, "some_bits()", "", false},
		{17, "'\\x00'::bytea", "", false}, // bytea: Debezium has no parser
		{23, "", "", false},
	}
	for _, tc := range cases {
		got, ok := defaultText(tc.oid, tc.expr)
		if got != tc.want || ok != tc.ok {
			t.Errorf("defaultText(%d, %q) = %q, %v; want %q, %v", tc.oid, tc.expr, got, ok, tc.want, tc.ok)
		}
	}
}

// fieldDefaults renders each field's schema default as Connect JSON shows
// it ("-" when none).
func fieldDefaults(t *testing.T, s *event.Schema) string {
	t.Helper()
	b, err := payloadConv.SchemaJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Fields []struct {
			Field   string          `json:"field"`
			Default json.RawMessage `json:"default"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range js.Fields {
		d := string(f.Default)
		if d == "" {
			d = "-"
		}
		out = append(out, f.Field+"="+d)
	}
	return strings.Join(out, " ")
}

// TestColumnDefaults: constant defaults become schema defaults converted
// like values, function defaults get Debezium's placeholders, and the rest
// none, alike for snapshot (catalog) and stream (Relation) tables.
func TestColumnDefaults(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, `CREATE TABLE $S.d (
  id serial PRIMARY KEY,
  i int DEFAULT 42, neg int DEFAULT -7, big bigint DEFAULT 9223372036854775807, sm smallint DEFAULT 3,
  t text DEFAULT 'it''s', v varchar(10) DEFAULT 'abc', n numeric(10,2) DEFAULT 1.5, vn numeric DEFAULT 1,
  f float8 DEFAULT 2.5, ok boolean NOT NULL DEFAULT true, d date DEFAULT '2020-02-03',
  ts timestamp DEFAULT now(), tz timestamptz DEFAULT CURRENT_TIMESTAMP, tzc timestamptz DEFAULT '2020-01-02 03:04:05+02',
  u uuid DEFAULT gen_random_uuid(), j jsonb DEFAULT '{"a": 1}', nd int DEFAULT NULL, ex int DEFAULT (1 + 2),
  gen int GENERATED ALWAYS AS (i * 2) STORED, plain int)`)
	want := `id=0 i=42 neg=-7 big=9223372036854775807 sm=3 t="it's" v="abc" n="AJY=" vn=- f=2.5 ok=true d=18295 ` +
		`ts=0 tz="1970-01-01T00:00:00.000000Z" tzc="2020-01-02T01:04:05.000000Z" u="00000000-0000-0000-0000-000000000000" j="{\"a\": 1}" ` +
		`nd=- ex=- gen=- plain=-`

	ctx := context.Background()
	conn, err := (&Source{opts: Options{URL: e.url}}).connectNormal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	mapper := NewTypeMapper(NewTypeCatalog(conn), DefaultTypeOptions(), nil)
	tbl, err := LoadTable(ctx, conn, mapper, TableID{e.schema, "d"}, TableOptions{TopicPrefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fieldDefaults(t, tbl.RowSchema); got != want {
		t.Errorf("snapshot table defaults:\n got %s\nwant %s", got, want)
	}
	if got := fieldDefaults(t, tbl.KeySchema); got != "id=0" {
		t.Errorf("key defaults: %s", got)
	}

	r := startSource(t, e.config(), Options{Name: "t", TopicPrefix: "p", URL: e.url})
	waitSlot(t, e)
	e.exec("INSERT INTO $S.d (plain) VALUES (1)")
	ev := r.wait(t, 1)[0]
	// pgoutput leaves generated columns out of the stream.
	if got, want := fieldDefaults(t, ev.ValueSchema.FieldByName("after")), strings.Replace(want, " gen=-", "", 1); got != want {
		t.Errorf("stream table defaults:\n got %s\nwant %s", got, want)
	}
	if got := fieldDefaults(t, ev.Key.Schema()); got != "id=0" {
		t.Errorf("stream key defaults: %s", got)
	}
}
