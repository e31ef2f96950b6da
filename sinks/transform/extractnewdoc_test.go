package transform

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

const mongoClass = "io.debezium.connector.mongodb.transforms.ExtractNewDocumentState"

// The MongoDB connector's record shapes (capture/mongodb), rebuilt here so
// that the sink side does not import a source.
var (
	mongoJSON      = event.String().WithName("io.debezium.data.Json").WithVersion(1).Optional()
	mongoKeySchema = event.StructOf("fulfillment.inventory.customers.Key", event.NewField("id", event.String()))
	mongoUpdDesc   = event.StructOf("io.debezium.connector.mongodb.changestream.updatedescription",
		event.NewField("removedFields", event.Array(event.String()).Optional()),
		event.NewField("updatedFields", mongoJSON),
		event.NewField("truncatedArrays", event.Array(event.StructOf("io.debezium.connector.mongodb.changestream.truncatedarray",
			event.NewField("field", event.String()), event.NewField("size", event.Int32())).WithVersion(1)).Optional()),
	).Optional().WithVersion(1)
	mongoSource = event.StructOf("io.debezium.connector.mongo.Source",
		event.NewField("version", event.String()),
		event.NewField("connector", event.String()),
		event.NewField("name", event.String()),
		event.NewField("ts_ms", event.Int64()),
		event.NewField("db", event.String()),
		event.NewField("collection", event.String()),
		event.NewField("ord", event.Int32()),
	).WithVersion(1)
	mongoEnvSchema = event.StructOf("fulfillment.inventory.customers.Envelope",
		event.NewField("before", mongoJSON),
		event.NewField("after", mongoJSON),
		event.NewField("updateDescription", mongoUpdDesc),
		event.NewField("source", mongoSource),
		event.NewField("op", event.String().Optional()),
		event.NewField("ts_ms", event.Int64().Optional()),
		event.NewField("transaction", event.TransactionBlockSchema()),
	)
)

// mongoRecord is a MongoDB connector record: key the _id as JSON, before
// and after extended JSON ("" for null), ud the updateDescription (nil for
// none).
func mongoRecord(op, key, before, after string, ud *event.Struct) sink.Record {
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	src := event.NewStruct(mongoSource, "3.4.0.Final", "mongodb", "fulfillment", int64(1558965508000), "inventory", "customers", int32(31))
	var u any
	if ud != nil {
		u = ud
	}
	env := event.NewStruct(mongoEnvSchema, str(before), str(after), u, src, op, int64(1558965515240), nil)
	return sink.Record{Topic: "fulfillment.inventory.customers", KeySchema: mongoKeySchema, Key: event.NewStruct(mongoKeySchema, key),
		ValueSchema: mongoEnvSchema, Value: env}
}

func mongoTombstone(key string) sink.Record {
	return sink.Record{Topic: "fulfillment.inventory.customers", KeySchema: mongoKeySchema, Key: event.NewStruct(mongoKeySchema, key)}
}

func updDesc(updated string, removed ...string) *event.Struct {
	var r any
	if len(removed) > 0 {
		l := make([]any, len(removed))
		for i, s := range removed {
			l[i] = s
		}
		r = l
	}
	return event.NewStruct(mongoUpdDesc, r, updated, nil)
}

// The document of the Debezium MongoDB connector documentation's examples
// (customer 1004), as the connector writes after.
const anne = `{"_id": {"$numberLong": "1004"},"first_name": "Anne","last_name": "Kretchmar","email": "annek@noanswer.org"}`

