package avroconv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

// memRegistry is a function-field-free fake of the Registry interface for
// converter unit tests (the Client is tested against an HTTP server).
type memRegistry struct {
	mu       sync.Mutex
	schemas  []string         // id-1 -> schema
	subjects map[string][]int // subject -> ids by version
	calls    int
}

func newMemRegistry() *memRegistry { return &memRegistry{subjects: map[string][]int{}} }

func (m *memRegistry) Register(_ context.Context, subject, schema string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	id := 0
	for i, s := range m.schemas {
		if s == schema {
			id = i + 1
		}
	}
	if id == 0 {
		m.schemas = append(m.schemas, schema)
		id = len(m.schemas)
	}
	for _, v := range m.subjects[subject] {
		if v == id {
			return id, nil
		}
	}
	m.subjects[subject] = append(m.subjects[subject], id)
	return id, nil
}

func (m *memRegistry) SchemaByID(_ context.Context, id int) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if id < 1 || id > len(m.schemas) {
		return "", fmt.Errorf("schema %d not found", id)
	}
	return m.schemas[id-1], nil
}

func (m *memRegistry) Latest(_ context.Context, subject string) (int, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	ids := m.subjects[subject]
	if len(ids) == 0 {
		return 0, "", fmt.Errorf("subject %s not found", subject)
	}
	id := ids[len(ids)-1]
	return id, m.schemas[id-1], nil
}

func (m *memRegistry) Lookup(_ context.Context, subject, schema string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	for _, id := range m.subjects[subject] {
		if m.schemas[id-1] == schema {
			return id, nil
		}
	}
	return 0, ErrSchemaNotFound
}

