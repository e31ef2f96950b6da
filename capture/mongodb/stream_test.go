package mongodb

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The tests below run against the stand-in server of scripts/services.sh
// (mongo-java-server), see doc.go for what it does and does not prove.

func connect(t testing.TB) (*mongo.Client, string) {
	t.Helper()
	url := testenv.Require(t, "SLUICE_MONGO_URL")
	c, err := mongo.Connect(options.Client().ApplyURI(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c, url
}

// freshDB returns a database name of its own for one test and creates the
// collections (the stand-in cannot watch a collection that does not exist).
func freshDB(t testing.TB, c *mongo.Client, colls ...string) *mongo.Database {
	t.Helper()
	name := fmt.Sprintf("t%d", time.Now().UnixNano())
	db := c.Database(name)
	for _, coll := range colls {
		if err := db.CreateCollection(context.Background(), coll); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	return db
}

// collector runs a source and gathers what it emits.
type collector struct {
	mu     sync.Mutex
	events []event.Event
	notify chan struct{}
	cancel context.CancelFunc
	done   chan error
}

func run(t *testing.T, cfg Config, opts Options) (*Source, *collector) {
	t.Helper()
	src, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{notify: make(chan struct{}, 1), cancel: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- src.Run(ctx, func(_ context.Context, b event.Batch) error {
			c.mu.Lock()
			c.events = append(c.events, b...)
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	t.Cleanup(func() { c.stop(t) })
	return src, c
}

func (c *collector) stop(t *testing.T) {
	t.Helper()
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	if err := <-c.done; err != nil && err != context.Canceled {
		t.Errorf("Run: %v", err)
	}
}

// wait returns the first n events, failing if Run ends first.
func (c *collector) wait(t *testing.T, n int) []event.Event {
	t.Helper()
	deadline := time.After(30 * time.Second) // a hang guard, not a timing assertion
	for {
		c.mu.Lock()
		if len(c.events) >= n {
			out := append([]event.Event(nil), c.events[:n]...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case err := <-c.done:
			t.Fatalf("Run ended before %d events: %v", n, err)
		case <-deadline:
			t.Fatalf("no %d events within 30s (have %d)", n, len(c.events))
		}
	}
}

// brief is what the stream tests compare: everything but timing fields.
type brief struct {
	Topic, Key, Op, After, Snapshot, DB, Coll string
	Update                                    string
}

func briefOf(t *testing.T, ev event.Event) brief {
	t.Helper()
	v, err := ev.Value()
	if err != nil {
		t.Fatal(err)
	}
	src := v.Get("source").(*event.Struct)
	b := brief{Topic: ev.Topic, Key: ev.Key.Get("id").(string), Op: v.Get("op").(string),
		Snapshot: src.Get("snapshot").(string), DB: src.Get("db").(string), Coll: src.Get("collection").(string)}
	if a, ok := v.Get("after").(string); ok {
		b.After = a
	}
	if ud, ok := v.Get("updateDescription").(*event.Struct); ok && ud != nil {
		j, _ := json.Marshal([]any{ud.Get("updatedFields"), ud.Get("removedFields")})
		b.Update = string(j)
	}
	return b
}

var fastPoll = Config{PollIntervalMs: 10}

func TestSnapshotThenStream(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "customers")
	coll := db.Collection("customers")
	if _, err := coll.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: int64(1002)}, {Key: "name", Value: "George"}},
		bson.D{{Key: "_id", Value: int64(1001)}, {Key: "name", Value: "Sally"}, {Key: "tags", Value: bson.A{"a", int32(1)}}},
	}); err != nil {
		t.Fatal(err)
	}
	_, col := run(t, fastPoll, Options{Name: "m", TopicPrefix: "srv", URL: url, Tables: []string{db.Name() + ".customers"}})
	topic := "srv." + db.Name() + ".customers"
	want := []brief{
		{Topic: topic, Key: "1001", Op: "r", Snapshot: "true", DB: db.Name(), Coll: "customers",
			After: `{"_id": {"$numberLong": "1001"},"name": "Sally","tags": ["a",1]}`},
		{Topic: topic, Key: "1002", Op: "r", Snapshot: "last", DB: db.Name(), Coll: "customers",
			After: `{"_id": {"$numberLong": "1002"},"name": "George"}`},
	}
	for i, ev := range col.wait(t, 2) {
		if got := briefOf(t, ev); got != want[i] {
			t.Errorf("snapshot event %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}

	oid := bson.NewObjectID()
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: oid}, {Key: "n", Value: int32(1)}, {Key: "d", Value: 1.5}}); err != nil {
		t.Fatal(err)
	}
	col.wait(t, 3)
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: int32(2)}}}}); err != nil {
		t.Fatal(err)
	}
	// The stand-in puts the update operators in documentKey, so the key
	// comes from the looked-up document: read the update before deleting.
	col.wait(t, 4)
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: oid}}); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf(`{"$oid": "%s"}`, oid.Hex())
	want = []brief{
		{Topic: topic, Key: key, Op: "c", Snapshot: "false", DB: db.Name(), Coll: "customers",
			After: fmt.Sprintf(`{"_id": {"$oid": "%s"},"n": 1,"d": 1.5}`, oid.Hex())},
		{Topic: topic, Key: key, Op: "u", Snapshot: "false", DB: db.Name(), Coll: "customers",
			After: fmt.Sprintf(`{"_id": {"$oid": "%s"},"n": 2,"d": 1.5}`, oid.Hex())},
		{Topic: topic, Key: key, Op: "d", Snapshot: "false", DB: db.Name(), Coll: "customers"},
	}
	evs := col.wait(t, 5)
	for i, ev := range evs[2:] {
		if got := briefOf(t, ev); got != want[i] {
			t.Errorf("stream event %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	if tomb, ok := evs[4].Tombstone(); !ok || tomb.Key.Get("id") != key {
		t.Errorf("delete tombstone = %+v, %v", tomb, ok)
	}
	// Source ordinals follow the cluster time: strictly increasing here.
	var last int32 = -1
	for _, ev := range evs[2:] {
		v, _ := ev.Value()
		ord := v.Get("source").(*event.Struct).Get("ord").(int32)
		if ord <= last {
			t.Errorf("ord %d after %d", ord, last)
		}
		last = ord
	}
}

func TestResumeAfterAckedToken(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "a", "b")
	opts := Options{Name: "m", TopicPrefix: "srv", URL: url, Tables: []string{db.Name() + ".a", db.Name() + ".b"}}
	cfg := fastPoll
	src, col := run(t, cfg, opts)

	insert := func(coll string, id int32) {
		t.Helper()
		if _, err := db.Collection(coll).InsertOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			t.Fatal(err)
		}
	}
	// A first document, read by the snapshot or the stream: once it is
	// there the source has taken its start time, and what follows streams.
	insert("a", 0)
	col.wait(t, 1)
	// One at a time, so that the order across the two streams is known.
	insert("a", 1)
	col.wait(t, 2)
	insert("b", 1)
	col.wait(t, 3)
	insert("a", 2)
	evs := col.wait(t, 4)
	// Kafka has the first three: acknowledge the third and stop.
	if err := src.Ack(ctx, evs[2].Position); err != nil {
		t.Fatal(err)
	}
	col.stop(t)
	acked := src.Acked()

	insert("b", 2)
	insert("a", 3)

	opts.Start = acked
	_, col2 := run(t, cfg, opts)
	got := map[string][]string{}
	for _, ev := range col2.wait(t, 3) {
		v, _ := ev.Value()
		coll := v.Get("source").(*event.Struct).Get("collection").(string)
		got[coll] = append(got[coll], ev.Key.Get("id").(string))
	}
	// a: event 2 was not acknowledged, so it comes again, then 3; b: only
	// the new 2. Nothing acknowledged is repeated, nothing is lost.
	want := map[string][]string{"a": {"2", "3"}, "b": {"2"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after restart got %v, want %v", got, want)
	}
	// No more events than those.
	col2.mu.Lock()
	n := len(col2.events)
	col2.mu.Unlock()
	if n != 3 {
		t.Errorf("after restart %d events, want 3", n)
	}
}

