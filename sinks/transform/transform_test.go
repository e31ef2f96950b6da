package transform

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// render prints a record's routed parts deterministically, schemas with
// names, versions and optionality, for exact comparisons.
func render(r sink.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "topic=%s key=%s:%s value=%s:%s", r.Topic, schemaStr(r.KeySchema), valueStr(r.Key), schemaStr(r.ValueSchema), valueStr(r.Value))
	for _, h := range r.Headers {
		fmt.Fprintf(&b, " h[%s]=%s:%s", h.Key, schemaStr(h.Schema), valueStr(h.Value))
	}
	return b.String()
}

func schemaStr(s *event.Schema) string {
	if s == nil {
		return "-"
	}
	out := s.String()
	if v, ok := s.Version(); ok {
		out += fmt.Sprintf("v%d", v)
	}
	return out
}

func valueStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case *event.Struct:
		var parts []string
		for i, f := range x.Schema().Fields() {
			parts = append(parts, f.Name+"="+valueStr(x.At(i)))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []event.MapEntry:
		var parts []string
		for _, e := range x {
			parts = append(parts, fmt.Sprintf("%v", e.Key)+"="+valueStr(e.Value))
		}
		return "map{" + strings.Join(parts, ",") + "}"
	case string:
		return fmt.Sprintf("%q", x)
	case []byte:
		return fmt.Sprintf("bytes%v", x)
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

// Fixtures: a Debezium Postgres envelope for table public.customers.
var (
	rowSchema = event.StructOf("srv.public.customers.Value",
		event.NewField("id", event.Int32()),
		event.NewField("name", event.String().Optional()),
	)
	sourceSchema = event.StructOf("io.debezium.connector.postgresql.Source",
		event.NewField("db", event.String()),
		event.NewField("table", event.String()),
		event.NewField("lsn", event.Int64().Optional()),
		event.NewField("ts_ms", event.Int64()),
	)
	envSchema = event.EnvelopeSchema(event.EnvelopeName("srv.public.customers"), rowSchema, sourceSchema)
	keySchema = event.StructOf("srv.public.customers.Key", event.NewField("id", event.Int32()))
)

func row(id int32, name any) *event.Struct {
	return event.NewStruct(envSchema.FieldByName("after"), id, name)
}

func envelope(op string, before, after *event.Struct) sink.Record {
	src := event.NewStruct(sourceSchema, "shop", "customers", int64(777), int64(1700000000000))
	env := event.NewStruct(envSchema)
	if before != nil {
		env.Set("before", before)
	}
	if after != nil {
		env.Set("after", after)
	}
	env.Set("source", src).Set("op", op).Set("ts_ms", int64(1700000000123))
	return sink.Record{
		Topic: "srv.public.customers", OriginalTopic: "srv.public.customers", Partition: 2, Offset: 41,
		Timestamp: time.UnixMilli(1700000000999).UTC(),
		KeySchema: keySchema, Key: event.NewStruct(keySchema, int32(1)),
		ValueSchema: envSchema, Value: env,
	}
}

func tombstone() sink.Record {
	r := envelope("d", nil, nil)
	r.ValueSchema, r.Value = nil, nil
	return r
}

func entries(kv ...any) []event.MapEntry {
	var out []event.MapEntry
	for i := 0; i < len(kv); i += 2 {
		out = append(out, event.MapEntry{Key: kv[i], Value: kv[i+1]})
	}
	return out
}

// one builds a single transform from its keys (without the
// transforms.t. prefix).
func one(t *testing.T, class string, kv ...string) *Chain {
	t.Helper()
	cfg := map[string]string{"transforms": "t", "transforms.t.type": class}
	for i := 0; i < len(kv); i += 2 {
		cfg["transforms.t."+kv[i]] = kv[i+1]
	}
	c, err := Parse(cfg)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

type tcase struct {
	name  string
	keys  []string
	in    sink.Record
	want  string // render of the output; "DROP" when dropped
	error string // substring of the expected error
}

func runCases(t *testing.T, class string, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := one(t, class, tc.keys...)
			in := render(tc.in)
			out, keep, err := c.Apply(tc.in)
			if tc.error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			got := "DROP"
			if keep {
				got = render(out)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if render(tc.in) != in {
				t.Errorf("input changed:\n%s\nwas\n%s", render(tc.in), in)
			}
			if keep && out.ValueSchema != nil {
				if err := event.ValidateValue(out.ValueSchema, out.Value); err != nil {
					t.Errorf("output value does not fit its schema: %v", err)
				}
			}
		})
	}
}

