package mysql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/schema/avroconv"
)

// TestDaemonSchemaChanges runs the daemon with a MySQL source against the
// real MariaDB and Kafka: the schema change events reach <topic.prefix>
// through the JSON converter and through the Avro converter with the
// embedded registry, while the row events and their tombstones still go
// to the table topic.
func TestDaemonSchemaChanges(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	raw := testenv.Require(t, "SLUICE_MYSQL_URL")
	for _, conv := range []string{"json", "avro"} {
		t.Run(conv, func(t *testing.T) {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			pw, _ := u.User.Password()
			conn, err := client.Connect(u.Host, u.User.Username(), pw, "")
			if err != nil {
				t.Fatal(err)
			}
			db := fmt.Sprintf("s_d%d", rand.Uint32())
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
			exec("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
			exec("INSERT INTO t VALUES (1, 'a'), (2, 'b')")

			prefix := fmt.Sprintf("sluice_mysql_%s_%d", conv, time.Now().UnixNano())
			cfg := daemon.DefaultConfig()
			cfg.Kafka.Brokers = brokers
			cfg.Kafka.LingerMs = 0
			cfg.DataDir = t.TempDir()
			cfg.Converters.Key.SchemasEnable = false
			cfg.Converters.Value.SchemasEnable = false
			if conv == "avro" {
				ac := avroconv.DefaultConfig()
				ac.SchemaRegistryURL = avroconv.Embedded
				cfg.Converters.Key.Type, cfg.Converters.Value.Type = "avro", "avro"
				cfg.Converters.Key.Config, cfg.Converters.Value.Config = ac, ac
				cfg.Registry.Storage = "file"
				cfg.Registry.File = filepath.Join(cfg.DataDir, "schemas.jsonl")
			}
			cfg.TombstonesOnDelete = true
			sc := daemon.DefaultSourceConfig()
			sc.Name, sc.Connector, sc.TopicPrefix, sc.URL = "my", "mysql", prefix, raw
			sc.MySQL.DatabaseIncludeList = mysql.List{db}
			sc.MySQL.ServerID = 20000 + rand.Uint32N(1<<20)
			cfg.Sources = []daemon.SourceConfig{sc}
			d, err := daemon.New(cfg, daemon.WithoutHTTP(), daemon.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil && ctx.Err() == nil {
					t.Errorf("daemon: %v", err)
				}
			}()

			table := prefix + "." + db + ".t"
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(prefix, table),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(250*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			// 6 snapshot schema events and 2 reads, then an ALTER and a
			// delete with its tombstone.
			got := poll(t, cl, map[string]int{prefix: 6, table: 2})
			exec("ALTER TABLE t ADD COLUMN w INT")
			exec("DELETE FROM t WHERE id = 2")
			more := poll(t, cl, map[string]int{prefix: 1, table: 2})
			for tp, rs := range more {
				got[tp] = append(got[tp], rs...)
			}

			schemaRecs, rows := got[prefix], got[table]
			if n := len(rows); n != 4 || rows[2].Value == nil || rows[3].Value != nil {
				t.Errorf("table topic: %d records (want read, read, delete, tombstone): %v", n, rows)
			}
			for i, r := range schemaRecs {
				if r.Value == nil {
					t.Errorf("schema change record %d is a tombstone", i)
				}
			}
			wantDDL := []string{"SET character_set_server=", "DROP TABLE IF EXISTS `" + db + "`.`t`", "DROP DATABASE IF EXISTS `" + db + "`",
				"CREATE DATABASE `" + db + "`", "USE `" + db + "`", "CREATE TABLE `t`", "ALTER TABLE t ADD COLUMN w INT"}
			if len(schemaRecs) != len(wantDDL) {
				t.Fatalf("%d schema change records, want %d", len(schemaRecs), len(wantDDL))
			}
			switch conv {
			case "json":
				for i, r := range schemaRecs {
					var v struct {
						DatabaseName string            `json:"databaseName"`
						DDL          string            `json:"ddl"`
						TableChanges []json.RawMessage `json:"tableChanges"`
					}
					if err := json.Unmarshal(r.Value, &v); err != nil {
						t.Fatalf("record %d: %v: %s", i, err, r.Value)
					}
					if !strings.HasPrefix(v.DDL, wantDDL[i]) {
						t.Errorf("record %d ddl %q, want %q…", i, v.DDL, wantDDL[i])
					}
					wantKey := `{"databaseName":"` + db + `"}`
					if i == 0 {
						wantKey = `{"databaseName":""}`
					}
					if string(r.Key) != wantKey {
						t.Errorf("record %d key %s, want %s", i, r.Key, wantKey)
					}
				}
				last := schemaRecs[len(schemaRecs)-1].Value
				if !strings.Contains(string(last), `"type":"ALTER"`) || !strings.Contains(string(last), `{"name":"w","jdbcType":4,`) {
					t.Errorf("ALTER record %s", last)
				}
			case "avro":
				for i, r := range schemaRecs {
					if len(r.Value) < 5 || r.Value[0] != 0 || len(r.Key) < 5 || r.Key[0] != 0 {
						t.Errorf("record %d is not in the Confluent wire format: key %x value %x", i, r.Key, r.Value)
					}
					if !strings.Contains(string(r.Value), wantDDL[i]) {
						t.Errorf("record %d does not hold %q", i, wantDDL[i])
					}
				}
				reg, err := os.ReadFile(cfg.Registry.File)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{prefix + "-key", prefix + "-value", "SchemaChangeValue", "SchemaChangeKey"} {
					if !strings.Contains(string(reg), want) {
						t.Errorf("the registry holds no %q", want)
					}
				}
			}
		})
	}
}

// poll reads until each topic has at least n[topic] records.
func poll(t *testing.T, cl *kgo.Client, n map[string]int) map[string][]*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := map[string][]*kgo.Record{}
	for {
		ok := true
		for tp, k := range n {
			if len(got[tp]) < k {
				ok = false
			}
		}
		if ok {
			return got
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out: have %d records of %v", len(got), n)
		}
		fs.EachRecord(func(r *kgo.Record) { got[r.Topic] = append(got[r.Topic], r) })
	}
}
