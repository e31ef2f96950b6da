package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/schemahistory"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestMySQLHistoryConnectKeys: Debezium's schema history keys in a
// MySqlConnector's flat configuration reach the mysql block and survive
// the trip back.
func TestMySQLHistoryConnectKeys(t *testing.T) {
	base := daemon.DefaultConfig()
	flat := map[string]string{
		"connector.class":       "io.debezium.connector.mysql.MySqlConnector",
		"database.hostname":     "mysql",
		"database.port":         "3306",
		"database.user":         "debezium",
		"database.password":     "dbz",
		"database.server.id":    "184054",
		"topic.prefix":          "dbserver1",
		"database.include.list": "inventory",
		"schema.history.internal.kafka.bootstrap.servers": "kafka:9092,kafka2:9092",
		"schema.history.internal.kafka.topic":             "schema-changes.inventory",
	}
	sc, problems := daemon.SourceFromConnect("inventory-connector", flat, base)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if sc.MySQL.SchemaHistoryKafkaTopic != "schema-changes.inventory" ||
		strings.Join(sc.MySQL.SchemaHistoryKafkaBrokers, ",") != "kafka:9092,kafka2:9092" {
		t.Errorf("mysql block: topic %q brokers %q", sc.MySQL.SchemaHistoryKafkaTopic, sc.MySQL.SchemaHistoryKafkaBrokers)
	}
	back := daemon.SourceToConnect(sc, base)
	if back["schema.history.internal.kafka.topic"] != "schema-changes.inventory" ||
		back["schema.history.internal.kafka.bootstrap.servers"] != "kafka:9092,kafka2:9092" {
		t.Errorf("flat form: %v", back)
	}

	flat["schema.history.internal.file.filename"] = "/data/history.dat"
	if _, problems := daemon.SourceFromConnect("inventory-connector", flat, base); len(problems["schema.history.internal.kafka.topic"]) == 0 {
		t.Errorf("a file and a topic: problems %v, want one for schema.history.internal.kafka.topic", problems)
	}
}

// positions is an OffsetStore that keeps every saved position.
type positions struct {
	mu    sync.Mutex
	saved [][]byte
	start []byte
}

func (p *positions) Load(string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.saved); n > 0 {
		return p.saved[n-1], nil
	}
	return p.start, nil
}

func (p *positions) Save(_ string, pos []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.saved = append(p.saved, pos)
	return nil
}

func (p *positions) first() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.saved) == 0 {
		return nil
	}
	return p.saved[0]
}

// TestDaemonMySQLKafkaHistory runs a MySQL source with
// schema.history.internal.kafka.topic and no bootstrap servers of its own:
// the history goes to the daemon's Kafka, and a second daemon on a fresh
// data dir, restarted from a position before an ADD COLUMN, publishes the
// older row with the columns of its time.
func TestDaemonMySQLKafkaHistory(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
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
	db := fmt.Sprintf("s_dh%d", rand.Uint32())
	exec := func(q string) {
		t.Helper()
		if _, err := conn.Execute(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE DATABASE " + db)
	t.Cleanup(func() {
		_, _ = conn.Execute("DROP DATABASE IF EXISTS " + db)
		conn.Close()
	})
	exec("USE " + db)
	exec("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))")
	exec("INSERT INTO t VALUES (0, 'zero')")

	prefix := fmt.Sprintf("sluice_myhist_%d", time.Now().UnixNano())
	histTopic := "schema-changes." + prefix
	table := prefix + "." + db + ".t"
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	t.Cleanup(func() { kadm.NewClient(admCl).DeleteTopics(context.Background(), histTopic, table) })

	serverID := 20000 + rand.Uint32N(1<<20)
	start := func(store daemon.OffsetStore) (dataDir string, stop func()) {
		cfg := daemon.DefaultConfig()
		cfg.Kafka.Brokers = brokers
		cfg.Kafka.LingerMs = 0
		cfg.DataDir = t.TempDir()
		cfg.Converters.Key.SchemasEnable = false
		cfg.Converters.Value.SchemasEnable = false
		sc := daemon.DefaultSourceConfig()
		sc.Name, sc.Connector, sc.TopicPrefix, sc.URL = "my", "mysql", prefix, raw
		sc.MySQL.DatabaseIncludeList = mysql.List{db}
		sc.MySQL.ServerID = serverID
		sc.MySQL.IncludeSchemaChanges = false
		sc.MySQL.SchemaHistoryKafkaTopic = histTopic
		cfg.Sources = []daemon.SourceConfig{sc}
		d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithOffsetStore(store),
			daemon.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		return cfg.DataDir, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon: %v", err)
			}
		}
	}
	consume := func(from int64, n int) []string {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(250*time.Millisecond),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{table: {0: kgo.NewOffset().At(from)}}))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var out []string
		for len(out) < n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("%d of %d records on %s: %v", len(out), n, table, out)
			}
			fs.EachRecord(func(r *kgo.Record) {
				var v struct {
					After json.RawMessage `json:"after"`
				}
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Fatalf("offset %d: %v", r.Offset, err)
				}
				out = append(out, fmt.Sprintf("%d %s", r.Offset, v.After))
			})
		}
		return out
	}

	store1 := &positions{}
	dir1, stop := start(store1)
	if got := consume(0, 1); got[0] != `0 {"id":0,"a":"zero"}` {
		t.Fatalf("snapshot: %v", got)
	}
	deadline := time.Now().Add(time.Minute)
	for store1.first() == nil {
		if time.Now().After(deadline) {
			t.Fatal("no position saved after the snapshot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	beforeAlter := store1.first()
	exec("INSERT INTO t VALUES (1, 'one')")
	exec("ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7 AFTER id")
	exec("INSERT INTO t VALUES (2, 20, 'two')")
	want := []string{`{"id":1,"a":"one"}`, `{"id":2,"b":20,"a":"two"}`}
	got := consume(1, 2)
	stop()
	if g, w := strings.Join(got, "\n"), "1 "+want[0]+"\n2 "+want[1]; g != w {
		t.Errorf("first run:\n%s\nwant\n%s", g, w)
	}
	if _, err := os.Stat(mysql.DefaultHistoryFile(dir1, "my")); !os.IsNotExist(err) {
		t.Errorf("a history file in data.dir: %v", err)
	}
	h, err := schemahistory.New(schemahistory.Config{Brokers: brokers, Topic: histTopic})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := h.Load(context.Background())
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || !recs[0].Snapshot || !strings.HasPrefix(recs[1].DDL, "ALTER TABLE t ADD COLUMN b") {
		t.Errorf("history topic: %+v", recs)
	}

	// Another daemon (another worker): empty data dir, the position from
	// before the ALTER.
	_, stop = start(&positions{start: beforeAlter})
	got = consume(3, 2)
	stop()
	if g, w := strings.Join(got, "\n"), "3 "+want[0]+"\n4 "+want[1]; g != w {
		t.Errorf("restart on a fresh data dir:\n%s\nwant\n%s", g, w)
	}
}