const (
	keyOut = "key=struct(srv.public.customers.Key)<id:int32>:{id=int32(1)}"
	rowOut = "struct(srv.public.customers.Value)<id:int32,name:string?>"
)

func TestExtractNewRecordState(t *testing.T) {
	const class = "io.debezium.transforms.ExtractNewRecordState"
	created := envelope("c", nil, row(1, "Ann"))
	updated := envelope("u", row(1, "Ann"), row(1, "Bob"))
	deleted := envelope("d", row(1, "Bob"), nil)
	truncated := envelope("t", nil, nil)
	notEnv := created
	notEnv.ValueSchema = rowSchema
	notEnv.Value = event.NewStruct(rowSchema, int32(1), "x")
	schemaless := sink.Record{Topic: "t", Value: entries("before", nil, "after", entries("id", int64(1)), "op", "c")}
	const meta = ",__op:string?,__table:string?,__source_ts_ms:int64?>"
	cases := []tcase{
		{name: "create", in: created,
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut + "?:{id=int32(1),name=\"Ann\"}"},
		{name: "update", in: updated,
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut + "?:{id=int32(1),name=\"Bob\"}"},
		{name: "delete becomes tombstone by default", in: deleted,
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut + "?:null"},
		{name: "legacy defaults once a legacy key is set", in: deleted, keys: []string{"drop.tombstones", "true"}, want: "DROP"},
		{name: "delete-to-tombstone", in: deleted, keys: []string{"delete.tombstone.handling.mode", "delete-to-tombstone"},
			want: "topic=srv.public.customers " + keyOut + " value=-:null"},
		{name: "delete-to-tombstone drops tombstones", in: tombstone(), keys: []string{"delete.tombstone.handling.mode", "delete-to-tombstone"}, want: "DROP"},
		{name: "tombstone dropped by default", in: tombstone(), want: "DROP"},
		{name: "truncate dropped", in: truncated, want: "DROP"},
		{name: "delete none", in: deleted, keys: []string{"delete.handling.mode", "none"},
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut + "?:null"},
		{name: "tombstone kept", in: tombstone(), keys: []string{"drop.tombstones", "false"},
			want: "topic=srv.public.customers " + keyOut + " value=-:null"},
		{name: "rewrite delete", in: deleted,
			keys: []string{"delete.handling.mode", "rewrite", "add.fields", "op,table,source.ts_ms"},
			want: "topic=srv.public.customers " + keyOut + " value=struct(srv.public.customers.Value)<id:int32,name:string?" + meta[:len(meta)-1] + ",__deleted:string?>:{id=int32(1),name=\"Bob\",__op=\"d\",__table=\"customers\",__source_ts_ms=int64(1700000000000),__deleted=\"true\"}"},
		{name: "rewrite update", in: updated, keys: []string{"delete.handling.mode", "rewrite"},
			want: "topic=srv.public.customers " + keyOut + " value=struct(srv.public.customers.Value)<id:int32,name:string?,__deleted:string?>:{id=int32(1),name=\"Bob\",__deleted=\"false\"}"},
		{name: "add fields prefix and alias", in: created,
			keys: []string{"add.fields", "op:operation, ts_ms ,lsn", "add.fields.prefix", "_"},
			want: "topic=srv.public.customers " + keyOut + " value=struct(srv.public.customers.Value)<id:int32,name:string?,_operation:string?,_ts_ms:int64?,_lsn:int64?>:{id=int32(1),name=\"Ann\",_operation=\"c\",_ts_ms=int64(1700000000123),_lsn=int64(777)}"},
		{name: "unknown added field skipped", in: created, keys: []string{"add.fields", "nosuch,transaction.id"},
			want: "topic=srv.public.customers " + keyOut + " value=struct(srv.public.customers.Value)<id:int32,name:string?,__transaction_id:string?>:{id=int32(1),name=\"Ann\",__transaction_id=null}"},
		{name: "headers", in: created, keys: []string{"add.headers", "op,db", "add.headers.prefix", "dbz."},
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut + "?:{id=int32(1),name=\"Ann\"} h[dbz.op]=string?:\"c\" h[dbz.db]=string?:\"shop\""},
		{name: "tombstone op header", in: tombstone(),
			keys: []string{"delete.tombstone.handling.mode", "rewrite-with-tombstone", "add.headers", "op,db"},
			want: "topic=srv.public.customers " + keyOut + " value=-:null h[__op]=string:\"d\""},
		{name: "mode tombstone: delete becomes tombstone", in: deleted, keys: []string{"delete.tombstone.handling.mode", "tombstone"},
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut + "?:null"},
		{name: "mode tombstone: tombstone dropped", in: tombstone(), keys: []string{"delete.tombstone.handling.mode", "tombstone"}, want: "DROP"},
		{name: "mode rewrite: tombstone dropped", in: tombstone(), keys: []string{"delete.tombstone.handling.mode", "rewrite"}, want: "DROP"},
		{name: "mode rewrite overrides legacy keys", in: deleted,
			keys: []string{"delete.tombstone.handling.mode", "rewrite", "delete.handling.mode", "drop"},
			want: "topic=srv.public.customers " + keyOut + " value=struct(srv.public.customers.Value)<id:int32,name:string?,__deleted:string?>:{id=int32(1),name=\"Bob\",__deleted=\"true\"}"},
		{name: "mode drop", in: deleted, keys: []string{"delete.tombstone.handling.mode", "drop"}, want: "DROP"},
		{name: "route by field", in: updated, keys: []string{"route.by.field", "name"},
			want: "topic=Bob " + keyOut + " value=" + rowOut + "?:{id=int32(1),name=\"Bob\"}"},
		{name: "route by field on delete", in: deleted, keys: []string{"route.by.field", "name", "delete.tombstone.handling.mode", "rewrite"},
			want: "topic=Bob " + keyOut + " value=struct(srv.public.customers.Value)<id:int32,name:string?,__deleted:string?>:{id=int32(1),name=\"Bob\",__deleted=\"true\"}"},
		{name: "route by non-string field", in: updated, keys: []string{"route.by.field", "id"}, error: "field id is java.lang.Integer, not a string"},
		{name: "not an envelope passes", in: notEnv,
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut[:len(rowOut)] + ":{id=int32(1),name=\"x\"}"},
		{name: "schemaless passes", in: schemaless,
			want: "topic=t key=-:null value=-:map{before=null,after=map{id=int64(1)},op=\"c\"}"},
	}
	runCases(t, class, cases)
}