// TestExtractNewDocumentStateDocumented checks the examples of Debezium's
// "MongoDB New Document State Extraction" documentation.
func TestExtractNewDocumentStateDocumented(t *testing.T) {
	const (
		key   = `topic=fulfillment.inventory.customers key=struct<id:int64?>:{id=int64(1)}`
		key64 = `topic=fulfillment.inventory.customers key=struct<id:int64?>:{id=int64(1004)}`
	)
	// {"op": "r", "after": "{\"field1\":\"newvalue1\",\"field2\":\"newvalue1\"}"} becomes
	// {"field1": "newvalue1", "field2": "newvalue2"}.
	runCases(t, mongoClass, []tcase{
		{name: "overview", in: mongoRecord("r", `{"$numberLong": "1"}`, "", `{"field1":"newvalue1","field2":"newvalue2"}`, nil),
			want: key + ` value=struct(fulfillment.inventory.customers)<field1:string?,field2:string?>:{field1="newvalue1",field2="newvalue2"}`},
		// array.encoding document: {_id: 1, a1: [{a: 1, b: "none"}, {a: "c", d: "something"}]}
		// is {_id: 1, a1: {_0: {a: 1, b: "none"}, _1: {a: "c", d: "something"}}}.
		{name: "array encoding document", keys: []string{"array.encoding", "document"},
			in: mongoRecord("c", "1", "", `{"_id": 1, "a1": [{"a": 1, "b": "none"}, {"a": "c", "d": "something"}]}`, nil),
			want: `topic=fulfillment.inventory.customers key=struct<id:int32?>:{id=int32(1)} value=struct(fulfillment.inventory.customers)<_id:int32?,` +
				`a1:struct(fulfillment.inventory.customers.a1)<_0:struct(fulfillment.inventory.customers.a1._0)<a:int32?,b:string?>?,_1:struct(fulfillment.inventory.customers.a1._1)<a:string?,d:string?>?>?>:` +
				`{_id=int32(1),a1={_0={a=int32(1),b="none"},_1={a="c",d="something"}}}`},
		// The same array under array.encoding array: its documents differ in
		// the type of a, which only document encoding can carry.
		{name: "array encoding array, heterogeneous", in: mongoRecord("c", "1", "", `{"_id": 1, "a1": [{"a": 1, "b": "none"}, {"a": "c", "d": "something"}]}`, nil),
			error: "field a of schema fulfillment.inventory.customers.a1 is not the same type for all documents in the array"},
		// flatten.struct: {_id: 1, a: {b: 1, c: "none"}, d: 100} is {_id: 1, a_b: 1, a_c: "none", d: 100}.
		{name: "flatten struct", keys: []string{"flatten.struct", "true"},
			in:   mongoRecord("c", "1", "", `{"_id": 1, "a": {"b": 1, "c": "none"}, "d": 100}`, nil),
			want: `topic=fulfillment.inventory.customers key=struct<id:int32?>:{id=int32(1)} value=struct(fulfillment.inventory.customers)<_id:int32?,a_b:int32?,a_c:string?,d:int32?>:{_id=int32(1),a_b=int32(1),a_c="none",d=int32(100)}`},
		// add.headers=op: the original operation as a header.
		{name: "add headers op", keys: []string{"add.headers", "op"}, in: mongoRecord("u", `{"$numberLong": "1004"}`, "", anne, nil),
			want: key64 + ` value=struct(fulfillment.inventory.customers)<_id:int64?,first_name:string?,last_name:string?,email:string?>:` +
				`{_id=int64(1004),first_name="Anne",last_name="Kretchmar",email="annek@noanswer.org"} h[__op]=string?:"u"`},
		// add.fields=collection,op (the documentation's rs field is gone from Debezium 3's source block).
		{name: "add fields", keys: []string{"add.fields", "collection,op"}, in: mongoRecord("c", `{"$numberLong": "1004"}`, "", anne, nil),
			want: key64 + ` value=struct(fulfillment.inventory.customers)<_id:int64?,first_name:string?,last_name:string?,email:string?,__collection:string?,__op:string?>:` +
				`{_id=int64(1004),first_name="Anne",last_name="Kretchmar",email="annek@noanswer.org",__collection="customers",__op="c"}`},
		// Deletes: the default (tombstone) keeps the key with a null value,
		// rewrite adds __deleted, drop drops; tombstones are dropped
		// unless rewrite-with-tombstone.
		{name: "delete default", in: mongoRecord("d", `{"$numberLong": "1004"}`, "", "", nil), want: key64 + ` value=-:null`},
		{name: "delete drop", keys: []string{"delete.tombstone.handling.mode", "drop"}, in: mongoRecord("d", `{"$numberLong": "1004"}`, "", "", nil), want: "DROP"},
		{name: "delete rewrite", keys: []string{"delete.tombstone.handling.mode", "rewrite", "add.fields", "op"}, in: mongoRecord("d", `{"$numberLong": "1004"}`, "", "", nil),
			want: key64 + ` value=struct(fulfillment.inventory.customers)<__deleted:boolean?,__op:string?>:{__deleted=bool(true),__op="d"}`},
		{name: "delete rewrite with pre-image", keys: []string{"delete.tombstone.handling.mode", "rewrite"}, in: mongoRecord("d", `{"$numberLong": "1004"}`, anne, "", nil),
			want: key64 + ` value=struct(fulfillment.inventory.customers)<_id:int64?,first_name:string?,last_name:string?,email:string?,__deleted:boolean?>:` +
				`{_id=int64(1004),first_name="Anne",last_name="Kretchmar",email="annek@noanswer.org",__deleted=bool(true)}`},
		{name: "update rewrite", keys: []string{"delete.tombstone.handling.mode", "rewrite"}, in: mongoRecord("u", `{"$numberLong": "1"}`, "", `{"_id": {"$numberLong": "1"}}`, nil),
			want: key + ` value=struct(fulfillment.inventory.customers)<_id:int64?,__deleted:boolean?>:{_id=int64(1),__deleted=bool(false)}`},
		{name: "tombstone dropped", in: mongoTombstone(`{"$numberLong": "1004"}`), want: "DROP"},
		{name: "tombstone kept", keys: []string{"delete.tombstone.handling.mode", "rewrite-with-tombstone"}, in: mongoTombstone(`{"$numberLong": "1004"}`), want: key64 + ` value=-:null`},
		{name: "legacy tombstone kept", keys: []string{"drop.tombstones", "false"}, in: mongoTombstone(`"abc"`),
			want: `topic=fulfillment.inventory.customers key=struct<id:string?>:{id="abc"} value=-:null`},
		{name: "legacy delete none", keys: []string{"delete.handling.mode", "none"}, in: mongoRecord("d", `"abc"`, "", "", nil),
			want: `topic=fulfillment.inventory.customers key=struct<id:string?>:{id="abc"} value=-:null`},
		{name: "legacy delete drop", keys: []string{"delete.handling.mode", "drop"}, in: mongoRecord("d", `"abc"`, "", "", nil), want: "DROP"},
		// $unset with capture.mode change_streams: the update carries only
		// updateDescription; the record is the partial document with _id
		// from the key.
		{name: "partial update", in: mongoRecord("u", `{"$numberLong": "1004"}`, "", "", updDesc(`{"first_name": "Anne Marie", "address.city": "Brno"}`, "last_name")),
			want: key64 + ` value=struct(fulfillment.inventory.customers)<first_name:string?,address.city:string?,_id:int64?>:{first_name="Anne Marie",address.city="Brno",_id=int64(1004)}`},
		{name: "partial update flattened", keys: []string{"flatten.struct", "true"}, in: mongoRecord("u", `{"$numberLong": "1004"}`, "", "", updDesc(`{"address.city": "Brno"}`)),
			want: key64 + ` value=struct(fulfillment.inventory.customers)<address_city:string?,_id:int64?>:{address_city="Brno",_id=int64(1004)}`},
		{name: "partial update removed only", in: mongoRecord("u", `{"$oid": "596e275826f08b2730779e1f"}`, "", "", updDesc("", "a")),
			want: `topic=fulfillment.inventory.customers key=struct<id:string?>:{id="596e275826f08b2730779e1f"} value=struct(fulfillment.inventory.customers)<_id:string?>:{_id="596e275826f08b2730779e1f"}`},
	})
}

