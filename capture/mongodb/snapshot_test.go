package mongodb

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestParallelSnapshot reads three collections (one empty) with
// snapshot.max.threads 3: every document once, each collection in _id
// order, one "last" event at the very end, and its position lists every
// collection as done.
func TestParallelSnapshot(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "a", "b", "empty", "d")
	const per = 300
	for _, coll := range []string{"a", "b", "d"} {
		docs := make([]any, per)
		for i := range per {
			docs[i] = bson.D{{Key: "_id", Value: int32(per - i)}} // inserted in reverse
		}
		if _, err := db.Collection(coll).InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	cfg := fastPoll
	cfg.SnapshotMaxThreads = 3
	cfg.SnapshotFetchSize = 16
	cfg.MaxBatchSize = 7
	var tables []string
	for _, coll := range []string{"a", "b", "empty", "d"} {
		tables = append(tables, db.Name()+"."+coll)
	}
	_, col := run(t, cfg, Options{Name: "m", TopicPrefix: "srv", URL: url, Tables: tables})
	evs := col.wait(t, 3*per)
	keys := map[string][]string{}
	for i, ev := range evs {
		b := briefOf(t, ev)
		keys[b.Coll] = append(keys[b.Coll], b.Key)
		want := "true"
		if i == len(evs)-1 {
			want = "last"
		}
		if b.Op != "r" || b.Snapshot != want {
			t.Fatalf("event %d: op %s snapshot %s, want r %s", i, b.Op, b.Snapshot, want)
		}
	}
	var want []string
	for i := 1; i <= per; i++ {
		want = append(want, fmt.Sprint(i))
	}
	for _, coll := range []string{"a", "b", "d"} {
		if !slices.Equal(keys[coll], want) {
			t.Errorf("collection %s: keys %v", coll, keys[coll])
		}
	}
	p, err := decodePosition(evs[len(evs)-1].Position)
	if err != nil {
		t.Fatal(err)
	}
	done := slices.Clone(p.Snapshot.Done)
	slices.Sort(done)
	slices.Sort(tables)
	if !slices.Equal(done, tables) {
		t.Errorf("done %v, want %v", done, tables)
	}
}
