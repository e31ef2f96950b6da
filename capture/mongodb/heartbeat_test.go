package mongodb

import (
	"bytes"
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
)

// TestHeartbeat runs a source with heartbeat.interval.ms against the
// stand-in server: heartbeats go to __debezium-heartbeat.<prefix> as
// Debezium writes them, before and after a change, and carry the position
// of the last change (the stand-in sends no post-batch resume tokens, so
// the position does not move on without events there).
func TestHeartbeat(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "quiet")
	cfg := fastPoll
	cfg.HeartbeatIntervalMs = 20
	fixed := func() time.Time { return time.UnixMilli(1700000000123) }
	_, col := run(t, cfg, Options{Name: "m", TopicPrefix: "srv", URL: url, Tables: []string{db.Name() + ".quiet"}, Now: fixed})
	first := col.wait(t, 1)[0]
	if first.Topic != HeartbeatTopic("srv") {
		t.Fatalf("first event on %s, want a heartbeat (empty collection)", first.Topic)
	}
	if got := string(render(t, first, true)); got != "topic __debezium-heartbeat.srv\n"+
		`{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey","version":1},"payload":{"serverName":"srv"}}`+"\n"+
		`{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat","version":1},"payload":{"ts_ms":1700000000123}}`+"\n" {
		t.Errorf("heartbeat record:\n%s", got)
	}

	if _, err := db.Collection("quiet").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}); err != nil {
		t.Fatal(err)
	}
	// Wait for the insert and a heartbeat after it.
	var change event.Event
	for n := 2; ; n++ {
		evs := col.wait(t, n)
		ev := evs[n-1]
		if ev.Topic != HeartbeatTopic("srv") {
			change = ev
			continue
		}
		if change.Position == nil {
			continue
		}
		if !bytes.Equal(ev.Position, change.Position) {
			t.Errorf("heartbeat position %s, want the last change's %s", ev.Position, change.Position)
		}
		break
	}
	if p, err := decodePosition(change.Position); err != nil || len(p.Tokens) != 1 {
		t.Errorf("change position %s: %v", change.Position, err)
	}
}
