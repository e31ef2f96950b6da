package transform

import (
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

func TestExtraTransforms(t *testing.T) {
	ts := time.Date(2024, 2, 29, 23, 59, 0, 0, time.UTC)
	in := sink.Record{Topic: "orders", Timestamp: ts, ValueSchema: event.Int64(), Value: int64(5),
		Headers: []sink.Header{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "3"}}}
	const hdrs = ` h[a]=-:"1" h[b]=-:"2" h[a]=-:"3"`
	runCases(t, "org.apache.kafka.connect.transforms.TimestampRouter", []tcase{
		{name: "default", in: in, want: "topic=orders-20240229 key=-:null value=int64:int64(5)" + hdrs},
		{name: "format", in: in, keys: []string{"topic.format", "x.${timestamp}.${topic}", "timestamp.format", "yyyy-MM"},
			want: "topic=x.2024-02.orders key=-:null value=int64:int64(5)" + hdrs},
		{name: "no timestamp", in: sink.Record{Topic: "t", OriginalTopic: "t"}, error: "timestamp missing on record t/0@0"},
	})
	runCases(t, "org.apache.kafka.connect.transforms.DropHeaders", []tcase{
		{name: "drop", in: in, keys: []string{"headers", "a,c"}, want: `topic=orders key=-:null value=int64:int64(5) h[b]=-:"2"`},
	})
	runCases(t, "org.apache.kafka.connect.transforms.HoistField$Value", []tcase{
		{name: "schema", in: in, keys: []string{"field", "n"}, want: "topic=orders key=-:null value=struct<n:int64>:{n=int64(5)}" + hdrs},
		{name: "schemaless", in: sink.Record{Topic: "t", Value: "x"}, keys: []string{"field", "n"}, want: `topic=t key=-:null value=-:map{n="x"}`},
	})
	s := event.StructOf("old", event.NewField("id", event.Int32())).WithVersion(1)
	sr := sink.Record{Topic: "t", ValueSchema: s, Value: event.NewStruct(s, int32(3))}
	runCases(t, "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value", []tcase{
		{name: "name and version", in: sr, keys: []string{"schema.name", "new", "schema.version", "7"},
			want: "topic=t key=-:null value=struct(new)<id:int32>v7:{id=int32(3)}"},
		{name: "schemaless", in: sink.Record{Topic: "t", Value: "x"}, keys: []string{"schema.name", "n"}, error: "schema required"},
	})
	for _, cfg := range []map[string]string{
		{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key"},
		{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key", "transforms.x.schema.version": "v1"},
		{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.DropHeaders"},
		{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.TimestampRouter", "transforms.x.timestamp.format": "yyyy-bb"},
	} {
		if _, err := Parse(cfg); err == nil {
			t.Errorf("Parse(%v) succeeded", cfg)
		}
	}
}

func TestFlatten(t *testing.T) {
	inner := event.StructOf("addr", event.NewField("city", event.String()), event.NewField("zip", event.Int32().Optional()))
	s := event.StructOf("row", event.NewField("id", event.Int32()), event.NewField("home", inner.Optional()), event.NewField("work", inner),
		event.NewField("tags", event.Array(event.String())))
	in := sink.Record{Topic: "t", ValueSchema: s, Value: event.NewStruct(s, int32(1), nil, event.NewStruct(inner, "Oslo", int32(150)), []any{"a"})}
	runCases(t, "org.apache.kafka.connect.transforms.Flatten$Value", []tcase{
		{name: "schema", in: in, keys: []string{"delimiter", "_"},
			want: `topic=t key=-:null value=struct(row)<id:int32,home_city:string?,home_zip:int32?,work_city:string,work_zip:int32?,tags:array<string>>:{id=int32(1),home_city=null,home_zip=null,work_city="Oslo",work_zip=int32(150),tags=[]interface {}([a])}`},
		{name: "schemaless", in: sink.Record{Topic: "t", Value: entries("a", entries("b", int64(1), "c", entries("d", nil)), "e", "x")},
			want: `topic=t key=-:null value=-:map{a.b=int64(1),a.c.d=null,e="x"}`},
		{name: "tombstone", in: sink.Record{Topic: "t"}, want: "topic=t key=-:null value=-:null"},
	})
}
