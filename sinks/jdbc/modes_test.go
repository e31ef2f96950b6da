package jdbc

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// readAll reads cols of table as "a:b:c" strings, sorted.
func readAll(t *testing.T, s *Sink, table string, cols ...string) []string {
	t.Helper()
	var sel []string
	for _, c := range cols {
		q := s.ident(c)
		switch s.d {
		case postgres:
			q += "::text"
		case mariadb:
			q = "CAST(" + q + " AS CHAR)"
		default:
			q = "CAST(" + q + " AS TEXT)"
		}
		sel = append(sel, "COALESCE("+q+", 'NULL')")
	}
	rs, err := s.DB().QueryContext(t.Context(), "SELECT "+strings.Join(sel, ", ")+" FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals := make([]string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(vals, ":"))
	}
	slices.Sort(out)
	return out
}

func putFlush(t *testing.T, s *Sink, recs ...sink.Record) {
	t.Helper()
	if err := s.Put(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestPKModes(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Run("kafka", func(t *testing.T) {
				s := newSink(t, tg, map[string]string{"pk.mode": "kafka", "delete.enabled": ""})
				topic := uniqueTopic("kafka")
				dropTable(t, s, topic)
				b := &recBuilder{topic: topic}
				r1, r2 := b.rec(change{"c", 1, "a", 1}), b.rec(change{"u", 1, "b", 2})
				r2.Partition = 3
				putFlush(t, s, r1, r2)
				putFlush(t, s, r1, r2) // redelivery
				got := readAll(t, s, s.ident(topic), "__connect_topic", "__connect_partition", "__connect_offset", "id", "name")
				want := []string{topic + ":0:1:1:a", topic + ":3:2:1:b"}
				if !slices.Equal(got, want) {
					t.Fatalf("rows = %q, want %q", got, want)
				}
			})
			t.Run("record_value", func(t *testing.T) {
				s := newSink(t, tg, map[string]string{"pk.mode": "record_value", "pk.fields": "id", "delete.enabled": "",
					"fields.whitelist": "name"})
				topic := uniqueTopic("rv")
				dropTable(t, s, topic)
				b := &recBuilder{topic: topic}
				putFlush(t, s, b.rec(change{"c", 1, "a", 1}), b.rec(change{"c", 2, "b", 2}), b.rec(change{"u", 1, "c", 3}))
				if got, want := readAll(t, s, s.ident(topic), "id", "name"), []string{"1:c", "2:b"}; !slices.Equal(got, want) {
					t.Fatalf("rows = %q, want %q", got, want)
				}
				if cols := columnTypes(t, s, topic); len(cols) != 2 {
					t.Fatalf("fields.whitelist: columns %v, want id and name only", cols)
				}
			})
			t.Run("primitive key and update mode", func(t *testing.T) {
				s := newSink(t, tg, map[string]string{"pk.fields": "k"})
				topic := uniqueTopic("prim")
				dropTable(t, s, topic)
				vs := event.StructOf("v", event.NewField("name", event.String()))
				rec := func(k int64, name string) sink.Record {
					return sink.Record{Topic: topic, KeySchema: event.Int64(), Key: k, ValueSchema: vs, Value: event.NewStruct(vs, name)}
				}
				putFlush(t, s, rec(1, "a"), rec(2, "b"))
				u := newSink(t, tg, map[string]string{"connection.url": s.cfg.URL, "pk.fields": "k", "insert.mode": "update", "delete.enabled": ""})
				putFlush(t, u, rec(2, "B"), rec(3, "C")) // 3 does not exist: update writes nothing
				if got, want := readAll(t, s, s.ident(topic), "k", "name"), []string{"1:a", "2:B"}; !slices.Equal(got, want) {
					t.Fatalf("rows = %q, want %q", got, want)
				}
			})
			t.Run("composite key", func(t *testing.T) {
				s := newSink(t, tg, nil)
				topic := uniqueTopic("ck")
				dropTable(t, s, topic)
				ks := event.StructOf("k", event.NewField("region", event.String()), event.NewField("n", event.Int32()))
				vs := event.StructOf("v", event.NewField("region", event.String()), event.NewField("n", event.Int32()),
					event.NewField("note", event.String().Optional()))
				var off int64
				rec := func(region string, n int32, note string, del bool) sink.Record {
					off++
					r := sink.Record{Topic: topic, Offset: off, KeySchema: ks, Key: event.NewStruct(ks, region, n)}
					if !del {
						r.ValueSchema, r.Value = vs, event.NewStruct(vs, region, n, note)
					}
					return r
				}
				putFlush(t, s, rec("eu", 1, "a", false), rec("eu", 2, "b", false), rec("us", 1, "c", false), rec("us", 2, "d", false))
				putFlush(t, s, rec("eu", 2, "", true), rec("us", 1, "", true), rec("eu", 1, "A", false))
				if got, want := readAll(t, s, s.ident(topic), "region", "n", "note"), []string{"eu:1:A", "us:2:d"}; !slices.Equal(got, want) {
					t.Fatalf("rows = %q, want %q", got, want)
				}
			})
			t.Run("qualified name, quoting never", func(t *testing.T) {
				qual := map[string]string{"postgres": "public", "mariadb": "sluice", "sqlite": "main"}[tg.name]
				s := newSink(t, tg, map[string]string{"table.name.format": qual + ".T_${topic}", "quote.sql.identifiers": "never"})
				topic := uniqueTopic("q")
				table := "t_" + topic
				if tg.name != "postgres" {
					table = "T_" + topic
				}
				dropTable(t, s, table)
				b := &recBuilder{topic: topic}
				putFlush(t, s, b.rec(change{"c", 1, "a", 1}), b.rec(change{"c", 2, "b", 2}))
				putFlush(t, s, b.rec(change{"d", 1, "", 0}))
				if got, want := rows(t, s, table), []string{"2:b:2"}; !slices.Equal(got, want) {
					t.Fatalf("rows = %q, want %q", got, want)
				}
			})
		})
	}
}

