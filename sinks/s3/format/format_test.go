package format

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"

	"github.com/hamba/avro/v2/ocf"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

func strp(s string) *string { return &s }

func TestExtensions(t *testing.T) {
	tests := []struct {
		class          string
		o              Options
		value, key, hd string
	}{
		{ClassJSON, Options{}, ".json", ".keys.json", ".headers.json"},
		{"json", Options{Compression: "gzip"}, ".json.gz", ".keys.json.gz", ".headers.json.gz"},
		{ClassAvro, Options{AvroCodec: "snappy"}, ".avro", ".keys.avro", ".headers.avro"},
		{ClassParquet, Options{}, ".snappy.parquet", ".keys.snappy.parquet", ".headers.snappy.parquet"},
		{"parquet", Options{ParquetCodec: "none"}, ".parquet", ".keys.parquet", ".headers.parquet"},
		{"parquet", Options{ParquetCodec: "gzip"}, ".gz.parquet", ".keys.gz.parquet", ".headers.gz.parquet"},
		{"parquet", Options{ParquetCodec: "zstd"}, ".zstd.parquet", ".keys.zstd.parquet", ".headers.zstd.parquet"},
		{ClassByteArray, Options{}, ".bin", ".keys.bin", ".headers.bin"},
		{"bytearray", Options{ByteArrayExtension: ".raw", Compression: "gzip"}, ".raw.gz", ".keys.raw.gz", ".headers.raw.gz"},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			fn   func(string, Options) (Format, error)
			want string
		}{{New, tt.value}, {NewKeys, tt.key}, {NewHeaders, tt.hd}} {
			f := mustFormat(t, c.fn, tt.class, tt.o)
			if got := f.Extension(); got != c.want {
				t.Errorf("%s %+v: extension %q, want %q", tt.class, tt.o, got, c.want)
			}
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		class string
		o     Options
		want  string
	}{
		{"io.confluent.connect.s3.format.csv.CsvFormat", Options{}, "format.class"},
		{"avro", Options{AvroCodec: "bzip2"}, "avro.codec"},
		{"parquet", Options{ParquetCodec: "lzo"}, "parquet.codec"},
		{"json", Options{Compression: "zstd"}, "s3.compression.type"},
		{"json", Options{CompressionLevel: 10}, "s3.compression.level"},
		{"json", Options{JSONDecimalFormat: "HEX"}, "json.decimal.format"},
	}
	for _, tt := range tests {
		_, err := New(tt.class, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q, %+v) = %v, want an error about %s", tt.class, tt.o, err, tt.want)
		}
	}
}

func TestJSONGolden(t *testing.T) {
	recs := testRecords(4)
	tests := []struct {
		name string
		fn   func(string, Options) (Format, error)
		o    Options
		recs []sink.Record
	}{
		{"value.json", New, Options{}, recs},
		{"value_numeric.json", New, Options{JSONDecimalFormat: "numeric"}, recs[:2]},
		{"keys.json", NewKeys, Options{}, recs},
		{"headers.json", NewHeaders, Options{}, recs[:2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := writeObject(t, mustFormat(t, tt.fn, "json", tt.o), tt.recs)
			golden(t, tt.name, got)
			if n := bytes.Count(got, []byte("\n")); n != len(tt.recs) {
				t.Errorf("%d lines, want %d", n, len(tt.recs))
			}
		})
	}
}

func TestJSONNonStruct(t *testing.T) {
	base := testRecord(0)
	tests := []struct {
		name   string
		schema *event.Schema
		value  any
		want   string
	}{
		{"tombstone", nil, nil, "null"},
		{"string", event.String(), "a\"b", `"a\"b"`},
		{"schemaless map", nil, []event.MapEntry{{Key: "k", Value: int64(1)}, {Key: "f", Value: 1.5}}, `{"k":1,"f":1.5}`},
		{"schemaless array", nil, []any{"x", true, nil}, `["x",true,null]`},
		{"bytes", event.Bytes(), []byte("hi"), `"aGk="`},
		{"decimal is a number", event.Decimal(2), event.DecimalBytes(big.NewInt(-150)), "-1.50"},
		{"date is epoch millis", event.Date(), int32(2), "172800000"},
		{"timestamp", event.Timestamp(), int64(1700000000123), "1700000000123"},
		{"double", event.Float64(), 1e7, "1.0E7"},
	}
	f := mustFormat(t, New, ClassJSON, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := base
			rec.ValueSchema, rec.Value = tt.schema, tt.value
			var buf bytes.Buffer
			w, err := f.NewWriter(&buf, rec)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want+"\n" {
				t.Errorf("got %q, want %q", got, tt.want+"\n")
			}
		})
	}
}