func TestRegexRouter(t *testing.T) {
	const class = "org.apache.kafka.connect.transforms.RegexRouter"
	in := sink.Record{Topic: "srv.public.customers", Value: "v"}
	cases := []tcase{
		{name: "groups", in: in, keys: []string{"regex", `([^.]+)\.([^.]+)\.([^.]+)`, "replacement", "$3_from_$1"},
			want: `topic=customers_from_srv key=-:null value=-:"v"`},
		{name: "whole match only", in: in, keys: []string{"regex", `public`, "replacement", "x"},
			want: `topic=srv.public.customers key=-:null value=-:"v"`},
		{name: "digits after a group", in: in, keys: []string{"regex", `(srv)\.(.*)`, "replacement", "$10-$2\\$"},
			want: `topic=srv0-public.customers$ key=-:null value=-:"v"`},
		{name: "named group", in: in, keys: []string{"regex", `srv\.(?P<rest>.*)`, "replacement", "new.${rest}"},
			want: `topic=new.public.customers key=-:null value=-:"v"`},
	}
	runCases(t, class, cases)
}

func TestReplaceField(t *testing.T) {
	s := event.StructOf("row", event.NewField("a", event.Int32()), event.NewField("b", event.String()), event.NewField("c", event.Boolean().Optional())).WithVersion(3).Optional()
	in := sink.Record{Topic: "t", KeySchema: s, Key: event.NewStruct(s, int32(1), "x", true), ValueSchema: s, Value: event.NewStruct(s, int32(2), "y", nil)}
	sl := sink.Record{Topic: "t", Value: entries("a", int64(1), "b", "x", "c", true)}
	slMap := sink.Record{Topic: "t", Value: map[string]any{"c": true, "a": int64(1), "b": "x"}}
	keyIn := "key=struct(row)<a:int32,b:string,c:boolean?>?v3:{a=int32(1),b=\"x\",c=bool(true)}"
	cases := []tcase{
		{name: "exclude and rename", in: in, keys: []string{"exclude", "b", "renames", "a:id,c:flag"},
			want: "topic=t " + keyIn + " value=struct(row)<id:int32,flag:boolean?>v3:{id=int32(2),flag=null}"},
		{name: "include", in: in, keys: []string{"include", "c,b"},
			want: "topic=t " + keyIn + " value=struct(row)<b:string,c:boolean?>v3:{b=\"y\",c=null}"},
		{name: "deprecated blacklist", in: in, keys: []string{"blacklist", "a,c"},
			want: "topic=t " + keyIn + " value=struct(row)<b:string>v3:{b=\"y\"}"},
		{name: "include wins over whitelist", in: in, keys: []string{"include", "a", "whitelist", "b"},
			want: "topic=t " + keyIn + " value=struct(row)<a:int32>v3:{a=int32(2)}"},
		{name: "schemaless", in: sl, keys: []string{"exclude", "c", "renames", "b:bee"},
			want: "topic=t key=-:null value=-:map{a=int64(1),bee=\"x\"}"},
		{name: "schemaless go map", in: slMap, keys: []string{"include", "a,c"},
			want: "topic=t key=-:null value=-:map{a=int64(1),c=bool(true)}"},
		{name: "tombstone passes", in: tombstone(), keys: []string{"exclude", "id"},
			want: "topic=srv.public.customers " + keyOut + " value=-:null"},
		{name: "not a map", in: sink.Record{Topic: "t", Value: "str"}, keys: []string{"exclude", "a"},
			error: "only Map objects supported in absence of schema for [field replacement], found: java.lang.String"},
	}
	runCases(t, "org.apache.kafka.connect.transforms.ReplaceField$Value", cases)
	runCases(t, "org.apache.kafka.connect.transforms.ReplaceField$Key", []tcase{
		{name: "key", in: in, keys: []string{"include", "a"},
			want: "topic=t key=struct(row)<a:int32>v3:{a=int32(1)} value=struct(row)<a:int32,b:string,c:boolean?>?v3:{a=int32(2),b=\"y\",c=null}"},
	})
}

