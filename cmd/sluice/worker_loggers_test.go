package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestWorkerLoggersCluster sets a logger level with scope=cluster on one of
// two workers: both report it (through the config topic), while a plain PUT
// changes only the worker that receives it.
func TestWorkerLoggersCluster(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ws := newCluster(t, brokers, 2)
	level := func(w *workerProc, logger string) (string, error) {
		code, b, err := call("GET", w.url+"/admin/loggers/"+logger, nil)
		if err != nil || code != 200 {
			return "", fmt.Errorf("GET logger %s on %s: %d %s %v", logger, w.id, code, b, err)
		}
		var l struct {
			Level string `json:"level"`
		}
		return l.Level, json.Unmarshal(b, &l)
	}
	eventually(t, time.Minute, "cluster scope", func() error {
		code, b, err := call("PUT", ws[0].url+"/admin/loggers/sluice.runtime.task?scope=cluster", map[string]string{"level": "DEBUG"})
		if err != nil || code != 204 {
			return fmt.Errorf("PUT scope=cluster: %d %s %v", code, b, err)
		}
		return nil
	})
	for _, w := range ws {
		eventually(t, 30*time.Second, "DEBUG on "+w.id, func() error {
			got, err := level(w, "sluice.runtime.task")
			if err != nil || got != "DEBUG" {
				return fmt.Errorf("level %q %v, want DEBUG", got, err)
			}
			return nil
		})
	}
	if code, b, err := call("PUT", ws[1].url+"/admin/loggers/sluice.runtime.task", map[string]string{"level": "ERROR"}); err != nil || code != 200 {
		t.Fatalf("PUT worker scope: %d %s %v", code, b, err)
	}
	if got, err := level(ws[0], "sluice.runtime.task"); err != nil || got != "DEBUG" {
		t.Errorf("worker-scoped PUT on %s changed %s: %q %v", ws[1].id, ws[0].id, got, err)
	}
	if code, b, _ := call("PUT", ws[0].url+"/admin/loggers/x?scope=cluster", map[string]string{"level": "LOUD"}); code != 404 {
		t.Errorf("bad level with scope=cluster: %d %s, want 404 as Kafka Connect", code, b)
	}
}
