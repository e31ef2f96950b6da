package format

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// python returns the Python of scripts/pyenv.sh (fastavro, pyarrow). Under
// CI=true a missing environment fails the test; by hand it skips.
func python(t *testing.T) string {
	t.Helper()
	root, ok := testenv.RepoRoot()
	if !ok {
		t.Fatal("repository root not found")
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "pyenv.sh")).Output()
	py := strings.TrimSpace(string(out))
	if err == nil && py != "" && exec.Command(py, "-c", "import fastavro, pyarrow.parquet").Run() == nil {
		return py
	}
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	msg := fmt.Sprintf("scripts/pyenv.sh with fastavro and pyarrow is not available (%v): %s", err, stderr)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

type pyResult struct {
	Records []any          `json:"records"`
	Meta    map[string]any `json:"meta"`
}

// readPy writes data to dir/name and reads it back with read_objects.py.
func readPy(t *testing.T, py, kind, dir, name string, data []byte) pyResult {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join("testdata", "read_objects.py"), kind, path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_objects.py %s %s: %v\n%s", kind, name, err, stderr.String())
	}
	var res pyResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("read_objects.py output: %v", err)
	}
	return res
}

// expect renders Connect data as read_objects.py normalises what it reads:
// logical types tagged ($dec, $ts, $date, $time), bytes as $b64.
func expect(s *event.Schema, v any) any {
	if v == nil && s != nil {
		v = s.Default()
	}
	if v == nil {
		return nil
	}
	if s != nil {
		switch s.Name() {
		case event.LogicalDecimal:
			out, err := numericJSON.Encode(nil, s.Required(), v)
			if err != nil {
				panic(err)
			}
			return map[string]any{"$dec": string(out)}
		case event.LogicalTimestamp:
			n, _ := event.AsInt64(v)
			return map[string]any{"$ts": n}
		case event.LogicalDate:
			n, _ := event.AsInt64(v)
			return map[string]any{"$date": n}
		case event.LogicalTime:
			n, _ := event.AsInt64(v)
			return map[string]any{"$time": n}
		}
	}
	switch x := v.(type) {
	case *event.Struct:
		m := map[string]any{}
		for i := 0; i < x.Schema().NumFields(); i++ {
			f := x.Schema().Field(i)
			m[f.Name] = expect(f.Schema, x.At(i))
		}
		return m
	case []byte:
		return map[string]any{"$b64": base64.StdEncoding.EncodeToString(x)}
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = expect(s.Items(), it)
		}
		return out
	case []event.MapEntry:
		if s.Keys().Type() != event.TypeString {
			// AvroData writes other maps as arrays of MapEntry records.
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = map[string]any{"key": expect(s.Keys(), e.Key), "value": expect(s.Values(), e.Value)}
			}
			return out
		}
		m := map[string]any{}
		for _, e := range x {
			m[e.Key.(string)] = expect(s.Values(), e.Value)
		}
		return m
	case int8, int16, int32, int64, float32, float64, bool, string:
		return x
	}
	panic(fmt.Sprintf("expect: %T", v))
}

// sameJSON compares got (decoded JSON) with want (Go values) as JSON.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var w any
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, w) {
		g, _ := json.Marshal(got)
		t.Errorf("%s:\n got %s\nwant %s", what, g, b)
	}
}

func wantValues(recs []sink.Record) []any {
	out := make([]any, len(recs))
	for i, r := range recs {
		out[i] = expect(r.ValueSchema, r.Value)
	}
	return out
}

func wantKeys(recs []sink.Record, enveloped bool) []any {
	out := make([]any, len(recs))
	for i, r := range recs {
		k := expect(r.KeySchema, r.Key)
		if enveloped {
			k = map[string]any{"key": k}
		}
		out[i] = k
	}
	return out
}

