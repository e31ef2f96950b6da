package jdbc

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

func TestParseConfig(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{"connection.url": "jdbc:sqlite:/tmp/x.db"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	c, err := ParseConfig(base())
	if err != nil {
		t.Fatal(err)
	}
	if c.InsertMode != "insert" || c.PKMode != "none" || c.BatchSize != 3000 || c.TableNameFormat != "${topic}" ||
		!c.QuoteIdentifiers || c.DBTimezone.String() != "UTC" || c.DeleteEnabled || c.AutoCreate || c.AutoEvolve {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = ParseConfig(base("insert.mode", "UPSERT", "pk.mode", "record_key", "pk.fields", " a, b ,",
		"delete.enabled", "true", "fields.whitelist", "x", "fields.include", "y", "batch.size", "10",
		"db.timezone", "Europe/Paris", "quote.sql.identifiers", "never", "connection.user", "u", "connection.password", "p"))
	if err != nil {
		t.Fatal(err)
	}
	if c.InsertMode != "upsert" || strings.Join(c.PKFields, "|") != "a|b" || strings.Join(c.FieldsWhitelist, "|") != "x|y" ||
		c.BatchSize != 10 || c.DBTimezone.String() != "Europe/Paris" || c.QuoteIdentifiers || c.User != "u" || c.Password != "p" {
		t.Fatalf("parsed: %+v", c)
	}

	bad := []struct {
		cfg  map[string]string
		want string
	}{
		{map[string]string{}, "connection.url is required"},
		{base("insert.mode", "merge"), "insert.mode"},
		{base("insert.mode", "upsert"), "needs a primary key"},
		{base("pk.mode", "key"), "pk.mode"},
		{base("delete.enabled", "true", "pk.mode", "record_value"), "delete.enabled needs pk.mode record_key"},
		{base("delete.enabled", "yes please"), "delete.enabled"},
		{base("batch.size", "0"), "batch.size"},
		{base("db.timezone", "Mars/Olympus"), "db.timezone"},
		{base("quote.sql.identifiers", "sometimes"), "quote.sql.identifiers"},
		{base("pk.mode", "kafka", "pk.fields", "a,b"), "three names"},
		{base("pk.fields", "a"), "pk.mode is none"},
		{base("table.name.format", "a.b.${topic}"), "table.name.format"},
	}
	for _, b := range bad {
		_, err := ParseConfig(b.cfg)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseConfig(%v) error = %v, want it to mention %q", b.cfg, err, b.want)
		}
	}
}

func TestConfigKeys(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range ConfigKeys() {
		if k.Name == "" || k.Type == "" || k.Doc == "" || seen[k.Name] {
			t.Errorf("bad or duplicate key %+v", k)
		}
		seen[k.Name] = true
	}
	for _, want := range []string{"connection.url", "insert.mode", "pk.mode", "pk.fields", "delete.enabled", "auto.create",
		"auto.evolve", "table.name.format", "fields.whitelist", "batch.size", "db.timezone", "quote.sql.identifiers"} {
		if !seen[want] {
			t.Errorf("ConfigKeys lacks %s", want)
		}
	}
}

func TestTableFor(t *testing.T) {
	cases := []struct{ format, topic, schema, name string }{
		{"${topic}", "srv.public.items", "", "srv.public.items"},
		{"sink.${topic}", "srv.public.items", "sink", "srv.public.items"},
		{"t_${topic}_v1", "orders", "", "t_orders_v1"},
		{"${topic}.x", "a.b", "a.b", "x"},
	}
	for _, c := range cases {
		s := &Sink{cfg: Config{TableNameFormat: c.format}}
		got := s.tableFor(c.topic)
		if got.Schema != c.schema || got.Name != c.name {
			t.Errorf("tableFor(%q, %q) = %+v, want %q.%q", c.format, c.topic, got, c.schema, c.name)
		}
	}
}

func TestFormatDecimal(t *testing.T) {
	cases := []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{0, 2, "0.00"}, {5, 2, "0.05"}, {-5, 2, "-0.05"}, {123456, 3, "123.456"}, {-123450, 2, "-1234.50"},
		{42, 0, "42"}, {42, -2, "4200"},
	}
	for _, c := range cases {
		if got := formatDecimal(bigInt(c.unscaled), c.scale); got != c.want {
			t.Errorf("formatDecimal(%d, %d) = %q, want %q", c.unscaled, c.scale, got, c.want)
		}
	}
}

func TestOpenURLs(t *testing.T) {
	for _, u := range []string{"oracle:thin:@x", "jdbc:sqlserver://h"} {
		if _, _, err := open(u, "", ""); err == nil || !strings.Contains(err.Error(), "unsupported url") {
			t.Errorf("open(%q) error = %v", u, err)
		}
	}
	for u, want := range map[string]dialectKind{
		"jdbc:postgresql://h:5432/db?user=a&password=b": postgres,
		"postgres://a:b@h/db":                           postgres,
		"host=h dbname=db":                              postgres,
		"jdbc:mysql://h:3306/db?user=a&password=b":      mariadb,
		"jdbc:mariadb://h/db":                           mariadb,
		"mysql://a:b@h:1/db":                            mariadb,
		"a:b@tcp(h:3306)/db":                            mariadb,
		"jdbc:sqlite:" + t.TempDir() + "/x.db":          sqliteDB,
		"file:" + t.TempDir() + "/y.db":                 sqliteDB,
	} {
		db, d, err := open(u, "", "")
		if err != nil || d != want {
			t.Errorf("open(%q) = %v, %v; want %v", u, d, err, want)
			continue
		}
		db.Close()
	}
}

