package avroconv

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

// A foreign writer schema with a general union decodes into Confluent's
// io.confluent.connect.avro.Union struct: the written branch's field set,
// the others null; the null branch is a null value.
func TestDecodeGeneralUnion(t *testing.T) {
	ctx := context.Background()
	reg := newMemRegistry()
	schema := `{"type":"record","name":"Event","namespace":"ext","fields":[
		{"name":"id","type":"long"},
		{"name":"payload","type":["null","string","long",{"type":"record","name":"Point","fields":[{"name":"x","type":"int"}]}]}]}`
	id, err := reg.Register(ctx, "ext-value", schema)
	if err != nil {
		t.Fatal(err)
	}
	wire := func(body ...byte) []byte {
		b := []byte{0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(id))
		return append(b, body...)
	}
	c := mustNew(t, DefaultConfig(), reg)
	point := event.StructOf("Point", event.NewField("x", event.Int32()))
	union := event.StructOf(UnionSchemaName,
		event.NewField("string", event.String().Optional()),
		event.NewField("long", event.Int64().Optional()),
		event.NewField("Point", point.Optional())).Optional()
	tests := []struct {
		name    string
		data    []byte
		id      int64
		payload any
	}{
		{"string branch", wire(0x0a, 0x02, 0x04, 'h', 'i'), 5, event.NewStruct(union, "hi", nil, nil)},
		{"record branch", wire(0x0c, 0x06, 0x05), 6, event.NewStruct(union, nil, nil, event.NewStruct(point, int32(-3)))},
		{"long branch", wire(0x02, 0x04, 0xd8, 0x04), 1, event.NewStruct(union, nil, int64(300), nil)},
		{"null branch", wire(0x0e, 0x00), 7, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, v, err := c.Decode(ctx, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			ps := s.FieldByName("payload")
			if ps == nil || ps.Name() != UnionSchemaName || !ps.IsOptional() || len(ps.Fields()) != 3 {
				t.Fatalf("payload schema %v", ps)
			}
			for i, f := range ps.Fields() {
				want := union.Field(i)
				if f.Name != want.Name || f.Schema.Type() != want.Schema.Type() || !f.Schema.IsOptional() {
					t.Fatalf("union field %d: %s %v, want %s %v", i, f.Name, f.Schema, want.Name, want.Schema)
				}
			}
			st := v.(*event.Struct)
			if st.Get("id") != tt.id {
				t.Fatalf("id %v, want %d", st.Get("id"), tt.id)
			}
			got := st.Get("payload")
			if tt.payload == nil {
				if got != nil {
					t.Fatalf("payload %v, want null", got)
				}
				return
			}
			gs, ok := got.(*event.Struct)
			if !ok {
				t.Fatalf("payload %T", got)
			}
			ws := tt.payload.(*event.Struct)
			for _, f := range union.Fields() {
				g, w := gs.Get(f.Name), ws.Get(f.Name)
				if gp, ok := g.(*event.Struct); ok && w != nil {
					// The decoded record keeps its Avro full name (ext.Point).
					if gp.Schema().Name() != "ext.Point" || gp.Get("x") != w.(*event.Struct).Get("x") {
						t.Fatalf("payload.%s = %v (%s), want %v", f.Name, g, gp.Schema().Name(), w)
					}
					continue
				}
				if !event.ValueEqual(g, w) {
					t.Fatalf("payload.%s = %v, want %v", f.Name, gs.Get(f.Name), ws.Get(f.Name))
				}
			}
		})
	}
}