func wantHeaders(recs []sink.Record, enveloped bool) []any {
	out := make([]any, len(recs))
	for i, r := range recs {
		hs := make([]any, len(r.Headers))
		for j, h := range r.Headers {
			str, err := headerString(h.Schema, h.Value)
			if err != nil {
				panic(err)
			}
			hs[j] = map[string]any{"key": h.Key, "value": str}
		}
		if enveloped {
			out[i] = map[string]any{"headers": hs}
		} else {
			out[i] = hs
		}
	}
	return out
}

// TestPythonReadsAvro: fastavro reads every codec's container files (value,
// keys, headers) and finds the records written.
func TestPythonReadsAvro(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	recs := testRecords(700) // several blocks
	for _, codec := range []string{"null", "deflate", "snappy", "zstandard"} {
		o := Options{AvroCodec: codec}
		res := readPy(t, py, "avro", dir, codec+".avro", writeObject(t, mustFormat(t, New, "avro", o), recs))
		if res.Meta["codec"] != codec {
			t.Errorf("%s: fastavro reports codec %v", codec, res.Meta["codec"])
		}
		if len(res.Records) != len(recs) {
			t.Fatalf("%s: %d records, want %d", codec, len(res.Records), len(recs))
		}
		sameJSON(t, codec+" values", res.Records, wantValues(recs))
	}
	few := recs[:5]
	res := readPy(t, py, "avro", dir, "keys.avro", writeObject(t, mustFormat(t, NewKeys, "avro", Options{}), few))
	sameJSON(t, "keys", res.Records, wantKeys(few, false))
	res = readPy(t, py, "avro", dir, "headers.avro", writeObject(t, mustFormat(t, NewHeaders, "avro", Options{}), few))
	sameJSON(t, "headers", res.Records, wantHeaders(few, false))
}

// TestPythonReadsParquet: pyarrow reads every codec's files with the
// logical types mapped (decimal, timestamp, date, time, lists, maps).
func TestPythonReadsParquet(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	recs := testRecords(300)
	for _, c := range []struct{ codec, arrow string }{
		{"none", "UNCOMPRESSED"}, {"snappy", "SNAPPY"}, {"gzip", "GZIP"}, {"zstd", "ZSTD"}, {"brotli", "BROTLI"}, {"lz4_raw", "LZ4"}, // pyarrow names LZ4_RAW "LZ4"
	} {
		f := mustFormat(t, New, "parquet", Options{ParquetCodec: c.codec})
		res := readPy(t, py, "parquet", dir, "v"+f.Extension(), writeObject(t, f, recs))
		if res.Meta["codec"] != c.arrow {
			t.Errorf("%s: pyarrow reports compression %v", c.codec, res.Meta["codec"])
		}
		if len(res.Records) != len(recs) {
			t.Fatalf("%s: %d records, want %d", c.codec, len(res.Records), len(recs))
		}
		sameJSON(t, c.codec+" values", res.Records, wantValues(recs))
		if c.codec != "snappy" {
			continue
		}
		arrow := res.Meta["arrow_schema"].(string)
		for _, want := range []string{
			"price: decimal128(10, 2) not null", "created: timestamp[ms, tz=UTC] not null", "birthday: date32[day]",
			"wake: time32[ms]", "updated_us: int64 not null", "small: int32 not null", "active: bool not null",
			"tags: list<array: string not null>", "attrs: map<string, int64", "address: struct<city: string not null, zip: string>",
			"op: string not null", "ts_ms: int64",
		} {
			if !strings.Contains(arrow, want) {
				t.Errorf("arrow schema lacks %q:\n%s", want, arrow)
			}
		}
		if ps := res.Meta["parquet_schema"].(string); !strings.Contains(ps, "dbserver1.inventory.customers.Envelope") {
			t.Errorf("message name:\n%s", ps)
		}
		kv := res.Meta["kv"].(map[string]any)
		avroJSON, _ := avroconv.AvroSchema(valueSchema)
		if kv["parquet.avro.schema"] != string(avroJSON) || kv["writer.model.name"] != "avro" {
			t.Errorf("key/value metadata %v", kv)
		}
	}
	few := recs[:5]
	res := readPy(t, py, "parquet", dir, "k.parquet", writeObject(t, mustFormat(t, NewKeys, "parquet", Options{}), few))
	sameJSON(t, "keys", res.Records, wantKeys(few, true))
	res = readPy(t, py, "parquet", dir, "h.parquet", writeObject(t, mustFormat(t, NewHeaders, "parquet", Options{}), few))
	sameJSON(t, "headers", res.Records, wantHeaders(few, true))
}

