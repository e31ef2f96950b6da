package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/offsets"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

func TestSourceOffsetKey(t *testing.T) {
	tests := []struct {
		connector string
		partition map[string]any
		want      string
	}{
		{"file-src", map[string]any{"filename": "/tmp/in.txt"}, `["file-src",{"filename":"/tmp/in.txt"}]`},
		{"pg", map[string]any{"server": "inventory"}, `["pg",{"server":"inventory"}]`},
		// Jackson escapes neither <, > nor &; the keys of a map are sorted.
		{"a<b>&c", map[string]any{"table": "x&y", "db": "d"}, `["a<b>&c",{"db":"d","table":"x&y"}]`},
		{`q"uote`, map[string]any{"n": 3}, `["q\"uote",{"n":3}]`},
	}
	for _, tt := range tests {
		got, err := sourceOffsetKey(tt.connector, tt.partition)
		if err != nil || got != tt.want {
			t.Errorf("sourceOffsetKey(%q, %v) = %s, %v; want %s", tt.connector, tt.partition, got, err, tt.want)
		}
		if !strings.HasPrefix(got, sourceOffsetPrefix(tt.connector)) {
			t.Errorf("key %s does not start with the prefix %s", got, sourceOffsetPrefix(tt.connector))
		}
		o, ok := decodeSourceOffset(tt.connector, got, []byte(`{"position":7}`))
		if !ok || partitionKey(o.Partition) != partitionKey(tt.partition) || fmt.Sprint(o.Offset["position"]) != "7" {
			t.Errorf("decode %s = %+v, %v", got, o, ok)
		}
	}
	// A connector whose name extends another's has other keys.
	if strings.HasPrefix(`["srcx",{"f":1}]`, sourceOffsetPrefix("src")) {
		t.Error("prefix of src matches srcx")
	}
	if _, ok := decodeSourceOffset("src", `["srcx",{"f":1}]`, []byte(`{}`)); ok {
		t.Error("decoded a key of another connector")
	}
}

