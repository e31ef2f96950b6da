package publish

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// BenchmarkPublish measures the publisher's own cost (tracking, buffering,
// promises) against the in-process broker, 500-record batches of 256-byte
// values over 6 partitions.
func BenchmarkPublish(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	cfg := DefaultConfig()
	cfg.Brokers = c.ListenAddrs()
	cfg.Topics.Defaults.Partitions = 6
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	const batchSize = 500
	value := make([]byte, 256)
	batch := make([]Record, batchSize)
	for i := range batch {
		batch[i] = Record{Topic: "bench", Key: []byte(fmt.Sprintf("key-%d", i)), Value: value, Position: i}
	}
	if err := p.Publish(ctx, batch[:1]); err != nil { // create the topic
		b.Fatal(err)
	}
	b.SetBytes(int64(batchSize * (len(value) + 8)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Publish(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchSize), "ns/record")
}