func TestMaskField(t *testing.T) {
	s := event.StructOf("row",
		event.NewField("i", event.Int32()), event.NewField("s", event.String()),
		event.NewField("b", event.Boolean()), event.NewField("d", event.Float64().Optional()),
		event.NewField("ts", event.Timestamp()), event.NewField("keep", event.String()))
	in := sink.Record{Topic: "t", ValueSchema: s, Value: event.NewStruct(s, int32(5), "secret", true, nil, int64(99), "k")}
	ds := event.StructOf("money", event.NewField("amount", event.Decimal(2)))
	dec := sink.Record{Topic: "t", ValueSchema: ds, Value: event.NewStruct(ds, event.DecimalBytes(big.NewInt(12345)))}
	cases := []tcase{
		{name: "empty values", in: in, keys: []string{"fields", "i,s,b,d,ts"},
			want: "topic=t key=-:null value=struct(row)<i:int32,s:string,b:boolean,d:float64?,ts:int64(org.apache.kafka.connect.data.Timestamp),keep:string>:{i=int32(0),s=\"\",b=bool(false),d=null,ts=int64(0),keep=\"k\"}"},
		{name: "replacement", in: in, keys: []string{"fields", "i,s", "replacement", "42"},
			want: "topic=t key=-:null value=struct(row)<i:int32,s:string,b:boolean,d:float64?,ts:int64(org.apache.kafka.connect.data.Timestamp),keep:string>:{i=int32(42),s=\"42\",b=bool(true),d=null,ts=int64(99),keep=\"k\"}"},
		{name: "replacement not a number", in: in, keys: []string{"fields", "i", "replacement", "***"},
			error: "unable to convert *** (java.lang.Integer) to number"},
		{name: "replacement on boolean", in: in, keys: []string{"fields", "b", "replacement", "x"},
			error: "cannot mask value of type java.lang.Boolean with custom replacement"},
		{name: "decimal", in: dec, keys: []string{"fields", "amount"},
			want: "topic=t key=-:null value=struct(money)<amount:bytes(org.apache.kafka.connect.data.Decimal)>:{amount=bytes[0]}"},
		{name: "decimal replacement", in: dec, keys: []string{"fields", "amount", "replacement", "-1.00"},
			want: "topic=t key=-:null value=struct(money)<amount:bytes(org.apache.kafka.connect.data.Decimal)>:{amount=bytes[156]}"},
		{name: "decimal replacement with another scale", in: dec, keys: []string{"fields", "amount", "replacement", "1"},
			error: "replacement 1 has scale 0, the Decimal schema 2"},
		{name: "schemaless", in: sink.Record{Topic: "t", Value: entries("n", int64(7), "s", "pw", "f", 1.5)}, keys: []string{"fields", "n,s,f,missing"},
			want: "topic=t key=-:null value=-:map{n=int64(0),s=\"\",f=float64(0),missing=null}"},
	}
	runCases(t, "org.apache.kafka.connect.transforms.MaskField$Value", cases)
}