// TestExtractNewDocumentStatePassThrough: records that are not MongoDB
// change events are left alone.
func TestExtractNewDocumentStatePassThrough(t *testing.T) {
	hbKey := event.StructOf("io.debezium.connector.common.ServerNameKey", event.NewField("serverName", event.String()))
	hb := sink.Record{Topic: "__debezium-heartbeat.fulfillment", KeySchema: hbKey, Key: event.NewStruct(hbKey, "fulfillment"), ValueSchema: event.Int64(), Value: int64(1)}
	txKey := event.StructOf("io.debezium.connector.common.TransactionMetadataKey", event.NewField("id", event.String()))
	txVal := event.StructOf("io.debezium.connector.common.TransactionMetadataValue", event.NewField("status", event.String()))
	tx := sink.Record{Topic: "fulfillment.transaction", KeySchema: txKey, Key: event.NewStruct(txKey, "x:1"), ValueSchema: txVal, Value: event.NewStruct(txVal, "BEGIN")}
	runCases(t, mongoClass, []tcase{
		{name: "heartbeat", in: hb, want: render(hb)},
		{name: "transaction", in: tx, want: render(tx)},
	})
}

func TestExtractNewDocumentStateConfigErrors(t *testing.T) {
	for key, val := range map[string]string{
		"array.encoding":                 "struct",
		"delete.tombstone.handling.mode": "keep",
		"delete.handling.mode":           "keep",
		"flatten.struct":                 "yes",
		"field.name.adjustment.mode":     "snake",
	} {
		_, err := Parse(map[string]string{"transforms": "u", "transforms.u.type": mongoClass, "transforms.u." + key: val})
		if err == nil || !strings.Contains(err.Error(), "transforms.u."+key) {
			t.Errorf("%s=%s: error %v, want one naming the key", key, val, err)
		}
	}
}