func bigInt(v int64) *big.Int { return big.NewInt(v) }

func TestTimestampConversion(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 7, 1, 10, 0, 0, 123_000_000, time.UTC)
	cases := []struct {
		d    dialectKind
		tz   *time.Location
		typ  colType
		in   any
		want string
	}{
		// Connect Timestamp is an instant: shown in db.timezone where the
		// column has no time zone.
		{mariadb, paris, colType{kind: kTimestamp, unit: time.Millisecond}, at.UnixMilli(), "2024-07-01 12:00:00.123"},
		{mariadb, time.UTC, colType{kind: kTimestamp, unit: time.Millisecond}, at.UnixMilli(), "2024-07-01 10:00:00.123"},
		{sqliteDB, paris, colType{kind: kTimestamp, unit: time.Millisecond}, at.UnixMilli(), "2024-07-01 12:00:00.123+02:00"},
		// Debezium's local timestamps are wall clocks: never shifted.
		{mariadb, paris, colType{kind: kLocalTS, unit: time.Microsecond}, at.UnixMicro(), "2024-07-01 10:00:00.123"},
		{mariadb, paris, colType{kind: kZonedTS}, "2024-07-01T10:00:00Z", "2024-07-01 12:00:00"},
		{mariadb, paris, colType{kind: kDate}, int32(19905), "2024-07-01"},
		{mariadb, paris, colType{kind: kTime, unit: time.Millisecond}, int32(3_723_004), "01:02:03.004000"},
		{mariadb, paris, colType{kind: kLocalTS, unit: time.Microsecond}, int64(-1), "1969-12-31 23:59:59.999999"},
	}
	for _, c := range cases {
		got, err := converter{d: c.d, tz: c.tz}.value(c.typ, nil, c.in)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("%v %v %v: got %v, %v; want %s", c.d, c.tz, c.in, got, err, c.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("upsert", "record_key", "a,b", "true", "${topic}", "100", "UTC", "always")
	f.Add("insert", "kafka", "", "false", "x.${topic}", "1", "Europe/Paris", "never")
	f.Fuzz(func(t *testing.T, mode, pk, fields, del, format, batch, tz, quote string) {
		c, err := ParseConfig(map[string]string{"connection.url": "jdbc:sqlite:/tmp/f.db", "insert.mode": mode, "pk.mode": pk,
			"pk.fields": fields, "delete.enabled": del, "table.name.format": format, "batch.size": batch, "db.timezone": tz,
			"quote.sql.identifiers": quote})
		if err != nil {
			return
		}
		if c.Validate() != nil || c.BatchSize < 1 || c.DBTimezone == nil {
			t.Fatalf("accepted config does not validate: %+v", c)
		}
		(&Sink{cfg: c}).tableFor("topic.with.dots")
	})
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"jdbc:postgresql://h:5432/db?user=a&password=secret": "jdbc:postgresql://h:5432/db?password=xxxxx&user=a",
		"postgres://a:secret@h/db":                           "postgres://a:xxxxx@h/db",
		"mysql://a:secret@h:1/db":                            "mysql://a:xxxxx@h:1/db",
		"a:secret@tcp(h:3306)/db":                            "…@tcp(h:3306)/db",
		"jdbc:sqlite:/tmp/x.db":                              "jdbc:sqlite:/tmp/x.db",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFitBytes(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	ops := make([]op, 10)
	for i := range ops {
		ops[i].vals = []any{int64(i), big}
	}
	if got := fitBytes(ops); got != 3 {
		t.Errorf("fitBytes(10 rows of 1 MiB) = %d, want 3", got)
	}
	ops[0].vals = []any{strings.Repeat("y", 8<<20)}
	if got := fitBytes(ops[:1]); got != 1 {
		t.Errorf("fitBytes(one 8 MiB row) = %d, want 1", got)
	}
}

func TestConvertStructured(t *testing.T) {
	vsd := event.StructOf(nameVariableScaleDecimal, event.NewField("scale", event.Int32()), event.NewField("value", event.Bytes()))
	addr := event.StructOf("addr", event.NewField("city", event.String()), event.NewField("zip", event.Bytes().Optional()))
	arr := event.Array(event.Int32())
	cases := []struct {
		s    *event.Schema
		v    any
		want string
	}{
		{vsd, event.NewStruct(vsd, int32(3), event.DecimalBytes(big.NewInt(-1500))), "-1.500"},
		{addr, event.NewStruct(addr, "Paris", []byte("75")), `{"city":"Paris","zip":"NzU="}`},
		{arr, []any{int32(1), int32(2)}, "[1,2]"},
		{event.Map(event.String(), event.Int64()), []event.MapEntry{{Key: "b", Value: int64(2)}, {Key: "a", Value: int64(1)}}, `{"b":2,"a":1}`},
	}
	for _, c := range cases {
		typ, err := typeOf(c.s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := converter{d: postgres, tz: time.UTC}.value(typ, c.s, c.v)
		if err != nil || got != c.want {
			t.Errorf("%v: got %v, %v; want %s", c.s, got, err, c.want)
		}
	}
}