func TestRecordErrorOnPut(t *testing.T) {
	s := newSink(t, targets()[2], nil)
	b := &recBuilder{topic: "x"}
	good := b.rec(change{"c", 1, "a", 1})
	schemaless := sink.Record{Topic: "x", Offset: 42, KeySchema: keySchema, Key: event.NewStruct(keySchema, int32(2)), Value: map[string]any{"id": 2}}
	err := s.Put(t.Context(), []sink.Record{good, schemaless})
	re, ok := err.(*sink.RecordError)
	if !ok || re.Record.Offset != 42 {
		t.Fatalf("Put error = %v, want a RecordError for offset 42", err)
	}
	if s.Buffered() != 0 {
		t.Fatalf("a failed Put buffered %d operations", s.Buffered())
	}
	// Debezium truncate and message records write nothing.
	for _, op := range []string{"t", "m"} {
		env := event.NewStruct(envSchema).Set("op", op).Set("source", event.NewStruct(sourceSchema, "db"))
		r := sink.Record{Topic: "x", KeySchema: keySchema, Key: event.NewStruct(keySchema, int32(1)), ValueSchema: envSchema, Value: env}
		if err := s.Put(t.Context(), []sink.Record{r}); err != nil || s.Buffered() != 0 {
			t.Fatalf("op %s: Put = %v, %d buffered", op, err, s.Buffered())
		}
	}
	// c without after is refused.
	env := event.NewStruct(envSchema).Set("op", "c").Set("source", event.NewStruct(sourceSchema, "db"))
	r := sink.Record{Topic: "x", Offset: 7, KeySchema: keySchema, Key: event.NewStruct(keySchema, int32(1)), ValueSchema: envSchema, Value: env}
	if err, ok := s.Put(t.Context(), []sink.Record{r}).(*sink.RecordError); !ok || err.Record.Offset != 7 {
		t.Fatalf("op c without after: Put = %v", err)
	}
}