// TestExtractNewDocumentStateGolden converts documents with every BSON
// type the MongoDB connector writes, arrays in both encodings, field name
// adjustment and composite keys, and compares the records with
// testdata/extractnewdoc.golden (regenerate with -update).
func TestExtractNewDocumentStateGolden(t *testing.T) {
	types := `{"_id": {"$oid": "596e275826f08b2730779e1f"},` +
		`"s": "text", "n": null, "i": 7, "l": {"$numberLong": "9007199254740993"}, "d": 1.5, "b": true,` +
		`"dec": {"$numberDecimal": "12.340"}, "date": {"$date": 1558965508000}, "ts": {"$timestamp": {"t": 1558965508, "i": 3}},` +
		`"bin": {"$binary": "AQID", "$type": "00"}, "uuid": {"$binary": "FA7YEzXgQXSX9OxmzllH2w==", "$type": "04"},` +
		`"re": {"$regex": "^a.*", "$options": "i"}, "code": {"$code": "function() {}"},` +
		`"cws": {"$code": "f(x)", "$scope": {"x": 1}}, "minKey": {"$minKey": 1}, "undef": {"$undefined": true},` +
		`"sym": {"$symbol": "s"}, "ptr": {"$ref": "db.c", "$id": {"$oid": "596e275826f08b2730779e1f"}}, "re2": {"$regularExpression": {"pattern": "b", "options": ""}},` +
		`"nested": {"a": {"b": [1, 2]}, "empty": {}},` +
		`"tags": ["x", "y"], "empty": [], "matrix": [[1, 2], [3]],` +
		`"items": [{"sku": "a", "qty": 1}, {"sku": "b", "price": 2.5}, {"sku": "c", "opt": {}}]}`
	odd := `{"_id": 1, "first-name": "A", "9lives": true, "ünï": 1, "arr": []}`
	cases := []struct {
		name string
		keys []string
		in   sink.Record
	}{
		{"types", nil, mongoRecord("c", `{"$oid": "596e275826f08b2730779e1f"}`, "", types, nil)},
		{"types document encoding", []string{"array.encoding", "document"}, mongoRecord("c", `{"$oid": "596e275826f08b2730779e1f"}`, "", types, nil)},
		{"types flattened", []string{"flatten.struct", "true", "flatten.struct.delimiter", "__"}, mongoRecord("c", `{"$oid": "596e275826f08b2730779e1f"}`, "", types, nil)},
		{"names none", nil, mongoRecord("c", "1", "", odd, nil)},
		{"names avro", []string{"field.name.adjustment.mode", "avro"}, mongoRecord("c", "1", "", odd, nil)},
		{"names avro_unicode", []string{"field.name.adjustment.mode", "avro_unicode"}, mongoRecord("c", "1", "", odd, nil)},
		{"names sanitize", []string{"sanitize.field.names", "true"}, mongoRecord("c", "1", "", odd, nil)},
		{"composite key", nil, mongoRecord("c", `{"a": 1, "b": "x"}`, "", `{"_id": {"a": 1, "b": "x"}, "v": 1}`, nil)},
		{"string key", []string{"add.headers", "op,source.ts_ms"}, mongoRecord("r", `"abc"`, "", `{"_id": "abc", "v": {"$numberLong": "5"}}`, nil)},
	}
	var got strings.Builder
	for _, c := range cases {
		ch := one(t, mongoClass, c.keys...)
		out, keep, err := ch.Apply(c.in)
		got.WriteString(c.name + ":\n  ")
		switch {
		case err != nil:
			got.WriteString("error: " + err.Error())
		case !keep:
			got.WriteString("DROP")
		default:
			got.WriteString(render(out))
			if out.ValueSchema != nil {
				if err := event.ValidateValue(out.ValueSchema, out.Value); err != nil {
					t.Errorf("%s: value does not fit its schema: %v", c.name, err)
				}
			}
		}
		got.WriteString("\n")
	}
	golden := filepath.Join("testdata", "extractnewdoc.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got.String() != string(want) {
		t.Errorf("records differ from %s:\n got %s\nwant %s", golden, got.String(), want)
	}
}