func TestSnapshotResumesUnfinishedCollections(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "a", "b")
	for _, coll := range []string{"a", "b"} {
		if _, err := db.Collection(coll).InsertMany(ctx, []any{bson.D{{Key: "_id", Value: int32(1)}}, bson.D{{Key: "_id", Value: int32(2)}}}); err != nil {
			t.Fatal(err)
		}
	}
	opts := Options{Name: "m", TopicPrefix: "srv", URL: url, Tables: []string{db.Name() + ".a", db.Name() + ".b"}}
	src, col := run(t, fastPoll, opts)
	evs := col.wait(t, 4)
	// Acknowledge up to the first document of b, as if the process died
	// before Kafka confirmed the rest.
	if err := src.Ack(ctx, evs[2].Position); err != nil {
		t.Fatal(err)
	}
	col.stop(t)
	opts.Start = src.Acked()
	_, col2 := run(t, fastPoll, opts)
	var got []string
	for _, ev := range col2.wait(t, 2) {
		b := briefOf(t, ev)
		got = append(got, b.Coll+"/"+b.Key+"/"+b.Snapshot)
	}
	// a was completely acknowledged; b is read again from its start.
	if want := "[b/1/true b/2/last]"; fmt.Sprint(got) != want {
		t.Errorf("resumed snapshot = %v, want %s", got, want)
	}
}
