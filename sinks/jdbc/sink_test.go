package jdbc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// target is one database the tests run against.
type target struct {
	name string
	url  func(t testing.TB) string
}

func targets() []target {
	return []target{
		{"postgres", func(t testing.TB) string { return testenv.Require(t, "SLUICE_PG_URL") }},
		{"mariadb", func(t testing.TB) string {
			// Exercise the JDBC form: jdbc:mariadb://host:port/db?user=…&password=…
			u, err := url.Parse(testenv.Require(t, "SLUICE_MYSQL_URL"))
			if err != nil {
				t.Fatal(err)
			}
			pw, _ := u.User.Password()
			q := url.Values{"user": {u.User.Username()}, "password": {pw}}
			return "jdbc:mariadb://" + u.Host + u.Path + "?" + q.Encode()
		}},
		{"sqlite", func(t testing.TB) string { return "jdbc:sqlite:" + filepath.Join(t.TempDir(), "sink.db") }},
	}
}

var topicSeq atomic.Int64

// uniqueTopic returns a topic (and so table) name no other test run uses.
func uniqueTopic(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1_000_000_000, topicSeq.Add(1))
}

func newSink(t *testing.T, tg target, extra map[string]string) *Sink {
	t.Helper()
	cfg := map[string]string{
		"connection.url": tg.url(t),
		"insert.mode":    "upsert",
		"pk.mode":        "record_key",
		"delete.enabled": "true",
		"auto.create":    "true",
		"auto.evolve":    "true",
	}
	for k, v := range extra {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	s, err := New(t.Context(), cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dropTable(t *testing.T, s *Sink, table string) {
	t.Cleanup(func() {
		_, _ = s.DB().ExecContext(context.Background(), "DROP TABLE IF EXISTS "+s.d.quote(table))
	})
}

var (
	keySchema = event.StructOf("srv.public.items.Key", event.NewField("id", event.Int32()))
	rowSchema = event.StructOf("srv.public.items.Value",
		event.NewField("id", event.Int32()),
		event.NewField("name", event.String().Optional()),
		event.NewField("qty", event.Int64().Optional()),
	)
	sourceSchema = event.StructOf("io.debezium.connector.postgresql.Source",
		event.NewField("db", event.String()))
	envSchema = event.EnvelopeSchema("srv.public.items.Envelope", rowSchema, sourceSchema)
)

// change is one test record: op c/u/d, and whether it is sent as a raw
// Debezium envelope or unwrapped (row value, tombstone for deletes).
type change struct {
	op   string
	id   int32
	name string
	qty  int64
}

type recBuilder struct {
	topic  string
	offset int64
	raw    bool
}

func (b *recBuilder) rec(c change) sink.Record {
	b.offset++
	r := sink.Record{Topic: b.topic, OriginalTopic: b.topic, Offset: b.offset,
		KeySchema: keySchema, Key: event.NewStruct(keySchema, c.id)}
	row := event.NewStruct(rowSchema, c.id, c.name, c.qty)
	switch {
	case b.raw:
		env := event.NewStruct(envSchema)
		env.Set("source", event.NewStruct(sourceSchema, "db")).Set("op", c.op)
		if c.op == "d" {
			env.Set("before", row)
		} else {
			env.Set("after", row)
		}
		r.ValueSchema, r.Value = envSchema, env
	case c.op != "d":
		r.ValueSchema, r.Value = rowSchema, row
	}
	return r
}

// rows reads the table as "id:name:qty" strings ordered by id.
func rows(t *testing.T, s *Sink, table string) []string {
	t.Helper()
	q := fmt.Sprintf("SELECT %s, %s, %s FROM %s ORDER BY %s", s.d.quote("id"), s.d.quote("name"), s.d.quote("qty"), s.d.quote(table), s.d.quote("id"))
	rs, err := s.DB().QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var id int64
		var name *string
		var qty *int64
		if err := rs.Scan(&id, &name, &qty); err != nil {
			t.Fatal(err)
		}
		n, qv := "NULL", "NULL"
		if name != nil {
			n = *name
		}
		if qty != nil {
			qv = fmt.Sprint(*qty)
		}
		out = append(out, fmt.Sprintf("%d:%s:%s", id, n, qv))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWrite(t *testing.T) {
	cases := []struct {
		name    string
		batches [][]change
		want    []string
	}{
		{"inserts", [][]change{{{"c", 1, "a", 1}, {"c", 2, "b", 2}, {"c", 3, "c", 3}}}, []string{"1:a:1", "2:b:2", "3:c:3"}},
		{"upserts in one batch and across batches",
			[][]change{{{"c", 1, "a", 1}, {"u", 1, "b", 2}, {"c", 2, "x", 0}}, {{"u", 1, "c", 3}, {"u", 2, "y", 5}}},
			[]string{"1:c:3", "2:y:5"}},
		{"delete", [][]change{{{"c", 1, "a", 1}, {"c", 2, "b", 2}}, {{"d", 1, "", 0}}}, []string{"2:b:2"}},
		{"insert then delete in one batch", [][]change{{{"c", 1, "a", 1}, {"c", 2, "b", 2}, {"d", 2, "", 0}}}, []string{"1:a:1"}},
		{"delete then insert in one batch", [][]change{{{"c", 1, "a", 1}}, {{"d", 1, "", 0}, {"c", 1, "again", 7}}}, []string{"1:again:7"}},
		{"delete of a missing row", [][]change{{{"c", 1, "a", 1}}, {{"d", 9, "", 0}}}, []string{"1:a:1"}},
	}
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			for _, tc := range cases {
				for _, raw := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/raw=%v", tc.name, raw), func(t *testing.T) {
						// batch.size 2: the statements are split.
						s := newSink(t, tg, map[string]string{"batch.size": "2"})
						topic := uniqueTopic("w")
						dropTable(t, s, topic)
						b := &recBuilder{topic: topic, raw: raw}
						var all [][]sink.Record
						for _, batch := range tc.batches {
							var recs []sink.Record
							for _, c := range batch {
								recs = append(recs, b.rec(c))
							}
							all = append(all, recs)
							if err := s.Put(t.Context(), recs); err != nil {
								t.Fatal(err)
							}
							if err := s.Flush(t.Context()); err != nil {
								t.Fatal(err)
							}
						}
						if got := rows(t, s, topic); !slices.Equal(got, tc.want) {
							t.Fatalf("rows = %q, want %q", got, tc.want)
						}
						// Redelivery of everything, as one batch, then batch
						// by batch: the table does not change.
						if err := s.Put(t.Context(), slices.Concat(all...)); err != nil {
							t.Fatal(err)
						}
						if err := s.Flush(t.Context()); err != nil {
							t.Fatal(err)
						}
						for _, recs := range all {
							if err := s.Put(t.Context(), recs); err != nil {
								t.Fatal(err)
							}
							if err := s.Flush(t.Context()); err != nil {
								t.Fatal(err)
							}
						}
						if got := rows(t, s, topic); !slices.Equal(got, tc.want) {
							t.Fatalf("after redelivery rows = %q, want %q", got, tc.want)
						}
					})
				}
			}
		})
	}
}

