package elasticsearch

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

var (
	rowSchema = event.StructOf("server.public.items.Value",
		event.NewField("id", event.Int32()),
		event.NewField("label", event.String().Optional()),
		event.NewField("price", event.Decimal(2).Optional()),
		event.NewField("at", event.Timestamp().Optional()),
	)
	idKeySchema   = event.StructOf("server.public.items.Key", event.NewField("id", event.Int32()))
	compKeySchema = event.StructOf("server.public.pairs.Key",
		event.NewField("region", event.String()), event.NewField("n", event.Int64()))
	envSchema = event.StructOf("server.public.items.Envelope",
		event.NewField("before", rowSchema.Optional()),
		event.NewField("after", rowSchema.Optional()),
		event.NewField("op", event.String()),
	)
)

func row(id int32, label string) *event.Struct {
	return event.NewStruct(rowSchema, id, label, big.NewInt(1250), int64(1700000000123))
}

func TestBuild(t *testing.T) {
	key := func(id int32) *event.Struct { return event.NewStruct(idKeySchema, id) }
	base := sink.Record{Topic: "Server.Public.Items", OriginalTopic: "server.public.items", Partition: 2, Offset: 41,
		KeySchema: idKeySchema, Key: key(7), ValueSchema: rowSchema, Value: row(7, "seven")}
	with := func(f func(r *sink.Record)) sink.Record { r := base.Clone(); f(&r); return r }
	doc := `{"id":7,"label":"seven","price":12.50,"at":1700000000123}`
	tests := []struct {
		name  string
		cfg   map[string]string
		rec   sink.Record
		lines string // "" with skip
		skip  bool
		err   bool
	}{
		{name: "index with external version", rec: base,
			lines: `{"index":{"_index":"server.public.items","_id":"7","version":41,"version_type":"external"}}` + "\n" + doc + "\n"},
		{name: "upsert", cfg: map[string]string{"write.method": "upsert"}, rec: base,
			lines: `{"update":{"_index":"server.public.items","_id":"7","retry_on_conflict":3}}` + "\n" + `{"doc":` + doc + `,"doc_as_upsert":true}` + "\n"},
		{name: "key.ignore", cfg: map[string]string{"key.ignore": "true"}, rec: base,
			lines: `{"index":{"_index":"server.public.items","_id":"server.public.items+2+41"}}` + "\n" + doc + "\n"},
		{name: "tombstone deletes", rec: with(func(r *sink.Record) { r.Value, r.ValueSchema = nil, nil }),
			lines: `{"delete":{"_index":"server.public.items","_id":"7","version":41,"version_type":"external"}}` + "\n"},
		{name: "tombstone ignored", cfg: map[string]string{"behavior.on.null.values": "ignore"},
			rec: with(func(r *sink.Record) { r.Value, r.ValueSchema = nil, nil }), skip: true},
		{name: "tombstone fails", cfg: map[string]string{"behavior.on.null.values": "fail"},
			rec: with(func(r *sink.Record) { r.Value, r.ValueSchema = nil, nil }), err: true},
		{name: "tombstone with key.ignore", cfg: map[string]string{"key.ignore": "true"},
			rec: with(func(r *sink.Record) { r.Value, r.ValueSchema = nil, nil }), skip: true},
		{name: "envelope create", rec: with(func(r *sink.Record) {
			r.ValueSchema, r.Value = envSchema, event.NewStruct(envSchema, nil, row(7, "seven"), "c")
		}), lines: `{"index":{"_index":"server.public.items","_id":"7","version":41,"version_type":"external"}}` + "\n" + doc + "\n"},
		{name: "envelope delete", rec: with(func(r *sink.Record) {
			r.ValueSchema, r.Value = envSchema, event.NewStruct(envSchema, row(7, "seven"), nil, "d")
		}), lines: `{"delete":{"_index":"server.public.items","_id":"7","version":41,"version_type":"external"}}` + "\n"},
		{name: "envelope truncate", rec: with(func(r *sink.Record) {
			r.ValueSchema, r.Value = envSchema, event.NewStruct(envSchema, nil, nil, "t")
		}), skip: true},
		{name: "schemaless envelope", rec: with(func(r *sink.Record) {
			r.ValueSchema, r.Value = nil, []event.MapEntry{{Key: "before", Value: nil},
				{Key: "after", Value: []event.MapEntry{{Key: "id", Value: int64(7)}, {Key: "l", Value: "x<y"}}}, {Key: "op", Value: "u"}}
		}), lines: `{"index":{"_index":"server.public.items","_id":"7","version":41,"version_type":"external"}}` + "\n" + `{"id":7,"l":"x<y"}` + "\n"},
		{name: "composite key canonical", rec: with(func(r *sink.Record) {
			r.KeySchema, r.Key = compKeySchema, event.NewStruct(compKeySchema, "eu\"west", int64(3))
		}), lines: `{"index":{"_index":"server.public.items","_id":"{\"n\":3,\"region\":\"eu\\\"west\"}","version":41,"version_type":"external"}}` + "\n" + doc + "\n"},
		{name: "string key", rec: with(func(r *sink.Record) { r.KeySchema, r.Key = event.String(), "a/b" }),
			lines: `{"index":{"_index":"server.public.items","_id":"a/b","version":41,"version_type":"external"}}` + "\n" + doc + "\n"},
		{name: "schemaless map key sorted", rec: with(func(r *sink.Record) {
			r.KeySchema, r.Key = nil, []event.MapEntry{{Key: "b", Value: int64(1)}, {Key: "a", Value: true}}
		}), lines: `{"index":{"_index":"server.public.items","_id":"{\"a\":true,\"b\":1}","version":41,"version_type":"external"}}` + "\n" + doc + "\n"},
		{name: "version header", cfg: map[string]string{"external.version.header": "v"}, rec: with(func(r *sink.Record) {
			r.Headers = []sink.Header{{Key: "v", Value: "99"}}
		}), lines: `{"index":{"_index":"server.public.items","_id":"7","version":99,"version_type":"external"}}` + "\n" + doc + "\n"},
		{name: "version header missing", cfg: map[string]string{"external.version.header": "v"}, rec: base, err: true},
		{name: "null key", rec: with(func(r *sink.Record) { r.Key, r.KeySchema = nil, nil }), err: true},
		{name: "not an object", rec: with(func(r *sink.Record) { r.ValueSchema, r.Value = event.String(), "text" }), err: true},
		{name: "bad index", rec: with(func(r *sink.Record) { r.Topic = "_hidden" }), err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{"connection.url": "http://127.0.0.1:1"}
			for k, v := range tt.cfg {
				m[k] = v
			}
			c, err := ParseConfig(m)
			if err != nil {
				t.Fatal(err)
			}
			b, err := newBuilder(c)
			if err != nil {
				t.Fatal(err)
			}
			a, skip, err := b.build(tt.rec)
			if tt.err {
				if err == nil || !errors.Is(err, ErrInvalidRecord) {
					t.Fatalf("err = %v, want an ErrInvalidRecord", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if skip != tt.skip {
				t.Fatalf("skip = %v, want %v", skip, tt.skip)
			}
			if string(a.lines) != tt.lines {
				t.Errorf("lines:\n%s\nwant:\n%s", a.lines, tt.lines)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	ok := map[string]string{"connection.url": "http://127.0.0.1:9200, https://b:9200"}
	c, err := ParseConfig(ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.URLs) != 2 || c.BatchSize != 2000 || c.MaxInFlight != 5 || c.MaxRetries != 5 || c.NullValues != NullDelete ||
		c.MalformedDocuments != MalformedFail || c.WriteMethod != WriteInsert || c.BulkSizeBytes != 5<<20 {
		t.Errorf("defaults: %+v", c)
	}
	for _, tt := range []struct {
		key, value, want string
	}{
		{"connection.url", "", "connection.url is required"},
		{"connection.url", "127.0.0.1:9200", `connection.url: "127.0.0.1:9200" is not an http(s) URL`},
		{"key.ignore", "yes", `key.ignore: "yes" is not a boolean`},
		{"write.method", "replace", `write.method: "replace" is not insert or upsert`},
		{"behavior.on.null.values", "drop", `behavior.on.null.values: "drop" is not ignore, delete or fail`},
		{"behavior.on.malformed.documents", "skip", `behavior.on.malformed.documents: "skip" is not ignore, warn or fail`},
		{"batch.size", "0", `batch.size: "0" is not an integer ≥ 1`},
		{"max.retries", "-1", `max.retries: "-1" is not an integer ≥ 0`},
		{"flush.timeout.ms", "soon", `flush.timeout.ms: "soon" is not an integer ≥ 1`},
		{"decimal.mapping", "float", `decimal.mapping: "float" is not scaled_float, double or keyword`},
	} {
		m := map[string]string{"connection.url": "http://127.0.0.1:9200"}
		m[tt.key] = tt.value
		_, err := ParseConfig(m)
		if want := "elasticsearch sink: " + tt.want; err == nil || err.Error() != want {
			t.Errorf("%s=%q: err = %v, want %s", tt.key, tt.value, err, want)
		}
	}
	_, err = ParseConfig(map[string]string{"connection.url": "http://h:1", "write.method": "upsert", "external.version.header": "v"})
	if err == nil {
		t.Error("upsert with external.version.header accepted")
	}
}

func TestBackoff(t *testing.T) {
	for attempt := 1; attempt < 40; attempt++ {
		d := backoff(100*time.Millisecond, attempt)
		hi := 100 * time.Second
		if attempt < 11 {
			hi = min(100*time.Millisecond<<(attempt-1), hi)
		}
		if d < hi/2 || d > hi {
			t.Errorf("attempt %d: %v not in [%v, %v]", attempt, d, hi/2, hi)
		}
	}
}
