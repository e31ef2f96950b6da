package mongodb

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
)

// BenchmarkConvertUpdate measures the conversion of one change stream
// update event (with updateLookup) into a Debezium event and its value.
func BenchmarkConvertUpdate(b *testing.B) {
	raw := readChange(b, "testdata/changes/update_lookup.json")
	c := newConverter("p", true, nil)
	b.ReportAllocs()
	for b.Loop() {
		ev, _, err := c.change(raw, namespace{"d", "c"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ev.Value(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamStandIn measures inserts captured per second from the
// stand-in test server (mongo-java-server, not mongod: the number says
// little about a real replica set). Each iteration inserts one document
// (in batches of 1000) and waits for its event.
func BenchmarkStreamStandIn(b *testing.B) {
	ctx := context.Background()
	c, url := connect(b)
	db := freshDB(b, c, "bench")
	coll := db.Collection("bench")
	src, err := New(Config{PollIntervalMs: 1}, Options{Name: "b", TopicPrefix: "b", URL: url, Tables: []string{db.Name() + ".bench"}})
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan int, 1024)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- src.Run(rctx, func(_ context.Context, batch event.Batch) error {
			got <- len(batch)
			return nil
		})
	}()
	defer func() {
		cancel()
		<-done
	}()
	// A probe document, read by the snapshot or the stream: once it is
	// there the source has taken its start time and what follows streams.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: -1}}); err != nil {
		b.Fatal(err)
	}
	<-got
	b.ResetTimer()
	next := 0
	for sent := 0; sent < b.N; {
		n := min(1000, b.N-sent)
		docs := make([]any, n)
		for i := range docs {
			docs[i] = bson.D{{Key: "_id", Value: next}, {Key: "v", Value: "some text to carry"}}
			next++
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	for seen := 0; seen < b.N; {
		select {
		case n := <-got:
			seen += n
		case err := <-done:
			b.Fatalf("Run ended: %v", err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