func TestInsertModeAndDeleteDisabled(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			s := newSink(t, tg, map[string]string{"insert.mode": "insert", "delete.enabled": "false"})
			topic := uniqueTopic("ins")
			dropTable(t, s, topic)
			b := &recBuilder{topic: topic}
			recs := []sink.Record{b.rec(change{"c", 1, "a", 1}), b.rec(change{"c", 2, "b", 2}), b.rec(change{"d", 1, "", 0})}
			if err := s.Put(t.Context(), recs); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got, want := rows(t, s, topic), []string{"1:a:1", "2:b:2"}; !slices.Equal(got, want) {
				t.Fatalf("rows = %q, want %q", got, want)
			}
		})
	}
}

// allTypes is a row with every mapped type.
var allTypes = event.StructOf("srv.public.types.Value",
	event.NewField("id", event.Int64()),
	event.NewField("i8", event.Int8()),
	event.NewField("i16", event.Int16()),
	event.NewField("i32", event.Int32()),
	event.NewField("f32", event.Float32()),
	event.NewField("f64", event.Float64()),
	event.NewField("flag", event.Boolean()),
	event.NewField("txt", event.String().Optional()),
	event.NewField("bin", event.Bytes().Optional()),
	event.NewField("price", event.Decimal(2).WithParam(precisionParam, "10").Optional()),
	event.NewField("day", event.Date().Optional()),
	event.NewField("tod", event.Int64().WithName(nameMicroTime).Optional()),
	event.NewField("at", event.Timestamp().Optional()),
	event.NewField("local_at", event.Int64().WithName(nameMicroTimestamp).Optional()),
	event.NewField("zoned", event.String().WithName(nameZonedTimestamp).Optional()),
	event.NewField("doc", event.String().WithName(nameJSON).Optional()),
	event.NewField("uid", event.String().WithName(nameUUID).Optional()),
)