func TestInsertField(t *testing.T) {
	s := event.StructOf("row", event.NewField("id", event.Int32()))
	in := sink.Record{Topic: "orders", Partition: 3, Offset: 12, Timestamp: time.UnixMilli(1500), ValueSchema: s, Value: event.NewStruct(s, int32(1))}
	cases := []tcase{
		{name: "all", in: in, keys: []string{"topic.field", "t!", "partition.field", "p", "offset.field", "o?", "timestamp.field", "ts", "static.field", "src", "static.value", "sluice"},
			want: "topic=orders key=-:null value=struct(row)<id:int32,t:string,p:int32?,o:int64?,ts:int64(org.apache.kafka.connect.data.Timestamp)?,src:string?>:{id=int32(1),t=\"orders\",p=int32(3),o=int64(12),ts=int64(1500),src=\"sluice\"}"},
		{name: "duplicate", in: in, keys: []string{"topic.field", "id"}, error: "field name duplication id"},
		{name: "schemaless", in: sink.Record{Topic: "orders", Partition: 1, Offset: 5, Value: entries("id", int64(1), "t", "old")},
			keys: []string{"topic.field", "t", "offset.field", "o", "timestamp.field", "ts"},
			want: "topic=orders key=-:null value=-:map{id=int64(1),t=\"orders\",o=int64(5)}"},
		{name: "tombstone passes", in: tombstone(), keys: []string{"topic.field", "t"},
			want: "topic=srv.public.customers " + keyOut + " value=-:null"},
	}
	runCases(t, "org.apache.kafka.connect.transforms.InsertField$Value", cases)
}

func TestValueToKeyAndExtractField(t *testing.T) {
	created := envelope("c", nil, row(1, "Ann"))
	runCases(t, "org.apache.kafka.connect.transforms.ValueToKey", []tcase{
		{name: "schema", in: created, keys: []string{"fields", "op,ts_ms"},
			want: "topic=srv.public.customers key=struct<op:string,ts_ms:int64?>:{op=\"c\",ts_ms=int64(1700000000123)} value=" + schemaStr(envSchema) + ":" + valueStr(created.Value)},
		{name: "schemaless", in: sink.Record{Topic: "t", Value: entries("a", int64(1), "b", "x")}, keys: []string{"fields", "b"},
			want: "topic=t key=-:map{b=\"x\"} value=-:map{a=int64(1),b=\"x\"}"},
		{name: "missing", in: created, keys: []string{"fields", "nope"}, error: "field does not exist: nope"},
		{name: "tombstone", in: tombstone(), keys: []string{"fields", "id"}, error: "found: null"},
	})
	runCases(t, "org.apache.kafka.connect.transforms.ExtractField$Value", []tcase{
		{name: "struct field", in: created, keys: []string{"field", "after"},
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut + "?:{id=int32(1),name=\"Ann\"}"},
		{name: "null field", in: created, keys: []string{"field", "before"},
			want: "topic=srv.public.customers " + keyOut + " value=" + rowOut + "?:null"},
		{name: "unknown", in: created, keys: []string{"field", "x"}, error: "unknown field: x"},
		{name: "schemaless", in: sink.Record{Topic: "t", Value: entries("a", int64(1))}, keys: []string{"field", "a"},
			want: "topic=t key=-:null value=-:int64(1)"},
		{name: "schemaless missing", in: sink.Record{Topic: "t", Value: entries("a", int64(1))}, keys: []string{"field", "b"},
			want: "topic=t key=-:null value=-:null"},
		{name: "tombstone", in: tombstone(), keys: []string{"field", "a"},
			want: "topic=srv.public.customers " + keyOut + " value=-:null"},
	})
	runCases(t, "org.apache.kafka.connect.transforms.ExtractField$Key", []tcase{
		{name: "key", in: created, keys: []string{"field", "id"},
			want: "topic=srv.public.customers key=int32:int32(1) value=" + schemaStr(envSchema) + ":" + valueStr(created.Value)},
	})
}

