package mysql

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenTypesDDL is a table of the common MySQL types, as Debezium's type
// mapping table lists them.
const goldenTypesDDL = `CREATE TABLE dbz_types (
	id INT NOT NULL PRIMARY KEY,
	b1 TINYINT(1), ti TINYINT, su SMALLINT UNSIGNED, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
	dec1 DECIMAL(10,3), f FLOAT, d DOUBLE,
	dt DATE, dtm DATETIME, dtm3 DATETIME(3), dtm6 DATETIME(6), ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, tm TIME, tm6 TIME(6), yr YEAR,
	c CHAR(3), v VARCHAR(10), tx TEXT, bl BLOB, bn BINARY(4), vb VARBINARY(4),
	e ENUM('small','medium','large'), st SET('a','b','c'), j JSON,
	bit1 BIT(1), bit12 BIT(12), bit64 BIT(64)
)`

// goldenTypesRows are three rows: ordinary values, nulls, and edge values
// (extremes, a pre-epoch instant, a BINARY value ending in 0x00, zero
// dates in nullable columns).
var goldenTypesRows = []string{
	`(1, 1, -128, 65535, 4294967295, -9223372036854775808, 18446744073709551615,
	-1234567.891, 1.5, -2.25e-3,
	'2024-02-29', '2001-02-03 04:05:06', '2001-02-03 04:05:06.789', '2001-02-03 04:05:06.000007', '2038-01-19 03:14:07', '2001-02-03 04:05:06.120', '12:34:56', '-12:34:56.000001', 2024,
	'abc', 'héllo ☃', 'long text', 0x00ff, 0x01020304, 0xdeadbeef,
	'medium', 'a,c', '{"k": [1, 2.5, "x"], "n": null}',
	b'1', b'101010101010', b'1011011100000111011011011')`,
	`(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
	`(3, 0, 127, 0, 0, 9223372036854775807, 9223372036854775808,
	0.001, -3.4e38, 1.7976931348623157e308,
	'0000-00-00', '0000-00-00 00:00:00', '1969-12-31 23:59:59.999', '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01', '0000-00-00 00:00:00', '838:59:59', '-838:59:59.000000', 1901,
	'', '', '', '', 0x0100, 0x00,
	'small', '', '[]',
	b'0', b'000000000001', b'1111111111111111111111111111111111111111111111111111111111111111')`,
}

var (
	goldenVolatile = regexp.MustCompile(`"(ts_ms|ts_us|ts_ns|server_id|pos|thread)":\d+`)
	goldenFile     = regexp.MustCompile(`"(file|gtid)":"[^"]*"`)
)

// goldenRecord renders an event as the Kafka record Debezium's JsonConverter
// (schemas.enable=true) writes, with the volatile source fields and
// timestamps zeroed and the test database named "inventory": the key and
// value schemas, and the record with the payloads alone.
func goldenRecord(t *testing.T, conv *jsonconv.Converter, e event.Event, db string) (keySchema, valueSchema, rec string) {
	t.Helper()
	r, err := e.Record()
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	var parts [2]struct {
		Schema  json.RawMessage `json:"schema"`
		Payload json.RawMessage `json:"payload"`
	}
	for i, st := range []*event.Struct{r.Key, r.Value} {
		b, err := conv.EncodeStruct(nil, st)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		s := strings.ReplaceAll(string(b), db, "inventory")
		s = goldenVolatile.ReplaceAllString(s, `"$1":0`)
		s = goldenFile.ReplaceAllString(s, `"$1":"X"`)
		if err := json.Unmarshal([]byte(s), &parts[i]); err != nil {
			t.Fatalf("decode %s: %v", s, err)
		}
	}
	return string(parts[0].Schema), string(parts[1].Schema),
		fmt.Sprintf(`{"topic":%q,"key":%s,"value":%s}`, strings.ReplaceAll(r.Topic, db, "inventory"), parts[0].Payload, parts[1].Payload)
}

// indent pretty-prints JSON text.
func indent(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		t.Fatalf("indent: %v\n%s", err, s)
	}
	return b.String()
}

// checkGolden compares got with testdata/golden/name, rewriting it under
// -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
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
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", path, firstDiff(string(got), string(want)))
	}
}

// firstDiff shows the first differing line of two texts.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d:\n got %s\nwant %s", i+1, gl, wl)
		}
	}
	return "(equal lines; lengths differ)"
}

// goldenTypesEvents snapshots the table with goldenTypesRows, then streams
// the same rows inserted again (ids + 10), an update and a delete.
func goldenTypesEvents(t *testing.T) ([]event.Event, string) {
	e := newMyEnv(t, "SET SESSION sql_mode = ''", goldenTypesDDL)
	for _, r := range goldenTypesRows {
		e.exec("INSERT INTO dbz_types VALUES " + r)
	}
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	opts := e.options()
	opts.TopicPrefix = "dbserver1"
	r := startSource(t, cfg, opts)
	r.wait(t, len(goldenTypesRows))
	for i, row := range goldenTypesRows {
		e.exec(fmt.Sprintf("INSERT INTO dbz_types VALUES (%d%s", 11+i, row[2:]))
	}
	e.exec("UPDATE dbz_types SET b1 = 0, dec1 = 0.5, dt = '1970-01-01', e = 'large', st = 'b', bit12 = b'1', bn = 0x61 WHERE id = 11")
	e.exec("DELETE FROM dbz_types WHERE id = 12")
	return r.wait(t, 2*len(goldenTypesRows)+2), e.db
}

// TestGoldenTypes compares every record of the types table, key and value
// with their schemas as the JSON converter writes them, with
// testdata/golden/types.json.
func TestGoldenTypes(t *testing.T) {
	evs, db := goldenTypesEvents(t)
	conv, err := jsonconv.New(jsonconv.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var keySchema, valueSchema string
	var recs []string
	for i, ev := range evs {
		k, v, rec := goldenRecord(t, conv, ev, db)
		if i == 0 {
			keySchema, valueSchema = k, v
		} else if k != keySchema || v != valueSchema {
			t.Errorf("record %d has other schemas than record 0:\n%s\n%s", i, k, v)
		}
		recs = append(recs, rec)
	}
	out := indent(t, fmt.Sprintf(`{"keySchema":%s,"valueSchema":%s,"records":[%s]}`, keySchema, valueSchema, strings.Join(recs, ",")))
	checkGolden(t, "types.json", []byte(out+"\n"))
}
