package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestWorkerAuth protects a worker's REST API with a bearer token and basic
// authentication (rest.bearer.tokens, rest.basic.auth in worker.yaml): a
// call without credentials gets 401, with either it gets the answer.
func TestWorkerAuth(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	dir := t.TempDir()
	addr := freePort(t)
	suffix := fmt.Sprint(time.Now().UnixNano())
	w := &workerProc{cfg: filepath.Join(dir, "worker.yaml"), url: "http://" + addr, id: addr, log: filepath.Join(dir, "worker.log")}
	doc := fmt.Sprintf(`group.id: wauth-%[1]s
bootstrap.servers: %[2]s
config.storage.topic: wauth-%[1]s-configs
offset.storage.topic: wauth-%[1]s-offsets
status.storage.topic: wauth-%[1]s-status
rest.listen: %[3]s
rest.bearer.tokens: [s3cret-token]
rest.basic.auth: {admin: pa55}
`, suffix, brokers, addr)
	if err := os.WriteFile(w.cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	t.Cleanup(func() {
		w.cmd.Process.Kill()
		<-w.done
		if t.Failed() {
			b, _ := os.ReadFile(w.log)
			t.Logf("worker log:\n%s", b)
		}
	})
	get := func(set func(*http.Request)) (int, error) {
		req, _ := http.NewRequest("GET", w.url+"/connectors", nil)
		if set != nil {
			set(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	eventually(t, time.Minute, "worker answers", func() error {
		_, err := get(nil)
		return err
	})
	for _, c := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"none", nil, http.StatusUnauthorized},
		{"wrong token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, http.StatusUnauthorized},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("admin", "nope") }, http.StatusUnauthorized},
		{"token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token") }, http.StatusOK},
		{"basic", func(r *http.Request) { r.SetBasicAuth("admin", "pa55") }, http.StatusOK},
	} {
		eventually(t, 30*time.Second, c.name, func() error {
			code, err := get(c.set)
			if err != nil || code != c.want {
				return fmt.Errorf("GET /connectors with %s = %d %v, want %d", c.name, code, err, c.want)
			}
			return nil
		})
	}
}
