package mongodb

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
)

// TestPreImageModeOnStandIn: the pre-image capture modes open their
// streams with fullDocumentBeforeChange: whenAvailable. The stand-in server
// keeps no pre-images, so before stays null there (as on a MongoDB
// collection without changeStreamPreAndPostImages); the events are
// otherwise those of change_streams_update_full. The conversion of a
// pre-image is unit-tested in TestGoldenChangeEvents.
func TestPreImageModeOnStandIn(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "p")
	coll := db.Collection("p")
	cfg := fastPoll
	cfg.CaptureMode = CaptureChangeStreamsUpdateFullWithPreImage
	cfg.SnapshotMode = SnapshotNoData
	cfg.HeartbeatIntervalMs = 10
	_, col := run(t, cfg, Options{Name: "m", TopicPrefix: "srv", URL: url, Tables: []string{db.Name() + ".p"}})
	col.wait(t, 1) // a heartbeat: the stream is open, from a start before what follows
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}, {Key: "n", Value: int32(1)}}); err != nil {
		t.Fatal(err)
	}
	changes := func(n int) []event.Event {
		for m := n; ; m++ {
			var out []event.Event
			for _, ev := range col.wait(t, m) {
				if ev.Topic != HeartbeatTopic("srv") {
					out = append(out, ev)
				}
			}
			if len(out) == n {
				return out
			}
		}
	}
	changes(1)
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: int32(2)}}}}); err != nil {
		t.Fatal(err)
	}
	evs := changes(2)
	for i, want := range []string{`{"_id": 1,"n": 1}`, `{"_id": 1,"n": 2}`} {
		v, err := evs[i].Value()
		if err != nil {
			t.Fatal(err)
		}
		if got := v.Get("after"); got != want || v.Get("before") != nil {
			t.Errorf("event %d: after %v before %v, want after %s, before null", i, got, v.Get("before"), want)
		}
	}
}
