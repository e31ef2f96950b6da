package avroconv

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

const fastavroVersion = "1.12.1"

// fastavroPython returns a Python with fastavro, installing it into a venv
// under the repository's .cache/ when missing. Under CI=true a failed
// install fails the test; by hand it skips with the command to run.
func fastavroPython(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	venv := filepath.Join(root, ".cache", "avroconv-venv")
	py := filepath.Join(venv, "bin", "python")
	install := fmt.Sprintf("python3 -m venv %s && %s/bin/pip install fastavro==%s", venv, venv, fastavroVersion)
	if exec.Command(py, "-c", "import fastavro").Run() == nil {
		return py
	}
	out, err := exec.Command("sh", "-c", install).CombinedOutput()
	if err == nil && exec.Command(py, "-c", "import fastavro").Run() == nil {
		return py
	}
	msg := fmt.Sprintf("fastavro unavailable (%v: %s); install with: %s", err, out, install)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// expectedJSON renders v as pydecode.py prints fastavro's result: records
// as objects, bytes and floats tagged, maps with non-string keys as lists
// of {"key","value"} records.
func expectedJSON(v any) any {
	switch x := v.(type) {
	case nil, bool, string:
		return x
	case int8, int16, int32, int64:
		i, _ := event.AsInt64(x)
		return json.Number(strconv.FormatInt(i, 10))
	case float32:
		return map[string]any{"$float": pyRepr(float64(x))}
	case float64:
		return map[string]any{"$float": pyRepr(x)}
	case []byte:
		return map[string]any{"$bytes": hex.EncodeToString(x)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = expectedJSON(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = expectedJSON(e)
		}
		return out
	case []event.MapEntry:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = map[string]any{"key": expectedJSON(e.Key), "value": expectedJSON(e.Value)}
		}
		return out
	case *event.Struct:
		out := map[string]any{}
		for i, f := range x.Schema().Fields() {
			fv := x.At(i)
			if fv == nil {
				fv = f.Schema.Default()
			}
			out[f.Name] = expectedJSON(fv)
		}
		return out
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

// pyRepr is Python's repr of a float (shortest round-trip digits).
func pyRepr(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		s += ".0"
	}
	return s
}

// TestFastavroDecodes decodes Sluice's wire bytes with Python's fastavro and
// compares the values with what was encoded.
func TestFastavroDecodes(t *testing.T) {
	py := fastavroPython(t)
	ctx := context.Background()
	reg := newMemRegistry()
	c := mustNew(t, DefaultConfig(), reg)
	_, all := allTypes()
	key, value, env := chinookEmployee()
	row := event.NewStruct(value, int32(1), "Adams", "Andrew", "General Manager", nil, int64(-86400000000),
		int64(1_013_126_400_000_000), "11120 Jasper Ave NW", "Edmonton", "AB", "Canada", "T5K 2N1", nil, nil, "andrew@chinookcorp.com")
	source := event.NewStruct(env.FieldByName("source"), "3.0.8.Final", "postgresql", "chinook", int64(1700000000123),
		"false", "chinook", `["24023119","24023128"]`, int64(1700000000123456), int64(1700000000123456789),
		"public", "employee", int64(555), int64(24023128), nil)
	envelope := event.NewStruct(env, nil, row, source, nil, "c", int64(1700000000200), int64(1700000000200001), int64(1700000000200001002))
	cases := []struct {
		topic string
		isKey bool
		v     *event.Struct
	}{
		{"srv.public.all_types", false, all},
		{"chinook.public.employee", true, event.NewStruct(key, int32(1))},
		{"chinook.public.employee", false, envelope},
	}
	type rec struct {
		Schema string `json:"schema"`
		ID     int    `json:"id"`
		Data   string `json:"data"`
	}
	var in []rec
	var want []any
	for _, tc := range cases {
		if err := tc.v.Validate(); err != nil {
			t.Fatal(err)
		}
		data, err := c.Encode(ctx, tc.topic, tc.isKey, tc.v)
		if err != nil {
			t.Fatal(err)
		}
		id := int(data[4])
		schema, _ := reg.SchemaByID(ctx, id)
		in = append(in, rec{schema, id, hex.EncodeToString(data)})
		want = append(want, expectedJSON(tc.v))
	}
	stdin, _ := json.Marshal(in)
	cmd := exec.Command(py, "testdata/pydecode.py")
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pydecode: %v\n%s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var got []any
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want[i])
		if !bytes.Equal(g, w) {
			t.Errorf("case %d (%s):\nfastavro %s\nwant     %s", i, cases[i].topic, g, w)
		}
	}
}

// BenchmarkEncodeEnvelope encodes a typical Debezium Postgres envelope
// (compare with jsonconv's BenchmarkEncodeEvent and BenchmarkJSONEnvelope).
func BenchmarkEncodeEnvelope(b *testing.B) {
	ctx := context.Background()
	_, value, env := chinookEmployee()
	row := event.NewStruct(value, int32(1), "Adams", "Andrew", "General Manager", nil, int64(-86400000000),
		int64(1_013_126_400_000_000), "11120 Jasper Ave NW", "Edmonton", "AB", "Canada", "T5K 2N1", nil, nil, "andrew@chinookcorp.com")
	source := event.NewStruct(env.FieldByName("source"), "3.0.8.Final", "postgresql", "chinook", int64(1700000000123),
		"false", "chinook", nil, int64(1700000000123456), int64(1700000000123456789),
		"public", "employee", int64(555), int64(24023128), nil)
	v := event.NewStruct(env, row, row, source, nil, "u", int64(1700000000200), int64(1700000000200001), int64(1700000000200001002))
	b.Run("avro", func(b *testing.B) {
		c := mustNew(b, DefaultConfig(), newMemRegistry())
		out, err := c.Encode(ctx, "chinook.public.employee", false, v)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Encode(ctx, "chinook.public.employee", false, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		jc, _ := jsonconv.New(jsonconv.DefaultConfig())
		out, err := jc.EncodeStruct(nil, v)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jc.EncodeStruct(nil, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