// FuzzExtractNewDocumentState feeds arbitrary after / updatedFields
// strings and keys through the transform in both array encodings: it must
// not panic, and every record it keeps must fit its inferred schemas.
func FuzzExtractNewDocumentState(f *testing.F) {
	f.Add(`{"$numberLong": "1004"}`, anne, "", false, false)
	f.Add(`1`, `{"_id": 1, "a1": [{"a": 1, "b": "none"}, {"a": "c", "d": "something"}]}`, "", true, false)
	f.Add(`"x"`, `{"_id": "x", "a": [[1, 2], [3]], "b": [{"c": [{"d": 1}]}, {"c": []}]}`, "", false, true)
	f.Add(`{"$oid": "596e275826f08b2730779e1f"}`, "", `{"a.b": {"$date": 1}, "c": {"$regex": "x", "$options": ""}}`, false, true)
	f.Add(`{"a": {"b": 1}}`, `{"_id": {"a": {"b": 1}}, "9": {"$binary": "AQ==", "$type": "00"}}`, "", true, true)
	f.Fuzz(func(t *testing.T, key, after, updated string, document, flat bool) {
		keys := []string{"delete.tombstone.handling.mode", "rewrite", "add.fields", "op,collection"}
		if document {
			keys = append(keys, "array.encoding", "document")
		}
		if flat {
			keys = append(keys, "flatten.struct", "true", "field.name.adjustment.mode", "avro")
		}
		var ud *event.Struct
		if updated != "" {
			ud = updDesc(updated, "x")
		}
		out, keep, err := one(t, mongoClass, keys...).Apply(mongoRecord("u", key, "", after, ud))
		if err != nil || !keep {
			return
		}
		if err := event.ValidateValue(out.KeySchema, out.Key); err != nil {
			t.Errorf("key %s does not fit its schema: %v", render(out), err)
		}
		if out.ValueSchema != nil {
			if err := event.ValidateValue(out.ValueSchema, out.Value); err != nil {
				t.Errorf("value %s does not fit its schema: %v", render(out), err)
			}
		}
	})
}

// BenchmarkExtractNewDocumentState unwraps the documented customer
// document with a nested address and a tag array: the schema is inferred
// anew for every record, as Debezium does.
func BenchmarkExtractNewDocumentState(b *testing.B) {
	ch, err := Parse(map[string]string{"transforms": "u", "transforms.u.type": mongoClass, "transforms.u.flatten.struct": "true"})
	if err != nil {
		b.Fatal(err)
	}
	r := mongoRecord("u", `{"$numberLong": "1004"}`, "",
		`{"_id": {"$numberLong": "1004"},"first_name": "Anne","last_name": "Kretchmar","email": "annek@noanswer.org",`+
			`"address": {"street": "Main", "city": "Brno", "zip": 60200},"tags": ["a", "b", "c"],"visits": {"$numberLong": "17"}}`, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, keep, err := ch.Apply(r); err != nil || !keep {
			b.Fatal(err)
		}
	}
}
