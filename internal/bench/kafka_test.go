package bench

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBrokerCountsAndArrivals checks the harness's own Kafka plumbing on
// kfake: the acknowledged count, trimming, and the arrival of keyed records.
func TestBrokerCountsAndArrivals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	br, err := NewBroker("kfake", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	const topic = "bench.s.t"
	if err := br.CreateTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	arr, err := br.Consume(topic)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Addrs...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	keys := []string{
		`{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false,"name":"p.s.t.Key"},"payload":{"id":7}}`,
		`{"payload":{"id":8}}`,
		`{"payload":{"name":"no id"}}`,
		"",
		"",
	}
	values := []string{"{}", "{}", "{}",
		`{"schema":{},"payload":{"before":null,"after":{"id":9,"k":1},"op":"c"}}`,
		`{"before":null,"after":{"id":10},"op":"c"}`,
	}
	for i, k := range keys {
		rec := &kgo.Record{Value: []byte(values[i])}
		if k != "" {
			rec.Key = []byte(k)
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := br.Acked(ctx, topic, false)
	if err != nil || n != 5 {
		t.Fatalf("Acked = %d, %v; want 5", n, err)
	}
	for ids, _ := arr.Count(); ids < 4 && ctx.Err() == nil; ids, _ = arr.Count() {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the keyless record arrive too
	at := arr.Close()
	if len(at) != 4 || at[7].IsZero() || at[8].IsZero() || at[9].IsZero() || at[10].IsZero() {
		t.Errorf("arrivals = %v, want ids 7 to 10", at)
	}
	if _, bad := arr.Count(); bad != 1 {
		t.Errorf("bad keys = %d, want 1", bad)
	}
	// Trimming deletes what was acknowledged but keeps the count.
	if n, err := br.Acked(ctx, topic, true); err != nil || n != 5 {
		t.Fatalf("Acked(trim) = %d, %v; want 5", n, err)
	}
	if n, err := br.Acked(ctx, topic, false); err != nil || n != 5 {
		t.Fatalf("Acked after trim = %d, %v; want 5", n, err)
	}
}
