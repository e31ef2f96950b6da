package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// pgFixture is a schema with an items table and the names of the slots and
// publications made for it, dropped at the end of the test.
type pgFixture struct {
	conn *pgx.Conn
	name string
}

func newPGFixture(t *testing.T, pgURL, prefix string) *pgFixture {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	f := &pgFixture{conn: conn, name: fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())}
	t.Cleanup(func() {
		for _, s := range []string{f.name, f.name + "_b"} {
			testenv.DropReplicationSlot(ctx, conn, s)
			conn.Exec(ctx, `DROP PUBLICATION IF EXISTS `+s)
		}
		conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+f.name+` CASCADE`)
		conn.Close(ctx)
	})
	f.exec(t, `CREATE SCHEMA `+f.name+`; CREATE TABLE `+f.name+`.items (id int PRIMARY KEY, label text); INSERT INTO `+f.name+`.items VALUES (1, 'one')`)
	return f
}

func (f *pgFixture) exec(t *testing.T, sql string) {
	t.Helper()
	if _, err := f.conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// debeziumConfig is a PostgresConnector configuration as a Debezium user
// writes it, for the fixture's items table.
func debeziumConfig(t *testing.T, pgURL, slot, prefix, table string) map[string]string {
	t.Helper()
	u, err := parseURL(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
		"tasks.max":                   "1",
		"database.hostname":           u.host,
		"database.port":               u.port,
		"database.user":               u.user,
		"database.password":           u.password,
		"database.dbname":             u.db,
		"database.sslmode":            "disable",
		"topic.prefix":                prefix,
		"table.include.list":          table,
		"slot.name":                   slot,
		"publication.name":            slot,
		"publication.autocreate.mode": "filtered",
		"plugin.name":                 "pgoutput",
	}
}

type pgParts struct{ host, port, user, password, db string }

func parseURL(raw string) (pgParts, error) {
	var p pgParts
	rest, ok := strings.CutPrefix(raw, "postgres://")
	if !ok {
		return p, fmt.Errorf("not a postgres:// URL: %s", raw)
	}
	cred, rest, _ := strings.Cut(rest, "@")
	p.user, p.password, _ = strings.Cut(cred, ":")
	hostport, rest, _ := strings.Cut(rest, "/")
	p.host, p.port, _ = strings.Cut(hostport, ":")
	p.db, _, _ = strings.Cut(rest, "?")
	return p, nil
}

// topicValues consumes topic from the start until done accepts what was
// read, or fails the test after a minute.
func topicValues(t *testing.T, brokers, topic string, done func([]map[string]any) error) []map[string]any {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got []map[string]any
	last := fmt.Errorf("nothing read")
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			var v map[string]any
			if r.Value != nil {
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Errorf("record %s@%d is not JSON: %v", topic, r.Offset, err)
				}
			}
			got = append(got, v)
		})
		if last = done(got); last == nil {
			return got
		}
	}
	t.Fatalf("topic %s: %v (read %d records)", topic, last, len(got))
	return nil
}

// labels returns the after.label of each change event (schemas off), in
// order, with its op.
func labels(vals []map[string]any) []string {
	var out []string
	for _, v := range vals {
		if v == nil {
			continue
		}
		after, _ := v["after"].(map[string]any)
		if after == nil {
			continue
		}
		out = append(out, fmt.Sprintf("%s:%v", v["op"], after["label"]))
	}
	return out
}

func hasAll(want ...string) func([]map[string]any) error {
	return func(vals []map[string]any) error {
		got := strings.Join(labels(vals), " ")
		for _, w := range want {
			if !strings.Contains(" "+got+" ", " "+w+" ") {
				return fmt.Errorf("no %s in %s", w, got)
			}
		}
		return nil
	}
}

// TestRunREST runs "sluice run" against real Postgres and Kafka and drives
// it through its Kafka Connect REST API: the source of sluice.yaml is a
// PostgresConnector with its config (password masked), status and offsets;
// a Debezium connector JSON posted to the API captures another slot; bad
// configurations are refused naming the key; pause, resume and delete work.
func TestRunREST(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	f := newPGFixture(t, pgURL, "resttest")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	doc := fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [%s]}
converters: {value: {type: json, schemas.enable: false}}
data.dir: %s
sources:
  - name: fromfile
    connector: postgres
    topic.prefix: %s
    url: %q
    tables: [%s.items]
    postgres: {slot.name: %s, publication.name: %s, publication.autocreate.mode: filtered}
