package transform

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

func TestTimestampConverter(t *testing.T) {
	const ms = int64(1700000000123) // 2023-11-14T22:13:20.123Z
	s := event.StructOf("row",
		event.NewField("ts", event.Timestamp()),
		event.NewField("s", event.String().Optional()),
		event.NewField("u", event.Int64()),
	).WithVersion(2).Optional()
	in := sink.Record{Topic: "t", ValueSchema: s, Value: event.NewStruct(s, ms, "2023-11-15T00:13:20.123+02:00", int64(-1))}
	nullField := sink.Record{Topic: "t", ValueSchema: s, Value: event.NewStruct(s, ms, nil, int64(0))}
	const rest = ",s:string?,u:int64>?v2:"
	cases := []tcase{
		{name: "timestamp to string", in: in, keys: []string{"field", "ts", "target.type", "string", "format", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"},
			want: `topic=t key=-:null value=struct(row)<ts:string` + rest + `{ts="2023-11-14T22:13:20.123Z",s="2023-11-15T00:13:20.123+02:00",u=int64(-1)}`},
		{name: "text fields", in: in, keys: []string{"field", "ts", "target.type", "string", "format", "EEE, d MMM yy hh:mm a z (D) '''Q'''"},
			want: `topic=t key=-:null value=struct(row)<ts:string` + rest + `{ts="Tue, 14 Nov 23 10:13 PM UTC (318) 'Q'",s="2023-11-15T00:13:20.123+02:00",u=int64(-1)}`},
		{name: "string with offset to timestamp", in: in, keys: []string{"field", "s", "target.type", "Timestamp", "format", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"},
			want: `topic=t key=-:null value=struct(row)<ts:int64(org.apache.kafka.connect.data.Timestamp),s:int64(org.apache.kafka.connect.data.Timestamp)?,u:int64>?v2:{ts=int64(1700000000123),s=int64(1700000000123),u=int64(-1)}`},
		{name: "null field stays null", in: nullField, keys: []string{"field", "s", "target.type", "unix", "format", "yyyy"},
			want: `topic=t key=-:null value=struct(row)<ts:int64(org.apache.kafka.connect.data.Timestamp),s:int64?,u:int64>?v2:{ts=int64(1700000000123),s=null,u=int64(0)}`},
		{name: "timestamp to unix micros", in: in, keys: []string{"field", "ts", "target.type", "unix", "unix.precision", "microseconds"},
			want: `topic=t key=-:null value=struct(row)<ts:int64` + rest + `{ts=int64(1700000000123000),s="2023-11-15T00:13:20.123+02:00",u=int64(-1)}`},
		{name: "negative unix to Date", in: in, keys: []string{"field", "u", "target.type", "Date"},
			want: `topic=t key=-:null value=struct(row)<ts:int64(org.apache.kafka.connect.data.Timestamp),s:string?,u:int32(org.apache.kafka.connect.data.Date)>?v2:{ts=int64(1700000000123),s="2023-11-15T00:13:20.123+02:00",u=int32(-1)}`},
		{name: "negative unix to Time", in: in, keys: []string{"field", "u", "target.type", "Time"},
			want: `topic=t key=-:null value=struct(row)<ts:int64(org.apache.kafka.connect.data.Timestamp),s:string?,u:int32(org.apache.kafka.connect.data.Time)>?v2:{ts=int64(1700000000123),s="2023-11-15T00:13:20.123+02:00",u=int32(86399999)}`},
		{name: "whole value unix seconds to Date", in: sink.Record{Topic: "t", ValueSchema: event.Int64(), Value: int64(1700000000)},
			keys: []string{"target.type", "Date", "unix.precision", "seconds"},
			want: `topic=t key=-:null value=int32(org.apache.kafka.connect.data.Date)v1:int32(19675)`},
		{name: "bad string", in: in, keys: []string{"field", "s", "target.type", "unix", "format", "yyyy/MM/dd"},
			error: "could not parse timestamp: value (2023-11-15T00:13:20.123+02:00) does not match pattern (yyyy/MM/dd)"},
		{name: "not a timestamp schema", in: sink.Record{Topic: "t", ValueSchema: event.Int32(), Value: int32(1)}, keys: []string{"target.type", "unix"},
			error: "does not correspond to a known timestamp type format"},
		{name: "schemaless field", in: sink.Record{Topic: "t", Value: entries("when", "2023-11-14 22:13:20", "x", int64(1))},
			keys: []string{"field", "when", "target.type", "unix", "format", "yyyy-MM-dd HH:mm:ss", "unix.precision", "seconds"},
			want: `topic=t key=-:null value=-:map{when=int64(1700000000),x=int64(1)}`},
		{name: "schemaless whole to Timestamp", in: sink.Record{Topic: "t", Value: ms},
			keys: []string{"target.type", "Timestamp"},
			want: `topic=t key=-:null value=-:time.Time(2023-11-14 22:13:20.123 +0000 UTC)`},
		{name: "schemaless unsupported", in: sink.Record{Topic: "t", Value: 1.5}, keys: []string{"target.type", "unix"},
			error: "TimestampConverter does not support java.lang.Double objects as timestamps"},
		{name: "tombstone", in: sink.Record{Topic: "t"}, keys: []string{"target.type", "unix"}, want: "topic=t key=-:null value=-:null"},
	}
	runCases(t, "org.apache.kafka.connect.transforms.TimestampConverter$Value", cases)
}

func TestJavaFormatParse(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	cases := []struct{ pattern, in, want string }{
		{"yyyyMMddHHmmss", "20231114221320", "2023-11-14T22:13:20Z"},
		{"yy-M-d h:m a", "99-1-2 3:4 PM", "1999-01-02T15:04:00Z"},
		{"yy-MM-dd", "45-01-01", "2045-01-01T00:00:00Z"},
		{"dd MMMM yyyy Z", "02 january 2024 -0130", "2024-01-02T01:30:00Z"},
		{"yyyy-MM-dd HH:mm:ss.SSS z", "2024-02-30 10:00:00.5 UTC trailing", "2024-03-01T10:00:00.005Z"},
		{"yyyy-DDD", "2024-060", "2024-02-29T00:00:00Z"},
	}
	for _, tc := range cases {
		f, err := parseJavaFormat(tc.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tc.pattern, err)
		}
		got, err := f.Parse(tc.in, now)
		if err != nil {
			t.Errorf("%s %q: %v", tc.pattern, tc.in, err)
			continue
		}
		if s := got.UTC().Format(time.RFC3339Nano); s != tc.want {
			t.Errorf("%s %q = %s, want %s", tc.pattern, tc.in, s, tc.want)
		}
	}
	for _, p := range []string{"yyyy-MM-dd'T", "yyyy-bb", "ww yyyy"} {
		if _, err := parseJavaFormat(p); err == nil {
			t.Errorf("parseJavaFormat(%q) succeeded", p)
		}
	}
}

func TestCast(t *testing.T) {
	s := event.StructOf("row",
		event.NewField("a", event.Int32()),
		event.NewField("b", event.String()),
		event.NewField("c", event.Float64()),
		event.NewField("d", event.Boolean()),
		event.NewField("e", event.Decimal(2)),
		event.NewField("f", event.Timestamp()),
		event.NewField("g", event.Int64()),
		event.NewField("h", event.Float32().Optional()),
		event.NewField("i", event.Bytes()),
		event.NewField("j", event.Int16().WithDefault(int16(7))),
	)
	in := sink.Record{Topic: "t", ValueSchema: s, Value: event.NewStruct(s,
		int32(5), "12", 1e7, true, event.DecimalBytes(big.NewInt(-12345)), int64(1700000000123), int64(300), nil, []byte("hi"), int16(0))}
	spec := "a:string,b:int8,c:string,d:int32,e:float64,f:string,g:int8,h:string,i:string,j:boolean"
	cases := []tcase{
		{name: "fields", in: in, keys: []string{"spec", spec},
			want: `topic=t key=-:null value=struct(row)<a:string,b:int8,c:string,d:int32,e:float64,f:string,g:int8,h:string?,i:string,j:boolean>:` +
				`{a="5",b=int8(12),c="1.0E7",d=int32(1),e=float64(-123.45),f="2023-11-14T22:13:20.123Z",g=int8(44),h=null,i="aGk=",j=bool(false)}`},
		{name: "decimal to string and int", in: in, keys: []string{"spec", "e:string"},
			want: `topic=t key=-:null value=struct(row)<a:int32,b:string,c:float64,d:boolean,e:string,f:int64(org.apache.kafka.connect.data.Timestamp),g:int64,h:float32?,i:bytes,j:int16>:` +
				`{a=int32(5),b="12",c=float64(1e+07),d=bool(true),e="-123.45",f=int64(1700000000123),g=int64(300),h=null,i=bytes[104 105],j=int16(0)}`},
		{name: "bad number", in: in, keys: []string{"spec", "b:boolean,c:int64,f:int64,a:int8,g:float32"},
			want: `topic=t key=-:null value=struct(row)<a:int8,b:boolean,c:int64,d:boolean,e:bytes(org.apache.kafka.connect.data.Decimal),f:int64,g:float32,h:float32?,i:bytes,j:int16>:` +
				`{a=int8(5),b=bool(false),c=int64(10000000),d=bool(true),e=bytes[207 199],f=int64(1700000000123),g=float32(300),h=null,i=bytes[104 105],j=int16(0)}`},
		{name: "unparsable", in: in, keys: []string{"spec", "b:int8,a:string"}, want: ""},
		{name: "whole value", in: sink.Record{Topic: "t", KeySchema: event.Int64().Optional(), Key: int64(42), Value: "v"}, keys: []string{"spec", "string"},
			want: `topic=t key=int64?:int64(42) value=-:"v"`},
		{name: "schemaless", in: sink.Record{Topic: "t", Value: entries("n", "-3", "f", 0.0001, "x", true)}, keys: []string{"spec", "n:int16,f:string,x:float32"},
			want: `topic=t key=-:null value=-:map{n=int16(-3),f="1.0E-4",x=float32(1)}`},
		{name: "not a number", in: sink.Record{Topic: "t", Value: entries("n", "x")}, keys: []string{"spec", "n:int32"},
			error: `field n: value (x) was out of range for requested data type`},
		{name: "tombstone", in: sink.Record{Topic: "t"}, keys: []string{"spec", "int8"}, want: "topic=t key=-:null value=-:null"},
	}
	// "unparsable" is checked for its b value only: "12" fits int8.
	cases[3].want = `topic=t key=-:null value=struct(row)<a:string,b:int8,c:float64,d:boolean,e:bytes(org.apache.kafka.connect.data.Decimal),f:int64(org.apache.kafka.connect.data.Timestamp),g:int64,h:float32?,i:bytes,j:int16>:` +
		`{a="5",b=int8(12),c=float64(1e+07),d=bool(true),e=bytes[207 199],f=int64(1700000000123),g=int64(300),h=null,i=bytes[104 105],j=int16(0)}`
	runCases(t, "org.apache.kafka.connect.transforms.Cast$Value", cases)
	runCases(t, "org.apache.kafka.connect.transforms.Cast$Key", []tcase{
		{name: "whole key", in: sink.Record{Topic: "t", KeySchema: event.Int64().Optional(), Key: int64(42)}, keys: []string{"spec", "string"},
			want: `topic=t key=string?:"42" value=-:null`},
		{name: "whole struct key", in: in, keys: []string{"spec", "string"}, want: "topic=t key=-:null value=" + schemaStr(s) + ":" + valueStr(in.Value)},
	})

	// Logical dates: numeric casts use the logical integer, string casts
	// Connect's format chosen by the value; an optional struct stays so.
	ds := event.StructOf("d",
		event.NewField("date", event.Date()), event.NewField("date2", event.Date()),
		event.NewField("time", event.Time()), event.NewField("midnight", event.Timestamp()),
	).Optional()
	dates := sink.Record{Topic: "t", ValueSchema: ds, Value: event.NewStruct(ds, int32(19675), int32(19675), int32(80000123), int64(19675*86400000))}
	runCases(t, "org.apache.kafka.connect.transforms.Cast$Value", []tcase{
		{name: "dates", in: dates, keys: []string{"spec", "date:int64,date2:string,time:string,midnight:string"},
			want: `topic=t key=-:null value=struct(d)<date:int64,date2:string,time:string,midnight:string>?:{date=int64(19675),date2="2023-11-14",time="22:13:20.123Z",midnight="2023-11-14"}`},
	})

	// A cast field's default is cast too.
	c := one(t, "org.apache.kafka.connect.transforms.Cast$Value", "spec", "j:string")
	out, _, err := c.Apply(in)
	if err != nil {
		t.Fatal(err)
	}
	if d := out.ValueSchema.FieldByName("j").Default(); d != "7" {
		t.Errorf("default = %#v, want \"7\"", d)
	}
	for _, kv := range [][2]string{{"", "spec: must specify at least one field"}, {"a:int9", "invalid type found in casting spec: int9"}, {"int8,a:string", "may only specify a single cast"}} {
		_, err := Parse(map[string]string{"transforms": "c", "transforms.c.type": "org.apache.kafka.connect.transforms.Cast$Value", "transforms.c.spec": kv[0]})
		if err == nil || !strings.Contains(err.Error(), kv[1]) || !strings.HasPrefix(err.Error(), "transforms.c.spec: ") {
			t.Errorf("spec %q: %v, want %q", kv[0], err, kv[1])
		}
	}
}

func TestJavaNumbers(t *testing.T) {
	doubles := []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {123.456, 64, "123.456"}, {1e7, 64, "1.0E7"}, {9999999, 64, "9999999.0"},
		{0.001, 64, "0.001"}, {0.0001, 64, "1.0E-4"}, {-1.5e-10, 64, "-1.5E-10"}, {1.2345e21, 64, "1.2345E21"},
		{float64(float32(1.1)), 32, "1.1"}, {math.Inf(-1), 64, "-Infinity"}, {math.Copysign(0, -1), 64, "-0.0"},
	}
	for _, d := range doubles {
		if got := javaDouble(d.f, d.bits); got != d.want {
			t.Errorf("javaDouble(%v, %d) = %s, want %s", d.f, d.bits, got, d.want)
		}
	}
	decimals := []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{12345, 2, "123.45"}, {-5, 3, "-0.005"}, {1, 6, "0.000001"}, {1, 7, "1E-7"}, {12, -3, "1.2E+4"}, {7, 0, "7"}, {123, 9, "1.23E-7"},
	}
	for _, d := range decimals {
		if got := javaBigDecimal(big.NewInt(d.unscaled), d.scale); got != d.want {
			t.Errorf("javaBigDecimal(%d, %d) = %s, want %s", d.unscaled, d.scale, got, d.want)
		}
	}
}

func FuzzJavaFormat(f *testing.F) {
	f.Add("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2023-11-14T22:13:20.123Z", int64(1700000000123))
	f.Add("EEE, d MMM yy hh:mm a z", "Tue, 14 Nov 23 10:13 PM UTC", int64(-1))
	f.Add("yyyyMMddHHmmssSSS Z", "20231114221320123 +0130", int64(0))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, pattern, in string, ms int64) {
		jf, err := parseJavaFormat(pattern)
		if err != nil {
			return
		}
		_, _ = jf.Parse(in, now)
		s := jf.Format(time.UnixMilli(ms % (1 << 40)))
		_, _ = jf.Parse(s, now)
	})
}
