package mongodb

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

var fixedNow = func() time.Time { return time.Unix(1700000000, 123456789).UTC() }

func readChange(t testing.TB, path string) bson.Raw {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d bson.D
	if err := bson.UnmarshalExtJSON(data, false, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// render is an event as the JSON converter with schemas writes it: key,
// then value, one per line, or "skipped".
func render(t *testing.T, ev event.Event, ok bool) []byte {
	t.Helper()
	if !ok {
		return []byte("skipped\n")
	}
	conv, err := jsonconv.New(jsonconv.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	v, err := ev.Value()
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	out = append(out, "topic "+ev.Topic+"\n"...)
	if out, err = conv.EncodeStruct(out, ev.Key); err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	if out, err = conv.EncodeStruct(out, v); err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestGoldenChangeEvents converts the change events in testdata/changes,
// written as MongoDB's documentation shows them (insert; update with
// dotted paths, removed fields and truncated arrays; update with
// updateLookup; replace; delete; drop, rename, invalidate; a transaction),
// and compares key and value (with schemas) with testdata/golden.
func TestGoldenChangeEvents(t *testing.T) {
	files, err := filepath.Glob("testdata/changes/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no change events: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			c := newConverter("fulfillment", true, fixedNow)
			ev, ok, err := c.change(readChange(t, f), namespace{"fallback", "coll"})
			if err != nil {
				t.Fatal(err)
			}
			got := render(t, ev, ok)
			golden := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s:\n got %s\nwant %s", name, golden, got, want)
			}
		})
	}
}

// TestDebeziumDocumentedUpdate checks the update example of Debezium's
// MongoDB connector documentation (customers 1004, first_name changed in a
// transaction) field by field: every string there is what Debezium's
// documentation prints.
func TestDebeziumDocumentedUpdate(t *testing.T) {
	c := newConverter("fulfillment", true, fixedNow)
	ev, ok, err := c.change(readChange(t, "testdata/changes/txn_update.json"), namespace{})
	if err != nil || !ok {
		t.Fatalf("change: %v %v", ok, err)
	}
	v, err := ev.Value()
	if err != nil {
		t.Fatal(err)
	}
	src := v.Get("source").(*event.Struct)
	ud := v.Get("updateDescription").(*event.Struct)
	for _, c := range []struct {
		field string
		got   any
		want  any
	}{
		{"topic", ev.Topic, "fulfillment.inventory.customers"},
		{"key.id", ev.Key.Get("id"), "1004"},
		{"op", v.Get("op"), "u"},
		{"after", v.Get("after"), `{"_id": {"$numberLong": "1004"},"first_name": "Anne Marie","last_name": "Kretchmar","email": "annek@noanswer.org"}`},
		{"updateDescription.updatedFields", ud.Get("updatedFields"), `{"first_name": "Anne Marie"}`},
		{"updateDescription.removedFields", ud.Get("removedFields"), nil},
		{"updateDescription.truncatedArrays", ud.Get("truncatedArrays"), nil},
		{"source.connector", src.Get("connector"), "mongodb"},
		{"source.name", src.Get("name"), "fulfillment"},
		{"source.ts_ms", src.Get("ts_ms"), int64(1558965508000)},
		{"source.ts_us", src.Get("ts_us"), int64(1558965508000000)},
		{"source.ts_ns", src.Get("ts_ns"), int64(1558965508000000000)},
		{"source.snapshot", src.Get("snapshot"), "false"},
		{"source.db", src.Get("db"), "inventory"},
		{"source.collection", src.Get("collection"), "customers"},
		{"source.ord", src.Get("ord"), int32(1)},
		{"source.lsid", src.Get("lsid"), `{"id": {"$binary": "FA7YEzXgQXSX9OxmzllH2w==","$type": "04"},"uid": {"$binary": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","$type": "00"}}`},
		{"source.txnNumber", src.Get("txnNumber"), int64(1)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
	if v.Get("before") != nil {
		t.Errorf("before = %v, want null (no pre-image)", v.Get("before"))
	}
}

func TestChangeStreamsModeIgnoresUpdateDocument(t *testing.T) {
	// With capture.mode change_streams an update's fullDocument is not the
	// document (the stand-in server sends the update operators there).
	c := newConverter("p", false, fixedNow)
	ev, ok, err := c.change(readChange(t, "testdata/changes/update_lookup.json"), namespace{})
	if err != nil || !ok {
		t.Fatalf("change: %v %v", ok, err)
	}
	v, _ := ev.Value()
	if v.Get("after") != nil {
		t.Errorf("after = %v, want null", v.Get("after"))
	}
	ev, _, _ = c.change(readChange(t, "testdata/changes/replace.json"), namespace{})
	if v, _ := ev.Value(); v.Get("after") == nil {
		t.Error("replace has no after; a replace always carries its document")
	}
}

func TestNoDocumentKey(t *testing.T) {
	raw, _ := bson.Marshal(bson.D{{Key: "operationType", Value: "update"}, {Key: "documentKey", Value: bson.D{{Key: "$set", Value: bson.D{{Key: "a", Value: 1}}}}}})
	_, _, err := newConverter("p", true, fixedNow).change(raw, namespace{"d", "c"})
	if err == nil || !strings.Contains(err.Error(), ErrNoDocumentKey.Error()) {
		t.Errorf("err = %v, want %v", err, ErrNoDocumentKey)
	}
}

func FuzzChange(f *testing.F) {
	files, _ := filepath.Glob("testdata/changes/*.json")
	for _, p := range files {
		f.Add([]byte(readChange(f, p)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := newConverter("p", true, fixedNow)
		ev, ok, err := c.change(bson.Raw(data), namespace{"d", "c"})
		if err != nil || !ok {
			return
		}
		if _, err := ev.Value(); err != nil {
			t.Fatalf("event from %x does not fit its schema: %v", data, err)
		}
	})
}
