package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/offsets"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestFileSourceResume runs the file source against real Kafka: the lines
// arrive as JSON strings, the saved position is the byte offset, and after
// stop + altering the offset the source resumes from the altered position.
func TestFileSourceResume(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	ctx := t.Context()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	topic := "sluice-runtime-source-" + hex.EncodeToString(b)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	defer adm.DeleteTopics(context.Background(), topic)

	dir := t.TempDir()
	file := filepath.Join(dir, "in.txt")
	if err := os.WriteFile(file, []byte("first line\nsecond line\nthird line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := offsets.Open(filepath.Join(dir, "offsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHerder(Config{WorkerID: "w", Brokers: brokers, Offsets: store})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.CreateConnector("src", map[string]string{"connector.class": "FileStreamSource", "file": file, "topic": topic}); err != nil {
		t.Fatal(err)
	}
	consume := func(n int) []string {
		var got []string
		deadline := time.Now().Add(time.Minute)
		for len(got) < n && time.Now().Before(deadline) {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
			cancel()
		}
		return got
	}
	if got, want := strings.Join(consume(3), "|"), `"first line"|"second line"|"third line"`; got != want {
		t.Fatalf("records %s, want %s", got, want)
	}
	if err := h.Stop("src"); err != nil {
		t.Fatal(err)
	}
	offs, err := h.Offsets(ctx, "src")
	if err != nil || len(offs.Offsets) != 1 || fmt.Sprint(offs.Offsets[0].Offset["position"]) != "34" {
		t.Fatalf("offsets %+v, %v; want position 34", offs, err)
	}
	if err := h.AlterOffsets(ctx, "src", ConnectorOffsets{Offsets: []SourceOffset{{
		Partition: map[string]any{"filename": file}, Offset: map[string]any{"position": float64(11)}}}}); err != nil {
		t.Fatal(err)
	}
	if err := h.Resume("src"); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(consume(2), "|"), `"second line"|"third line"`; got != want {
		t.Fatalf("after resume from 11: records %s, want %s", got, want)
	}
}
