// Package testenv gives integration tests the addresses of the real services
// started by scripts/services.sh. A test asks for a variable (SLUICE_PG_URL,
// SLUICE_KAFKA_BROKERS, ...); the value comes from the environment or from
// the .services.env file the script writes at the repository root. When the
// service is missing the test fails under CI (CI=true) and skips otherwise,
// with a message saying how to start it.
package testenv

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// services maps each variable to the services.sh name that provides it.
var services = map[string]string{
	"SLUICE_PG_URL":             "postgres",
	"SLUICE_KAFKA_BROKERS":      "kafka",
	"SLUICE_KAFKA_SASL_BROKERS": "kafka",
	"SLUICE_MYSQL_URL":          "mariadb",
	"SLUICE_ES_URL":             "opensearch",
	"SLUICE_S3_ENDPOINT":        "s3",
	"SLUICE_S3_ACCESS_KEY":      "s3",
	"SLUICE_S3_SECRET_KEY":      "s3",
	"SLUICE_MONGO_URL":          "mongo",
	"SLUICE_MONGO_URI":          "mongo",
}

// Lookup returns the value of key from the environment or .services.env.
func Lookup(key string) (string, bool) {
	if v := os.Getenv(key); v != "" {
		return v, true
	}
	path, ok := servicesFile()
	if !ok {
		return "", false
	}
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && k == key && v != "" {
			return v, true
		}
	}
	return "", false
}

// Require returns the value of key or ends the test: t.Fatal under CI,
// t.Skip when run by hand.
func Require(t testing.TB, key string) string {
	t.Helper()
	if v, ok := Lookup(key); ok {
		return v
	}
	name := services[key]
	if name == "" {
		name = "<service>"
	}
	msg := key + " is not set and .services.env lacks it; start the service with: scripts/services.sh up " + name
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func servicesFile() (string, bool) {
	if p := os.Getenv("SLUICE_SERVICES_ENV"); p != "" {
		return p, true
	}
	root, ok := RepoRoot()
	if !ok {
		return "", false
	}
	return filepath.Join(root, ".services.env"), true
}

// RequireCommand returns the path of an external program a test uses (curl,
// kcat, ...) or ends the test: t.Fatal under CI, t.Skip by hand. hint says
// how to install it.
func RequireCommand(t testing.TB, name, hint string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " is not installed; " + hint
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Execer is what DropReplicationSlot needs: *pgx.Conn and *pgxpool.Pool
// both have it.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// DropReplicationSlot drops a test's replication slot, waiting up to five
// seconds for it to become inactive (a walsender lingers a moment after its
// client exits). A leaked slot holds WAL and one of the server's few slots
// for good, so every test that creates one cleans up with this.
func DropReplicationSlot(ctx context.Context, db Execer, slot string) {
	for range 50 {
		_, _ = db.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", slot)
		tag, err := db.Exec(ctx, "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", slot)
		if err != nil || tag.RowsAffected() == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
