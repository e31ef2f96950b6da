package jsonconv

import (
	"bytes"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

var point1 = 0.1 // a variable, so 0.1+0.2 is computed in float64

func TestJavaFloatString(t *testing.T) {
	// Expected strings are Java 19+ Double.toString / Float.toString.
	tests := []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"},
		{-1, 64, "-1.0"},
		{0, 64, "0.0"},
		{math.Copysign(0, -1), 64, "-0.0"},
		{100, 64, "100.0"},
		{123.45, 64, "123.45"},
		{point1 + 0.2, 64, "0.30000000000000004"},
		{0.001, 64, "0.001"},
		{0.0001, 64, "1.0E-4"},
		{9999999, 64, "9999999.0"},
		{1e7, 64, "1.0E7"},
		{123456789, 64, "1.23456789E8"},
		{1e21, 64, "1.0E21"},
		{1.5e-10, 64, "1.5E-10"},
		{math.MaxFloat64, 64, "1.7976931348623157E308"},
		{math.SmallestNonzeroFloat64, 64, "4.9E-324"},
		{float64(math.MaxInt64), 64, "9.223372036854776E18"},
		{float64(float32(0.1)), 32, "0.1"},
		{float64(float32(1.1)), 32, "1.1"},
		{float64(float32(3.14159)), 32, "3.14159"},
		{math.MaxFloat32, 32, "3.4028235E38"},
		{math.SmallestNonzeroFloat32, 32, "1.4E-45"},
		{float64(float32(1e10)), 32, "1.0E10"},
		{float64(float32(0.1)), 64, "0.10000000149011612"},
	}
	for _, tt := range tests {
		if got := javaFloatString(tt.f, tt.bits); got != tt.want {
			t.Errorf("javaFloatString(%v, %d) = %q, want %q", tt.f, tt.bits, got, tt.want)
		}
	}
	for f, want := range map[float64]string{math.NaN(): `"NaN"`, math.Inf(1): `"Infinity"`, math.Inf(-1): `"-Infinity"`} {
		if got := string(appendFloat(nil, f, 64)); got != want {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestBigDecimalString(t *testing.T) {
	// Expected strings are Java's BigDecimal.toString.
	tests := []struct {
		unscaled string
		scale    int
		want     string
	}{
		{"12345", 2, "123.45"},
		{"-12345", 2, "-123.45"},
		{"0", 2, "0.00"},
		{"5", 3, "0.005"},
		{"1", 6, "0.000001"},
		{"1", 7, "1E-7"},
		{"123", 10, "1.23E-8"},
		{"1", -2, "1E+2"},
		{"-15", -1, "-1.5E+2"},
		{"42", 0, "42"},
	}
	for _, tt := range tests {
		u, _ := new(big.Int).SetString(tt.unscaled, 10)
		if got := bigDecimalString(u, tt.scale); got != tt.want {
			t.Errorf("bigDecimalString(%s, %d) = %q, want %q", tt.unscaled, tt.scale, got, tt.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"b\`, `"q\"b\\"`},
		{"\b\t\n\f\r", `"\b\t\n\f\r"`},
		{"\x00\x1f\x7f", `"\u0000\u001F` + "\x7f" + `"`},
		{"</a>&'", `"</a>&'"`},
		{"é€😀\u2028", "\"é€😀\u2028\""},
		{"bad\xffutf8", "\"bad\uFFFDutf8\""},
	}
	for _, tt := range tests {
		if got := string(appendString(nil, tt.in)); got != tt.want {
			t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func mustConv(t testing.TB, cfg Config) *Converter {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncodeTypes(t *testing.T) {
	numeric := DefaultConfig()
	numeric.DecimalFormat = DecimalNumeric
	noSchema := DefaultConfig()
	noSchema.SchemasEnable = false
	noReplace := DefaultConfig()
	noReplace.ReplaceNullWithDefault = false

	dec := event.Decimal(2).WithParam("connect.decimal.precision", "10")
	tests := []struct {
		name   string
		cfg    Config
		schema *event.Schema
		value  any
		want   string
	}{
		{"int8", DefaultConfig(), event.Int8(), int8(-5), `{"schema":{"type":"int8","optional":false},"payload":-5}`},
		{"float", DefaultConfig(), event.Float32().Optional(), float32(1), `{"schema":{"type":"float","optional":true},"payload":1.0}`},
		{"double", DefaultConfig(), event.Float64(), 2.5e-7, `{"schema":{"type":"double","optional":false},"payload":2.5E-7}`},
		{"bytes", DefaultConfig(), event.Bytes(), []byte("hi!?"), `{"schema":{"type":"bytes","optional":false},"payload":"aGkhPw=="}`},
		{"decimal base64", DefaultConfig(), dec, event.DecimalBytes(big.NewInt(-12345)),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}},"payload":"z8c="}`},
		{"decimal numeric", numeric, dec, big.NewInt(-12345),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}},"payload":-123.45}`},
		{"timestamp", DefaultConfig(), event.Timestamp(), int64(1700000000123),
			`{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":1700000000123}`},
		{"doc and default", DefaultConfig(), event.String().Optional().WithDoc("d").WithDefault("x").WithName("n").WithVersion(3), nil,
			`{"schema":{"type":"string","optional":true,"name":"n","version":3,"doc":"d","default":"x"},"payload":"x"}`},
		{"default kept null", noReplace, event.String().Optional().WithDefault("x"), nil,
			`{"schema":{"type":"string","optional":true,"default":"x"},"payload":null}`},
		{"array", DefaultConfig(), event.Array(event.Int32()), []any{int32(1), int32(2)},
			`{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2]}`},
		{"string map", DefaultConfig(), event.Map(event.String(), event.Int64()), map[string]any{"b": int64(2), "a": int64(1)},
			`{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int64","optional":false},"optional":false},"payload":{"a":1,"b":2}}`},
		{"int map", DefaultConfig(), event.Map(event.Int16(), event.Float64()), []event.MapEntry{{Key: int16(3), Value: 0.5}},
			`{"schema":{"type":"map","keys":{"type":"int16","optional":false},"values":{"type":"double","optional":false},"optional":false},"payload":[[3,0.5]]}`},
		{"schemas disabled", noSchema, event.String(), "v", `"v"`},
		{"schemaless", DefaultConfig(), nil, []any{int64(1), "a", true}, `{"schema":null,"payload":[1,"a",true]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustConv(t, tt.cfg).Encode(nil, tt.schema, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if tt.schema == nil || tt.name == "default kept null" {
				return // decoding null with a default yields the default, as in Connect
			}
			s, v, err := mustConv(t, tt.cfg).Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if tt.cfg.SchemasEnable && !s.Equal(tt.schema) {
				t.Errorf("decoded schema %v, want %v", s, tt.schema)
			}
			again, err := mustConv(t, tt.cfg).Encode(nil, tt.schema, v)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, got) {
				t.Errorf("re-encoded %s, want %s", again, got)
			}
		})
	}
}

func TestEncodeErrorsAndNull(t *testing.T) {
	c := mustConv(t, DefaultConfig())
	if got, err := c.EncodeStruct(nil, nil); got != nil || err != nil {
		t.Errorf("tombstone: got %q, %v; want nil, nil", got, err)
	}
	if got, err := c.Encode(nil, nil, nil); got != nil || err != nil {
		t.Errorf("null: got %q, %v; want nil, nil", got, err)
	}
	if _, err := c.Encode(nil, event.Int32(), nil); err == nil {
		t.Error("null for required int32: no error")
	}
	if _, err := c.Encode(nil, event.Int32(), "x"); err == nil {
		t.Error("string for int32: no error")
	}
	if _, err := New(Config{DecimalFormat: "HEX"}); err == nil {
		t.Error("decimal.format HEX accepted")
	}
}

func TestDecode(t *testing.T) {
	c := mustConv(t, DefaultConfig())
	noSchema := DefaultConfig()
	noSchema.SchemasEnable = false
	cn := mustConv(t, noSchema)

	if s, v, err := c.Decode(nil); s != nil || v != nil || err != nil {
		t.Errorf("Decode(nil) = %v, %v, %v", s, v, err)
	}
	for _, bad := range []string{`{"payload":1}`, `{"schema":null,"payload":1,"x":2}`, `[1]`, `{"schema":{"type":"nope"},"payload":1}`,
		`{"schema":{"type":"int32","optional":false},"payload":null}`, `{"schema":null,"payload":1} x`, `{"schema":{"type":"struct"},"payload":{}}`} {
		if _, _, err := c.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s): no error", bad)
		}
	}
	_, v, err := cn.Decode([]byte(`{"a":1,"b":[1.5,"x",null,true],"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []event.MapEntry{{Key: "a", Value: int64(2)}, {Key: "b", Value: []any{1.5, "x", nil, true}}}
	if !event.ValueEqual(v, want) {
		t.Errorf("schemaless decode = %v, want %v", v, want)
	}
	// A missing struct field takes the schema default.
	st, err := c.DecodeStruct([]byte(`{"schema":{"type":"struct","fields":[{"type":"boolean","optional":true,"default":false,"field":"s"}],"optional":false},"payload":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if st.Get("s") != false {
		t.Errorf("default not applied: %v", st)
	}
	// NUMERIC decimals decode to the schema scale.
	s, dv, err := c.Decode([]byte(`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":-123.4}`))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dv.([]byte), event.DecimalBytes(big.NewInt(-12340))) || s.Name() != event.LogicalDecimal {
		t.Errorf("decimal decode = %x", dv)
	}
}

func FuzzDecode(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("testdata"))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".golden") {
			b, err := os.ReadFile(filepath.Join("testdata", e.Name()))
			if err == nil {
				f.Add(bytes.TrimSpace(b), true)
			}
		}
	}
	f.Add([]byte(`{"a":[1,2.5,"x",{"b":null}]}`), false)
	f.Add([]byte(`{"schema":{"type":"map","keys":{"type":"int8","optional":false},"values":{"type":"float","optional":true},"optional":false},"payload":[[1,2.5]]}`), true)
	f.Fuzz(func(t *testing.T, data []byte, schemas bool) {
		cfg := DefaultConfig()
		cfg.SchemasEnable = schemas
		c := mustConv(t, cfg)
		s, v, err := c.Decode(data)
		if err != nil || v == nil && s == nil {
			return
		}
		// Whatever decodes must encode, and one more cycle must be stable.
		b1, err := c.Encode(nil, s, v)
		if err != nil {
			t.Fatalf("encode of decoded %q: %v", data, err)
		}
		s2, v2, err := c.Decode(b1)
		if err != nil {
			t.Fatalf("decode of %s: %v", b1, err)
		}
		b2, err := c.Encode(nil, s2, v2)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("unstable round trip:\n%s\n%s", b1, b2)
		}
	})
}

func BenchmarkEncodeEvent(b *testing.B) {
	c := mustConv(b, DefaultConfig())
	for _, tc := range goldenCases() {
		if tc.name != "pg_create_value" {
			continue
		}
		s, v := tc.build()
		b.Run("schemas", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = c.Encode(buf[:0], s, v); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
		// fresh: a new buffer per event, as records handed to Kafka need.
		b.Run("schemas-fresh", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = c.Encode(nil, s, v); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
		noSchema := DefaultConfig()
		noSchema.SchemasEnable = false
		cn := mustConv(b, noSchema)
		b.Run("payload-only", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = cn.Encode(buf[:0], s, v); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}