// twoTasks runs two "tasks" of connector src, each saving the offsets of
// its own partition n times through its own Herder (its own worker).
func twoTasks(t *testing.T, a, b *Herder, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for i, h := range []*Herder{a, b} {
		wg.Go(func() {
			part := map[string]any{"filename": fmt.Sprintf("/tmp/in%d.txt", i)}
			for j := 1; j <= n; j++ {
				if _, err := h.mergeSourceOffsets("src", []SourceOffset{{Partition: part, Offset: map[string]any{"position": j * 10}}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func wantTwoPartitions(t *testing.T, h *Herder, n int) {
	t.Helper()
	got, err := h.loadSourceOffsets("src")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`[{"partition":{"filename":"/tmp/in0.txt"},"offset":{"position":%[1]d}},{"partition":{"filename":"/tmp/in1.txt"},"offset":{"position":%[1]d}}]`, n*10)
	if b, _ := encodeJSON(got); string(b) != want {
		t.Errorf("offsets %s\nwant     %s", b, want)
	}
}

func TestSourceOffsetsFileTwoTasks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsets.json")
	f, err := offsets.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h := newStoreHerder(t, f)
	twoTasks(t, h, h, 20)
	wantTwoPartitions(t, h, 20)

	g, err := offsets.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := g.Entries("")
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		lines = append(lines, k+" = "+string(entries[k]))
	}
	want := `["src",{"filename":"/tmp/in0.txt"}] = {"position":200}` + "\n" + `["src",{"filename":"/tmp/in1.txt"}] = {"position":200}`
	if got := strings.Join(lines, "\n"); got != want {
		t.Errorf("file entries:\n%s\nwant:\n%s", got, want)
	}
	wantTwoPartitions(t, newStoreHerder(t, g), 20)

	// A null offset removes one partition; reset removes the others.
	if _, err := h.mergeSourceOffsets("src", []SourceOffset{{Partition: map[string]any{"filename": "/tmp/in0.txt"}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.loadSourceOffsets("src"); len(got) != 1 || got[0].Partition["filename"] != "/tmp/in1.txt" {
		t.Fatalf("after removing in0: %+v", got)
	}
	if err := h.clearSourceOffsets("src"); err != nil {
		t.Fatal(err)
	}
	if left, _ := f.Entries(""); len(left) != 0 {
		t.Errorf("after reset the file holds %v", left)
	}
}

func TestSourceOffsetsLegacyMigrated(t *testing.T) {
	f, err := offsets.Open(filepath.Join(t.TempDir(), "offsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save("connector/src", []byte(`[{"partition":{"filename":"/a"},"offset":{"position":34}},{"partition":{"filename":"/b"},"offset":{"position":5}}]`)); err != nil {
		t.Fatal(err)
	}
	// A per-partition entry written since wins over the legacy list.
	if err := f.Save(`["src",{"filename":"/b"}]`, []byte(`{"position":9}`)); err != nil {
		t.Fatal(err)
	}
	h := newStoreHerder(t, f)
	got, err := h.loadSourceOffsets("src")
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"partition":{"filename":"/a"},"offset":{"position":34}},{"partition":{"filename":"/b"},"offset":{"position":9}}]`
	if b, _ := encodeJSON(got); string(b) != want {
		t.Errorf("offsets %s, want %s", b, want)
	}
	if b, _ := f.Load("connector/src"); b != nil {
		t.Errorf("legacy record kept: %s", b)
	}
	if b, _ := f.Load(`["src",{"filename":"/a"}]`); string(b) != `{"position":34}` {
		t.Errorf("migrated entry = %s", b)
	}
}

func newStoreHerder(t *testing.T, st OffsetStore) *Herder {
	t.Helper()
	h, err := NewHerder(Config{WorkerID: "w", Offsets: st})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newTopicOffsets returns a kafkaOffsets over topic, as a worker has it.
func newTopicOffsets(t *testing.T, brokers []string, topic string) *kafkaOffsets {
	t.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	o := &kafkaOffsets{m: map[string][]byte{}}
	o.log, err = newKafkaLog(topic, brokers, nil, prod, kadm.NewClient(prod), o.applyRecord, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.log.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return o
}

// TestSourceOffsetsTopicTwoWorkers: two workers (two Herders, each reading
// the offsets topic) run one task each of connector src; neither loses the
// other's partition, and the records are Kafka Connect's.
func TestSourceOffsetsTopicTwoWorkers(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	topic := "sluice-runtime-offsets-" + randomSuffix()
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if err := ensureTopics(t.Context(), kadm.NewClient(adm), []topicSpec{{topic, 5, 1}}); err != nil {
		t.Fatal(err)
	}
	defer kadm.NewClient(adm).DeleteTopics(context.Background(), topic)

	a := newStoreHerder(t, newTopicOffsets(t, brokers, topic))
	b := newStoreHerder(t, newTopicOffsets(t, brokers, topic))
	twoTasks(t, a, b, 15)
	wantTwoPartitions(t, a, 15)
	wantTwoPartitions(t, b, 15)
	wantTwoPartitions(t, newStoreHerder(t, newTopicOffsets(t, brokers, topic)), 15)

	if err := a.clearSourceOffsets("src"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.loadSourceOffsets("src"); err != nil || len(got) != 0 {
		t.Errorf("after reset, the other worker reads %+v, %v", got, err)
	}

	// The raw records: the last value of each key, then its tombstone.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	last := map[string][]string{}
	n := 0
	deadline := time.Now().Add(time.Minute)
	for n < 32 && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			n++
			v := string(r.Value)
			if r.Value == nil {
				v = "<null>"
			}
			last[string(r.Key)] = append(last[string(r.Key)], v)
		})
		cancel()
	}
	var got []string
	for _, k := range slices.Sorted(maps.Keys(last)) {
		vs := last[k]
		got = append(got, fmt.Sprintf("%s %d: %s", k, len(vs), strings.Join(vs[len(vs)-2:], " ")))
	}
	want := `["src",{"filename":"/tmp/in0.txt"}] 16: {"position":150} <null>` + "\n" +
		`["src",{"filename":"/tmp/in1.txt"}] 16: {"position":150} <null>`
	if strings.Join(got, "\n") != want {
		t.Errorf("offsets topic (%d records):\n%s\nwant:\n%s", n, strings.Join(got, "\n"), want)
	}
}
