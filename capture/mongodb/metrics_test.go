package mongodb

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	c, url := connect(t)
	db := freshDB(t, c, "m")
	coll := db.Collection("m")
	for i := range 2 {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	opts := Options{Name: "mx", TopicPrefix: "srv", URL: url, Tables: []string{db.Name() + ".m"}, Registerer: reg}
	src, col := run(t, fastPoll, opts)
	col.wait(t, 2)
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(5)}}); err != nil {
		t.Fatal(err)
	}
	col.wait(t, 3)
	if got := gathered(t, reg, "sluice_mongodb_change_streams"); got != 1 {
		t.Errorf("change streams open = %v, want 1", got)
	}
	col.stop(t)
	for _, m := range []struct {
		name string
		want float64
	}{
		{"sluice_mongodb_snapshot_documents_total", 2},
		{"sluice_mongodb_stream_events_total", 1},
		{"sluice_mongodb_change_streams", 0},
	} {
		if got := gathered(t, reg, m.name); got != m.want {
			t.Errorf("%s = %v, want %v", m.name, got, m.want)
		}
	}
	// A source built again for the connector (a restart) shares them.
	again, err := New(fastPoll, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.m.snapshotDocs != src.m.snapshotDocs {
		t.Error("a second source registered new collectors")
	}
}

// gathered returns the value of the one metric of family name in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		if len(f.GetMetric()) != 1 {
			t.Fatalf("%s: %d metrics", name, len(f.GetMetric()))
		}
		m := f.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}
