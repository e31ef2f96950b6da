package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/internal/offsets"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestRunPostgres runs "sluice run" on a real Postgres table with the
// embedded broker and reads the publisher's metrics at /metrics: the
// snapshot row is acknowledged by Kafka; SIGTERM then stops it with code 0
// and the offset file holds the position.
func TestRunPostgres(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("clitest_%d", time.Now().UnixNano())
	cleanup := func() {
		testenv.DropReplicationSlot(ctx, conn, name)
		conn.Exec(ctx, `DROP PUBLICATION IF EXISTS `+name)
		conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+name+` CASCADE`)
	}
	t.Cleanup(cleanup)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+name+`; CREATE TABLE `+name+`.items (id int PRIMARY KEY, label text); INSERT INTO `+name+`.items VALUES (1, 'one')`); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	doc := fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [embedded]}
data.dir: %s
sources:
  - name: clitest
    connector: postgres
    topic.prefix: cli
    url: %q
    tables: [%s.items]
    postgres: {slot.name: %s, publication.name: %s, publication.autocreate.mode: filtered}
`, filepath.Join(dir, "data"), pgURL, name, name, name)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startRun(t, cfg, []string{})
	cmd, addr := p.cmd, p.addr
	want := fmt.Sprintf(`sluice_publish_records_total{connector="clitest",topic="cli.%s.items"} 1`, name)
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := ""
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		if strings.Contains(body, want+"\n") {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("/metrics never showed %q:\n%s\nlog:\n%s", want, body, p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice run after SIGTERM: %v\n%s", err, p.output())
	}
	// The position is the runtime's source offset of the connector, under
	// Kafka Connect's key: the connector and its partition.
	store, err := offsets.Open(filepath.Join(dir, "data", "offsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	pos, err := store.Load(`["clitest",{"server":"cli"}]`)
	if err != nil || !strings.Contains(string(pos), `"lsn":"`) {
		t.Errorf("offset of clitest = %q, %v; want a position with an LSN", pos, err)
	}
}
