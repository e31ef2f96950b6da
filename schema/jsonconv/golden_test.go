package jsonconv

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the encoder's output")

// docVersion replaces the {debezium-version} attribute of the docs.
const docVersion = "3.2.0.Final"

// compact serialises a parsed tree without whitespace, keys in order.
func compact(dst []byte, n *node) []byte {
	switch n.kind {
	case kNull:
		return append(dst, "null"...)
	case kBool:
		if n.b {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case kNumber:
		return append(dst, n.str...)
	case kString:
		return appendString(dst, n.str)
	case kArray:
		dst = append(dst, '[')
		for i, e := range n.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = compact(dst, e)
		}
		return append(dst, ']')
	}
	dst = append(dst, '{')
	for i, k := range n.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = compact(dst, n.vals[i])
	}
	return append(dst, '}')
}

var trailingComma = regexp.MustCompile(`,(\s*[}\]])`)

// loadDoc reads a documentation example and applies the text-level
// normalisations described in testdata/README.md.
func loadDoc(t *testing.T, name, schemaFrom string) *node {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	s = strings.ReplaceAll(s, "{context}", "mysql")
	s = strings.ReplaceAll(s, "{debezium-version}", docVersion)
	s = trailingComma.ReplaceAllString(s, "$1")
	if strings.Contains(s, `"schema": { ... }`) {
		src := loadDoc(t, schemaFrom, "")
		s = strings.Replace(s, `"schema": { ... }`, `"schema": `+string(compact(nil, src.get("schema"))), 1)
	}
	n, err := parseJSON([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// conformPayload rewrites a doc payload to what JsonConverter would emit for
// its schema: struct keys in schema order, keys the schema lacks dropped. It
// returns a description of every change so each test states them.
func conformPayload(s *node, p *node, path string, changes *[]string) {
	if s == nil || p == nil || p.kind != kObject || s.get("type").str != "struct" {
		return
	}
	fields := s.get("fields").arr
	var keys []string
	var vals []*node
	for _, f := range fields {
		name := f.get("field").str
		v := p.get(name)
		if v == nil {
			*changes = append(*changes, "missing "+path+"."+name)
			continue
		}
		conformPayload(f, v, path+"."+name, changes)
		keys = append(keys, name)
		vals = append(vals, v)
	}
	for _, k := range p.keys {
		if !slices.Contains(keys, k) {
			*changes = append(*changes, "dropped "+path+"."+k)
		}
	}
	var common []string
	for _, k := range p.keys {
		if slices.Contains(keys, k) {
			common = append(common, k)
		}
	}
	if !slices.Equal(common, keys) {
		*changes = append(*changes, "reordered "+path)
	}
	p.keys, p.vals = keys, vals
}

func customersRow(name string) *event.Schema {
	return event.StructOf(name,
		event.NewField("id", event.Int32()),
		event.NewField("first_name", event.String()),
		event.NewField("last_name", event.String()),
		event.NewField("email", event.String()),
	).Optional()
}

func customer(row *event.Schema, id int32, first string) *event.Struct {
	return event.NewStruct(row, id, first, "Kretchmar", "annek@noanswer.org")
}

// docEnvelope is the envelope as the docs print it: Debezium's field order
// but without the transaction field and the version (see README).
func docEnvelope(name string, row, source *event.Schema) *event.Schema {
	return event.StructOf(name,
		event.NewField("before", row),
		event.NewField("after", row),
		event.NewField("source", source),
		event.NewField("op", event.String()),
		event.NewField("ts_ms", event.Int64().Optional()),
		event.NewField("ts_us", event.Int64().Optional()),
		event.NewField("ts_ns", event.Int64().Optional()),
	)
}

var pgSource = event.StructOf("io.debezium.connector.postgresql.Source",
	event.NewField("version", event.String()),
	event.NewField("connector", event.String()),
	event.NewField("name", event.String()),
	event.NewField("ts_ms", event.Int64()),
	event.NewField("ts_us", event.Int64()),
	event.NewField("ts_ns", event.Int64()),
	event.NewField("snapshot", event.Boolean().Optional().WithDefault(false)),
	event.NewField("db", event.String()),
	event.NewField("schema", event.String()),
	event.NewField("table", event.String()),
	event.NewField("txId", event.Int64().Optional()),
	event.NewField("lsn", event.Int64().Optional()),
	event.NewField("xmin", event.Int64().Optional()),
)

var mysqlSource = event.StructOf("io.debezium.connector.mysql.Source",
	event.NewField("version", event.String()),
	event.NewField("connector", event.String()),
	event.NewField("name", event.String()),
	event.NewField("ts_ms", event.Int64()),
	event.NewField("ts_us", event.Int64()),
	event.NewField("ts_ns", event.Int64()),
	event.NewField("snapshot", event.Boolean().Optional().WithDefault(false)),
	event.NewField("db", event.String()),
	event.NewField("table", event.String().Optional()),
	event.NewField("server_id", event.Int64()),
	event.NewField("gtid", event.String().Optional()),
	event.NewField("file", event.String()),
	event.NewField("pos", event.Int64()),
	event.NewField("row", event.Int32()),
	event.NewField("thread", event.Int64().Optional()),
	event.NewField("query", event.String().Optional()),
)

func mysqlSourceValue(ts int64, serverID int64, pos int64, query string) *event.Struct {
	return event.NewStruct(mysqlSource, docVersion, "mysql", "mysql-server-1",
		ts, ts*1000, ts*1000000, false, "inventory", "customers", serverID, nil,
		"mysql-bin.000003", pos, int32(0), int64(7), query)
}

type goldenCase struct {
	name       string
	doc        string
	schemaFrom string   // doc whose schema replaces "schema": { ... }
	changes    []string // expected payload normalisations
	key        bool
	build      func() (*event.Schema, any)
}

func goldenCases() []goldenCase {
	pgRow := customersRow("PostgreSQL_server.inventory.customers.Value")
	pgEnv := docEnvelope("PostgreSQL_server.inventory.customers.Envelope", pgRow, pgSource)
	myRow := customersRow("mysql-server-1.inventory.customers.Value")
	myEnv := docEnvelope("mysql-server-1.inventory.customers.Envelope", myRow, mysqlSource)
	value := func(env *event.Schema, e event.Event) func() (*event.Schema, any) {
		return func() (*event.Schema, any) {
			e.ValueSchema = env
			v, err := e.Value()
			if err != nil {
				panic(err)
			}
			return env, v
		}
	}
	return []goldenCase{
		{
			name: "tutorial_key", doc: "tutorial_key.json", key: true,
			build: func() (*event.Schema, any) {
				k := event.StructOf("dbserver1.inventory.customers.Key", event.NewField("id", event.Int32()))
				return k, event.NewStruct(k, int32(1001))
			},
		},
		{
			name: "pg_create_value", doc: "pg_create_value.json",
			changes: []string{"dropped .source.sequence"},
			build: value(pgEnv, event.Event{
				Op:    event.OpCreate,
				After: customer(pgRow, 1, "Anne"),
				Source: event.NewStruct(pgSource, docVersion, "postgresql", "PostgreSQL_server",
					int64(1559033904863), int64(1559033904863123), int64(1559033904863123000), true,
					"postgres", "public", "customers", int64(555), int64(24023128), nil),
				TsMs: 1559033904863, TsUs: 1559033904863841, TsNs: 1559033904863841257,
			}),
		},
		{
			name: "mysql_create_value", doc: "mysql_create_value.json",
			changes: []string{"reordered "},
			build: value(myEnv, event.Event{
				Op:    event.OpCreate,
				After: customer(myRow, 1004, "Anne"),
				Source: mysqlSourceValue(0, 0, 154,
					"INSERT INTO customers (first_name, last_name, email) VALUES ('Anne', 'Kretchmar', 'annek@noanswer.org')"),
				TsMs: 1465491411815, TsUs: 1465491411815437, TsNs: 1465491411815437158,
			}),
		},
		{
			name: "mysql_update_value", doc: "mysql_update_value.json", schemaFrom: "mysql_create_value.json",
			changes: []string{"reordered .source"},
			build: value(myEnv, event.Event{
				Op:     event.OpUpdate,
				Before: customer(myRow, 1004, "Anne"),
				After:  customer(myRow, 1004, "Anne Marie"),
				Source: mysqlSourceValue(1465581029100, 223344, 484,
					"UPDATE customers SET first_name='Anne Marie' WHERE id=1004"),
				TsMs: 1465581029523, TsUs: 1465581029523758, TsNs: 1465581029523758914,
			}),
		},
		{
			name: "mysql_delete_value", doc: "mysql_delete_value.json", schemaFrom: "mysql_create_value.json",
			build: value(myEnv, event.Event{
				Op:     event.OpDelete,
				Before: customer(myRow, 1004, "Anne Marie"),
				Source: mysqlSourceValue(1465581902300, 223344, 805, "DELETE FROM customers WHERE id=1004"),
				TsMs:   1465581902461, TsUs: 1465581902461842, TsNs: 1465581902461842579,
			}),
		},
	}
}

func TestGoldenDocExamples(t *testing.T) {
	conv, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			s, v := tc.build()
			got, err := conv.Encode(nil, s, v)
			if err != nil {
				t.Fatal(err)
			}
			doc := loadDoc(t, tc.doc, tc.schemaFrom)
			var changes []string
			conformPayload(doc.get("schema"), doc.get("payload"), "", &changes)
			if !slices.Equal(changes, tc.changes) {
				t.Errorf("payload normalisations = %q, want %q", changes, tc.changes)
			}
			want := compact(nil, doc)
			if !bytes.Equal(got, want) {
				t.Errorf("encoding differs from the documentation example\n got: %s\nwant: %s", got, want)
			}
			checkGolden(t, tc.name, got)

			// Decoding our bytes must give back the same schema and value.
			ds, dv, err := conv.Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if !ds.Equal(s) || !event.ValueEqual(dv, v) {
				t.Errorf("round trip mismatch:\n got %v %v\nwant %v %v", ds, dv, s, v)
			}
		})
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(append(got, '\n'), want) {
		t.Errorf("output differs from %s\n got: %s\nwant: %s", path, got, want)
	}
}

// TestEnvelopeSchemaMatchesDebezium checks event.EnvelopeSchema against the
// documented envelope plus the two things the docs leave out but Debezium
// 3.x sends: the transaction field after source, and "version":2.
func TestEnvelopeSchemaMatchesDebezium(t *testing.T) {
	conv, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	row := customersRow("PostgreSQL_server.inventory.customers.Value")
	env := event.EnvelopeSchema(event.EnvelopeName("PostgreSQL_server.inventory.customers"), row, pgSource)
	got, err := conv.SchemaJSON(env)
	if err != nil {
		t.Fatal(err)
	}
	doc := loadDoc(t, "pg_create_value.json", "").get("schema")
	fields := doc.get("fields")
	tx, err := parseJSON([]byte(`{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},` +
		`{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],` +
		`"optional":true,"name":"event.block","version":1,"field":"transaction"}`))
	if err != nil {
		t.Fatal(err)
	}
	fields.arr = slices.Insert(fields.arr, 3, tx)
	doc.keys = append(doc.keys, "version")
	doc.vals = append(doc.vals, &node{kind: kNumber, str: "2"})
	if want := compact(nil, doc); !bytes.Equal(got, want) {
		t.Errorf("envelope schema\n got: %s\nwant: %s", got, want)
	}
	checkGolden(t, "pg_envelope_schema", got)
}
