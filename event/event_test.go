package event

import (
	"bytes"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestDecimalBytes(t *testing.T) {
	// Expected bytes are Java's BigInteger.toByteArray.
	tests := []struct {
		v    int64
		want string
	}{
		{0, "00"}, {1, "01"}, {127, "7f"}, {128, "0080"}, {255, "00ff"}, {256, "0100"},
		{-1, "ff"}, {-128, "80"}, {-129, "ff7f"}, {-256, "ff00"}, {-257, "feff"}, {-12345, "cfc7"},
	}
	for _, tt := range tests {
		got := DecimalBytes(big.NewInt(tt.v))
		if hex.EncodeToString(got) != tt.want {
			t.Errorf("DecimalBytes(%d) = %x, want %s", tt.v, got, tt.want)
		}
		if back := DecimalUnscaled(got); back.Int64() != tt.v {
			t.Errorf("DecimalUnscaled(%x) = %v, want %d", got, back, tt.v)
		}
	}
}

func TestSchemaImmutable(t *testing.T) {
	base := String()
	opt := base.Optional().WithName("n").WithParam("a", "1").WithParam("b", "2").WithParam("a", "3")
	if base.IsOptional() || base.Name() != "" || base.NumParams() != 0 {
		t.Fatalf("modifiers changed the receiver: %v", base)
	}
	if got := opt.Params(); len(got) != 2 || got[0] != (Param{"a", "3"}) || got[1] != (Param{"b", "2"}) {
		t.Errorf("params = %v, want a=3 then b=2", got)
	}
	p := opt.Params()
	p[0].Value = "changed"
	if v, _ := opt.Param("a"); v != "3" {
		t.Error("Params returned shared storage")
	}
	withX := opt.WithParam("x", "9")
	if opt.NumParams() != 2 || withX.NumParams() != 3 {
		t.Error("WithParam shared the parameter slice")
	}
}

func TestStructOfPanicsOnDuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for duplicate field")
		}
	}()
	StructOf("s", NewField("a", Int32()), NewField("a", Int64()))
}

var (
	row    = StructOf("srv.public.t.Value", NewField("id", Int32()), NewField("note", String().Optional()))
	source = StructOf("io.debezium.connector.postgresql.Source", NewField("lsn", Int64().Optional()))
	key    = StructOf("srv.public.t.Key", NewField("id", Int32()))
	env    = EnvelopeSchema(EnvelopeName("srv.public.t"), row, source)
)

func TestEnvelopeSchema(t *testing.T) {
	want := "struct(srv.public.t.Envelope)<before:struct(srv.public.t.Value)<id:int32,note:string?>?," +
		"after:struct(srv.public.t.Value)<id:int32,note:string?>?,source:struct(io.debezium.connector.postgresql.Source)<lsn:int64?>," +
		"transaction:struct(event.block)<id:string,total_order:int64,data_collection_order:int64>?,op:string,ts_ms:int64?,ts_us:int64?,ts_ns:int64?>"
	if got := env.String(); got != want {
		t.Errorf("EnvelopeSchema =\n%s\nwant\n%s", got, want)
	}
	if v, ok := env.Version(); !ok || v != 2 || env.IsOptional() {
		t.Errorf("version %d %v optional %v; want 2, required", v, ok, env.IsOptional())
	}
}

func TestEventValue(t *testing.T) {
	e := Event{
		Op:          OpDelete,
		Before:      NewStruct(row, int32(7), nil),
		Source:      NewStruct(source, int64(42)),
		Transaction: &Transaction{ID: "571:42", TotalOrder: 3, DataCollectionOrder: 1},
		Topic:       "srv.public.t",
		Key:         NewStruct(key).Set("id", int32(7)),
		ValueSchema: env,
		Position:    Position("lsn-42"),
	}
	e.SetTimestamp(time.Unix(1, 2345678))
	v, err := e.Value()
	if err != nil {
		t.Fatal(err)
	}
	want := "Struct{before=Struct{id=7,note=<nil>},after=<nil>,source=Struct{lsn=42}," +
		"transaction=Struct{id=571:42,total_order=3,data_collection_order=1},op=d,ts_ms=1002,ts_us=1002345,ts_ns=1002345678}"
	if got := v.String(); got != want {
		t.Errorf("Value =\n%s\nwant\n%s", got, want)
	}
	ts, ok := e.Tombstone()
	if !ok || ts.Value != nil || ts.Key != e.Key || ts.Topic != e.Topic || !bytes.Equal(ts.Position, e.Position) {
		t.Errorf("Tombstone = %+v, %v", ts, ok)
	}
	e.Op = OpUpdate
	if _, ok := e.Tombstone(); ok {
		t.Error("tombstone for an update")
	}
	b := Batch{e}
	if string(b.Last()) != "lsn-42" || (Batch{}).Last() != nil {
		t.Error("Batch.Last")
	}
}