func mustNew(t testing.TB, cfg Config, reg Registry) *Converter {
	t.Helper()
	if cfg.SchemaRegistryURL == "" {
		cfg.SchemaRegistryURL = "http://localhost:8081"
	}
	c, err := New(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// allTypes is a struct with every Connect type and the Debezium logical
// types Sluice's sources emit, each required and optional.
func allTypes() (*event.Schema, *event.Struct) {
	vsd := event.StructOf("io.debezium.data.VariableScaleDecimal",
		event.NewField("scale", event.Int32()),
		event.NewField("value", event.Bytes()),
	).WithVersion(1).WithDoc("Variable scaled decimal")
	point := event.StructOf("io.debezium.data.geometry.Point",
		event.NewField("x", event.Float64()),
		event.NewField("y", event.Float64()),
		event.NewField("wkb", event.Bytes().Optional()),
		event.NewField("srid", event.Int32().Optional()),
	).WithVersion(1).WithDoc("Geometry (POINT)")
	named := func(s *event.Schema, name string) *event.Schema { return s.WithName(name).WithVersion(1) }
	fields := []struct {
		f event.Field
		v any
	}{
		{event.NewField("i8", event.Int8()), int8(-8)},
		{event.NewField("i16", event.Int16()), int16(-1600)},
		{event.NewField("i32", event.Int32()), int32(1 << 30)},
		{event.NewField("i64", event.Int64()), int64(-1 << 60)},
		{event.NewField("f32", event.Float32()), float32(1.5)},
		{event.NewField("f64", event.Float64()), 2.25},
		{event.NewField("b", event.Boolean()), true},
		{event.NewField("s", event.String()), "héllo \"x\""},
		{event.NewField("by", event.Bytes()), []byte{0, 1, 0xff}},
		{event.NewField("opt_null", event.String().Optional()), nil},
		{event.NewField("opt_set", event.Int64().Optional()), int64(7)},
		{event.NewField("dec", event.Decimal(2).WithParam("connect.decimal.precision", "10")), event.DecimalBytes(big.NewInt(-12345))},
		{event.NewField("dec_opt", event.Decimal(0).Optional()), event.DecimalBytes(big.NewInt(1 << 40))},
		{event.NewField("date", event.Date()), int32(19000)},
		{event.NewField("time", event.Time()), int32(3_600_000)},
		{event.NewField("ts", event.Timestamp()), int64(1_700_000_000_123)},
		{event.NewField("micro_ts", named(event.Int64(), "io.debezium.time.MicroTimestamp")), int64(1_700_000_000_123_456)},
		{event.NewField("nano_ts", named(event.Int64(), "io.debezium.time.NanoTimestamp").Optional()), int64(5)},
		{event.NewField("zoned_ts", named(event.String(), "io.debezium.time.ZonedTimestamp")), "2024-01-02T03:04:05.123456Z"},
		{event.NewField("micro_time", named(event.Int64(), "io.debezium.time.MicroTime")), int64(86_399_999_999)},
		{event.NewField("dbz_date", named(event.Int32(), "io.debezium.time.Date")), int32(-3)},
		{event.NewField("interval", named(event.Int64(), "io.debezium.time.MicroDuration")), int64(123)},
		{event.NewField("json", named(event.String(), "io.debezium.data.Json")), `{"a":[1,2]}`},
		{event.NewField("uuid", named(event.String(), "io.debezium.data.Uuid")), "5f0c7b9e-0000-4000-8000-000000000001"},
		{event.NewField("enum", named(event.String(), "io.debezium.data.Enum").WithParam("allowed", "a,b,c")), "b"},
		{event.NewField("bits", event.Bytes().WithName("io.debezium.data.Bits").WithVersion(1).WithParam("length", "3")), []byte{5}},
		{event.NewField("vsd", vsd.Optional()), event.NewStruct(vsd, int32(3), []byte{0x30, 0x39})},
		{event.NewField("point", point.Optional()), event.NewStruct(point, 1.0, 2.0, nil, int32(4326))},
		{event.NewField("arr", event.Array(event.String().Optional())), []any{"a", nil, "c"}},
		{event.NewField("arr_empty", event.Array(event.Int32())), []any{}},
		{event.NewField("map", event.Map(event.String(), event.Int32())), map[string]any{"x": int32(1), "y": int32(2)}},
		{event.NewField("map_int_keys", event.Map(event.Int32(), event.String())), []event.MapEntry{{Key: int32(2), Value: "two"}, {Key: int32(1), Value: "one"}}},
		{event.NewField("with_default", event.Int32().WithDefault(int32(42))), int32(9)},
		{event.NewField("opt_default", event.String().WithDefault("dflt").Optional()), "set"},
	}
	fs := make([]event.Field, len(fields))
	vals := make([]any, len(fields))
	for i, f := range fields {
		fs[i], vals[i] = f.f, f.v
	}
	s := event.StructOf("server.public.all_types.Value", fs...)
	return s, event.NewStruct(s, vals...)
}

func TestRoundTripAllTypes(t *testing.T) {
	ctx := context.Background()
	reg := newMemRegistry()
	enc := mustNew(t, DefaultConfig(), reg)
	s, v := allTypes()
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	data, err := enc.Encode(ctx, "server.public.all_types", false, v)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != 0 || !bytes.Equal(data[1:5], []byte{0, 0, 0, 1}) {
		t.Fatalf("header % x, want 00 00000001", data[:5])
	}
	if got := reg.subjects["server.public.all_types-value"]; len(got) != 1 || got[0] != 1 {
		t.Fatalf("subjects %v", reg.subjects)
	}
	// A fresh converter must fetch the writer schema by id and rebuild the
	// Connect schema from the connect.* properties.
	dec := mustNew(t, DefaultConfig(), reg)
	gotSchema, gotVal, err := dec.Decode(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if !gotSchema.Equal(s) {
		t.Fatalf("schema\n got %v\nwant %v", gotSchema, s)
	}
	st, ok := gotVal.(*event.Struct)
	if !ok {
		t.Fatalf("value %T", gotVal)
	}
	for i, f := range s.Fields() {
		if !looseEqual(st.At(i), v.At(i)) {
			t.Errorf("field %s: got %#v want %#v", f.Name, st.At(i), v.At(i))
		}
	}
	// The encoder decodes its own records from its cache, without the registry.
	calls := reg.calls
	if _, _, err := enc.Decode(ctx, data); err != nil || reg.calls != calls {
		t.Fatalf("self decode: err %v, registry calls %d -> %d", err, calls, reg.calls)
	}
}

func TestEncodeExactBytes(t *testing.T) {
	ctx := context.Background()
	s := event.StructOf("t.Key",
		event.NewField("id", event.Int32()),
		event.NewField("name", event.String().Optional()),
		event.NewField("price", event.Decimal(2).Optional()),
		event.NewField("n", event.Int64().WithDefault(int64(-2)).Optional()),
	)
	reg := newMemRegistry()
	reg.schemas = make([]string, 6) // the next id is 7
	c := mustNew(t, DefaultConfig(), reg)
	got, err := c.Encode(ctx, "t", true, event.NewStruct(s, int32(-3), "ab", event.DecimalBytes(big.NewInt(255)), nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0, 0, 0, 0, 7, // magic, id 7
		0x05,                 // id -3 zigzag
		0x02, 0x04, 'a', 'b', // union branch 1 (string), "ab"
		0x02, 0x04, 0x00, 0xff, // union branch 1 (bytes), 2 bytes: 255 two's complement
		0x00, 0x03, // [long, null] union: branch 0, the default -2 (null replaced by the default)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
	if len(reg.subjects["t-key"]) != 1 {
		t.Fatalf("subjects %v", reg.subjects)
	}
	// Tombstones and null keys stay null.
	if b, err := c.Encode(ctx, "t", false, nil); b != nil || err != nil {
		t.Fatalf("nil struct: %v %v", b, err)
	}
	if sch, v, err := c.Decode(ctx, nil); sch != nil || v != nil || err != nil {
		t.Fatalf("nil data: %v %v %v", sch, v, err)
	}
}

func TestEncodeCachesByPointer(t *testing.T) {
	ctx := context.Background()
	reg := newMemRegistry()
	c := mustNew(t, DefaultConfig(), reg)
	s, v := allTypes()
	for range 3 {
		if _, err := c.Encode(ctx, "a", false, v); err != nil {
			t.Fatal(err)
		}
	}
	if reg.calls != 1 {
		t.Fatalf("registry calls %d, want 1", reg.calls)
	}
	// An equal schema under another pointer hits the (subject, fingerprint)
	// cache: no second registration.
	_ = s
	other, _ := allTypes()
	if _, err := c.Encode(ctx, "a", false, event.NewStruct(other, valuesOf(v)...)); err != nil {
		t.Fatal(err)
	}
	if reg.calls != 1 {
		t.Fatalf("registry calls %d after equal schema, want 1", reg.calls)
	}
	// Another topic is another subject.
	if _, err := c.Encode(ctx, "b", false, v); err != nil {
		t.Fatal(err)
	}
	if reg.calls != 2 || len(reg.subjects["b-value"]) != 1 {
		t.Fatalf("calls %d subjects %v", reg.calls, reg.subjects)
	}
}

// looseEqual is event.ValueEqual except that a struct may be bound to the
// optional or required variant of its schema (decoding binds a nested
// struct to its field's schema, as AvroData does).
func looseEqual(a, b any) bool {
	sa, okA := a.(*event.Struct)
	sb, okB := b.(*event.Struct)
	if !okA || !okB {
		return event.ValueEqual(a, b)
	}
	if !sa.Schema().SameStruct(sb.Schema()) {
		return false
	}
	for i := range sa.Schema().NumFields() {
		if !looseEqual(sa.At(i), sb.At(i)) {
			return false
		}
	}
	return true
}

func valuesOf(st *event.Struct) []any {
	out := make([]any, st.Schema().NumFields())
	for i := range out {
		out[i] = st.At(i)
	}
	return out
}

func TestSubjectStrategies(t *testing.T) {
	ctx := context.Background()
	s := event.StructOf("srv.public.t.Value", event.NewField("id", event.Int32()))
	unnamed := event.StructOf("", event.NewField("id", event.Int32()))
	for _, tc := range []struct {
		strategy string
		s        *event.Schema
		isKey    bool
		want     string
	}{
		{"", s, true, "topic-key"},
		{"TopicNameStrategy", s, false, "topic-value"},
		{"io.confluent.kafka.serializers.subject.TopicNameStrategy", s, false, "topic-value"},
		{"RecordNameStrategy", s, false, "srv.public.t.Value"},
		{"io.confluent.kafka.serializers.subject.RecordNameStrategy", unnamed, true, "io.confluent.connect.avro.ConnectDefault"},
		{"TopicRecordNameStrategy", s, true, "topic-srv.public.t.Value"},
	} {
		reg := newMemRegistry()
		cfg := DefaultConfig()
		cfg.SubjectNameStrategy = tc.strategy
		c := mustNew(t, cfg, reg)
		if _, err := c.Encode(ctx, "topic", tc.isKey, event.NewStruct(tc.s, int32(1))); err != nil {
			t.Fatal(err)
		}
		if _, ok := reg.subjects[tc.want]; !ok || len(reg.subjects) != 1 {
			t.Errorf("%s: subjects %v, want %s", tc.strategy, reg.subjects, tc.want)
		}
	}
	if _, err := ParseStrategy("Nope"); err == nil {
		t.Fatal("bad strategy accepted")
	}
}

func TestAutoRegisterOff(t *testing.T) {
	ctx := context.Background()
	reg := newMemRegistry()
	cfg := DefaultConfig()
	cfg.AutoRegisterSchemas = false
	c := mustNew(t, cfg, reg)
	s := event.StructOf("x.Value", event.NewField("id", event.Int32()))
	v := event.NewStruct(s, int32(1))
	if _, err := c.Encode(ctx, "x", false, v); !errors.Is(err, ErrSchemaNotFound) {
		t.Fatalf("unregistered schema: %v", err)
	}
	js, _ := AvroSchema(s)
	id, _ := reg.Register(ctx, "x-value", string(js))
	got, err := c.Encode(ctx, "x", false, v)
	if err != nil {
		t.Fatal(err)
	}
	if int(got[4]) != id || reg.calls != 3 {
		t.Fatalf("id byte %d want %d, calls %d", got[4], id, reg.calls)
	}
}

func TestUseLatestVersion(t *testing.T) {
	ctx := context.Background()
	reg := newMemRegistry()
	v1 := event.StructOf("x.Value", event.NewField("id", event.Int32()))
	// The latest version has a column the events (still v1) lack, with a default.
	v2 := event.StructOf("x.Value", event.NewField("id", event.Int32()), event.NewField("note", event.String().Optional()))
	j1, _ := AvroSchema(v1)
	j2, _ := AvroSchema(v2)
	reg.Register(ctx, "x-value", string(j1))
	id2, _ := reg.Register(ctx, "x-value", string(j2))
	cfg := DefaultConfig()
	cfg.AutoRegisterSchemas = false
	cfg.UseLatestVersion = true
	c := mustNew(t, cfg, reg)
	data, err := c.Encode(ctx, "x", false, event.NewStruct(v1, int32(5)))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 0, 0, 0, byte(id2), 0x0a, 0x00} // id 5, note = null (its default)
	if !bytes.Equal(data, want) {
		t.Fatalf("got % x want % x", data, want)
	}
	_, dv, err := mustNew(t, DefaultConfig(), reg).Decode(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	if st := dv.(*event.Struct); st.Get("id") != int32(5) || st.Get("note") != nil {
		t.Fatalf("decoded %v", st)
	}
	// A latest schema that cannot read the record's schema is refused.
	reg2 := newMemRegistry()
	j3, _ := AvroSchema(event.StructOf("x.Value", event.NewField("id", event.String())))
	reg2.Register(ctx, "x-value", string(j3))
	c2 := mustNew(t, cfg, reg2)
	if _, err := c2.Encode(ctx, "x", false, event.NewStruct(v1, int32(5))); !errors.Is(err, ErrIncompatibleSchema) {
		t.Fatalf("incompatible latest: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	c := mustNew(t, DefaultConfig(), newMemRegistry())
	for _, data := range [][]byte{{}, {1, 0, 0, 0, 1}, {0, 0, 0}} {
		if _, _, err := c.Decode(context.Background(), data); !errors.Is(err, ErrBadWireFormat) {
			t.Errorf("% x: %v", data, err)
		}
	}
	if _, _, err := c.Decode(context.Background(), []byte{0, 0, 0, 0, 9, 1}); err == nil {
		t.Error("unknown id accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.SchemaRegistryURL = "http://a:8081, https://b:8081"
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := Config{SchemaRegistryURL: "ftp://x", SubjectNameStrategy: "X", BasicAuthUserInfo: "nopass", CertFile: "c.pem"}
	err := bad.Validate()
	for _, want := range []string{"schema.registry.url", "subject.name.strategy", "basic.auth.user.info", "ssl.key.location"} {
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want+":")) {
			t.Errorf("missing problem for %s in %v", want, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	ctx := context.Background()
	reg := newMemRegistry()
	enc := mustNew(f, DefaultConfig(), reg)
	_, all := allTypes()
	data, err := enc.Encode(ctx, "t", false, all)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := mustNew(t, DefaultConfig(), reg)
		s, v, err := c.Decode(ctx, b)
		if err != nil {
			return
		}
		// Whatever decodes must encode again, and that encoding must be
		// stable (the first re-encoding may differ: nulls become defaults).
		st, ok := v.(*event.Struct)
		if !ok || s == nil {
			t.Fatalf("decoded %T", v)
		}
		again, err := c.Encode(ctx, "t", false, st)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		_, v2, err := c.Decode(ctx, again)
		if err != nil {
			t.Fatalf("decode re-encoding: %v", err)
		}
		third, err := c.Encode(ctx, "t", false, v2.(*event.Struct))
		if err != nil || !bytes.Equal(third, again) {
			t.Fatalf("unstable encoding: %v\n% x\n% x", err, again, third)
		}
	})
}
