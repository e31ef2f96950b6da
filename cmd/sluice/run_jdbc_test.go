package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestRunJDBCSink runs "sluice run" with a Postgres source and two JDBC
// sink connectors of Confluent's class (a Postgres table and a SQLite file)
// behind Debezium's ExtractNewRecordState and a RegexRouter: after inserts,
// updates and deletes on the source table, both targets hold the same rows.
func TestRunJDBCSink(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	f := newPGFixture(t, pgURL, "jdbctest")
	target := f.name + "_copy"
	t.Cleanup(func() { f.conn.Exec(context.Background(), `DROP TABLE IF EXISTS public.`+target) })
	dir := t.TempDir()
	sqlitePath := filepath.Join(dir, "copy.db")
	sinkCfg := func(url string) string {
		return fmt.Sprintf(`{connector.class: io.confluent.connect.jdbc.JdbcSinkConnector, topics: %[1]s.%[1]s.items,
      connection.url: %[2]q, insert.mode: upsert, pk.mode: record_key, delete.enabled: "true", auto.create: "true",
      transforms: "unwrap,route",
      transforms.unwrap.type: io.debezium.transforms.ExtractNewRecordState,
      transforms.route.type: org.apache.kafka.connect.transforms.RegexRouter,
      transforms.route.regex: ".*",
      transforms.route.replacement: %[3]s}`, f.name, url, target)
	}
	cfg := filepath.Join(dir, "sluice.yaml")
	doc := fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [%s]}
data.dir: %s
sources:
  - name: src
    connector: postgres
    topic.prefix: %s
    url: %q
    tables: [%s.items]
    postgres: {slot.name: %s, publication.name: %s, publication.autocreate.mode: filtered}
connectors:
  - name: %[8]s-pg
    config: %[9]s
  - name: %[8]s-sqlite
    config: %[10]s
`, brokers, filepath.Join(dir, "data"), f.name, pgURL, f.name, f.name, f.name, f.name,
		sinkCfg("jdbc:postgresql://"+strings.TrimPrefix(pgURL, "postgres://")), sinkCfg("jdbc:sqlite:"+sqlitePath))
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

	f.exec(t, `INSERT INTO `+f.name+`.items VALUES (2, 'two'), (3, 'three'), (4, 'four')`)
	f.exec(t, `UPDATE `+f.name+`.items SET label = 'TWO' WHERE id = 2`)
	f.exec(t, `DELETE FROM `+f.name+`.items WHERE id = 3`)
	want := []string{"1:one", "2:TWO", "4:four"}

	pgDB, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pgDB.Close()
	for name, open := range map[string]func() (*sql.DB, error){
		"postgres": func() (*sql.DB, error) { return pgDB, nil },
		"sqlite":   func() (*sql.DB, error) { return sql.Open("sqlite", sqlitePath) },
	} {
		db, err := open()
		if err != nil {
			t.Fatal(err)
		}
		// The sinks start before their topic exists (the source creates it
		// with its first record): joining the group then takes a while.
		waitRows(t, 3*time.Minute, name+" target rows", db, target, want)
		if name == "sqlite" {
			db.Close()
		}
	}
	// Connector names (and so consumer groups) are unique per run.
	for _, name := range []string{f.name + "-pg", f.name + "-sqlite"} {
		if _, err := running("http://"+p.addr, []string{name}, []string{p.addr}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
