package mongodb

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
)

// TestRandomRestarts runs a random insert/update/replace/delete workload
// with a per-document version while the source is stopped at random
// moments (during the snapshot and the stream) and started again from the
// last acknowledged position, only a random prefix of each run's events
// counting as delivered (acknowledged). Every document's last event must
// show its final state (nothing lost), stream versions per document never
// go backwards and nothing follows a delete.
func TestRandomRestarts(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "docs")
	coll := db.Collection("docs")
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))

	w := newWorkload(t, coll, 40)
	writerDone := make(chan error, 1)
	go func() { writerDone <- w.run(seed, 400) }()

	opts := Options{Name: "m", TopicPrefix: "srv", URL: url, Tables: []string{db.Name() + ".docs"}}
	cfg := Config{PollIntervalMs: 5, MaxBatchSize: 16, SnapshotFetchSize: 8}
	var delivered []event.Event
	var start event.Position
	restarts := 0
	writing := true
	for writing || restarts < 12 {
		select {
		case err := <-writerDone:
			if err != nil {
				t.Fatal(err)
			}
			writing = false
		default:
		}
		opts.Start = start
		src, col := run(t, cfg, opts)
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		col.stop(t)
		col.mu.Lock()
		got := col.events
		col.mu.Unlock()
		if k := rng.IntN(len(got) + 1); k > 0 {
			if err := src.Ack(ctx, got[k-1].Position); err != nil {
				t.Fatal(err)
			}
			start = src.Acked()
			delivered = append(delivered, got[:k]...)
		}
		restarts++
	}

	// A last run acknowledges everything until the final state is there.
	opts.Start = start
	_, col := run(t, cfg, opts)
	want := w.states()
	deadline := time.Now().Add(60 * time.Second) // a hang guard, not a timing assertion
	for {
		col.mu.Lock()
		all := append(append([]event.Event(nil), delivered...), col.events...)
		col.mu.Unlock()
		last := lastStates(t, all)
		if sameState(last, want) {
			delivered = all
			break
		}
		if time.Now().After(deadline) {
			for k, w := range want {
				if last[k] != w && (w != "deleted" || last[k] != "") {
					t.Errorf("document %s: last event %q, want %q", k, last[k], w)
				}
			}
			t.Fatalf("final state not reached after %d restarts", restarts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	col.stop(t)

	// Stream versions never go backwards; nothing follows a delete. The
	// snapshot's reads are left out of the order check: the stream then
	// replays the changes made while the snapshot ran, so a document read
	// at version 2 may be followed by its insert event at version 0 (as
	// with Debezium).
	seen := map[string]int32{}
	for _, ev := range delivered {
		k := ev.Key.Get("id").(string)
		if ev.Op == event.OpRead {
			if seen[k] == -1 {
				t.Errorf("document %s: snapshot read after its delete", k)
			}
			continue
		}
		v, ok := versionOf(t, ev)
		prev, had := seen[k]
		switch {
		case had && prev == -1:
			t.Errorf("document %s: event %c after its delete", k, ev.Op)
		case !ok:
			seen[k] = -1
		case had && v < prev:
			t.Errorf("document %s: version %d after %d", k, v, prev)
		default:
			seen[k] = v
		}
	}
	t.Logf("%d restarts, %d events delivered, %d documents", restarts, len(delivered), len(want))
}

func idKey(id int32) string { return bsonIDKey(id) }

func bsonIDKey(id int32) string {
	raw, _ := bson.Marshal(bson.D{{Key: "_id", Value: id}})
	s, _ := idJSON(bson.Raw(raw).Lookup("_id"))
	return s
}

func stateOf(v int32) string {
	if v < 0 {
		return "deleted"
	}
	b, _ := json.Marshal(v)
	return "v" + string(b)
}

// versionOf returns the v of the event's document, ok false for a delete.
func versionOf(t *testing.T, ev event.Event) (int32, bool) {
	t.Helper()
	if ev.Op == event.OpDelete {
		return 0, false
	}
	v, err := ev.Value()
	if err != nil {
		t.Fatal(err)
	}
	after, _ := v.Get("after").(string)
	var doc struct{ V int32 }
	if err := json.Unmarshal([]byte(after), &doc); err != nil {
		t.Fatalf("after %q: %v", after, err)
	}
	return doc.V, true
}

func lastStates(t *testing.T, evs []event.Event) map[string]string {
	out := map[string]string{}
	for _, ev := range evs {
		k := ev.Key.Get("id").(string)
		if v, ok := versionOf(t, ev); ok {
			out[k] = stateOf(v)
		} else {
			out[k] = "deleted"
		}
	}
	return out
}

// sameState reports whether the state a consumer builds from the events
// (last per key) is the database's: a document deleted before the
// snapshot that a consumer starts from never appears at all.
func sameState(last, want map[string]string) bool {
	for k, w := range want {
		if last[k] != w && (w != "deleted" || last[k] != "") {
			return false
		}
	}
	for k := range last {
		if _, ok := want[k]; !ok {
			return false
		}
	}
	return true
}
