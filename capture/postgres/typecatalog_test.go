package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

func connect(t *testing.T) *pgx.Conn {
	t.Helper()
	url := testenv.Require(t, "SLUICE_PG_URL")
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	// Text results, as pgoutput sends them; a non-UTC zone proves offsets
	// are normalised.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.RuntimeParams["timezone"] = "America/New_York"
	cfg.RuntimeParams["datestyle"] = "ISO, MDY"
	cfg.RuntimeParams["intervalstyle"] = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// typeColumns is one column per mapped type: DDL type, inserted literal and
// the Connect value Debezium emits for it (default options).
var typeColumns = []struct {
	name, ddl, literal string
	want               any
}{
	{"c_bool", "boolean", "true", true},
	{"c_int2", "smallint", "-32768", int16(-32768)},
	{"c_int4", "integer", "2147483647", int32(2147483647)},
	{"c_int8", "bigint", "-9223372036854775808", int64(-9223372036854775808)},
	{"c_float4", "real", "'NaN'", nil}, // checked separately (NaN != NaN)
	{"c_float8", "double precision", "4.44", 4.44},
	{"c_numeric", "numeric(10,3)", "-1234567.125", dec("-1234567125")},
	{"c_varnum", "numeric", "10.1100", vsd(2, "1011")},
	{"c_money", "money", "-1234.11", dec("-123411")},
	{"c_text", "text", "E'tab\\there ''q'' \"dq\" \\\\'", "tab\there 'q' \"dq\" \\"},
	{"c_bpchar", "char(5)", "'ab'", "ab   "},
	{"c_varchar", "varchar(20)", "'žš'", "žš"},
	{"c_name", "name", "'nm'", "nm"},
	{"c_bytea", "bytea", "'\\x00ff10'", []byte{0, 0xff, 0x10}},
	{"c_json", "json", `'{"a": [1, 2]}'`, `{"a": [1, 2]}`},
	{"c_jsonb", "jsonb", `'{"b": 1, "a": "x"}'`, `{"a": "x", "b": 1}`},
	{"c_xml", "xml", "'<foo>bar</foo>'", "<foo>bar</foo>"},
	{"c_uuid", "uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{"c_date", "date", "'2016-11-04'", int32(17109)},
	{"c_date_inf", "date", "'infinity'", InfinityDays},
	{"c_date_bc", "date", "'0044-03-15 BC'", int32(daysFromCivil(-43, 3, 15))},
	{"c_time", "time", "'13:51:30.123456'", int64(49890123456)},
	{"c_time3", "time(3)", "'13:51:30.123'", int32(49890123)},
	{"c_time24", "time", "'24:00:00'", int64(86400000000)},
	{"c_timetz", "timetz", "'13:51:30.1+02'", "11:51:30.1Z"},
	{"c_ts", "timestamp", "'2016-11-04 13:51:30.123456'", utcMicros(2016, 11, 4, 13, 51, 30, 123456000)},
	{"c_ts3", "timestamp(3)", "'2016-11-04 13:51:30.123'", utcMicros(2016, 11, 4, 13, 51, 30, 123000000) / 1000},
	{"c_ts_max", "timestamp", "'294247-01-01 23:59:59.999999'", int64(9223371331200000000 - 1)},
	{"c_ts_min", "timestamp", "'4713-12-31 23:59:59.999999 BC'", int64(-210831897600000001)},
	{"c_ts_ninf", "timestamp", "'-infinity'", NegInfinityMicros},
	{"c_tstz", "timestamptz", "'2016-11-04 13:51:30.123456+02'", "2016-11-04T11:51:30.123456Z"},
	{"c_tstz0", "timestamptz(0)", "'2016-11-04 13:51:30+02'", "2016-11-04T11:51:30Z"},
	{"c_tstz_bc", "timestamptz", "'4714-12-31 23:59:59.999999+00 BC'", "-4713-12-31T23:59:59.999999Z"},
	{"c_tstz_inf", "timestamptz", "'infinity'", "infinity"},
	{"c_interval", "interval", "'P1Y2M3DT4H5M6.78S'", int64(37091106780000)},
	{"c_interval_neg", "interval", "'-1 day -00:00:01.5'", int64(-86401500000)},
	{"c_inet", "inet", "'192.168.2.0/12'", "192.168.2.0/12"},
	{"c_cidr", "cidr", "'192.168.100.128/25'", "192.168.100.128/25"},
	{"c_macaddr", "macaddr", "'08-00-2b-01-02-03'", "08:00:2b:01:02:03"},
	{"c_macaddr8", "macaddr8", "'08:00:2b:01:02:03:04:05'", "08:00:2b:01:02:03:04:05"},
	{"c_bit1", "bit(1)", "B'1'", true},
	{"c_bit", "bit(24)", "B'000000110000001000000001'", []byte{1, 2, 3}},
	{"c_varbit", "varbit", "B'101'", []byte{5}},
	{"c_tsvector", "tsvector", "'fat cat'", "'cat' 'fat'"},
	{"c_int4range", "int4range", "'[1000,6000)'", "[1000,6000)"},
	{"c_tstzrange", "tstzrange", "'[2017-06-05 11:29:12.549426+00,)'", `["2017-06-05 07:29:12.549426-04",)`},
	{"c_oid", "oid", "4000000000", int64(4000000000)},
	{"c_mood", "sluice_types_test.mood", "'happy'", "happy"},
	{"c_mood_arr", "sluice_types_test.mood[]", "'{sad,happy}'", []any{"sad", "happy"}},
	{"c_posint", "sluice_types_test.posint", "42", int32(42)},
	{"c_price", "sluice_types_test.price", "12.5", dec("1250")},
	{"c_int_arr", "integer[]", "'{1,NULL,3}'", []any{int32(1), nil, int32(3)}},
	{"c_text_arr", "text[]", `'{"a b","",NULL,"q\"x",NULL}'`, []any{"a b", "", nil, `q"x`, nil}},
	{"c_num_arr", "numeric(10,2)[]", "'{1.2,3.4}'", []any{dec("120"), dec("340")}},
	{"c_tstz_arr", "timestamptz[]", `'{"2020-04-01 13:51:02+02"}'`, []any{"2020-04-01T11:51:02.000000Z"}},
	{"c_date_arr", "date[]", "'{2016-11-04,infinity}'", []any{int32(17109), InfinityDays}},
	{"c_posint_arr", "sluice_types_test.posint[]", "'{7}'", []any{int32(7)}},
	{"c_uuid_arr", "uuid[]", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", []any{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
	{"c_bytea_arr", "bytea[]", `ARRAY['\x0001'::bytea]`, []any{[]byte{0, 1}}},
	{"c_tsquery", "tsquery", "'fat & cat'", "'fat' & 'cat'"}, // unknown: text passthrough
}

func TestTypesAgainstPostgres(t *testing.T) {
	conn := connect(t)
	ctx := context.Background()
	exec(t, conn, "DROP SCHEMA IF EXISTS sluice_types_test CASCADE")
	exec(t, conn, "CREATE SCHEMA sluice_types_test")
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS sluice_types_test CASCADE") })
	exec(t, conn, "CREATE TYPE sluice_types_test.mood AS ENUM ('sad', 'ok', 'happy')")
	exec(t, conn, "CREATE DOMAIN sluice_types_test.posint AS integer CHECK (VALUE > 0)")
	exec(t, conn, "CREATE DOMAIN sluice_types_test.price AS numeric(8,2)")

	var ddl, cols, vals []string
	for _, c := range typeColumns {
		ddl = append(ddl, c.name+" "+c.ddl)
		cols = append(cols, c.name)
		vals = append(vals, c.literal)
	}
	exec(t, conn, "CREATE TABLE sluice_types_test.t (id int PRIMARY KEY, "+strings.Join(ddl, ", ")+")")
	exec(t, conn, "ALTER TABLE sluice_types_test.t REPLICA IDENTITY FULL")

	// A test_decoding slot shows the text each column's output function
	// produces in the walsender, which is what pgoutput sends.
	slot := "sluice_types_test_slot"
	conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", slot)
	exec(t, conn, "SELECT pg_create_logical_replication_slot('"+slot+"', 'test_decoding')")
	t.Cleanup(func() { conn.Exec(context.Background(), "SELECT pg_drop_replication_slot($1)", slot) })

	exec(t, conn, "INSERT INTO sluice_types_test.t (id, "+strings.Join(cols, ", ")+") VALUES (1, "+strings.Join(vals, ", ")+")")
	exec(t, conn, "INSERT INTO sluice_types_test.t (id) VALUES (2)")

	// Column metadata as the Relation message carries it.
	rows, err := conn.Query(ctx, `SELECT attname, atttypid, atttypmod, NOT attnotnull FROM pg_attribute
		WHERE attrelid = 'sluice_types_test.t'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`)
	if err != nil {
		t.Fatal(err)
	}
	var columns []Column
	for rows.Next() {
		var c Column
		if err := rows.Scan(&c.Name, &c.TypeOID, &c.TypeMod, &c.Optional); err != nil {
			t.Fatal(err)
		}
		columns = append(columns, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	mapper := NewTypeMapper(NewTypeCatalog(conn), DefaultTypeOptions(), nil)
	convs := make([]ColumnConverter, len(columns))
	for i, c := range columns {
		if convs[i], err = mapper.Column(ctx, "sluice_types_test.t", c); err != nil {
			t.Fatal(err)
		}
	}
	if !convs[0].Schema.Equal(event.Int32()) {
		t.Errorf("id schema %v, want required int32", convs[0].Schema)
	}

	selected := map[int64]map[string]string{}
	rows, err = conn.Query(ctx, "SELECT * FROM sluice_types_test.t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		raw := rows.RawValues()
		id, _ := parseInt(raw[0], 32)
		selected[id] = map[string]string{}
		for i, cc := range convs {
			v, err := cc.Convert(raw[i])
			name := columns[i].Name
			if raw[i] != nil {
				selected[id][name] = string(raw[i])
			}
			if err != nil {
				t.Errorf("row %d %s: convert %q: %v", id, name, raw[i], err)
				continue
			}
			if err := event.ValidateValue(cc.Schema, v); err != nil {
				t.Errorf("row %d %s: %v", id, name, err)
			}
			if id == 2 {
				if name != "id" && v != nil {
					t.Errorf("row 2 %s: NULL converted to %#v", name, v)
				}
				continue
			}
			if i == 0 {
				continue
			}
			tc := typeColumns[i-1]
			if tc.name == "c_float4" {
				if f, ok := v.(float32); !ok || f == f {
					t.Errorf("c_float4 = %#v, want NaN", v)
				}
				continue
			}
			if !event.ValueEqual(v, tc.want) {
				t.Errorf("%s (%s): text %q converted to %#v, want %#v", name, tc.ddl, raw[i], v, tc.want)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(selected) != 2 {
		t.Fatalf("read %d rows, want 2", len(selected))
	}
	if !convs[len(convs)-1].Unknown {
		t.Errorf("tsquery not reported unknown")
	}

	// Compare test_decoding's rendering of the insert with SELECT's text.
	var changes []string
	rows, err = conn.Query(ctx, "SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)", slot)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(d, "table sluice_types_test.t: INSERT: id[integer]:1 ") {
			changes = append(changes, d)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 {
		t.Fatalf("found %d test_decoding inserts, want 1", len(changes))
	}
	decoded := parseTestDecoding(changes[0])
	checked := 0
	for name, text := range selected[1] {
		got, ok := decoded[name]
		if !ok {
			t.Errorf("%s missing from test_decoding output", name)
			continue
		}
		switch name {
		case "c_bool": // test_decoding prints booleans as true/false
			got = got[:1]
		}
		if got != text {
			t.Errorf("%s: test_decoding text %q, SELECT text %q", name, got, text)
		}
		checked++
	}
	if checked != len(typeColumns)+1 {
		t.Errorf("compared %d columns, want %d", checked, len(typeColumns)+1)
	}
}

// parseTestDecoding splits a test_decoding tuple line into column texts
// ("name[type]:value", string values single-quoted with ” escapes).
func parseTestDecoding(line string) map[string]string {
	out := map[string]string{}
	_, rest, _ := strings.Cut(line, ": INSERT: ")
	head := regexp.MustCompile(`^([a-z0-9_]+)\[[^\]]+(?:\[\])?\]:`)
	for rest != "" {
		m := head.FindStringSubmatch(rest)
		if m == nil {
			break
		}
		rest = rest[len(m[0]):]
		var val string
		rest = strings.TrimPrefix(rest, "B") // bit strings print as B'...'
		if strings.HasPrefix(rest, "'") {
			var b strings.Builder
			i := 1
			for i < len(rest) {
				if rest[i] == '\'' {
					if i+1 < len(rest) && rest[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(rest[i])
				i++
			}
			val, rest = b.String(), rest[i:]
		} else {
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		out[m[1]] = val
		rest = strings.TrimPrefix(rest, " ")
	}
	return out
}

func TestTypeCatalogLoadsNewTypes(t *testing.T) {
	conn := connect(t)
	ctx := context.Background()
	exec(t, conn, "DROP SCHEMA IF EXISTS sluice_catalog_test CASCADE")
	exec(t, conn, "CREATE SCHEMA sluice_catalog_test")
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS sluice_catalog_test CASCADE") })
	cat := NewTypeCatalog(conn)
	if ti, err := cat.Lookup(ctx, 23); err != nil || ti.Name != "int4" {
		t.Fatalf("int4: %+v %v", ti, err)
	}

	// Types created after the catalog: an enum, a domain over a domain, and
	// their arrays.
	exec(t, conn, "CREATE TYPE sluice_catalog_test.color AS ENUM ('red', 'green')")
	exec(t, conn, "CREATE DOMAIN sluice_catalog_test.d1 AS varchar(10)")
	exec(t, conn, "CREATE DOMAIN sluice_catalog_test.d2 AS sluice_catalog_test.d1 NOT NULL")
	oid := func(typ string) uint32 {
		var o uint32
		if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT '%s'::regtype::oid", typ)).Scan(&o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	color, err := cat.Lookup(ctx, oid("sluice_catalog_test.color[]"))
	if err != nil || !color.IsArray() {
		t.Fatalf("color[]: %+v %v", color, err)
	}
	elem, err := cat.Lookup(ctx, color.ElemOID)
	if err != nil || elem.Kind != KindEnum || strings.Join(elem.EnumLabels, ",") != "red,green" || elem.Namespace != "sluice_catalog_test" {
		t.Fatalf("color: %+v %v", elem, err)
	}
	d2, err := cat.Lookup(ctx, oid("sluice_catalog_test.d2"))
	if err != nil || d2.Kind != KindDomain || d2.BaseOID != oid("sluice_catalog_test.d1") {
		t.Fatalf("d2: %+v %v", d2, err)
	}
	m := NewTypeMapper(cat, DefaultTypeOptions(), nil)
	cc, err := m.Column(ctx, "t", Column{Name: "c", TypeOID: d2.OID, TypeMod: -1})
	if err != nil || !cc.Schema.Equal(event.String()) {
		t.Fatalf("d2 column: %v %v", cc.Schema, err)
	}

	// A label added later shows after Forget.
	exec(t, conn, "ALTER TYPE sluice_catalog_test.color ADD VALUE 'blue' BEFORE 'green'")
	cat.Forget(elem.OID)
	cc, err = m.Column(ctx, "t", Column{Name: "c", TypeOID: elem.OID, TypeMod: -1})
	if err != nil {
		t.Fatal(err)
	}
	if allowed, _ := cc.Schema.Param("allowed"); allowed != "red,blue,green" {
		t.Errorf("allowed = %q after ADD VALUE", allowed)
	}
	if _, err := cat.Lookup(ctx, 4000000000); err == nil {
		t.Error("lookup of a missing oid succeeded")
	}
}
