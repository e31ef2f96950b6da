package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// registryConfig: brokers, registry topic, listen address.
const registryConfig = `
log: {level: info, format: text}
kafka:
  bootstrap.servers: [%s]
registry:
  topic: %s
  listen: %s
`

// TestRegistryRestart runs `sluice registry`, registers schemas with curl,
// kills it with SIGKILL and starts it again over the same _schemas topic:
// every read answers byte for byte as before, registering a known schema
// returns its id, and a new schema gets the next id (none reused).
func TestRegistryRestart(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	run := fmt.Sprintf("rr%d", time.Now().UnixNano()%1e9)
	dir := t.TempDir()
	addr := freeAddr(t)
	url := "http://" + addr
	cfg := writeFile(t, filepath.Join(dir, "registry.yaml"), fmt.Sprintf(registryConfig, brokers, "_schemas_"+run, addr))
	logPath := filepath.Join(dir, "registry.log")

	curl := func(method, path, body string) string {
		t.Helper()
		args := []string{"-sS", "-X", method, "-w", " %{http_code}"}
		if body != "" {
			args = append(args, "-H", "Content-Type: application/vnd.schemaregistry.v1+json", "--data", body)
		}
		out, err := exec.Command("curl", append(args, url+path)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s %s: %v %s", method, path, err, out)
		}
		return string(out)
	}
	schema := func(fields ...string) string {
		return fmt.Sprintf(`{"schema":%q}`, `{"type":"record","name":"R","fields":[`+strings.Join(fields, ",")+`]}`)
	}
	v1 := schema(`{"name":"a","type":"long"}`)
	v2 := schema(`{"name":"a","type":"long"}`, `{"name":"b","type":["null","string"],"default":null}`)
	v3 := schema(`{"name":"a","type":"long"}`, `{"name":"c","type":"int","default":1}`)

	p := startProc(t, logPath, "registry", "-c", cfg)
	waitHTTP(t, url+"/subjects", p)
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/subjects/s1-value/versions", v1, `{"id":1} 200`},
		{"POST", "/subjects/s1-value/versions", v2, `{"id":2} 200`},
		{"POST", "/subjects/s2-value/versions", v1, `{"id":1} 200`}, // same schema, same global id
		{"PUT", "/config/s2-value", `{"compatibility":"FULL"}`, `{"compatibility":"FULL"} 200`},
		{"DELETE", "/subjects/s2-value/versions/1", "", `1 200`},
	} {
		if got := curl(c.method, c.path, c.body); got != c.want {
			t.Fatalf("%s %s: %s, want %s", c.method, c.path, got, c.want)
		}
	}
	reads := []string{
		"/subjects", "/subjects?deleted=true",
		"/subjects/s1-value/versions", "/subjects/s1-value/versions/1", "/subjects/s1-value/versions/2",
		"/subjects/s1-value/versions/latest", "/subjects/s1-value/versions/2/schema",
		"/subjects/s2-value/versions?deleted=true", "/subjects/s2-value/versions/1",
		"/schemas/ids/1", "/schemas/ids/2", "/schemas/ids/1/subjects", "/schemas/ids/2/versions",
		"/config", "/config/s2-value",
	}
	before := map[string]string{}
	for _, path := range reads {
		before[path] = curl("GET", path, "")
	}
	if before["/subjects/s1-value/versions"] != "[1,2] 200" || !strings.HasSuffix(before["/subjects/s2-value/versions/1"], " 404") {
		t.Fatalf("unexpected state before restart: %v", before)
	}

	if err := p.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("registry exited cleanly after SIGKILL")
	}
	p = startProc(t, logPath, "registry", "-c", cfg)
	waitHTTP(t, url+"/subjects", p)
	for _, path := range reads {
		if got := curl("GET", path, ""); got != before[path] {
			t.Errorf("GET %s after restart: %s, before: %s", path, got, before[path])
		}
	}
	if got := curl("POST", "/subjects/s1-value/versions", v2); got != `{"id":2} 200` {
		t.Errorf("re-registering version 2: %s", got)
	}
	if got := curl("POST", "/subjects/s1-value/versions", v3); got != `{"id":3} 200` {
		t.Errorf("registering a new schema after restart: %s, want id 3", got)
	}
	if got := curl("GET", "/subjects/s1-value/versions", ""); got != "[1,2,3] 200" {
		t.Errorf("versions after restart and register: %s", got)
	}
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("registry stopped with %v; log:\n%s", err, tail(logPath))
	}
}
