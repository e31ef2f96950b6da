package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/publish"
)

// saslConfig writes a sluice.yaml reaching the SASL_PLAINTEXT listener of
// scripts/services.sh as sluice/password: a Postgres source on the
// fixture's items table and a JDBC sink copying its topic into target.
func saslConfig(t *testing.T, f *pgFixture, pgURL, brokers, password, target string) string {
	t.Helper()
	dir := t.TempDir()
	sink := fmt.Sprintf(`{connector.class: io.confluent.connect.jdbc.JdbcSinkConnector, topics: %[1]s.%[1]s.items,
      connection.url: %[2]q, insert.mode: upsert, pk.mode: record_key, delete.enabled: "true", auto.create: "true",
      transforms: "unwrap,route",
      transforms.unwrap.type: io.debezium.transforms.ExtractNewRecordState,
      transforms.route.type: org.apache.kafka.connect.transforms.RegexRouter,
      transforms.route.regex: ".*",
      transforms.route.replacement: %[3]s}`, f.name, "jdbc:postgresql://"+strings.TrimPrefix(pgURL, "postgres://"), target)
	doc := fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka:
  bootstrap.servers: [%s]
  delivery.timeout.ms: 15000
  security: {protocol: SASL_PLAINTEXT, sasl.mechanism: PLAIN, sasl.username: sluice, sasl.password: %q}
data.dir: %s
sources:
  - name: src
    connector: postgres
    topic.prefix: %s
    url: %q
    tables: [%s.items]
    postgres: {slot.name: %s, publication.name: %s, publication.autocreate.mode: filtered}
connectors:
  - name: %s-pg
    config: %s
`, brokers, password, filepath.Join(dir, "data"), f.name, pgURL, f.name, f.name, f.name, f.name, sink)
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRunSASL runs "sluice run" against Kafka's SASL_PLAINTEXT listener
// (PLAIN) with a Postgres source and a JDBC sink connector. The listener
// refuses unauthenticated clients, so rows reaching the target table show
// that the sink task's consumer, not only the source's publisher, logged
// in with kafka.security.
func TestRunSASL(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_SASL_BROKERS")
	f := newPGFixture(t, pgURL, "sasltest")
	target := f.name + "_copy"
	t.Cleanup(func() { f.conn.Exec(context.Background(), `DROP TABLE IF EXISTS public.`+target) })

	p := startRun(t, saslConfig(t, f, pgURL, brokers, "sluice-secret", target), nil)
	defer func() {
		if t.Failed() {
			p.cmd.Process.Kill()
			t.Logf("sluice log:\n%s", p.output())
		}
	}()
	f.exec(t, `INSERT INTO `+f.name+`.items VALUES (2, 'two'), (3, 'three')`)
	f.exec(t, `UPDATE `+f.name+`.items SET label = 'TWO' WHERE id = 2`)
	f.exec(t, `DELETE FROM `+f.name+`.items WHERE id = 3`)
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitRows(t, 3*time.Minute, "target rows", db, target, []string{"1:one", "2:TWO"})
}

// saslRefusedRE matches franz-go's log line for a refused login by a client
// of the Connect runtime: the daemon's logger, without the connector=
// attribute the source's publisher adds, so the sink connector's consumer
// (or the runtime's admin client). A client that skipped SASL would get the
// connection closed instead, never this error code.
var saslRefusedRE = regexp.MustCompile(`level=ERROR msg="kafka client: [^"]*" broker=\S+ err="SASL_AUTHENTICATION_FAILED`)

// TestRunSASLWrongPassword: with a wrong password, the source and the sink
// connector's consumer both report Kafka's SASL_AUTHENTICATION_FAILED (the
// source as the reason it restarts), and nothing reaches the target.
func TestRunSASLWrongPassword(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_SASL_BROKERS")
	f := newPGFixture(t, pgURL, "saslbad")
	target := f.name + "_copy"
	t.Cleanup(func() { f.conn.Exec(context.Background(), `DROP TABLE IF EXISTS public.`+target) })

	logFile := filepath.Join(t.TempDir(), "sluice.log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(binary, "run", "-c", saslConfig(t, f, pgURL, brokers, "not-the-password", target))
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("sluice log:\n%s", b)
		}
	}()
	sourceRefused := regexp.MustCompile(`level=WARN msg="source failed; restarting" connector=src error=".*SASL_AUTHENTICATION_FAILED: SASL Authentication failed`)
	eventually(t, 2*time.Minute, "SASL errors of the source and the sink", func() error {
		b, err := os.ReadFile(logFile)
		if err != nil {
			return err
		}
		if !sourceRefused.Match(b) {
			return fmt.Errorf("no %q in the log", sourceRefused)
		}
		if !saslRefusedRE.Match(b) {
			return fmt.Errorf("no %q in the log", saslRefusedRE)
		}
		return nil
	})
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = $1`, target).Scan(&n); err != nil || n != 0 {
		t.Fatalf("target table %s: %d tables, %v; want none", target, n, err)
	}
}

// registryReadyRE finds the registry's URL in its log.
var registryReadyRE = regexp.MustCompile(`msg="embedded schema registry ready" url=(\S+)`)

// startRegistryProc starts "sluice registry -c cfg" with its log in a file
// and returns its URL once its store has read the topic.
func startRegistryProc(t *testing.T, cfg string) (url string, stop func()) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "registry.log")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "registry", "-c", cfg)
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // only the end matters
		out.Close()
		close(exited)
	}()
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}
	t.Cleanup(stop)
	eventually(t, time.Minute, "registry ready", func() error {
		b, err := os.ReadFile(logFile)
		if err != nil {
			return err
		}
		if m := registryReadyRE.FindSubmatch(b); m != nil {
			url = string(m[1])
			return nil
		}
		select {
		case <-exited:
			t.Fatalf("sluice registry exited:\n%s", b)
		default:
		}
		return errors.New("not ready")
	})
	return url, stop
}

// TestRegistrySASL: the embedded registry keeps its schemas in a topic of
// the SASL_PLAINTEXT listener with kafka.security (no PLAINTEXT-only
// refusal): a schema registered with one "sluice registry" process is
// served, under the same id, by a second one that only read the topic.
func TestRegistrySASL(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_SASL_BROKERS")
	topic := fmt.Sprintf("_schemas_sasl_%d", time.Now().UnixNano())
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	doc := fmt.Sprintf(`kafka:
  bootstrap.servers: [%s]
  security: {protocol: SASL_PLAINTEXT, sasl.mechanism: PLAIN, sasl.username: sluice, sasl.password: sluice-secret}
