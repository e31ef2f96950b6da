package s3

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

func baseKeys(kv ...string) map[string]string {
	m := map[string]string{"s3.bucket.name": "b", "flush.size": "10", "format.class": "json"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<del>" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig(baseKeys())
	if err != nil {
		t.Fatal(err)
	}
	if c.Region != DefaultRegion || c.PartSize != DefaultPartSize || c.TopicsDir != "topics" || c.DirDelim != "/" ||
		c.FileDelim != "+" || c.PadWidth != 10 || !c.PathStyle || c.NullValues != NullFail ||
		c.PartitionerClass != DefaultPartitionerClass || c.RotateInterval != 0 || c.Extractor != ExtractWallclock {
		t.Errorf("defaults: %+v", c)
	}
	c, err = ParseConfig(baseKeys("partitioner.class", "HourlyPartitioner", "locale", "en_US", "timezone", "Europe/Berlin",
		"timestamp.extractor", "Record", "rotate.interval.ms", "600000", "s3.ssea.name", "AES256"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PartitionerClass != HourlyPartitionerClass || c.Timezone.String() != "Europe/Berlin" || c.RotateInterval != 10*time.Minute {
		t.Errorf("hourly: %+v", c)
	}
	tests := []struct {
		kv  []string
		err string
	}{
		{[]string{"s3.bucket.name", "<del>"}, "s3.bucket.name: is required"},
		{[]string{"flush.size", "<del>"}, "flush.size: is required"},
		{[]string{"flush.size", "0"}, `flush.size: "0" is not a positive number`},
		{[]string{"flush.size", "ten"}, `flush.size: "ten" is not a number`},
		{[]string{"s3.part.size", "1024"}, `s3.part.size: "1024" is not between`},
		{[]string{"s3.ssea.name", "rot13"}, `s3.ssea.name: "rot13"`},
		{[]string{"s3.sse.customer.key", "short"}, "s3.sse.customer.key: is not a base64 256-bit key"},
		{[]string{"aws.access.key.id", "AK"}, "aws.access.key.id: aws.access.key.id and aws.secret.access.key go together"},
		{[]string{"behavior.on.null.values", "drop"}, `behavior.on.null.values: "drop"`},
		{[]string{"timestamp.extractor", "Kafka"}, `timestamp.extractor: "Kafka"`},
		{[]string{"partitioner.class", "x.Y"}, `partitioner.class: "x.Y" is not a known partitioner`},
		{[]string{"partitioner.class", "FieldPartitioner"}, "partition.field.name: is required"},
		{[]string{"partitioner.class", "TimeBasedPartitioner", "locale", "en", "timezone", "UTC", "partition.duration.ms", "3600000"}, "path.format: is required"},
		{[]string{"partitioner.class", "DailyPartitioner", "timezone", "UTC"}, "locale: is required"},
		{[]string{"partitioner.class", "DailyPartitioner", "locale", "en", "timezone", "Mars/Olympus"}, `timezone: "Mars/Olympus"`},
		{[]string{"partitioner.class", "TimeBasedPartitioner", "locale", "en", "timezone", "UTC", "partition.duration.ms", "1000", "path.format", "'unterminated"}, "path.format: unterminated quote"},
		{[]string{"partitioner.class", "TimeBasedPartitioner", "locale", "de_DE", "timezone", "UTC", "partition.duration.ms", "1000", "path.format", "MMMM"}, `locale: "de_DE"`},
		{[]string{"format.class", "csv"}, `format.class: "csv"`},
		{[]string{"store.kafka.keys", "true", "keys.format.class", "xml"}, `keys.format.class: "xml"`},
		{[]string{"store.kafka.keys", "yes please"}, `store.kafka.keys: "yes please" is not true or false`},
		{[]string{"s3.compression.type", "lz4"}, "s3.compression.type"},
		{[]string{"filename.offset.zero.pad.width", "-1"}, "filename.offset.zero.pad.width"},
	}
	for _, tt := range tests {
		_, err := ParseConfig(baseKeys(tt.kv...))
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%v: err = %v, want %q", tt.kv, err, tt.err)
		}
	}
}

func TestJoda(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 4, 7, 5, 9, 123456789, time.UTC) // a Sunday
	tests := []struct {
		pattern string
		loc     *time.Location
		want    string
	}{
		{"'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", time.UTC, "year=2026/month=01/day=04/hour=07"},
		{"'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", la, "year=2026/month=01/day=03/hour=23"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSS", time.UTC, "2026-01-04T07:05:09.123"},
		{"yy/M/d/H/m/s/S", time.UTC, "26/1/4/7/5/9/1"},
		{"MMM MMMM EEE EEEE a hh KK kk", time.UTC, "Jan January Sun Sunday AM 07 07 07"},
		{"D w xxxx e", time.UTC, "4 1 2026 7"},
		{"'it''s' ''", time.UTC, "it's '"},
		{"Z ZZ", la, "-0800 -08:00"},
		{"'dt='yyyyMMdd", time.UTC, "dt=20260104"},
	}
	for _, tt := range tests {
		f, err := compileJoda(tt.pattern, "en")
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if got := f.format(at.In(tt.loc)); got != tt.want {
			t.Errorf("%s in %s = %q, want %q", tt.pattern, tt.loc, got, tt.want)
		}
	}
	if _, err := compileJoda("yyyy/q", "en"); err == nil {
		t.Error("an unknown letter compiled")
	}
	if f, err := compileJoda("yyyy/MM", "fr_FR"); err != nil || f.format(at) != "2026/01" {
		t.Errorf("numeric pattern in another locale: %v", err)
	}
}

func TestPartitioners(t *testing.T) {
	la, _ := time.LoadLocation("America/Los_Angeles")
	st := event.NewStruct(rowSchema, int64(7), "eu", time.Date(2026, 3, 8, 10, 30, 0, 0, time.UTC).UnixMilli())
	rec := sink.Record{Topic: "t", Partition: 3, Offset: 1, Timestamp: time.Date(2026, 3, 8, 9, 59, 59, 0, time.UTC),
		ValueSchema: rowSchema, Value: st}
	schemaless := rec
	schemaless.ValueSchema, schemaless.Value = nil, []event.MapEntry{{Key: "region", Value: "us"}, {Key: "n", Value: int64(5)}}
	mk := func(kv ...string) partitioner {
		t.Helper()
		c, err := ParseConfig(baseKeys(kv...))
		if err != nil {
			t.Fatal(err)
		}
		p, err := newPartitioner(c)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		p    partitioner
		rec  sink.Record
		want string
	}{
		{"default", mk(), rec, "partition=3"},
		{"field", mk("partitioner.class", "FieldPartitioner", "partition.field.name", "region,id"), rec, "region=eu/id=7"},
		{"field schemaless", mk("partitioner.class", "FieldPartitioner", "partition.field.name", "region, n", "directory.delim", "#"), schemaless, "region=us#n=5"},
		{"hourly record time", mk("partitioner.class", "HourlyPartitioner", "locale", "en", "timezone", "UTC", "timestamp.extractor", "Record"), rec,
			"year=2026/month=03/day=08/hour=09"},
		{"daily field time LA", mk("partitioner.class", "DailyPartitioner", "locale", "en", "timezone", "America/Los_Angeles",
			"timestamp.extractor", "RecordField", "timestamp.field", "ts"), rec, "year=2026/month=03/day=08"},
		{"15 min buckets", mk("partitioner.class", "TimeBasedPartitioner", "locale", "en", "timezone", "UTC",
			"partition.duration.ms", "900000", "path.format", "'dt'=yyyy-MM-dd/'t'=HHmm", "timestamp.extractor", "RecordField", "timestamp.field", "ts"),
			rec, "dt=2026-03-08/t=1030"},
	}
	for _, tt := range tests {
		got, err := tt.p.encode(tt.rec)
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if _, err := mk("partitioner.class", "FieldPartitioner", "partition.field.name", "nope").encode(rec); err == nil {
		t.Error("a missing field encoded")
	}
	// 6-hour buckets in Los Angeles across the DST change of 2026-03-08
	// (02:00 PST → 03:00 PDT): floors are local midnight and 06:00.
	for _, tt := range []struct {
		utc  time.Time
		want string
	}{
		{time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC), "2026-03-08T00:00-0800"},  // 01:00 PST
		{time.Date(2026, 3, 8, 14, 0, 0, 0, time.UTC), "2026-03-08T06:00-0700"}, // 07:00 PDT
	} {
		f, _ := compileJoda("yyyy-MM-dd'T'HH:mmZ", "en")
		if got := f.format(floorIn(tt.utc, 6*time.Hour, la)); got != tt.want {
			t.Errorf("floor %v = %s, want %s", tt.utc, got, tt.want)
		}
	}
}

// FuzzJoda: any path.format compiles or fails, and formatting never panics.
func FuzzJoda(f *testing.F) {
	for _, p := range []string{"'year'=YYYY/'month'=MM", "yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "''''", "'", "EEEE MMMM a"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		jf, err := compileJoda(pattern, "en")
		if err != nil {
			return
		}
		_ = jf.format(time.Date(-44, 3, 15, 12, 0, 0, 0, time.UTC))
		_ = jf.format(time.Now())
	})
}
