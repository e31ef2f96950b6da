package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestWorkerFencing pauses (SIGSTOP) the worker running a file source task
// for longer than session.timeout.ms: the task moves to the other worker and
// no line is lost. Resumed (SIGCONT), the paused worker first fences itself
// (stops the task it still held, before any new assignment), then rejoins,
// and the cluster runs everything again without losing a line.
func TestWorkerFencing(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx := context.Background()
	ws := newCluster(t, brokers, 2)
	ids := []string{ws[0].id, ws[1].id}
	dir := t.TempDir()

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topic := fmt.Sprintf("wfence-%d", time.Now().UnixNano())
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	defer kadm.NewClient(cl).DeleteTopics(ctx, topic)

	src := filepath.Join(dir, "in.txt")
	appendLines := func(from, to int) {
		t.Helper()
		f, err := os.OpenFile(src, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i < to; i++ {
			fmt.Fprintf(f, "line%d\n", i)
		}
	}
	got := map[string]int{}
	reader, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	// allLines waits until the topic holds every line below n.
	allLines := func(n int) {
		t.Helper()
		eventually(t, time.Minute, fmt.Sprintf("lines 0..%d in %s", n-1, topic), func() error {
			pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			reader.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)]++ })
			cancel()
			for i := range n {
				if got[fmt.Sprintf("line%d", i)] == 0 {
					return fmt.Errorf("line%d missing", i)
				}
			}
			return nil
		})
	}

	appendLines(0, 20)
	name := "fsrc-" + fmt.Sprint(time.Now().UnixNano())
	body := map[string]any{"name": name, "config": map[string]string{"connector.class": "FileStreamSource",
		"file": src, "topic": topic, "value.converter": "org.apache.kafka.connect.storage.StringConverter"}}
	eventually(t, time.Minute, "create "+name, func() error {
		code, b, err := call("POST", ws[0].url+"/connectors", body)
		if err != nil || code != http.StatusCreated {
			return fmt.Errorf("%d %s %v", code, b, err)
		}
		return nil
	})
	eventually(t, time.Minute, "RUNNING", func() error {
		_, err := running(ws[0].url, []string{name}, ids)
		return err
	})
	allLines(20)

	// The worker running the task is paused past its session.
	taskWorker := func(url string) (string, error) {
		code, b, err := call("GET", url+"/connectors/"+name+"/status", nil)
		if err != nil || code != 200 {
			return "", fmt.Errorf("status: %d %s %v", code, b, err)
		}
		var st statusBody
		if err := json.Unmarshal(b, &st); err != nil || len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
			return "", fmt.Errorf("status: %s %v", b, err)
		}
		return st.Tasks[0].WorkerID, nil
	}
	id, err := taskWorker(ws[0].url)
	if err != nil {
		t.Fatal(err)
	}
	victim, other := ws[0], ws[1]
	if id == ws[1].id {
		victim, other = ws[1], ws[0]
	}
	if err := victim.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			victim.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	eventually(t, time.Minute, "the task RUNNING on "+other.id, func() error {
		id, err := taskWorker(other.url)
		if err == nil && id != other.id {
			err = fmt.Errorf("task on %s", id)
		}
		return err
	})
	appendLines(20, 40)
	allLines(40)

	logBefore, err := os.ReadFile(victim.log)
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	var after string
	eventually(t, time.Minute, victim.id+" rejoins", func() error {
		b, err := os.ReadFile(victim.log)
		if err != nil {
			return err
		}
		after = string(b[len(logBefore):])
		if !strings.Contains(after, "worker rejoined its group after being fenced") {
			return fmt.Errorf("not yet; log since SIGCONT:\n%s", after)
		}
		return nil
	})
	// The first thing it did was to stop the task it held.
	fence := strings.Index(after, "worker fenced: stopping its connectors and tasks")
	for _, later := range []string{"msg=assignment", "task starting"} {
		if i := strings.Index(after, later); fence < 0 || (i >= 0 && i < fence) {
			t.Fatalf("%q before the worker fenced itself; log since SIGCONT:\n%s", later, after)
		}
	}
	line, _, _ := strings.Cut(after[fence:], "\n")
	if !strings.Contains(line, "tasks=1") {
		t.Errorf("fence did not stop the task it held: %s", line)
	}
	t.Logf("%s: %s", victim.id, line)

	eventually(t, time.Minute, "RUNNING again", func() error {
		_, err := running(victim.url, []string{name}, ids)
		return err
	})
	appendLines(40, 60)
	allLines(60)
}
