package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestPracticalScript runs scripts/practical.sh, the seed's guided practical
// in distributed mode, with the binary TestMain built: a "sluice worker"
// answers GET /connector-plugins, POST /connectors creates a FileStreamSink,
// records produced with kcat appear in its file byte for byte, and the
// status shows the connector and its task RUNNING. The script exits non-zero
// on any failed step; its output says which.
func TestPracticalScript(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	testenv.RequireCommand(t, "kcat", "scripts/services.sh up kafka installs it")
	testenv.RequireCommand(t, "curl", "apt-get install curl")
	testenv.RequireCommand(t, "java", "scripts/services.sh up kafka installs it (the script creates topics with Kafka's TopicCommand)")
	root, ok := testenv.RepoRoot()
	if !ok {
		t.Fatal("no repository root above the working directory")
	}
	cmd := exec.CommandContext(t.Context(), "bash", filepath.Join(root, "scripts", "practical.sh"))
	cmd.Env = append(os.Environ(), "SLUICE_BIN="+binary, "SLUICE_KAFKA_BROKERS="+brokers, "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/practical.sh: %v\n%s", err, out)
	}
	t.Logf("scripts/practical.sh:\n%s", out)
}
