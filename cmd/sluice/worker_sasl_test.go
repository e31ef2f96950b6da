package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestWorkerSASL runs a one-worker cluster on the broker's SASL_PLAINTEXT
// listener with worker.yaml's security keys: lines of a file source reach
// a file sink, so the worker's group, its internal topics, the source's
// producer and the sink's consumer all logged in. A worker.yaml with an
// unknown security.protocol is refused naming the keys.
func TestWorkerSASL(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_SASL_BROKERS")
	ws := newClusterWith(t, brokers, 1, "security.protocol: SASL_PLAINTEXT\nsasl.mechanism: PLAIN\nsasl.username: sluice\nsasl.password: sluice-secret\n")
	w := ws[0]
	dir := t.TempDir()
	src, sink := filepath.Join(dir, "in.txt"), filepath.Join(dir, "out.txt")
	var lines strings.Builder
	for i := range 20 {
		fmt.Fprintf(&lines, "sasl-line%d\n", i)
	}
	if err := os.WriteFile(src, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	topic := fmt.Sprintf("wsasl-%d", time.Now().UnixNano())
	// The file source does not create its topic (nor does the broker):
	// made through the same cluster's plaintext listener.
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for _, c := range []map[string]any{
		{"name": "sasl-src", "config": map[string]string{"connector.class": "FileStreamSource", "file": src, "topic": topic,
			"value.converter": "org.apache.kafka.connect.storage.StringConverter"}},
		{"name": "sasl-sink", "config": map[string]string{"connector.class": "FileStreamSink", "file": sink, "topics": topic,
			"value.converter": "org.apache.kafka.connect.storage.StringConverter"}},
	} {
		eventually(t, time.Minute, "create "+c["name"].(string), func() error {
			code, b, err := call("POST", w.url+"/connectors", c)
			if err != nil || code != http.StatusCreated {
				return fmt.Errorf("%d %s %v", code, b, err)
			}
			return nil
		})
	}
	eventually(t, 90*time.Second, "lines in the sink file", func() error {
		b, _ := os.ReadFile(sink)
		got := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(got) < 20 {
			return fmt.Errorf("%d lines so far", len(got))
		}
		seen := map[string]bool{}
		for _, l := range got {
			seen[l] = true
		}
		for i := range 20 {
			if l := fmt.Sprintf("sasl-line%d", i); !seen[l] {
				return fmt.Errorf("missing %s", l)
			}
		}
		return nil
	})

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("group.id: g\nbootstrap.servers: "+brokers+"\nsecurity.protocol: SASL_PLAIN\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, code := sluice(t, "worker", "-c", bad)
	if code != exitUsage || !strings.Contains(out, "security.protocol") || !strings.Contains(out, `"SASL_PLAIN"`) {
		t.Fatalf("bad security.protocol: exit %d, stderr:\n%s", code, out)
	}
}