func TestPredicates(t *testing.T) {
	cfg := map[string]string{
		"transforms":                     "drop,mark",
		"transforms.drop.type":           "org.apache.kafka.connect.transforms.Filter",
		"transforms.drop.predicate":      "tomb",
		"transforms.mark.type":           "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.mark.static.field":   "hot",
		"transforms.mark.static.value":   "yes",
		"transforms.mark.predicate":      "orders",
		"transforms.mark.negate":         "true",
		"predicates":                     "tomb,orders,traced",
		"predicates.tomb.type":           "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
		"predicates.orders.type":         "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
		"predicates.orders.pattern":      `.*\.orders`,
		"predicates.traced.type":         "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
		"predicates.traced.name":         "trace",
		"transforms.unused.type":         "x",
		"predicates.unusedpred.whatever": "y",
	}
	c, err := Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   sink.Record
		want string
	}{
		{sink.Record{Topic: "db.orders"}, "DROP"},
		{sink.Record{Topic: "db.orders", Value: entries("a", int64(1))}, "topic=db.orders key=-:null value=-:map{a=int64(1)}"},
		{sink.Record{Topic: "db.users", Value: entries("a", int64(1))}, "topic=db.users key=-:null value=-:map{a=int64(1),hot=\"yes\"}"},
	}
	for _, tc := range cases {
		out, keep, err := c.Apply(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		got := "DROP"
		if keep {
			got = render(out)
		}
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in.Topic, got, tc.want)
		}
	}
	hh := predicateClasses[kafkaPredPkg+"HasHeaderKey"]
	p, err := hh(newConf(cfg, "predicates.traced."))
	if err != nil {
		t.Fatal(err)
	}
	if p.Test(sink.Record{Headers: []sink.Header{{Key: "other"}}}) || !p.Test(sink.Record{Headers: []sink.Header{{Key: "other"}, {Key: "trace"}}}) {
		t.Error("HasHeaderKey")
	}
	want := "predicates predicates.orders.pattern predicates.orders.type predicates.tomb.type predicates.traced.name predicates.traced.type " +
		"transforms transforms.drop.predicate transforms.drop.type transforms.mark.negate transforms.mark.predicate transforms.mark.static.field transforms.mark.static.value transforms.mark.type"
	if got := strings.Join(Keys(cfg), " "); got != want {
		t.Errorf("Keys = %s\nwant %s", got, want)
	}
}

func TestChainUnwrapRoute(t *testing.T) {
	c, err := Parse(map[string]string{
		"transforms":                             " unwrap , route ",
		"transforms.unwrap.type":                 "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.drop.tombstones":      "false",
		"transforms.unwrap.delete.handling.mode": "rewrite",
		"transforms.route.type":                  "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":                 `([^.]+)\.([^.]+)\.([^.]+)`,
		"transforms.route.replacement":           "$2_$3",
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := []sink.Record{envelope("r", nil, row(1, "Ann")), envelope("d", row(1, "Ann"), nil), tombstone()}
	want := []string{
		"topic=public_customers " + keyOut + " value=struct(srv.public.customers.Value)<id:int32,name:string?,__deleted:string?>:{id=int32(1),name=\"Ann\",__deleted=\"false\"}",
		"topic=public_customers " + keyOut + " value=struct(srv.public.customers.Value)<id:int32,name:string?,__deleted:string?>:{id=int32(1),name=\"Ann\",__deleted=\"true\"}",
		"topic=public_customers " + keyOut + " value=-:null",
	}
	for i, r := range recs {
		out, keep, err := c.Apply(r)
		if err != nil || !keep {
			t.Fatalf("record %d: keep=%v err=%v", i, keep, err)
		}
		if got := render(out); got != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got, want[i])
		}
		if out.OriginalTopic != "srv.public.customers" || out.Offset != 41 {
			t.Errorf("record %d: coordinates changed: %s@%d", i, out.OriginalTopic, out.Offset)
		}
	}
	// One output schema per input schema: downstream caches rely on it.
	o1, _, _ := c.Apply(recs[0])
	o2, _, _ := c.Apply(envelope("u", row(1, "Ann"), row(1, "Bo")))
	if o1.ValueSchema != o2.ValueSchema {
		t.Error("the same input schema gave two output schema pointers")
	}
	if n := c.Len(); n != 2 {
		t.Errorf("Len = %d", n)
	}
	var nilChain *Chain
	if out, keep, err := nilChain.Apply(recs[0]); err != nil || !keep || render(out) != render(recs[0]) {
		t.Error("nil chain changed the record")
	}
}

