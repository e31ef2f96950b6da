package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// workerProc is one "sluice worker" process of a test cluster.
type workerProc struct {
	cfg, url, id, log string
	cmd               *exec.Cmd
	done              chan struct{} // closed once the process has been waited for
}

// exited reports whether the process has ended (and been waited for).
func (w *workerProc) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (w *workerProc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(w.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(binary, "worker", "-c", w.cfg)
	w.cmd.Stdout, w.cmd.Stderr = f, f
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, done := w.cmd, make(chan struct{})
	w.done = done
	go func() { cmd.Wait(); f.Close(); close(done) }()
}

func newCluster(t *testing.T, brokers string, n int) []*workerProc {
	t.Helper()
	return newClusterWith(t, brokers, n, "")
}

// newClusterWith is newCluster with extra lines appended to each
// worker.yaml.
func newClusterWith(t *testing.T, brokers string, n int, extra string) []*workerProc {
	t.Helper()
	dir := t.TempDir()
	suffix := fmt.Sprint(time.Now().UnixNano())
	var ws []*workerProc
	for i := range n {
		addr := freePort(t)
		w := &workerProc{cfg: filepath.Join(dir, fmt.Sprintf("worker%d.yaml", i)), url: "http://" + addr, id: addr,
			log: filepath.Join(dir, fmt.Sprintf("worker%d.log", i))}
		doc := fmt.Sprintf(`group.id: wtest-%[1]s
bootstrap.servers: %[2]s
config.storage.topic: wtest-%[1]s-configs
offset.storage.topic: wtest-%[1]s-offsets
status.storage.topic: wtest-%[1]s-status
rest.listen: %[3]s
session.timeout.ms: 6000
heartbeat.interval.ms: 1000
rebalance.timeout.ms: 15000
`, suffix, brokers, addr) + extra
		if err := os.WriteFile(w.cfg, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		w.start(t)
		ws = append(ws, w)
	}
	t.Cleanup(func() {
		for _, w := range ws {
			if !w.exited() {
				w.cmd.Process.Signal(syscall.SIGTERM)
			}
		}
		for _, w := range ws {
			select {
			case <-w.done:
			case <-time.After(10 * time.Second):
				w.cmd.Process.Kill()
				<-w.done
			}
			if t.Failed() {
				b, _ := os.ReadFile(w.log)
				t.Logf("%s log:\n%s", w.id, b)
			}
		}
	})
	return ws
}

func call(method, url string, body any) (int, []byte, error) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes(), nil
}

// eventually retries check until it returns nil or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type statusBody struct {
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
	} `json:"tasks"`
}

// running checks that every connector and task is RUNNING on one of
// workers, and returns the workers in use.
func running(url string, names []string, workers []string) (map[string]bool, error) {
	used := map[string]bool{}
	for _, n := range names {
		code, b, err := call("GET", url+"/connectors/"+n+"/status", nil)
		if err != nil || code != 200 {
			return nil, fmt.Errorf("status of %s: %d %s %v", n, code, b, err)
		}
		var st statusBody
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, err
		}
		if st.Connector.State != "RUNNING" || !slices.Contains(workers, st.Connector.WorkerID) || len(st.Tasks) == 0 {
			return nil, fmt.Errorf("%s: %s", n, b)
		}
		used[st.Connector.WorkerID] = true
		for _, tk := range st.Tasks {
			if tk.State != "RUNNING" || !slices.Contains(workers, tk.WorkerID) {
				return nil, fmt.Errorf("%s: %s", n, b)
			}
			used[tk.WorkerID] = true
		}
	}
	return used, nil
}

// TestWorkerCluster runs three "sluice worker" processes with file source →
// topic → file sink pipelines; one worker is SIGKILLed, its work moves to
// the survivors and no line is lost; restarted, it gets work again.
func TestWorkerCluster(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx := context.Background()
	ws := newCluster(t, brokers, 3)
	ids := []string{ws[0].id, ws[1].id, ws[2].id}
	dir := t.TempDir()

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	const pipes = 3
	var names []string
	var srcFiles, sinkFiles []string
	for i := range pipes {
		topic := fmt.Sprintf("wtest-%d-%d", time.Now().UnixNano(), i)
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		src, sink := filepath.Join(dir, fmt.Sprintf("in%d.txt", i)), filepath.Join(dir, fmt.Sprintf("out%d.txt", i))
		var lines strings.Builder
		for j := range 50 {
			fmt.Fprintf(&lines, "pipe%d-line%d\n", i, j)
		}
		if err := os.WriteFile(src, []byte(lines.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		srcFiles, sinkFiles = append(srcFiles, src), append(sinkFiles, sink)
		// Created through different workers: non-leaders forward.
		for k, c := range []map[string]any{
			{"name": fmt.Sprintf("src%d", i), "config": map[string]string{"connector.class": "FileStreamSource", "file": src, "topic": topic,
				"value.converter": "org.apache.kafka.connect.storage.StringConverter"}},
			{"name": fmt.Sprintf("sink%d", i), "config": map[string]string{"connector.class": "FileStreamSink", "file": sink, "topics": topic,
				"value.converter": "org.apache.kafka.connect.storage.StringConverter"}},
		} {
			w := ws[(i+k)%len(ws)]
			eventually(t, time.Minute, "create "+c["name"].(string), func() error {
				code, b, err := call("POST", w.url+"/connectors", c)
				if err != nil || code != http.StatusCreated {
					return fmt.Errorf("%d %s %v", code, b, err)
				}
				return nil
			})
			names = append(names, c["name"].(string))
		}
	}
	var used map[string]bool
	eventually(t, time.Minute, "all RUNNING", func() (err error) {
		used, err = running(ws[0].url, names, ids)
		if err == nil && len(used) < 3 {
			err = fmt.Errorf("work on %d workers only", len(used))
		}
		return err
	})

	// SIGKILL worker 1: within session.timeout.ms plus a rebalance (15 s
	// rebalance timeout), everything runs on the survivors.
	if err := ws[1].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	survivors := []string{ws[0].id, ws[2].id}
	eventually(t, 6*time.Second+15*time.Second+5*time.Second, "RUNNING on survivors", func() error {
		_, err := running(ws[0].url, names, survivors)
		return err
	})
	// More lines after the kill; every line reaches the sinks (at least
	// once).
	for i, src := range srcFiles {
		f, err := os.OpenFile(src, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for j := 50; j < 80; j++ {
			fmt.Fprintf(f, "pipe%d-line%d\n", i, j)
		}
		f.Close()
	}
	for i, sink := range sinkFiles {
		eventually(t, time.Minute, "sink "+sink, func() error {
			b, _ := os.ReadFile(sink)
			got := map[string]bool{}
			for _, l := range strings.Split(string(b), "\n") {
				got[l] = true
			}
			for j := range 80 {
				if l := fmt.Sprintf("pipe%d-line%d", i, j); !got[l] {
					return fmt.Errorf("missing %s", l)
				}
			}
			return nil
		})
	}

	// Restarted, worker 1 gets work again through a rebalance.
	ws[1].start(t)
	eventually(t, time.Minute, "work on the restarted worker", func() error {
		used, err := running(ws[0].url, names, ids)
		if err != nil {
			return err
		}
		if !used[ws[1].id] {
			return fmt.Errorf("nothing runs on %s", ws[1].id)
		}
		return nil
	})
}
