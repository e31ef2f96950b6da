package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// pythonAvro returns the Python of the venv scripts/pyenv.sh keeps under
// .cache/pyenv (confluent-kafka with its schema-registry and Avro modules).
// Under CI=true a failed install fails the test; by hand it skips.
func pythonAvro(t *testing.T) string {
	t.Helper()
	root, ok := testenv.RepoRoot()
	if !ok {
		t.Fatal("repository root not found")
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "pyenv.sh")).Output()
	py := strings.TrimSpace(string(out))
	if err == nil && py != "" {
		return py
	}
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	msg := fmt.Sprintf("scripts/pyenv.sh failed (%v): %s", err, stderr)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// pyRecord is one line printed by testdata/avro_consume.py.
type pyRecord struct {
	Offset  int64 `json:"offset"`
	KeyID   *int  `json:"key_id"`
	ValueID *int  `json:"value_id"`
	Key     any   `json:"key"`
	Value   any   `json:"value"`
}

// pyConsume reads n records of topic from the start with Confluent's Python
// AvroDeserializer through the registry at url.
func pyConsume(t *testing.T, py, brokers, url, topic string, n int) []pyRecord {
	t.Helper()
	root, _ := testenv.RepoRoot()
	script := filepath.Join(root, "internal", "e2e", "testdata", "avro_consume.py")
	cmd := exec.Command(py, script, brokers, url, topic, fmt.Sprint(n))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("avro_consume.py %s: %v\n%s", topic, err, stderr.String())
	}
	var recs []pyRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		var r pyRecord
		if err := d.Decode(&r); err != nil {
			t.Fatalf("avro_consume.py line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	if len(recs) != n {
		t.Fatalf("avro_consume.py printed %d records, want %d:\n%s", len(recs), n, out)
	}
	return recs
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a sluice process started by a test, its output going to log.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startProc runs the sluice binary with args, appending its output to log.
func startProc(t *testing.T, log string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(sluiceBin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sluice %v: %v", args, err)
	}
	p := &proc{cmd: cmd, log: log, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop(t, syscall.SIGKILL) })
	return p
}

// stop signals the process (if still running) and waits for it.
func (p *proc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill()
		t.Errorf("sluice did not stop within a minute of %v", sig)
		return <-p.done
	}
}

// wait waits for the process to exit by itself.
func (p *proc) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(limit):
		t.Fatalf("sluice still running after %v; log:\n%s", limit, tail(p.log))
		return nil
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("sluice exited (%v) before %s answered; log:\n%s", err, url, tail(p.log))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not answer within a minute; log:\n%s", url, tail(p.log))
}

// waitSlot waits until the replication slot exists, so that changes made
// from then on are captured.
func waitSlot(t *testing.T, pool *pgxpool.Pool, slot string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var active bool
		err := pool.QueryRow(context.Background(), "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
		if err == nil && active {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("sluice exited (%v) before slot %s was active; log:\n%s", err, slot, tail(p.log))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("slot %s not active within a minute; log:\n%s", slot, tail(p.log))
}

// consume reads n records of topic from the start (failing after a minute).
func consume(t *testing.T, brokers, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("topic %s: %d records after a minute, want %d", topic, len(recs), n)
		}
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

// endOffset returns the number of records in partition 0 of topic.
func endOffset(t *testing.T, brokers, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok || o.Err != nil {
		t.Fatalf("end offset of %s: %v", topic, o.Err)
	}
	return o.Offset
}

// pgEnv creates a schema for one test and drops it, with the test's slots
// and publications, at the end.
func pgEnv(t *testing.T, pgURL, schema string, slots ...string) *pgxpool.Pool {
	t.Helper()
	return newPGSchema(t, pgURL, schema, false, slots)
}

func runSQL(t *testing.T, pool *pgxpool.Pool, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := pool.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// avroConfig: data dir, brokers, key converter, value converter, registry
// topic, registry listen, topic prefix, pg url, table, slot/publication.
const avroConfig = `
log: {level: info, format: text}
http: {addr: "127.0.0.1:0"}
data.dir: %s
kafka:
  bootstrap.servers: [%s]
  linger.ms: 2
converters:
  key: %s
  value: %s
registry:
  topic: %s
  listen: %s
sources:
  - name: avro
    connector: postgres
    topic.prefix: %s
    url: %s
    tables: [%s]
    postgres:
      slot.name: %s
      publication.name: %[10]s
      publication.autocreate.mode: filtered
      snapshot.mode: no_data
`

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
