package mysql

import (
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

func TestEnumValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"enum('a','b')", []string{"a", "b"}},
		{"set('x','it''s','')", []string{"x", "it's", ""}},
		{"enum('a,b','c')", []string{"a,b", "c"}},
	} {
		got := enumValues(tc.in)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %q, want %q", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: got %q, want %q", tc.in, got, tc.want)
			}
		}
	}
}

// TestConvert checks each mapping on the value forms go-mysql's binlog
// decoder and the text protocol give.
func TestConvert(t *testing.T) {
	def := DefaultConfig()
	o, _ := def.TypeOptions()
	precise := o
	precise.BigintPrecise = true
	connect := o
	connect.Time = TimeConnect
	base64Opts := o
	base64Opts.Binary = BinaryBase64
	for _, tc := range []struct {
		col  Column
		opts TypeOptions
		in   any
		want any
	}{
		{Column{DataType: "tinyint", ColumnType: "tinyint(4)"}, o, int8(-5), int16(-5)},
		{Column{DataType: "tinyint", ColumnType: "tinyint(3) unsigned"}, o, int8(-1), int16(255)},
		{Column{DataType: "smallint", ColumnType: "smallint(5) unsigned"}, o, int16(-1), int32(65535)},
		{Column{DataType: "mediumint", ColumnType: "mediumint(8) unsigned"}, o, int32(-1), int32(16777215)},
		{Column{DataType: "int", ColumnType: "int(10) unsigned"}, o, int32(-1), int64(4294967295)},
		{Column{DataType: "int", ColumnType: "int(11)"}, o, int64(-7), int32(-7)},
		{Column{DataType: "bigint", ColumnType: "bigint(20) unsigned"}, o, uint64(18446744073709551615), int64(-1)},
		{Column{DataType: "bigint", ColumnType: "bigint(20) unsigned"}, precise, int64(-1), []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{Column{DataType: "decimal", Precision: 10, Scale: 2}, o, "-12.5", []byte{0xfb, 0x1e}},
		{Column{DataType: "decimal", Precision: 10, Scale: 2}, o, []byte("0.01"), []byte{0x01}},
		{Column{DataType: "float"}, o, float64(1.5), float32(1.5)},
		{Column{DataType: "bit", Precision: 1}, o, int64(1), true},
		{Column{DataType: "bit", Precision: 12}, o, []byte{0x0a, 0xbc}, []byte{0xbc, 0x0a}},
		{Column{DataType: "bit", Precision: 12}, o, int64(0xabc), []byte{0xbc, 0x0a}},
		{Column{DataType: "enum", ColumnType: "enum('s','m','l')"}, o, int64(2), "m"},
		{Column{DataType: "enum", ColumnType: "enum('s','m','l')"}, o, []byte("l"), "l"},
		{Column{DataType: "set", ColumnType: "set('a','b','c')"}, o, int64(5), "a,c"},
		{Column{DataType: "year"}, o, 2024, int32(2024)},
		{Column{DataType: "date"}, o, "1970-01-02", int32(1)},
		{Column{DataType: "date", Nullable: true}, o, "0000-00-00", nil},
		{Column{DataType: "date"}, o, "0000-00-00", int32(0)},
		{Column{DataType: "timestamp"}, o, "0000-00-00 00:00:00", "1970-01-01T00:00:00Z"},
		{Column{DataType: "time", FSP: 3}, o, "-838:59:59.000", int64(-3020399000000)},
		{Column{DataType: "time"}, connect, "01:00:00", int32(3600000)},
		{Column{DataType: "datetime", FSP: 0}, o, "2001-02-03 04:05:06", int64(981173106000)},
		{Column{DataType: "datetime", FSP: 6}, o, "2001-02-03 04:05:06.123456", int64(981173106123456)},
		{Column{DataType: "datetime", FSP: 6}, o, "1969-12-31 23:59:59.999999", int64(-1)},
		{Column{DataType: "datetime", FSP: 6}, connect, "1969-12-31 23:59:59.999999", int64(-1)},
		{Column{DataType: "timestamp", FSP: 3}, o, "2001-02-03 04:05:06.120", "2001-02-03T04:05:06.120Z"},
		{Column{DataType: "timestamp"}, o, "2001-02-03 04:05:06", "2001-02-03T04:05:06Z"},
		{Column{DataType: "varchar"}, o, []byte("héllo"), "héllo"},
		{Column{DataType: "varbinary"}, o, "\x00\x01", []byte{0, 1}},
		{Column{DataType: "varbinary", ColumnType: "varbinary(4)"}, o, []byte{1}, []byte{1}},
		{Column{DataType: "binary", ColumnType: "binary(4)"}, o, []byte{1}, []byte{1, 0, 0, 0}},
		{Column{DataType: "binary", ColumnType: "binary(2)"}, o, "\x01\x00", []byte{1, 0}},
		{Column{DataType: "binary", ColumnType: "binary(3)"}, base64Opts, []byte{0xff}, "/wAA"},
	} {
		m, err := MapColumn(tc.col, tc.opts)
		if err != nil {
			t.Errorf("%+v: %v", tc.col, err)
			continue
		}
		got, err := m.Convert(tc.in)
		if err != nil {
			t.Errorf("%+v %v: %v", tc.col, tc.in, err)
			continue
		}
		if !event.ValueEqual(got, tc.want) {
			t.Errorf("%s %q %v: got %#v, want %#v", tc.col.DataType, tc.col.ColumnType, tc.in, got, tc.want)
		}
		if err := event.ValidateValue(m.Schema, got); err != nil {
			t.Errorf("%s: value does not fit its schema: %v", tc.col.DataType, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config (all defaults): %v", err)
	}
	c := DefaultConfig()
	c.SnapshotMode = "never"
	c.DecimalHandlingMode = "exact"
	c.TableIncludeList = List{"("}
	c.MaxBatchSize = -1
	c.HeartbeatIntervalMs = -1
	err := c.Validate()
	for _, want := range []string{"snapshot.mode", "decimal.handling.mode", "table.include.list[0]", "max.batch.size", "heartbeat.interval.ms"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a problem with %s", err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