func TestParseErrors(t *testing.T) {
	const unwrap = "io.debezium.transforms.ExtractNewRecordState"
	cases := []struct {
		cfg  map[string]string
		want string
	}{
		{map[string]string{"transforms": "a,a", "transforms.a.type": unwrap}, `transforms: duplicate alias "a"`},
		{map[string]string{"transforms": "a"}, "transforms.a.type: missing transform class"},
		{map[string]string{"transforms": "a", "transforms.a.type": "com.example.Nope"}, `transforms.a.type: unknown transform class "com.example.Nope"`},
		{map[string]string{"transforms": "unwrap", "transforms.unwrap.type": unwrap, "transforms.unwrap.delete.handling.mode": "x"},
			`transforms.unwrap.delete.handling.mode: unknown mode "x" (want drop, rewrite or none)`},
		{map[string]string{"transforms": "unwrap", "transforms.unwrap.type": unwrap, "transforms.unwrap.delete.tombstone.handling.mode": "keep"},
			`transforms.unwrap.delete.tombstone.handling.mode: unknown mode "keep" (want drop, tombstone, rewrite, rewrite-with-tombstone or delete-to-tombstone)`},
		{map[string]string{"transforms": "unwrap", "transforms.unwrap.type": unwrap, "transforms.unwrap.drop.tombstones": "yes"},
			`transforms.unwrap.drop.tombstones: invalid boolean "yes" (want true or false)`},
		{map[string]string{"transforms": "unwrap", "transforms.unwrap.type": unwrap, "transforms.unwrap.add.fields": "a:b:c"},
			`transforms.unwrap.add.fields: unexpected field name "a:b:c"`},
		{map[string]string{"transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.r.replacement": "x"},
			"transforms.r.regex: missing required configuration"},
		{map[string]string{"transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.r.regex": "(a", "transforms.r.replacement": "x"},
			`transforms.r.regex: invalid regular expression "(a"`},
		{map[string]string{"transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.r.regex": "(a)", "transforms.r.replacement": "$2"},
			"transforms.r.replacement: no group 2"},
		{map[string]string{"transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.r.regex": "(a)", "transforms.r.replacement": "x$"},
			"transforms.r.replacement: illegal group reference: group index is missing"},
		{map[string]string{"transforms": "f", "transforms.f.type": "org.apache.kafka.connect.transforms.Filter", "transforms.f.predicate": "p"},
			`transforms.f.predicate: unknown predicate "p" (declare it in predicates)`},
		{map[string]string{"transforms": "f", "transforms.f.type": "org.apache.kafka.connect.transforms.Filter", "transforms.f.negate": "1"},
			`transforms.f.negate: invalid boolean "1"`},
		{map[string]string{"predicates": "p", "predicates.p.type": "org.apache.kafka.connect.transforms.predicates.Nope"},
			`predicates.p.type: unknown predicate class "org.apache.kafka.connect.transforms.predicates.Nope"`},
		{map[string]string{"predicates": "p", "predicates.p.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"},
			"predicates.p.pattern: missing required configuration"},
		{map[string]string{"predicates": "p", "predicates.p.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey"},
			"predicates.p.name: missing required configuration"},
		{map[string]string{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.ReplaceField$Value", "transforms.x.renames": "a"},
			`transforms.x.renames: invalid rename mapping "a" (want old:new)`},
		{map[string]string{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.MaskField$Key"},
			"transforms.x.fields: missing required configuration"},
		{map[string]string{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.ValueToKey", "transforms.x.fields": " , "},
			"transforms.x.fields: missing required configuration"},
		{map[string]string{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.ExtractField$Value"},
			"transforms.x.field: missing required configuration"},
	}
	for _, tc := range cases {
		_, err := Parse(tc.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if c, err := Parse(nil); err != nil || c.Len() != 0 {
		t.Errorf("Parse(nil) = %v, %v", c, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("unwrap", "io.debezium.transforms.ExtractNewRecordState", "add.fields", "op,source.ts_ms:ts", "p", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches", "pattern", "a.*")
	f.Add("r", "org.apache.kafka.connect.transforms.RegexRouter", "regex", "(.*)", "", "", "", "")
	f.Add("r", "org.apache.kafka.connect.transforms.RegexRouter", "replacement", "$1${x}\\", "p", "org.apache.kafka.connect.transforms.predicates.HasHeaderKey", "name", "")
	f.Add("c", "org.apache.kafka.connect.transforms.Cast$Value", "spec", "a:int8,b:string", "", "", "", "")
	f.Add("t", "org.apache.kafka.connect.transforms.TimestampConverter$Value", "format", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "", "", "", "")
	f.Add("u", "io.debezium.transforms.ExtractNewRecordState", "route.by.field", "name", "p", "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone", "", "")
	f.Add("f", "org.apache.kafka.connect.transforms.Flatten$Value", "delimiter", "_", "", "", "", "")
	f.Add("m", "org.apache.kafka.connect.transforms.MaskField$Value", "fields", "id,name", "", "", "", "")
	f.Add("s", "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value", "schema.name", "x", "", "", "", "")
	f.Fuzz(func(t *testing.T, alias, class, key, val, pred, pclass, pkey, pval string) {
		cfg := map[string]string{
			"transforms":                           alias,
			"transforms." + alias + ".type":        class,
			"transforms." + alias + "." + key:      val,
			"transforms." + alias + ".predicate":   pred,
			"predicates":                           pred,
			"predicates." + pred + ".type":         pclass,
			"predicates." + pred + "." + pkey:      pval,
			"transforms." + alias + ".regex":       val,
			"transforms." + alias + ".target.type": "string",
		}
		c, err := Parse(cfg)
		if err != nil {
			if !strings.Contains(err.Error(), ": ") {
				t.Errorf("error without a key: %v", err)
			}
			return
		}
		for _, r := range []sink.Record{envelope("c", nil, row(1, "a")), tombstone(), {Topic: "x", Value: entries("a", int64(1))}} {
			_, _, _ = c.Apply(r) // must not panic
		}
	})
}

func BenchmarkChainUnwrapRoute(b *testing.B) {
	c, err := Parse(map[string]string{
		"transforms":             "unwrap,route",
		"transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
		"transforms.unwrap.add.fields":                     "op,source.ts_ms",
		"transforms.route.type":                            "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":                           `([^.]+)\.([^.]+)\.([^.]+)`,
		"transforms.route.replacement":                     "$3",
	})
	if err != nil {
		b.Fatal(err)
	}
	r := envelope("u", row(1, "Ann"), row(1, "Bob"))
	b.ReportAllocs()
	for b.Loop() {
		if _, keep, err := c.Apply(r); err != nil || !keep {
			b.Fatal(keep, err)
		}
	}
}

func TestReplaceNullWithDefault(t *testing.T) {
	s := event.StructOf("row", event.NewField("id", event.Int32()), event.NewField("n", event.Int32().Optional().WithDefault(int32(9))))
	in := sink.Record{Topic: "t", ValueSchema: s, Value: event.NewStruct(s, int32(1), nil)}
	const class = "org.apache.kafka.connect.transforms.ReplaceField$Value"
	runCases(t, class, []tcase{
		{name: "default", in: in, keys: []string{"exclude", "x"}, want: "topic=t key=-:null value=struct(row)<id:int32,n:int32?>:{id=int32(1),n=int32(9)}"},
		{name: "off", in: in, keys: []string{"exclude", "x", "replace.null.with.default", "false"}, want: "topic=t key=-:null value=struct(row)<id:int32,n:int32?>:{id=int32(1),n=null}"},
	})
	runCases(t, "org.apache.kafka.connect.transforms.ExtractField$Value", []tcase{
		{name: "extract default", in: in, keys: []string{"field", "n"}, want: "topic=t key=-:null value=int32?:int32(9)"},
	})
	// Debezium's rewrite mode goes through InsertField: defaults replace
	// nulls; a plain unwrap keeps the row as it is.
	rs := event.StructOf("r", event.NewField("id", event.Int32()), event.NewField("n", event.Int32().Optional().WithDefault(int32(9))))
	env := event.EnvelopeSchema("x.Envelope", rs, sourceSchema)
	after := event.NewStruct(env.FieldByName("after"), int32(1), nil)
	ev := sink.Record{Topic: "x", ValueSchema: env, Value: event.NewStruct(env).Set("after", after).Set("op", "c").
		Set("source", event.NewStruct(sourceSchema, "shop", "x", nil, int64(1)))}
	runCases(t, "io.debezium.transforms.ExtractNewRecordState", []tcase{
		{name: "rewrite", in: ev, keys: []string{"delete.tombstone.handling.mode", "rewrite"},
			want: "topic=x key=-:null value=struct(r)<id:int32,n:int32?,__deleted:string?>:{id=int32(1),n=int32(9),__deleted=\"false\"}"},
		{name: "plain", in: ev, want: "topic=x key=-:null value=struct(r)<id:int32,n:int32?>?:{id=int32(1),n=null}"},
	})
}