func TestGzip(t *testing.T) {
	recs := testRecords(50)
	plain := writeObject(t, mustFormat(t, New, "json", Options{}), recs)
	for _, level := range []int{0, 1, 9} {
		f := mustFormat(t, New, "json", Options{Compression: "gzip", CompressionLevel: level})
		gz := writeObject(t, f, recs)
		// Java's GZIPOutputStream header: no mtime, no name, no extra
		// flags whatever the level, OS unknown.
		if want := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}; !bytes.Equal(gz[:10], want) {
			t.Errorf("level %d: gzip header % x, want % x", level, gz[:10], want)
		}
		br := bytes.NewReader(gz)
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		zr.Multistream(false)
		got, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if br.Len() != 0 {
			t.Errorf("level %d: %d bytes after the gzip member", level, br.Len())
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("level %d: gunzipped object differs from the plain one", level)
		}
		if again := writeObject(t, f, recs); !bytes.Equal(again, gz) {
			t.Errorf("level %d: two runs gave different bytes", level)
		}
	}
}

func TestGzipEmpty(t *testing.T) {
	f := mustFormat(t, New, "json", Options{Compression: "gzip"})
	var buf bytes.Buffer
	w, err := f.NewWriter(&buf, testRecord(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || len(got) != 0 {
		t.Errorf("empty object: %q, %v", got, err)
	}
}

func TestByteArray(t *testing.T) {
	rec := testRecord(0)
	rec.ValueSchema, rec.Value = event.Bytes().Optional(), []byte("one")
	rec2 := rec
	rec2.ValueSchema, rec2.Value = nil, []byte{0, 1, 2}
	rec2.Offset++
	tests := []struct {
		o    Options
		want string
	}{
		{Options{}, "one\n\x00\x01\x02\n"},
		{Options{ByteArraySeparator: strp("")}, "one\x00\x01\x02"},
		{Options{ByteArraySeparator: strp("||")}, "one||\x00\x01\x02||"},
	}
	for _, tt := range tests {
		f := mustFormat(t, New, ClassByteArray, tt.o)
		var buf bytes.Buffer
		w, err := f.NewWriter(&buf, rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		// rec2 is schemaless: a schema change for Confluent's rotation.
		if err := w.Write(rec2); !errors.Is(err, ErrSchemaChanged) {
			t.Fatalf("schemaless after bytes schema: %v, want ErrSchemaChanged", err)
		}
		w.Close()
		w, _ = f.NewWriter(&buf, rec2)
		if err := w.Write(rec2); err != nil {
			t.Fatal(err)
		}
		w.Close()
		if buf.String() != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.o, buf.String(), tt.want)
		}
	}
	f := mustFormat(t, New, "bytearray", Options{})
	bad := testRecord(0)
	w, _ := f.NewWriter(io.Discard, bad)
	if err := w.Write(bad); err == nil || !strings.Contains(err.Error(), "dbserver1.inventory.customers-2@100") {
		t.Errorf("struct value: %v, want an error naming the record", err)
	}
}

func TestSchemaChanged(t *testing.T) {
	recs := testRecords(2)
	other := recs[1]
	otherRow := event.StructOf("dbserver1.inventory.customers.Value", event.NewField("id", event.Int32()))
	otherSchema := event.EnvelopeSchema("dbserver1.inventory.customers.Envelope", otherRow, sourceSchema)
	ov := event.NewStruct(otherSchema)
	ov.Set("after", event.NewStruct(otherRow.Optional(), int32(7)))
	ov.Set("source", event.NewStruct(sourceSchema, "postgresql", nil))
	ov.Set("op", "c")
	other.ValueSchema, other.Value = otherSchema, ov
	// A key schema change matters to key files only.
	keyChange := recs[1]
	keyChange.KeySchema = event.String()
	keyChange.Key = "k"

	for _, class := range []string{"json", "avro", "parquet"} {
		for _, c := range []struct {
			name   string
			fn     func(string, Options) (Format, error)
			rec    sink.Record
			change bool
		}{
			{"value", New, other, true},
			{"value same schema", New, recs[1], false},
			{"value key change", New, keyChange, false},
			{"keys", NewKeys, keyChange, true},
			{"keys value change", NewKeys, other, false},
			{"headers", NewHeaders, other, false},
		} {
			f := mustFormat(t, c.fn, class, Options{})
			var buf bytes.Buffer
			w, err := f.NewWriter(&buf, recs[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(recs[0]); err != nil {
				t.Fatal(err)
			}
			n := buf.Len()
			err = w.Write(c.rec)
			if c.change {
				if !errors.Is(err, ErrSchemaChanged) {
					t.Errorf("%s %s: %v, want ErrSchemaChanged", class, c.name, err)
				}
				if buf.Len() != n {
					t.Errorf("%s %s: %d bytes written with the error", class, c.name, buf.Len()-n)
				}
			} else if err != nil {
				t.Errorf("%s %s: %v", class, c.name, err)
			}
		}
	}
}

func TestSchemaless(t *testing.T) {
	rec := testRecord(0)
	rec.ValueSchema, rec.Value = nil, []event.MapEntry{{Key: "id", Value: int64(1)}}
	for _, class := range []string{ClassAvro, ClassParquet} {
		f := mustFormat(t, New, class, Options{})
		_, err := f.NewWriter(io.Discard, rec)
		if !errors.Is(err, ErrNoSchema) || !strings.Contains(err.Error(), "dbserver1.inventory.customers-2@100") {
			t.Errorf("%s: %v, want ErrNoSchema naming topic-partition@offset", class, err)
		}
	}
	// JSON writes schemaless values.
	got := writeObject(t, mustFormat(t, New, "json", Options{}), []sink.Record{rec})
	if string(got) != "{\"id\":1}\n" {
		t.Errorf("json schemaless: %q", got)
	}
}

func TestTombstones(t *testing.T) {
	recs := testRecords(2)
	tomb := recs[1]
	tomb.ValueSchema, tomb.Value = nil, nil
	// JSON: Jackson writes null.
	got := writeObject(t, mustFormat(t, New, "json", Options{}), []sink.Record{recs[0], tomb})
	if !bytes.HasSuffix(got, []byte("\nnull\n")) {
		t.Errorf("json tombstone: %q", got)
	}
	for _, class := range []string{"avro", "parquet", "bytearray"} {
		f := mustFormat(t, New, class, Options{})
		w, err := f.NewWriter(io.Discard, recs[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(tomb); err == nil || errors.Is(err, ErrSchemaChanged) || !strings.Contains(err.Error(), "null") {
			t.Errorf("%s tombstone: %v, want an error saying null cannot be written", class, err)
		}
	}
	// Keys of tombstones are written (Confluent's tombstone partition).
	if got := writeObject(t, mustFormat(t, NewKeys, "json", Options{}), []sink.Record{tomb}); string(got) != "{\"id\":1}\n" {
		t.Errorf("key of a tombstone: %q", got)
	}
}

func TestNullKeyAndNoHeaders(t *testing.T) {
	rec := testRecord(0)
	rec.Key, rec.Headers = nil, nil
	for _, class := range []string{"json", "avro", "parquet"} {
		for _, fn := range []func(string, Options) (Format, error){NewKeys, NewHeaders} {
			f := mustFormat(t, fn, class, Options{})
			w, err := f.NewWriter(io.Discard, testRecord(0))
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(rec); err == nil || !strings.Contains(err.Error(), "cannot be null") {
				t.Errorf("%s %s: %v", class, f.Extension(), err)
			}
		}
	}
}

func TestHeaderString(t *testing.T) {
	st := event.StructOf("", event.NewField("a", event.String()), event.NewField("b", event.Int32().Optional()))
	tests := []struct {
		schema *event.Schema
		value  any
		want   string
	}{
		{event.String(), "plain \"q\"", "plain \"q\""},
		{nil, int64(-5), "-5"},
		{event.Boolean(), true, "true"},
		{event.Float64(), 0.1, "0.1"},
		{event.Float64(), 1e21, "1.0E21"},
		{event.Float32(), float32(2.5), "2.5"},
		{event.Bytes(), []byte{0xff, 0}, "/wA="},
		{event.Decimal(3), event.DecimalBytes(big.NewInt(12345)), "12.345"},
		{event.Date(), int32(19787), "2024-03-05"},
		{event.Date(), int32(0), "00:00:00.000Z"}, // Values.dateFormatFor: under a day is a time
		{event.Time(), int32(3723004), "01:02:03.004Z"},
		{event.Timestamp(), int64(1709618828009), "2024-03-05T06:07:08.009Z"},
		{nil, []any{"x", "y\"z", int64(1), nil}, `["x","y\"z",1,null]`},
		{nil, []event.MapEntry{{Key: "k", Value: "v"}}, `{"k":"v"}`},
		{st, event.NewStruct(st, "s", nil), `{"a":"s","b":null}`},
	}
	for _, tt := range tests {
		got, err := headerString(tt.schema, tt.value)
		if err != nil || got != tt.want {
			t.Errorf("headerString(%v, %#v) = %q, %v; want %q", tt.schema, tt.value, got, err, tt.want)
		}
	}
	if _, err := headerString(event.String().Optional(), nil); err == nil {
		t.Error("null header value: no error")
	}
}

// TestAvroReadBack reads the container files back with hamba/avro's OCF
// decoder (independent of the writer here) for every codec.
func TestAvroReadBack(t *testing.T) {
	recs := testRecords(1000) // more than one 64,000-byte block
	for _, codec := range []string{"null", "deflate", "snappy", "zstandard"} {
		t.Run(codec, func(t *testing.T) {
			f := mustFormat(t, New, ClassAvro, Options{AvroCodec: codec})
			data := writeObject(t, f, recs)
			if again := writeObject(t, f, recs); !bytes.Equal(again, data) {
				t.Fatal("two runs gave different bytes")
			}
			dec, err := ocf.NewDecoder(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(dec.Metadata()["avro.codec"]); got != codec {
				t.Errorf("avro.codec %q", got)
			}
			want, _ := avroconv.AvroSchema(valueSchema)
			if got := dec.Metadata()["avro.schema"]; !bytes.Equal(got, want) {
				t.Errorf("avro.schema differs from avroconv's")
			}
			n := 0
			for dec.HasNext() {
				var v map[string]any
				if err := dec.Decode(&v); err != nil {
					t.Fatalf("record %d: %v", n, err)
				}
				after := v["after"].(map[string]any)["dbserver1.inventory.customers.Value"].(map[string]any)
				if after["id"] != n || after["name"] != testRow(n).Get("name") {
					t.Fatalf("record %d: after = %v", n, after)
				}
				n++
			}
			if dec.Error() != nil {
				t.Fatal(dec.Error())
			}
			if n != len(recs) {
				t.Errorf("%d records, want %d", n, len(recs))
			}
			if blocks := bytes.Count(data, data[len(data)-16:]); blocks < 3 {
				t.Errorf("%d sync markers, want a header and at least two blocks", blocks)
			}
		})
	}
}

func TestAvroGolden(t *testing.T) {
	recs := testRecords(4)
	golden(t, "value.avro", writeObject(t, mustFormat(t, New, "avro", Options{}), recs))
	golden(t, "keys.avro", writeObject(t, mustFormat(t, NewKeys, "avro", Options{}), recs))
	golden(t, "headers.avro", writeObject(t, mustFormat(t, NewHeaders, "avro", Options{}), recs[:2]))
}

func TestAvroPrimitiveKeys(t *testing.T) {
	recs := testRecords(3)
	for i := range recs {
		recs[i].KeySchema, recs[i].Key = event.String().Optional(), "k"+string(rune('0'+i))
	}
	data := writeObject(t, mustFormat(t, NewKeys, "avro", Options{}), recs)
	dec, err := ocf.NewDecoder(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(dec.Metadata()["avro.schema"]); s != `["null","string"]` {
		t.Errorf("key schema %s", s)
	}
	var got []string
	for dec.HasNext() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v.(string))
	}
	if strings.Join(got, ",") != "k0,k1,k2" {
		t.Errorf("keys %v", got)
	}
}

func TestParquetGoldenAndDeterminism(t *testing.T) {
	recs := testRecords(4)
	for _, codec := range []string{"none", "snappy", "gzip", "zstd"} {
		f := mustFormat(t, New, "parquet", Options{ParquetCodec: codec})
		a := writeObject(t, f, recs)
		if b := writeObject(t, f, recs); !bytes.Equal(a, b) {
			t.Errorf("%s: two runs gave different bytes", codec)
		}
		if !bytes.HasPrefix(a, []byte("PAR1")) || !bytes.HasSuffix(a, []byte("PAR1")) {
			t.Errorf("%s: not a parquet file", codec)
		}
		if codec == "snappy" {
			golden(t, "value.snappy.parquet", a)
		}
	}
}

func TestDecimalString(t *testing.T) {
	tests := []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{150, 2, "1.50"}, {-150, 2, "-1.50"}, {5, 3, "0.005"}, {0, 2, "0.00"}, {12, 0, "12"},
		{1, 10, "1E-10"}, {15, 8, "1.5E-7"}, {1, 6, "0.000001"}, {1, -3, "1E+3"}, {-123, -2, "-1.23E+4"},
	}
	for _, tt := range tests {
		s := event.Decimal(tt.scale)
		for _, v := range []any{event.DecimalBytes(big.NewInt(tt.unscaled)), big.NewInt(tt.unscaled)} {
			if got, err := decimalString(s, v); err != nil || got != tt.want {
				t.Errorf("decimalString(%d, scale %d) = %q, %v; want %q", tt.unscaled, tt.scale, got, err, tt.want)
			}
		}
	}
}

// TestFreshSchemaPointers: records whose schemas are equal but new
// pointers every time (what a JSON key/value converter hands over) encode
// as records sharing one schema.
func TestFreshSchemaPointers(t *testing.T) {
	recs := testRecords(6)
	fresh := make([]sink.Record, len(recs))
	for i, r := range recs {
		// Rebuild the value with a copy of the envelope schema.
		ver, _ := r.ValueSchema.Version()
		s := event.StructOf(r.ValueSchema.Name(), r.ValueSchema.Fields()...).WithVersion(ver)
		old := r.Value.(*event.Struct)
		v := event.NewStruct(s)
		for j := 0; j < s.NumFields(); j++ {
			v.SetAt(j, old.At(j))
		}
		r.ValueSchema, r.Value = s, v
		fresh[i] = r
	}
	if fresh[0].ValueSchema == fresh[1].ValueSchema || !fresh[0].ValueSchema.Equal(recs[0].ValueSchema) {
		t.Fatal("test setup: schemas should be equal, distinct pointers")
	}
	for _, class := range []string{"json", "avro", "parquet"} {
		f := mustFormat(t, New, class, Options{})
		if got, want := writeObject(t, f, fresh), writeObject(t, f, recs); !bytes.Equal(got, want) {
			t.Errorf("%s: fresh schema pointers give other bytes", class)
		}
	}
}

// TestEmptyObjects: an object closed without records is still a valid file.
func TestEmptyObjects(t *testing.T) {
	first := testRecord(0)
	for _, class := range []string{"avro", "parquet"} {
		var buf bytes.Buffer
		w, err := mustFormat(t, New, class, Options{}).NewWriter(&buf, first)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		switch class {
		case "avro":
			dec, err := ocf.NewDecoder(bytes.NewReader(buf.Bytes()))
			if err != nil || dec.HasNext() {
				t.Errorf("empty avro: %v, has records %v", err, err == nil && dec.HasNext())
			}
		case "parquet":
			pf, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil || pf.NumRows() != 0 {
				t.Errorf("empty parquet: %v", err)
			}
		}
	}
}