func TestAutoCreateTypes(t *testing.T) {
	want := map[string]map[string]string{
		"postgres": {
			"id": "bigint", "i8": "smallint", "i16": "smallint", "i32": "integer", "f32": "real",
			"f64": "double precision", "flag": "boolean", "txt": "text", "bin": "bytea", "price": "numeric(10,2)",
			"day": "date", "tod": "time without time zone", "at": "timestamp with time zone",
			"local_at": "timestamp without time zone", "zoned": "timestamp with time zone", "doc": "jsonb", "uid": "uuid",
		},
		"mariadb": {
			"id": "bigint(20)", "i8": "tinyint(4)", "i16": "smallint(6)", "i32": "int(11)", "f32": "float",
			"f64": "double", "flag": "tinyint(1)", "txt": "text", "bin": "longblob", "price": "decimal(10,2)",
			"day": "date", "tod": "time(6)", "at": "datetime(3)", "local_at": "datetime(6)", "zoned": "datetime(6)",
			"doc": "longtext", "uid": "char(36)",
		},
		"sqlite": {
			"id": "INTEGER", "i8": "INTEGER", "i16": "INTEGER", "i32": "INTEGER", "f32": "REAL", "f64": "REAL",
			"flag": "BOOLEAN", "txt": "TEXT", "bin": "BLOB", "price": "NUMERIC(10,2)", "day": "DATE", "tod": "TIME",
			"at": "TIMESTAMP", "local_at": "TIMESTAMP", "zoned": "TIMESTAMP", "doc": "JSON", "uid": "TEXT",
		},
	}
	// The values read back as text, per dialect.
	wantVals := map[string]string{
		"postgres": "1|-8|-16|-32|1.5|2.25|true|héllo|\x01\x02|-1234.50|2024-02-29|13:14:15.123456|2024-02-29 10:11:12.345+00|2024-02-29 10:11:12.345678|2024-02-29 09:11:12+00|{\"a\": [1, 2]}|0e5ad7d4-6a9d-4f0e-9a3f-3c1c4b0b2a11",
		"mariadb":  "1|-8|-16|-32|1.5|2.25|1|héllo|\x01\x02|-1234.50|2024-02-29|13:14:15.123456|2024-02-29 10:11:12.345|2024-02-29 10:11:12.345678|2024-02-29 09:11:12.000000|{\"a\":[1,2]}|0e5ad7d4-6a9d-4f0e-9a3f-3c1c4b0b2a11",
		"sqlite":   "1|-8|-16|-32|1.5|2.25|1|héllo|\x01\x02|-1234.5|2024-02-29|13:14:15.123456|2024-02-29 10:11:12.345Z|2024-02-29 10:11:12.345678|2024-02-29 09:11:12Z|{\"a\":[1,2]}|0e5ad7d4-6a9d-4f0e-9a3f-3c1c4b0b2a11",
	}
	day := int32(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	at := time.Date(2024, 2, 29, 10, 11, 12, 345_000_000, time.UTC)
	row := event.NewStruct(allTypes, int64(1), int8(-8), int16(-16), int32(-32), float32(1.5), 2.25, true,
		"héllo", []byte{1, 2}, event.DecimalBytes(big.NewInt(-123450)), day,
		int64((13*3600+14*60+15)*1_000_000+123456), at.UnixMilli(), at.UnixMicro()+678,
		"2024-02-29T10:11:12+01:00", `{"a":[1,2]}`, "0e5ad7d4-6a9d-4f0e-9a3f-3c1c4b0b2a11")
	ks := event.StructOf("k", event.NewField("id", event.Int64()))
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			s := newSink(t, tg, nil)
			topic := uniqueTopic("types")
			dropTable(t, s, topic)
			rec := sink.Record{Topic: topic, KeySchema: ks, Key: event.NewStruct(ks, int64(1)), ValueSchema: allTypes, Value: row}
			if err := s.Put(t.Context(), []sink.Record{rec}); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := columnTypes(t, s, topic)
			if fmt.Sprint(got) != fmt.Sprint(want[tg.name]) {
				t.Errorf("column types:\n got %v\nwant %v", got, want[tg.name])
			}
			if got := rowText(t, s, topic, allTypes); got != wantVals[tg.name] {
				t.Errorf("values:\n got %q\nwant %q", got, wantVals[tg.name])
			}
		})
	}
}

