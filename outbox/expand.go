package outbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/event"
)

// JSON payload expansion (table.expand.json.payload), as Debezium's
// JsonSchemaData infers a Connect schema from a Jackson tree: strings,
// booleans, int32 / int64 / float64 numbers (by the literal, as Jackson
// reads it), optional arrays of the first non-null element's schema (object
// elements merged field by field), optional structs named by their path
// from the payload column ("payload", "payload.items"). Nulls and empty
// arrays are dropped unless table.json.payload.null.behavior or
// table.json.payload.empty.array.behavior keep them. Only an object
// expands; anything else keeps the payload as its string.

// jnode is a parsed JSON value that keeps object keys in document order.
type jnode struct {
	kind byte // 's' string, 'n' number, 'b' bool, 'z' null, 'a' array, 'o' object
	str  string
	num  json.Number
	b    bool
	keys []string
	vals []*jnode // object values (by key index) or array items
}

func parseJSON(data []byte) (*jnode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := parseNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing content after JSON value")
	}
	return n, nil
}

func parseNode(dec *json.Decoder) (*jnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case string:
		return &jnode{kind: 's', str: t}, nil
	case json.Number:
		return &jnode{kind: 'n', num: t}, nil
	case bool:
		return &jnode{kind: 'b', b: t}, nil
	case nil:
		return &jnode{kind: 'z'}, nil
	case json.Delim:
		switch t {
		case '[':
			n := &jnode{kind: 'a'}
			for dec.More() {
				v, err := parseNode(dec)
				if err != nil {
					return nil, err
				}
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		case '{':
			n := &jnode{kind: 'o'}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := parseNode(dec)
				if err != nil {
					return nil, err
				}
				// A repeated key keeps its first place and its last value,
				// as in Jackson's ObjectNode.
				if i := n.index(k); i >= 0 {
					n.vals[i] = v
					continue
				}
				n.keys = append(n.keys, k)
				n.vals = append(n.vals, v)
			}
			_, err := dec.Token()
			return n, err
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func (n *jnode) index(k string) int {
	for i, key := range n.keys {
		if key == k {
			return i
		}
	}
	return -1
}

// numKind classifies a number literal as Jackson's tree does: 'i' int32,
// 'l' int64, 'd' double, 'B' an integer too large for int64 (BigInteger).
func (n *jnode) numKind() byte {
	s := n.num.String()
	if strings.ContainsAny(s, ".eE") {
		return 'd'
	}
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return 'B'
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return 'i'
	}
	return 'l'
}

// expander infers payload schemas and interns them by their signature, so
// that payloads of one shape share one *event.Schema (converters cache per
// schema pointer).
type expander struct {
	nullBytes, emptyArrayString bool
	interned                    map[string]*event.Schema
}

// maxInterned bounds the intern table; past it the table starts over.
const maxInterned = 10000

func (x *expander) intern(s *event.Schema) *event.Schema {
	sig := signature(s)
	if got, ok := x.interned[sig]; ok {
		return got
	}
	if x.interned == nil || len(x.interned) >= maxInterned {
		x.interned = map[string]*event.Schema{}
	}
	x.interned[sig] = s
	return s
}

// signature renders everything that distinguishes two inferred schemas.
func signature(s *event.Schema) string {
	var b strings.Builder
	var walk func(*event.Schema)
	walk = func(s *event.Schema) {
		b.WriteString(s.Type().String())
		if s.IsOptional() {
			b.WriteByte('?')
		}
		switch s.Type() {
		case event.TypeArray:
			b.WriteByte('[')
			walk(s.Items())
			b.WriteByte(']')
		case event.TypeStruct:
			b.WriteString(strconv.Quote(s.Name()))
			b.WriteByte('{')
			for _, f := range s.Fields() {
				b.WriteString(strconv.Quote(f.Name))
				b.WriteByte(':')
				walk(f.Schema)
				b.WriteByte(',')
			}
			b.WriteByte('}')
		}
	}
	walk(s)
	return b.String()
}

// expand parses a JSON object payload into a struct of an inferred schema.
func (x *expander) expand(field, payload string) (*event.Schema, *event.Struct, error) {
	if !strings.HasPrefix(payload, "{") && !strings.HasPrefix(payload, "[") {
		if payload == "" {
			return nil, nil, errors.New("unable to parse an empty payload")
		}
		return nil, nil, fmt.Errorf("unable to parse payload starting with %q", payload[:1])
	}
	n, err := parseJSON([]byte(payload))
	if err != nil {
		return nil, nil, err
	}
	if n.kind != 'o' {
		return nil, nil, errors.New("payload is not a JSON object")
	}
	s, err := x.schema(field, n)
	if err != nil {
		return nil, nil, err
	}
	s = x.intern(s)
	v, err := x.value(n, s)
	if err != nil {
		return nil, nil, err
	}
	st := v.(*event.Struct)
	if err := st.Validate(); err != nil {
		return nil, nil, err
	}
	return s, st, nil
}

// schema is JsonSchemaData.toConnectSchema; nil means the value is dropped.
func (x *expander) schema(key string, n *jnode) (*event.Schema, error) {
	switch n.kind {
	case 's':
		return event.String().Optional(), nil
	case 'b':
		return event.Boolean().Optional(), nil
	case 'n':
		switch n.numKind() {
		case 'i':
			return event.Int32().Optional(), nil
		case 'l':
			return event.Int64().Optional(), nil
		}
		return event.Float64().Optional(), nil
	case 'z':
		if x.nullBytes {
			return event.Bytes().Optional(), nil
		}
		return nil, nil
	case 'a':
		if len(n.vals) == 0 {
			if x.emptyArrayString {
				return event.Array(event.String().Optional()).Optional(), nil
			}
			return nil, nil
		}
		items, err := x.itemSchema(key, n)
		if err != nil {
			return nil, err
		}
		return event.Array(items).Optional(), nil
	case 'o':
		var fields []event.Field
		seen := map[string]bool{}
		for i, k := range n.keys {
			if k == "" {
				return nil, errors.New("empty field name in JSON payload")
			}
			fk := k
			if strings.TrimSpace(key) != "" {
				fk = key + "." + k
			}
			fs, err := x.schema(fk, n.vals[i])
			if err != nil {
				return nil, err
			}
			if fs != nil && !seen[k] {
				seen[k] = true
				fields = append(fields, event.NewField(k, fs))
			}
		}
		return event.StructOf(key, fields...).Optional(), nil
	}
	return nil, nil
}

// itemSchema is JsonSchemaData.toConnectSchemaWithCycles: the schema of the
// first non-null element; object elements are merged in document order.
func (x *expander) itemSchema(key string, arr *jnode) (*event.Schema, error) {
	var ref *jnode
	var refSchema *event.Schema
	for _, e := range arr.vals {
		if e.kind == 'z' {
			continue
		}
		if ref == nil {
			ref = e
		}
		if e.kind != ref.kind {
			return nil, errors.New("JSON array is not homogeneous")
		}
		if e.kind == 'n' {
			if refSchema == nil {
				refSchema, _ = x.schema("", ref)
			}
			if s, _ := x.schema("", e); s.Type() != refSchema.Type() {
				return nil, errors.New("JSON array mixes number types")
			}
		}
	}
	if ref == nil {
		ref = &jnode{kind: 'z'}
	}
	if ref.kind != 'o' {
		s, err := x.schema("", ref)
		if err != nil {
			return nil, err
		}
		if s == nil {
			return nil, errors.New("JSON array has an unrecognized member schema")
		}
		return s, nil
	}
	var merged *event.Schema
	for _, e := range arr.vals {
		if e.kind != 'o' {
			continue
		}
		s, err := x.schema(key, e)
		if err != nil {
			return nil, err
		}
		merged = mergeStructs(merged, s)
	}
	return merged, nil
}

// mergeStructs unions two struct schemas' fields, left first; a bytes field
// (an inferred null) gives way to a typed one.
func mergeStructs(left, right *event.Schema) *event.Schema {
	if left == nil {
		return right
	}
	fields := left.Fields()
	for _, f := range right.Fields() {
		i := left.FieldIndex(f.Name)
		switch {
		case i < 0:
			fields = append(fields, f)
		case fields[i].Schema.Type() == event.TypeBytes && f.Schema.Type() != event.TypeBytes:
			fields[i] = f
		}
	}
	return event.StructOf(left.Name(), fields...).Optional()
}

// value is JsonSchemaData.toConnectData for a node of schema s.
func (x *expander) value(n *jnode, s *event.Schema) (any, error) {
	switch n.kind {
	case 's':
		return n.str, nil
	case 'b':
		return n.b, nil
	case 'n':
		switch n.numKind() {
		case 'd':
			f, err := n.num.Float64()
			return f, err
		case 'i':
			v, _ := n.num.Int64()
			return int32(v), nil
		case 'l':
			v, _ := n.num.Int64()
			return v, nil
		}
		return nil, fmt.Errorf("integer %s does not fit in 64 bits", n.num)
	case 'z':
		return nil, nil
	case 'a':
		items := make([]any, len(n.vals))
		for i, e := range n.vals {
			v, err := x.value(e, s.Items())
			if err != nil {
				return nil, err
			}
			items[i] = v
		}
		return items, nil
	case 'o':
		if s == nil || s.Type() != event.TypeStruct {
			return nil, errors.New("JSON object where the inferred schema has none")
		}
		st := event.NewStruct(s)
		for i, f := range s.Fields() {
			if j := n.index(f.Name); j >= 0 {
				v, err := x.value(n.vals[j], f.Schema)
				if err != nil {
					return nil, err
				}
				st.SetAt(i, v)
			}
		}
		return st, nil
	}
	return nil, nil
}

// compactJSON writes n back as compact JSON, keys in document order.
func compactJSON(n *jnode) string {
	var b bytes.Buffer
	n.write(&b)
	return b.String()
}

func (n *jnode) write(b *bytes.Buffer) {
	switch n.kind {
	case 's':
		writeString(b, n.str)
	case 'n':
		b.WriteString(n.num.String())
	case 'b':
		b.WriteString(strconv.FormatBool(n.b))
	case 'z':
		b.WriteString("null")
	case 'a':
		b.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			v.write(b)
		}
		b.WriteByte(']')
	case 'o':
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			n.vals[i].write(b)
		}
		b.WriteByte('}')
	}
}

// writeString writes s as a JSON string without HTML escaping.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}
