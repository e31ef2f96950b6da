package format

import (
	"bytes"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Debezium-shaped test data: a customers table with int, string, decimal,
// timestamp, date, optional, nested, array and map columns and Debezium
// semantic types, in a Debezium 3.x envelope.
var (
	addressSchema = event.StructOf("dbserver1.inventory.customers.Address",
		event.NewField("city", event.String()),
		event.NewField("zip", event.String().Optional()),
	).Optional()
	rowSchema = event.StructOf("dbserver1.inventory.customers.Value",
		event.NewField("id", event.Int32()),
		event.NewField("name", event.String()),
		event.NewField("price", event.Decimal(2).WithParam("connect.decimal.precision", "10")),
		event.NewField("created", event.Timestamp()),
		event.NewField("birthday", event.Date().Optional()),
		event.NewField("wake", event.Time().Optional()),
		event.NewField("updated_us", event.Int64().WithName("io.debezium.time.MicroTimestamp").WithVersion(1)),
		event.NewField("note", event.String().Optional()),
		event.NewField("small", event.Int16()),
		event.NewField("active", event.Boolean()),
		event.NewField("ratio", event.Float64().Optional()),
		event.NewField("blob", event.Bytes().Optional()),
		event.NewField("address", addressSchema),
		event.NewField("tags", event.Array(event.String()).Optional()),
		event.NewField("attrs", event.Map(event.String(), event.Int64()).Optional()),
	)
	sourceSchema = event.StructOf("io.debezium.connector.postgresql.Source",
		event.NewField("connector", event.String()),
		event.NewField("lsn", event.Int64().Optional()),
	)
	valueSchema = event.EnvelopeSchema("dbserver1.inventory.customers.Envelope", rowSchema, sourceSchema)
	keySchema   = event.StructOf("dbserver1.inventory.customers.Key", event.NewField("id", event.Int32()))
)

// testTime is the rows' base timestamp: 2024-03-05T06:07:08.009Z.
var testTime = time.Date(2024, 3, 5, 6, 7, 8, 9e6, time.UTC)

// testRow builds row i. Odd rows leave the optional columns null.
func testRow(i int) *event.Struct {
	st := event.NewStruct(rowSchema)
	st.Set("id", int32(i))
	st.Set("name", "customer \"ü\" "+string(rune('A'+i%26)))
	st.Set("price", event.DecimalBytes(big.NewInt(int64(1000*i+99-2000)))) // negative for i < 2
	st.Set("created", testTime.Add(time.Duration(i)*time.Hour).UnixMilli())
	st.Set("updated_us", testTime.UnixMicro()+int64(i))
	st.Set("small", int16(-i))
	st.Set("active", i%3 == 0)
	if i%2 == 0 {
		st.Set("birthday", int32(19000+i))
		st.Set("wake", int32(6*3600*1000+i))
		st.Set("note", "line1\nline2\ttab")
		st.Set("ratio", float64(i)/4)
		st.Set("blob", []byte{0, byte(i), 0xff})
		st.Set("address", event.NewStruct(addressSchema, "Zürich", "80"+string(rune('0'+i%10))))
		st.Set("tags", []any{"a", "b" + string(rune('0'+i%10))})
		st.Set("attrs", []event.MapEntry{{Key: "x", Value: int64(i)}, {Key: "y", Value: int64(-1)}})
	}
	return st
}

func testRecord(i int) sink.Record {
	v := event.NewStruct(valueSchema)
	if i%4 == 3 {
		v.Set("before", testRow(i-1))
		v.Set("op", "u")
	} else {
		v.Set("op", "c")
	}
	v.Set("after", testRow(i))
	v.Set("source", event.NewStruct(sourceSchema, "postgresql", int64(1000+i)))
	v.Set("ts_ms", testTime.UnixMilli()+int64(i))
	return sink.Record{
		Topic: "dbserver1.inventory.customers", OriginalTopic: "dbserver1.inventory.customers",
		Partition: 2, Offset: int64(100 + i), Timestamp: testTime,
		KeySchema: keySchema, Key: event.NewStruct(keySchema, int32(i)),
		ValueSchema: valueSchema, Value: v,
		Headers: []sink.Header{
			{Key: "trace", Schema: event.String(), Value: "t-" + string(rune('0'+i%10))},
			{Key: "n", Schema: event.Int64(), Value: int64(i)},
		},
	}
}

func testRecords(n int) []sink.Record {
	recs := make([]sink.Record, n)
	for i := range recs {
		recs[i] = testRecord(i)
	}
	return recs
}

// writeObject writes recs as one object with f.
func writeObject(t testing.TB, f Format, recs []sink.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := f.NewWriter(&buf, recs[0])
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatalf("Write offset %d: %v", r.Offset, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

func mustFormat(t testing.TB, fn func(string, Options) (Format, error), class string, o Options) Format {
	t.Helper()
	f, err := fn(class, o)
	if err != nil {
		t.Fatalf("%s: %v", class, err)
	}
	return f
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		shown := "(binary)"
		if utf8.Valid(got) {
			shown = string(got)
		}
		t.Errorf("%s differs from the golden file (%d bytes, want %d); run with -update and review the diff\ngot:\n%.2000s", name, len(got), len(want), shown)
	}
}