func columnTypes(t *testing.T, s *Sink, table string) map[string]string {
	t.Helper()
	var q string
	switch s.d {
	case postgres:
		q = `SELECT column_name, CASE WHEN data_type = 'numeric' AND numeric_precision IS NOT NULL
			THEN 'numeric(' || numeric_precision || ',' || numeric_scale || ')' ELSE data_type END
			FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`
	case mariadb:
		q = `SELECT column_name, column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?`
	case sqliteDB:
		q = `SELECT name, type FROM pragma_table_info(?)`
	}
	rs, err := s.DB().QueryContext(t.Context(), q, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[string]string{}
	for rs.Next() {
		var n, ty string
		if err := rs.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		out[n] = ty
	}
	return out
}

// rowText reads the first row with every column cast to text.
func rowText(t *testing.T, s *Sink, table string, sc *event.Schema) string {
	t.Helper()
	var cols []string
	for _, f := range sc.Fields() {
		c := s.d.quote(f.Name)
		switch s.d {
		case postgres:
			if f.Name == "bin" {
				c = "convert_from(" + c + ", 'SQL_ASCII')"
			}
			c += "::text"
		case mariadb:
			c = "CAST(" + c + " AS CHAR)"
		case sqliteDB:
			c = "CAST(" + c + " AS TEXT)"
		}
		cols = append(cols, c)
	}
	rs, err := s.DB().QueryContext(t.Context(), "SELECT "+strings.Join(cols, ", ")+" FROM "+s.d.quote(table))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if !rs.Next() {
		t.Fatal("no row")
	}
	vals := make([]*string, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rs.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, v := range vals {
		if v == nil {
			parts = append(parts, "NULL")
		} else {
			parts = append(parts, *v)
		}
	}
	return strings.Join(parts, "|")
}

func TestAutoEvolve(t *testing.T) {
	v2 := event.StructOf("srv.public.items.Value",
		event.NewField("id", event.Int32()),
		event.NewField("name", event.String().Optional()),
		event.NewField("qty", event.Int64().Optional()),
		event.NewField("email", event.String().Optional()),
		event.NewField("score", event.Int32().WithDefault(int32(5))),
	)
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			s := newSink(t, tg, nil)
			topic := uniqueTopic("evolve")
			dropTable(t, s, topic)
			b := &recBuilder{topic: topic}
			if err := s.Put(t.Context(), []sink.Record{b.rec(change{"c", 1, "a", 1})}); err != nil {
				t.Fatal(err)
			}
			r2 := b.rec(change{"c", 2, "b", 2})
			r2.ValueSchema, r2.Value = v2, event.NewStruct(v2, int32(2), "b", int64(2), "b@x", int32(9))
			if err := s.Put(t.Context(), []sink.Record{r2}); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			q := fmt.Sprintf("SELECT %[1]s, COALESCE(%[2]s, 'NULL'), %[3]s FROM %[4]s ORDER BY %[1]s",
				s.d.quote("id"), s.d.quote("email"), s.d.quote("score"), s.d.quote(topic))
			rs, err := s.DB().QueryContext(t.Context(), q)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			var got []string
			for rs.Next() {
				var id, score int64
				var email string
				if err := rs.Scan(&id, &email, &score); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d:%s:%d", id, email, score))
			}
			if want := []string{"1:NULL:5", "2:b@x:9"}; !slices.Equal(got, want) {
				t.Fatalf("rows = %q, want %q", got, want)
			}
		})
	}
}

