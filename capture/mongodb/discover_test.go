package mongodb

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestNewCollectionsWhileStreaming: a source without a tables list finds
// a collection created while it streams and captures it from its first
// insert, without a snapshot; a restart from the last position resumes
// that collection after its last event.
func TestNewCollectionsWhileStreaming(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "a")
	if _, err := db.Collection("a").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}); err != nil {
		t.Fatal(err)
	}
	cfg := fastPoll
	cfg.DatabaseIncludeList = List{db.Name()}
	opts := Options{Name: "m", TopicPrefix: "srv", URL: url, DiscoveryInterval: 20 * time.Millisecond}
	_, col := run(t, cfg, opts)
	col.wait(t, 1) // the snapshot of a

	if err := db.CreateCollection(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := db.Collection("b").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(10 + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	evs := col.wait(t, 4)
	col.stop(t)
	var got []string
	for _, ev := range evs {
		b := briefOf(t, ev)
		got = append(got, b.Coll+" "+b.Op+" "+b.Key)
	}
	if want := []string{"a r 1", "b c 10", "b c 11", "b c 12"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	p, err := decodePosition(evs[3].Position)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Starts[db.Name()+".b"]; !ok || p.Tokens[db.Name()+".b"] == "" {
		t.Errorf("position %s: no start and token for the new collection", evs[3].Position)
	}

	// Restart from the position of b's second insert: its third insert
	// comes again, then what follows.
	if _, err := db.Collection("b").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(13)}}); err != nil {
		t.Fatal(err)
	}
	opts.Start = evs[2].Position
	_, col2 := run(t, cfg, opts)
	got = nil
	for _, ev := range col2.wait(t, 2) {
		b := briefOf(t, ev)
		got = append(got, b.Coll+" "+b.Op+" "+b.Key)
	}
	if want := []string{"b c 12", "b c 13"}; !slices.Equal(got, want) {
		t.Errorf("after restart: %q, want %q", got, want)
	}
}