registry: {storage: kafka, topic: %s, listen: "127.0.0.1:0"}
`, brokers, topic)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	schema := `{"type":"record","name":"Item","fields":[{"name":"id","type":"int"}]}`
	body, err := json.Marshal(map[string]string{"schema": schema})
	if err != nil {
		t.Fatal(err)
	}

	url, stop := startRegistryProc(t, cfg)
	resp, err := http.Post(url+"/subjects/items-value/versions", "application/vnd.schemaregistry.v1+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ ID int }
	err = json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || reg.ID <= 0 {
		t.Fatalf("register: status %d, id %d, %v", resp.StatusCode, reg.ID, err)
	}
	stop()

	url, _ = startRegistryProc(t, cfg)
	resp, err = http.Get(fmt.Sprintf("%s/schemas/ids/%d", url, reg.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Schema string }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("schema %d from the second registry: status %d, %v", reg.ID, resp.StatusCode, err)
	}
	if got.Schema != schema {
		t.Fatalf("schema %d from the second registry: %s, want %s", reg.ID, got.Schema, schema)
	}
}

// TestRunSASLMySQLHistory: a MySQL source keeping its schema history in a
// topic of the SASL_PLAINTEXT listener (schema.history.internal.kafka.topic,
// the daemon's brokers): the history client logs in with kafka.security, so
// the table's CREATE TABLE lands in the topic.
func TestRunSASLMySQLHistory(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_SASL_BROKERS")
	raw := testenv.Require(t, "SLUICE_MYSQL_URL")
	u, err := neturl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	conn, err := client.Connect(u.Host, u.User.Username(), pw, "")
	if err != nil {
		t.Fatal(err)
	}
	db := fmt.Sprintf("s_sasl%d", rand.Uint32())
	t.Cleanup(func() {
		_, _ = conn.Execute("DROP DATABASE IF EXISTS " + db)
		conn.Close()
	})
	for _, q := range []string{"CREATE DATABASE " + db, "CREATE TABLE " + db + ".sasl_items (id INT PRIMARY KEY, label VARCHAR(10))",
		"INSERT INTO " + db + ".sasl_items VALUES (1, 'one')"} {
		if _, err := conn.Execute(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	prefix := fmt.Sprintf("sluice_saslhist_%d", time.Now().UnixNano())
	histTopic := "schema-changes." + prefix
	kc := publish.DefaultConfig()
	kc.Brokers = []string{brokers}
	kc.Security = publish.SecurityConfig{Protocol: "SASL_PLAINTEXT", SASLMechanism: "PLAIN", SASLUsername: "sluice", SASLPassword: "sluice-secret"}
	kopts, err := publish.ConnOptions(kc, nil)
	if err != nil {
		t.Fatal(err)
	}
	admCl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	t.Cleanup(func() {
		kadm.NewClient(admCl).DeleteTopics(context.Background(), histTopic, prefix+"."+db+".sasl_items")
	})

	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	doc := fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka:
  bootstrap.servers: [%s]
  security: {protocol: SASL_PLAINTEXT, sasl.mechanism: PLAIN, sasl.username: sluice, sasl.password: sluice-secret}
data.dir: %s
sources:
  - name: my
    connector: mysql
    topic.prefix: %s
    url: %q
    mysql: {database.server.id: %d, database.include.list: [%s], schema.history.internal.kafka.topic: %s}
`, brokers, filepath.Join(dir, "data"), prefix, raw, 30000+rand.Uint32N(1<<20), db, histTopic)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startRun(t, cfg, nil)
	defer func() {
		if t.Failed() {
			p.cmd.Process.Kill()
			t.Logf("sluice log:\n%s", p.output())
		}
	}()

	eventually(t, 2*time.Minute, "the table in the history topic", func() error {
		cl, err := kgo.NewClient(append(slices.Clone(kopts),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{histTopic: {0: kgo.NewOffset().AtStart()}}))...)
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var recs []string
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, string(r.Value)) })
		for _, v := range recs {
			var rec struct {
				Snapshot bool
				Tables   []struct {
					DB, Table string
					Columns   []struct{ Name, ColumnType string }
				}
			}
			if err := json.Unmarshal([]byte(v), &rec); err != nil {
				return fmt.Errorf("history record %s: %w", v, err)
			}
			for _, tb := range rec.Tables {
				if tb.DB != db || tb.Table != "sasl_items" {
					continue
				}
				var cols []string
				for _, c := range tb.Columns {
					cols = append(cols, c.Name+" "+c.ColumnType)
				}
				if want := []string{"id int(11)", "label varchar(10)"}; !rec.Snapshot || !slices.Equal(cols, want) {
					t.Fatalf("history of %s.sasl_items: snapshot %v, columns %q; want a snapshot with %q", db, rec.Snapshot, cols, want)
				}
				return nil
			}
		}
		return fmt.Errorf("%d history records, none with %s.sasl_items (%v): %q", len(recs), db, fs.Err(), recs)
	})
}