func TestEvolveRefused(t *testing.T) {
	cases := []struct {
		name   string
		schema *event.Schema
		value  func(*event.Schema) *event.Struct
		column string
	}{
		{"required field without default",
			event.StructOf("v", event.NewField("id", event.Int32()), event.NewField("name", event.String().Optional()),
				event.NewField("qty", event.Int64().Optional()), event.NewField("age", event.Int32())),
			func(sc *event.Schema) *event.Struct { return event.NewStruct(sc, int32(2), "b", int64(1), int32(40)) },
			"age"},
		{"type change",
			event.StructOf("v", event.NewField("id", event.Int32()), event.NewField("name", event.Int64().Optional()),
				event.NewField("qty", event.Int64().Optional())),
			func(sc *event.Schema) *event.Struct { return event.NewStruct(sc, int32(2), int64(7), int64(1)) },
			"name"},
	}
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			for _, tc := range cases {
				if tg.name == "sqlite" && tc.name == "type change" {
					continue // SQLite columns take any type
				}
				t.Run(tc.name, func(t *testing.T) {
					s := newSink(t, tg, nil)
					topic := uniqueTopic("refuse")
					dropTable(t, s, topic)
					b := &recBuilder{topic: topic}
					if err := s.Put(t.Context(), []sink.Record{b.rec(change{"c", 1, "a", 1})}); err != nil {
						t.Fatal(err)
					}
					if err := s.Flush(t.Context()); err != nil {
						t.Fatal(err)
					}
					r := b.rec(change{"c", 2, "b", 2})
					r.ValueSchema, r.Value = tc.schema, tc.value(tc.schema)
					if err := s.Put(t.Context(), []sink.Record{r}); err != nil {
						t.Fatal(err)
					}
					err := s.Flush(t.Context())
					if !errors.Is(err, ErrSchemaChange) {
						t.Fatalf("Flush error = %v, want ErrSchemaChange", err)
					}
					if msg := err.Error(); !strings.Contains(msg, "table "+topic) || !strings.Contains(msg, "column "+tc.column) {
						t.Fatalf("error %q does not name table %s and column %s", msg, topic, tc.column)
					}
				})
			}
		})
	}
}

func TestConstraintViolation(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			s := newSink(t, tg, nil)
			topic := uniqueTopic("check")
			dropTable(t, s, topic)
			q := s.d.quote
			ddl := fmt.Sprintf("CREATE TABLE %s (%s INTEGER NOT NULL PRIMARY KEY, %s VARCHAR(100), %s BIGINT CHECK (%s >= 0))",
				q(topic), q("id"), q("name"), q("qty"), q("qty"))
			if _, err := s.DB().ExecContext(t.Context(), ddl); err != nil {
				t.Fatal(err)
			}
			b := &recBuilder{topic: topic}
			recs := []sink.Record{
				b.rec(change{"c", 1, "a", 1}),
				b.rec(change{"c", 2, "bad", -1}),
				b.rec(change{"c", 3, "c", 3}),
			}
			if err := s.Put(t.Context(), recs); err != nil {
				t.Fatal(err)
			}
			err := s.Flush(t.Context())
			var re *sink.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("Flush error = %v, want a *sink.RecordError", err)
			}
			if re.Record.Offset != recs[1].Offset || !strings.Contains(re.Error(), "table "+topic) {
				t.Fatalf("RecordError %v for offset %d, want offset %d and table %s", re, re.Record.Offset, recs[1].Offset, topic)
			}
			if err := s.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got, want := rows(t, s, topic), []string{"1:a:1", "3:c:3"}; !slices.Equal(got, want) {
				t.Fatalf("rows = %q, want %q", got, want)
			}
		})
	}
}