// TestConnectionForms connects with a JDBC URL whose credentials come from
// connection.user/connection.password, and with native DSNs.
func TestConnectionForms(t *testing.T) {
	pg, err := url.Parse(testenv.Require(t, "SLUICE_PG_URL"))
	if err != nil {
		t.Fatal(err)
	}
	my, err := url.Parse(testenv.Require(t, "SLUICE_MYSQL_URL"))
	if err != nil {
		t.Fatal(err)
	}
	pgPass, _ := pg.User.Password()
	myPass, _ := my.User.Password()
	cases := []map[string]string{
		{"connection.url": fmt.Sprintf("jdbc:postgresql://%s%s?sslmode=disable", pg.Host, pg.Path), "connection.user": pg.User.Username(), "connection.password": pgPass},
		{"connection.url": fmt.Sprintf("jdbc:postgresql://%s%s?user=%s&password=%s&sslmode=disable&ApplicationName=sluice&loggerLevel=OFF", pg.Host, pg.Path, pg.User.Username(), pgPass)},
		{"connection.url": fmt.Sprintf("host=%s port=%s dbname=%s sslmode=disable", pg.Hostname(), pg.Port(), strings.TrimPrefix(pg.Path, "/")), "connection.user": pg.User.Username(), "connection.password": pgPass},
		{"connection.url": fmt.Sprintf("jdbc:mysql://%s%s", my.Host, my.Path), "connection.user": my.User.Username(), "connection.password": myPass},
		{"connection.url": fmt.Sprintf("%s:%s@tcp(%s)%s", my.User.Username(), myPass, my.Host, my.Path)},
		{"connection.url": my.String()},
	}
	for _, c := range cases {
		s, err := New(t.Context(), c)
		if err != nil {
			t.Errorf("New(%s): %v", redact(c["connection.url"]), err)
			continue
		}
		s.Close()
	}
	// Wrong password: New fails and does not print it.
	bad := map[string]string{"connection.url": fmt.Sprintf("jdbc:postgresql://%s%s?sslmode=disable", pg.Host, pg.Path), "connection.user": pg.User.Username(), "connection.password": "wrong-secret"}
	bad2 := map[string]string{"connection.url": fmt.Sprintf("jdbc:postgresql://%s%s?sslmode=disable&user=%s&password=wrong-secret&loggerLevel=OFF", pg.Host, pg.Path, pg.User.Username())}
	for _, c := range []map[string]string{bad, bad2} {
		if _, err := New(t.Context(), c); err == nil || strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("New with a wrong password: %v", err)
		}
	}
}

// TestRefusedValue: a value the column type refuses (invalid JSON for a
// jsonb / JSON column) comes back as a RecordError for that record.
func TestRefusedValue(t *testing.T) {
	vs := event.StructOf("v", event.NewField("id", event.Int32()), event.NewField("doc", event.String().WithName(nameJSON).Optional()))
	for _, tg := range targets()[:2] { // SQLite stores any text
		t.Run(tg.name, func(t *testing.T) {
			s := newSink(t, tg, nil)
			topic := uniqueTopic("json")
			dropTable(t, s, topic)
			rec := func(off int64, id int32, doc string) sink.Record {
				return sink.Record{Topic: topic, Offset: off, KeySchema: keySchema, Key: event.NewStruct(keySchema, id),
					ValueSchema: vs, Value: event.NewStruct(vs, id, doc)}
			}
			if err := s.Put(t.Context(), []sink.Record{rec(1, 1, `{"a":1}`), rec(2, 2, `not json`), rec(3, 3, `[]`)}); err != nil {
				t.Fatal(err)
			}
			err := s.Flush(t.Context())
			re, ok := err.(*sink.RecordError)
			if !ok || re.Record.Offset != 2 {
				t.Fatalf("Flush error = %v, want a RecordError for offset 2", err)
			}
			if err := s.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got, want := readAll(t, s, s.ident(topic), "id"), []string{"1", "3"}; !slices.Equal(got, want) {
				t.Fatalf("rows = %q, want %q", got, want)
			}
		})
	}
}
