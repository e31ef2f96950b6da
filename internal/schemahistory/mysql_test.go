package schemahistory

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

	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// mariadb connects to the test server and creates a database of its own,
// dropped when the test ends.
func mariadb(t *testing.T) (raw, db string, exec func(string)) {
	t.Helper()
	raw = testenv.Require(t, "SLUICE_MYSQL_URL")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	conn, err := client.Connect(u.Host, u.User.Username(), pw, "")
	if err != nil {
		t.Fatal(err)
	}
	db = fmt.Sprintf("s_kh%d", rand.Uint32())
	exec = func(sql string) {
		t.Helper()
		if _, err := conn.Execute(sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("CREATE DATABASE " + db)
	exec("USE " + db)
	t.Cleanup(func() {
		_, _ = conn.Execute("DROP DATABASE IF EXISTS " + db)
		conn.Close()
	})
	return raw, db, exec
}

// run runs a MySQL source until it has emitted n events (or failed), and
// stops it.
func run(t *testing.T, cfg mysql.Config, opts mysql.Options, n int) ([]event.Event, error) {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	src, err := mysql.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		mu  sync.Mutex
		got []event.Event
	)
	enough := errors.New("enough events")
	err = src.Run(ctx, func(_ context.Context, b event.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, b...)
		if len(got) >= n {
			return enough
		}
		return nil
	})
	if errors.Is(err, enough) {
		err = nil
	}
	if ctx.Err() != nil {
		t.Fatalf("%d of %d events after a minute: %v", len(got), n, err)
	}
	return got, err
}

var conv, _ = jsonconv.New(jsonconv.Config{})

// describeEvent renders an event's topic, op, row and row field names.
func describeEvent(t *testing.T, e event.Event, db string) string {
	t.Helper()
	row := e.After
	if row == nil {
		row = e.Before
	}
	b, err := conv.EncodeStruct(nil, row)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, f := range row.Schema().Fields() {
		fields = append(fields, f.Name)
	}
	return strings.ReplaceAll(fmt.Sprintf("%s %s %s fields=%s", e.Topic, e.Op, b, strings.Join(fields, ",")), db, "D")
}

// TestMySQLRestartFromKafkaHistory: a source restarted from a position
// before an ADD COLUMN, on a fresh data dir, decodes the older rows with
// the columns of their time, which only the history in Kafka can supply.
// The same restart with an empty history topic fails (the catalog's
// columns do not fit the old rows), so the first outcome is the topic's
// doing.
func TestMySQLRestartFromKafkaHistory(t *testing.T) {
	bs := brokers(t)
	raw, db, exec := mariadb(t)
	exec("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))")
	exec("INSERT INTO t VALUES (0, 'zero')")

	cfg := mysql.DefaultConfig()
	cfg.SnapshotMode = mysql.SnapshotInitial // records the schema under the read lock
	cfg.DatabaseIncludeList = mysql.List{db}
	cfg.ServerID = 10000 + rand.Uint32N(1<<20)
	cfg.IncludeSchemaChanges = false
	topic := uniqueTopic(t, bs)
	opts := func(h mysql.SchemaHistory) mysql.Options {
		return mysql.Options{Name: "kh", TopicPrefix: "srv", URL: raw, DataDir: t.TempDir(), History: h}
	}

	first := newKafka(t, bs, topic)
	snap, err := run(t, cfg, opts(first), 1)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	exec("INSERT INTO t VALUES (1, 'one')")
	exec("ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7 AFTER id")
	exec("INSERT INTO t VALUES (2, 20, 'two')")

	want := []string{
		`srv.D.t c {"id":1,"a":"one"} fields=id,a`,
		`srv.D.t c {"id":2,"b":20,"a":"two"} fields=id,b,a`,
	}
	// The first run goes on from its snapshot and appends the ALTER's record.
	o := opts(newKafka(t, bs, topic))
	o.Start = snap[0].Position
	got, err := run(t, cfg, o, len(want))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if d := describeEvent(t, e, db); d != want[i] {
			t.Errorf("stream event %d: %s, want %s", i, d, want[i])
		}
	}

	// A new process, another worker: fresh data dir, new Kafka clients,
	// restarted from before the ALTER.
	o = opts(newKafka(t, bs, topic))
	o.Start = snap[0].Position
	got, err = run(t, cfg, o, len(want))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range got {
		if d := describeEvent(t, e, db); d != want[i] {
			t.Errorf("restart event %d: %s, want %s", i, d, want[i])
		}
	}
	recs, err := newKafka(t, bs, topic).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot record, the ALTER's, and the ALTER's again (re-read by
	// the restart).
	if len(recs) != 3 || !recs[0].Snapshot || !strings.HasPrefix(recs[1].DDL, "ALTER TABLE t ADD COLUMN b") || recs[2].DDL != recs[1].DDL {
		t.Errorf("history records: %+v", recs)
	}

	// Control: the same restart with an empty history topic.
	o = opts(newKafka(t, bs, uniqueTopic(t, bs)))
	o.Start = snap[0].Position
	_, err = run(t, cfg, o, len(want))
	if !errors.Is(err, mysql.ErrSchemaMismatch) {
		t.Errorf("restart without history: %v, want ErrSchemaMismatch", err)
	}
}