`, brokers, filepath.Join(dir, "data"), f.name, pgURL, f.name, f.name, f.name)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startRun(t, cfg, nil)
	cmd, addr := p.cmd, p.addr
	defer func() {
		if t.Failed() {
			cmd.Process.Kill()
			t.Logf("sluice log:\n%s", p.output())
		}
	}()
	api := "http://" + addr

	// The file's source is a connector of the API.
	eventually(t, time.Minute, "fromfile RUNNING", func() error {
		_, err := running(api, []string{"fromfile"}, []string{workerIDFor(addr)})
		return err
	})
	code, body, err := call("GET", api+"/connectors/fromfile/config", nil)
	if err != nil || code != 200 {
		t.Fatalf("GET config: %d %s %v", code, body, err)
	}
	var conf map[string]string
	if err := json.Unmarshal(body, &conf); err != nil {
		t.Fatal(err)
	}
	if conf["connector.class"] != "io.debezium.connector.postgresql.PostgresConnector" || conf["topic.prefix"] != f.name ||
		conf["slot.name"] != f.name || conf["database.password"] != "[hidden]" {
		t.Errorf("GET /connectors/fromfile/config = %s", body)
	}
	topic := f.name + "." + f.name + ".items"
	topicValues(t, brokers, topic, hasAll("r:one"))
	eventually(t, time.Minute, "fromfile offsets", func() error {
		code, body, err := call("GET", api+"/connectors/fromfile/offsets", nil)
		if err != nil || code != 200 || !strings.Contains(string(body), `{"partition":{"server":"`+f.name+`"},"offset":{`) ||
			!strings.Contains(string(body), `"lsn":"`) {
			return fmt.Errorf("%d %s %v", code, body, err)
		}
		return nil
	})

	// Bad configurations: refused with Kafka Connect's 400, naming the key.
	second := f.name + "_b"
	good := debeziumConfig(t, pgURL, second, second, f.name+".items")
	for key, bad := range map[string]string{"snapshot.mode": "sometimes", "database.port": "none", "value.converter": "org.apache.kafka.connect.storage.StringConverter"} {
		c := map[string]string{}
		for k, v := range good {
			c[k] = v
		}
		c[key] = bad
		code, body, err := call("POST", api+"/connectors", map[string]any{"name": "bad", "config": c})
		if err != nil || code != 400 || !strings.Contains(string(body), `"error_code":400`) || !strings.Contains(string(body), key) {
			t.Errorf("POST with %s=%s: %d %s %v; want 400 naming %s", key, bad, code, body, err, key)
		}
	}
	// A key Sluice does not know is listed by validation, not ignored.
	withUnknown := map[string]string{"name": "v", "snapshot.lock.timeout.ms": "10000"}
	for k, v := range good {
		withUnknown[k] = v
	}
	code, body, err = call("PUT", api+"/connector-plugins/PostgresConnector/config/validate", withUnknown)
	if err != nil || code != 200 || !strings.Contains(string(body), `"error_count":0`) ||
		!strings.Contains(string(body), `"name":"snapshot.lock.timeout.ms","type":"STRING","required":false,"default_value":null,"importance":"LOW","documentation":"Sluice does not know this key`) {
		t.Errorf("validate with an unknown key: %d %s %v", code, body, err)
	}

	// A Debezium connector JSON, posted unchanged.
	code, body, err = call("POST", api+"/connectors", map[string]any{"name": "posted", "config": good})
	if err != nil || code != 201 {
		t.Fatalf("POST posted: %d %s %v", code, body, err)
	}
	eventually(t, time.Minute, "posted RUNNING", func() error {
		_, err := running(api, []string{"posted"}, []string{workerIDFor(addr)})
		return err
	})
	topic2 := second + "." + f.name + ".items"
	topicValues(t, brokers, topic2, hasAll("r:one"))
	f.exec(t, `INSERT INTO `+f.name+`.items VALUES (2, 'two')`)
	topicValues(t, brokers, topic2, hasAll("r:one", "c:two"))
	topicValues(t, brokers, topic, hasAll("r:one", "c:two"))

	// Paused, the connector publishes nothing; resumed, it catches up.
	if code, body, err := call("PUT", api+"/connectors/posted/pause", nil); err != nil || code != 202 {
		t.Fatalf("pause: %d %s %v", code, body, err)
	}
	eventually(t, 30*time.Second, "posted PAUSED", func() error {
		_, body, _ := call("GET", api+"/connectors/posted/status", nil)
		if !strings.Contains(string(body), `"tasks":[{"id":0,"state":"PAUSED"`) {
			return fmt.Errorf("%s", body)
		}
		return nil
	})
	f.exec(t, `INSERT INTO `+f.name+`.items VALUES (3, 'three')`)
	topicValues(t, brokers, topic, hasAll("c:three"))
	if got := labels(topicValues(t, brokers, topic2, hasAll("c:two"))); strings.Contains(strings.Join(got, " "), "three") {
		t.Errorf("a paused connector published: %v", got)
	}
	if code, body, err := call("PUT", api+"/connectors/posted/resume", nil); err != nil || code != 202 {
		t.Fatalf("resume: %d %s %v", code, body, err)
	}
	topicValues(t, brokers, topic2, hasAll("r:one", "c:two", "c:three"))
	code, body, err = call("GET", api+"/connectors/posted/topics", nil)
	if err != nil || code != 200 || strings.TrimSpace(string(body)) != `{"posted":{"topics":["`+topic2+`"]}}` {
		t.Errorf("GET topics: %d %s %v", code, body, err)
	}

	if code, body, err := call("DELETE", api+"/connectors/posted", nil); err != nil || code != 204 {
		t.Fatalf("delete: %d %s %v", code, body, err)
	}
	if code, _, _ := call("GET", api+"/connectors/posted", nil); code != 404 {
		t.Errorf("GET deleted connector = %d, want 404", code)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice run after SIGTERM: %v", err)
		}
	case <-time.After(45 * time.Second):
		cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump for the log
		t.Fatalf("sluice run did not stop within 45s of SIGTERM")
	}
}

// workerIDFor is the worker_id of a standalone runtime listening on addr.
func workerIDFor(addr string) string { return addr }
