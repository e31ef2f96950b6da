package avroconv

import (
	"fmt"

	"github.com/sluice-cdc/sluice/event"
)

// UnionSchemaName is the Connect name of a struct standing for a general
// Avro union (more than one non-null branch), as Confluent's AvroData
// builds it: one optional field per non-null branch, named after the
// branch (its Avro type name, or a record's simple name), the union being
// optional when it has a null branch. A decoded value sets the field of
// the branch it was written with and leaves the others null.
const UnionSchemaName = "io.confluent.connect.avro.Union"

// generalUnion reports whether n is a union other than [null, T] / [T, null].
func generalUnion(n *node) bool {
	if n.typ != "union" {
		return false
	}
	if len(n.branches) != 2 {
		return true
	}
	return (n.branches[0].typ == "null") == (n.branches[1].typ == "null")
}

// unionMemberName names a branch's field: a record's simple name, else
// the Avro type name (AvroData without enhanced schema support).
func unionMemberName(b *node) string {
	if b.typ == "record" {
		return b.name
	}
	return b.typ
}

// unionSchema is the Connect schema of a general union.
func (c *toConnectCtx) unionSchema(n *node) (*event.Schema, error) {
	var fields []event.Field
	optional := false
	seen := map[string]bool{}
	for _, b := range n.branches {
		if b.typ == "null" {
			optional = true
			continue
		}
		name := unionMemberName(b)
		if seen[name] {
			return nil, fmt.Errorf("avro union: two branches named %s", name)
		}
		seen[name] = true
		bs, err := c.schema(b)
		if err != nil {
			return nil, err
		}
		fields = append(fields, event.NewField(name, bs.Optional()))
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("avro union %d branches: no non-null branch", len(n.branches))
	}
	s := event.StructOf(UnionSchemaName, fields...)
	if optional {
		s = s.Optional()
	}
	return s, nil
}

// decodeUnionBranch decodes branch idx of general union n into a struct
// of s (unionSchema's): nil for the null branch.
func decodeUnionBranch(r *decoder, n *node, idx int, s *event.Schema) (any, error) {
	b := n.branches[idx]
	if b.typ == "null" {
		return nil, nil
	}
	name := unionMemberName(b)
	fs := s.FieldByName(name)
	if fs == nil {
		return nil, fmt.Errorf("avro union: no field %s in %s", name, s.Name())
	}
	v, err := decodeValue(r, b, fs)
	if err != nil {
		return nil, err
	}
	st := event.NewStruct(s)
	st.Set(name, v)
	return st, nil
}