func TestEventValueErrors(t *testing.T) {
	tests := []struct {
		name string
		e    Event
		want string
	}{
		{"no schema", Event{Op: OpCreate}, "no value schema"},
		{"required source missing", Event{Op: OpCreate, ValueSchema: env, After: NewStruct(row, int32(1), nil)}, `field "source"`},
		{"wrong type", Event{Op: OpCreate, ValueSchema: env, Source: NewStruct(source, nil), After: NewStruct(row, "1", nil)}, "Go type string"},
		{"foreign struct", Event{Op: OpCreate, ValueSchema: env, Source: NewStruct(source, nil), After: NewStruct(key, int32(1))}, "bound to"},
	}
	for _, tt := range tests {
		_, err := tt.e.Value()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestOp(t *testing.T) {
	for _, o := range []Op{OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate, OpMessage} {
		if !o.Valid() || len(o.String()) != 1 {
			t.Errorf("op %q", o)
		}
	}
	if Op('x').Valid() {
		t.Error("x is valid")
	}
}

func TestMessageValue(t *testing.T) {
	block := StructOf("io.debezium.connector.postgresql.Message",
		NewField("prefix", String().Optional()), NewField("content", Bytes().Optional())).WithVersion(1)
	ms := StructOf("io.debezium.connector.postgresql.MessageValue",
		NewField("op", String()), NewField("ts_ms", Int64().Optional()), NewField("source", source),
		NewField("transaction", TransactionBlockSchema()), NewField("message", block)).WithVersion(1)
	e := Event{Op: OpMessage, Source: NewStruct(source, nil), TsMs: 5, ValueSchema: ms,
		Message: &Message{Prefix: "foo", Content: []byte("bar")}}
	v, err := e.Value()
	if err != nil {
		t.Fatal(err)
	}
	if got := v.String(); got != "Struct{op=m,ts_ms=5,source=Struct{lsn=<nil>},transaction=<nil>,message=Struct{prefix=foo,content=[98 97 114]}}" {
		t.Errorf("message value = %s", got)
	}
}

func TestRawValue(t *testing.T) {
	coll := StructOf("event.collection", NewField("data_collection", String()), NewField("event_count", Int64())).Optional()
	txv := StructOf("io.debezium.connector.common.TransactionMetadataValue",
		NewField("status", String()), NewField("id", String()), NewField("event_count", Int64().Optional()),
		NewField("data_collections", Array(coll).Optional()), NewField("ts_ms", Int64()))
	raw := NewStruct(txv, "END", "571:42", int64(2), []any{NewStruct(coll, "s1.a", int64(2))}, int64(1000))
	// Raw wins over ValueSchema and the envelope fields: ts_ms stays the
	// commit time, not TsMs.
	e := Event{Topic: "srv.transaction", Raw: raw, ValueSchema: env, TsMs: 5, Op: OpCreate}
	r, err := e.Record()
	if err != nil {
		t.Fatal(err)
	}
	if r.Value != raw {
		t.Errorf("Value = %v, want the Raw struct itself", r.Value)
	}
	want := "Struct{status=END,id=571:42,event_count=2,data_collections=[Struct{data_collection=s1.a,event_count=2}],ts_ms=1000}"
	if got := r.Value.String(); got != want {
		t.Errorf("Value =\n%s\nwant\n%s", got, want)
	}
	// A Raw value that does not match its schema is reported, not passed on.
	bad := Event{Topic: "srv.transaction", Raw: NewStruct(txv, "BEGIN", "571:42", nil, nil, nil)}
	if _, err := bad.Value(); err == nil || !strings.Contains(err.Error(), `"srv.transaction"`) || !strings.Contains(err.Error(), "ts_ms") {
		t.Errorf("invalid Raw: err = %v", err)
	}
}
