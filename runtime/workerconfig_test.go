package runtime_test

import (
	"testing"

	"github.com/sluice-cdc/sluice/runtime"
)

// TestExampleWorkerConfig loads examples/worker.yaml, the documented
// distributed worker configuration.
func TestExampleWorkerConfig(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", "k1:9092,k2:9092")
	cfg, err := runtime.LoadWorkerConfig("../examples/worker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Brokers(); len(got) != 2 || got[0] != "k1:9092" || cfg.GroupID != "sluice-cluster" || cfg.OffsetPartitions != 25 {
		t.Errorf("worker config = %+v", cfg)
	}
}