// TestPythonReadsParquetLists: an array of optional items switches the file
// to three-level lists (Confluent turns parquet-avro's old list structure
// off); nested arrays, arrays of structs and non-string-keyed maps read back.
func TestPythonReadsParquetLists(t *testing.T) {
	py := python(t)
	item := event.StructOf("x.Item", event.NewField("n", event.Int32()), event.NewField("s", event.String().Optional()))
	for _, optItems := range []bool{false, true} {
		strs := event.String()
		if optItems {
			strs = strs.Optional()
		}
		s := event.StructOf("x.Lists",
			event.NewField("strs", event.Array(strs)),
			event.NewField("nested", event.Array(event.Array(event.Int64())).Optional()),
			event.NewField("items", event.Array(item)),
			event.NewField("bykey", event.Map(event.Int32(), event.String())),
			event.NewField("opt", event.Map(event.String(), item.Optional()).Optional()),
		)
		var recs []sink.Record
		for i := range 4 {
			st := event.NewStruct(s)
			ss := []any{"a", "b"}
			if optItems && i%2 == 1 {
				ss = []any{"a", nil, "c"}
			}
			if i == 2 {
				ss = []any{}
			}
			st.Set("strs", ss)
			if i%2 == 0 {
				st.Set("nested", []any{[]any{int64(i), int64(2)}, []any{}, []any{int64(-1)}})
				st.Set("opt", []event.MapEntry{{Key: "p", Value: event.NewStruct(item, int32(i), nil)}, {Key: "q", Value: nil}})
			}
			st.Set("items", []any{event.NewStruct(item, int32(i), "s"), event.NewStruct(item, int32(-i), nil)})
			st.Set("bykey", []event.MapEntry{{Key: int32(i), Value: "v"}, {Key: int32(9), Value: "w"}})
			recs = append(recs, sink.Record{Topic: "t", Offset: int64(i), ValueSchema: s, Value: st})
		}
		f := mustFormat(t, New, "parquet", Options{})
		res := readPy(t, py, "parquet", t.TempDir(), "l.parquet", writeObject(t, f, recs))
		sameJSON(t, fmt.Sprintf("optional items %v", optItems), res.Records, wantValues(recs))
		arrow := res.Meta["arrow_schema"].(string)
		wantList := "strs: list<array: string not null> not null"
		if optItems {
			wantList = "strs: list<element: string> not null"
		}
		if !strings.Contains(arrow, wantList) {
			t.Errorf("optional items %v: arrow schema lacks %q:\n%s", optItems, wantList, arrow)
		}
	}
}

// TestPythonReadsJSON: plain and gzipped JSON lines parse with Python's
// json module, values as JsonConverter writes them.
func TestPythonReadsJSON(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	recs := testRecords(20)
	plain := readPy(t, py, "json", dir, "v.json", writeObject(t, mustFormat(t, New, "json", Options{}), recs))
	gz := readPy(t, py, "json", dir, "v.json.gz", writeObject(t, mustFormat(t, New, "json", Options{Compression: "gzip"}), recs))
	if len(plain.Records) != len(recs) {
		t.Fatalf("%d records, want %d", len(plain.Records), len(recs))
	}
	sameJSON(t, "gzip vs plain", gz.Records, plain.Records)
	for i, r := range plain.Records {
		after := r.(map[string]any)["after"].(map[string]any)
		want := testRow(i)
		if after["id"] != float64(i) || after["name"] != want.Get("name") ||
			after["price"] != base64.StdEncoding.EncodeToString(want.Get("price").([]byte)) ||
			after["created"] != float64(want.Get("created").(int64)) {
			t.Errorf("record %d: after = %v", i, after)
		}
	}
}
