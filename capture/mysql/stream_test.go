package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// myEnv is one test's isolated database on the shared server.
type myEnv struct {
	t    *testing.T
	url  string
	conn *client.Conn
	db   string
}

func newMyEnv(t *testing.T, ddl ...string) *myEnv {
	t.Helper()
	raw := testenv.Require(t, "SLUICE_MYSQL_URL")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	conn, err := client.Connect(u.Host, u.User.Username(), pw, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &myEnv{t: t, url: raw, conn: conn, db: fmt.Sprintf("s_t%d", rand.Uint32())}
	e.exec("SET time_zone = '+00:00'")
	e.exec("CREATE DATABASE " + e.db)
	e.exec("USE " + e.db)
	for _, d := range ddl {
		e.exec(d)
	}
	t.Cleanup(func() {
		_, _ = conn.Execute("DROP DATABASE IF EXISTS " + e.db)
		conn.Close()
	})
	return e
}

func (e *myEnv) exec(sql string) {
	e.t.Helper()
	if _, err := e.conn.Execute(strings.ReplaceAll(sql, "$D", e.db)); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// binlogEnd returns a start position at the current end of the binlog, so a
// test's writes after it are streamed whenever Run gets going.
func (e *myEnv) binlogEnd() event.Position {
	e.t.Helper()
	r, err := e.conn.Execute("SELECT @@GLOBAL.gtid_binlog_pos")
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	return position{Flavor: "mariadb", GTIDs: fieldText(r.Resultset, 0, 0)}.encode()
}

func (e *myEnv) config() Config {
	c := DefaultConfig()
	c.SnapshotMode = SnapshotNoData
	c.DatabaseIncludeList = List{e.db}
	c.ServerID = 10000 + rand.Uint32N(1<<20)
	c.IncludeSchemaChanges = false // tests that want them turn them on
	return c
}

func (e *myEnv) options() Options {
	return Options{Name: "test", TopicPrefix: "srv", URL: e.url}
}

// runner runs a Source and collects its events.
type runner struct {
	src    *Source
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	events []event.Event
	notify chan struct{}
	// emitErr, when set, makes emit fail after that many events (a crash).
	failAfter int
}

func startSource(t *testing.T, cfg Config, opts Options) *runner {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
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
			r.events = append(r.events, b...)
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

func encode(t *testing.T, s *event.Struct) string {
	t.Helper()
	if s == nil {
		return "null"
	}
	b, err := payloadConv.EncodeStruct(nil, s)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return string(b)
}

// describe renders an event's stable parts with the database name as D.
func describe(t *testing.T, e event.Event, db string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s key=%s before=%s after=%s", e.Topic, e.Op, encode(t, e.Key), encode(t, e.Before), encode(t, e.After))
	for _, h := range e.Headers {
		fmt.Fprintf(&b, " %s=%s", h.Key, encode(t, h.Value.(*event.Struct)))
	}
	if e.Source != nil {
		fmt.Fprintf(&b, " src=%s.%s/%s", e.Source.Get("db"), e.Source.Get("table"), e.Source.Get("snapshot"))
	}
	if _, err := e.Record(); err != nil {
		t.Errorf("event %s: Record: %v", b.String(), err)
	}
	return strings.ReplaceAll(b.String(), db, "D")
}

func checkEvents(t *testing.T, got []event.Event, db string, want []string) {
	t.Helper()
	for i, e := range got {
		d := describe(t, e, db)
		if i >= len(want) {
			t.Errorf("extra event %d: %s", i, d)
			continue
		}
		if d != want[i] {
			t.Errorf("event %d:\n got %s\nwant %s", i, d, want[i])
		}
	}
	if len(got) < len(want) {
		t.Errorf("got %d events, want %d", len(got), len(want))
	}
}

func TestStreamInsertUpdateDelete(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20), qty BIGINT UNSIGNED NOT NULL)")
	opts := e.options()
	opts.Start = e.binlogEnd()
	r := startSource(t, e.config(), opts)
	e.exec("INSERT INTO items VALUES (1, 'one', 18446744073709551615), (2, NULL, 2)")
	e.exec("BEGIN")
	e.exec("UPDATE items SET name = 'uno' WHERE id = 1")
	e.exec("UPDATE items SET id = 3 WHERE id = 2")
	e.exec("DELETE FROM items WHERE id = 1")
	e.exec("COMMIT")
	got := r.wait(t, 6)
	checkEvents(t, got, e.db, []string{
		`srv.D.items c key={"id":1} before=null after={"id":1,"name":"one","qty":-1} src=D.items/false`,
		`srv.D.items c key={"id":2} before=null after={"id":2,"name":null,"qty":2} src=D.items/false`,
		`srv.D.items u key={"id":1} before={"id":1,"name":"one","qty":-1} after={"id":1,"name":"uno","qty":-1} src=D.items/false`,
		`srv.D.items d key={"id":2} before={"id":2,"name":null,"qty":2} after=null __debezium.newkey={"id":3} src=D.items/false`,
		`srv.D.items c key={"id":3} before=null after={"id":3,"name":null,"qty":2} __debezium.oldkey={"id":2} src=D.items/false`,
		`srv.D.items d key={"id":1} before={"id":1,"name":"uno","qty":-1} after=null src=D.items/false`,
	})
	// Source block details of the update.
	src := got[2].Source
	if src.Get("connector") != "mysql" || src.Get("name") != "srv" || src.Get("server_id") != int64(1) {
		t.Errorf("source = %v", src)
	}
	gtid, _ := src.Get("gtid").(string)
	if !strings.HasPrefix(gtid, "0-1-") {
		t.Errorf("source.gtid = %q, want a MariaDB GTID", gtid)
	}
	if f, _ := src.Get("file").(string); !strings.HasPrefix(f, "mariadb-bin.") {
		t.Errorf("source.file = %q", f)
	}
	if got[3].Source.Get("row") != int32(0) || got[2].Source.Get("gtid") != got[5].Source.Get("gtid") {
		t.Errorf("rows of one transaction: %v / %v", got[3].Source, got[5].Source)
	}
	if got[5].Position == nil {
		t.Error("the last event of a transaction has no position")
	}
}

// TestHeartbeat: with heartbeat.interval.ms, an idle stream emits Debezium
// heartbeat records whose position moves past transactions of tables that
// are not captured; a restart from such a position neither re-reads them
// nor loses the next captured change.
func TestHeartbeat(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE cap (id INT PRIMARY KEY)", "CREATE TABLE other (id INT PRIMARY KEY)")
	cfg := e.config()
	cfg.TableIncludeList = List{e.db + `\.cap`}
	cfg.HeartbeatIntervalMs = 50
	opts := e.options()
	opts.Start = e.binlogEnd()
	r := startSource(t, cfg, opts)
	e.exec("INSERT INTO other VALUES (1)")
	after := e.binlogEnd()
	want, err := decodePosition(after)
	if err != nil {
		t.Fatal(err)
	}
	wantSet, err := gmysql.ParseGTIDSet(want.Flavor, want.GTIDs)
	if err != nil {
		t.Fatal(err)
	}
	// Heartbeats go on; wait for the first one past the uncaptured insert
	// (other tests may write to the server meanwhile: it need not be
	// exactly at it).
	var beat event.Event
	deadline := time.Now().Add(time.Minute)
	for n := 1; ; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat past %s after %d heartbeats", want.GTIDs, n-1)
		}
		ev := r.wait(t, n)[n-1]
		if ev.Topic != "__debezium-heartbeat.srv" {
			t.Fatalf("event %d on %s, want only heartbeats", n, ev.Topic)
		}
		p, err := decodePosition(ev.Position)
		if err != nil {
			t.Fatal(err)
		}
		if p.Tx != "" || p.N != 0 {
			t.Fatalf("heartbeat position %s inside a transaction", ev.Position)
		}
		got, err := gmysql.ParseGTIDSet(p.Flavor, p.GTIDs)
		if err != nil {
			t.Fatalf("heartbeat position %s: %v", ev.Position, err)
		}
		if got.Contain(wantSet) {
			beat = ev
			break
		}
	}
	r.stop(t)
	rec, err := beat.Record()
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, rec.Key); got != `{"serverName":"srv"}` {
		t.Errorf("key = %s", got)
	}
	if k, v := rec.Key.Schema().Name(), rec.Value.Schema().Name(); k != "io.debezium.connector.common.ServerNameKey" || v != "io.debezium.connector.common.Heartbeat" {
		t.Errorf("schemas %s, %s", k, v)
	}
	if got, want := rec.Value.Get("ts_ms"), beat.TsMs; got != want || want == 0 {
		t.Errorf("ts_ms = %v, want %d", got, want)
	}

	// Restart from the heartbeat, without heartbeats: the next event is the
	// captured insert.
	e.exec("INSERT INTO other VALUES (2)")
	e.exec("INSERT INTO cap VALUES (7)")
	cfg.HeartbeatIntervalMs = 0
	opts.Start = beat.Position
	got := startSource(t, cfg, opts).wait(t, 1)
	checkEvents(t, got, e.db, []string{`srv.D.cap c key={"id":7} before=null after={"id":7} src=D.cap/false`})
}
