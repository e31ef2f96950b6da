package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestWorkerPostgres runs a Debezium PostgresConnector JSON, posted
// unchanged, on two "sluice worker" processes: the change events reach
// Kafka, the offset is in the offsets topic under Debezium's partition; the
// worker running the task is SIGKILLed while rows are written, the task
// runs on the survivor within session.timeout.ms plus a rebalance, resumes
// from the offsets topic, and every row arrives.
func TestWorkerPostgres(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	f := newPGFixture(t, pgURL, "wpg")
	ws := newCluster(t, brokers, 2)
	ids := []string{ws[0].id, ws[1].id}

	cfg := debeziumConfig(t, pgURL, f.name, f.name, f.name+".items")
	cfg["value.converter"] = "org.apache.kafka.connect.json.JsonConverter"
	cfg["value.converter.schemas.enable"] = "false"
	eventually(t, time.Minute, "create", func() error {
		code, b, err := call("POST", ws[1].url+"/connectors", map[string]any{"name": "pg", "config": cfg})
		if err != nil || code != http.StatusCreated {
			return fmt.Errorf("%d %s %v", code, b, err)
		}
		return nil
	})
	eventually(t, time.Minute, "pg RUNNING", func() error {
		_, err := running(ws[0].url, []string{"pg"}, ids)
		return err
	})
	topic := f.name + "." + f.name + ".items"
	topicValues(t, brokers, topic, hasAll("r:one"))
	eventually(t, time.Minute, "offsets", func() error {
		code, body, err := call("GET", ws[0].url+"/connectors/pg/offsets", nil)
		if err != nil || code != 200 || !strings.Contains(string(body), `{"partition":{"server":"`+f.name+`"},"offset":{`) {
			return fmt.Errorf("%d %s %v", code, body, err)
		}
		return nil
	})

	// The task's worker dies while rows are being written.
	_, b, _ := call("GET", ws[0].url+"/connectors/pg/status", nil)
	victim, survivor := ws[0], ws[1]
	if strings.Contains(string(b), `"tasks":[{"id":0,"state":"RUNNING","worker_id":"`+ws[1].id+`"`) {
		victim, survivor = ws[1], ws[0]
	}
	want := []string{"r:one"}
	for i := 2; i <= 40; i++ {
		f.exec(t, fmt.Sprintf(`INSERT INTO %s.items VALUES (%d, 'row%d')`, f.name, i, i))
		want = append(want, fmt.Sprintf("c:row%d", i))
		if i == 20 {
			if err := victim.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	eventually(t, 6*time.Second+15*time.Second+10*time.Second, "pg RUNNING on the survivor", func() error {
		_, err := running(survivor.url, []string{"pg"}, []string{survivor.id})
		return err
	})
	f.exec(t, `INSERT INTO `+f.name+`.items VALUES (41, 'after')`)
	want = append(want, "c:after")
	topicValues(t, brokers, topic, hasAll(want...))
}
