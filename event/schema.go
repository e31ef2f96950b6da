package event

import (
	"fmt"
	"strconv"
	"strings"
)

// Type is a Kafka Connect schema type.
type Type uint8

// The Kafka Connect schema types.
const (
	TypeInt8 Type = iota + 1
	TypeInt16
	TypeInt32
	TypeInt64
	TypeFloat32
	TypeFloat64
	TypeBoolean
	TypeString
	TypeBytes
	TypeArray
	TypeMap
	TypeStruct
)

var typeNames = [...]string{
	TypeInt8:    "int8",
	TypeInt16:   "int16",
	TypeInt32:   "int32",
	TypeInt64:   "int64",
	TypeFloat32: "float32",
	TypeFloat64: "float64",
	TypeBoolean: "boolean",
	TypeString:  "string",
	TypeBytes:   "bytes",
	TypeArray:   "array",
	TypeMap:     "map",
	TypeStruct:  "struct",
}

// String returns Connect's name for the type (Schema.Type.getName), e.g.
// "int32", "float64". Note that Connect's JSON schema spells float32 and
// float64 as "float" and "double"; that is the converter's business.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Valid reports whether t is one of the defined types.
func (t Type) Valid() bool { return t >= TypeInt8 && t <= TypeStruct }

// IsPrimitive reports whether t is neither array, map nor struct.
func (t Type) IsPrimitive() bool { return t >= TypeInt8 && t <= TypeBytes }

// Connect and Debezium logical type names used across Sluice.
const (
	LogicalDecimal   = "org.apache.kafka.connect.data.Decimal"
	LogicalDate      = "org.apache.kafka.connect.data.Date"
	LogicalTime      = "org.apache.kafka.connect.data.Time"
	LogicalTimestamp = "org.apache.kafka.connect.data.Timestamp"

	// DecimalScaleParam is the parameter holding a Decimal's scale.
	DecimalScaleParam = "scale"
)

// Param is one schema parameter. Parameters keep insertion order because
// Connect's JSON schema emits them as an object in that order.
type Param struct {
	Key, Value string
}

// Field is one field of a struct schema.
type Field struct {
	Name   string
	Schema *Schema
}

// NewField returns a struct field.
func NewField(name string, s *Schema) Field { return Field{Name: name, Schema: s} }

// Schema is an immutable Kafka Connect schema. The zero value is not useful;
// build schemas with the constructors (Int32, StructOf, ...) and modifiers
// (Optional, WithName, ...), each of which returns a new *Schema.
type Schema struct {
	typ        Type
	optional   bool
	name       string
	version    int
	hasVersion bool
	doc        string
	hasDoc     bool
	params     []Param
	def        any
	fields     []Field
	index      map[string]int
	items      *Schema // array items and map values
	keys       *Schema // map keys
}

func primitive(t Type) *Schema { return &Schema{typ: t} }

// Int8 returns a required int8 schema.
func Int8() *Schema { return primitive(TypeInt8) }

// Int16 returns a required int16 schema.
func Int16() *Schema { return primitive(TypeInt16) }

// Int32 returns a required int32 schema.
func Int32() *Schema { return primitive(TypeInt32) }

// Int64 returns a required int64 schema.
func Int64() *Schema { return primitive(TypeInt64) }

// Float32 returns a required float32 schema.
func Float32() *Schema { return primitive(TypeFloat32) }

// Float64 returns a required float64 schema.
func Float64() *Schema { return primitive(TypeFloat64) }

// Boolean returns a required boolean schema.
func Boolean() *Schema { return primitive(TypeBoolean) }

// String returns a required string schema.
func String() *Schema { return primitive(TypeString) }

// Bytes returns a required bytes schema.
func Bytes() *Schema { return primitive(TypeBytes) }

// Primitive returns a required schema of a primitive type; it panics if t is
// array, map or struct.
func Primitive(t Type) *Schema {
	if !t.IsPrimitive() {
		panic("event: Primitive called with " + t.String())
	}
	return primitive(t)
}

// Array returns a required array schema.
func Array(items *Schema) *Schema {
	if items == nil {
		panic("event: Array with nil item schema")
	}
	return &Schema{typ: TypeArray, items: items}
}

// Map returns a required map schema.
func Map(keys, values *Schema) *Schema {
	if keys == nil || values == nil {
		panic("event: Map with nil key or value schema")
	}
	return &Schema{typ: TypeMap, keys: keys, items: values}
}

// StructOf returns a required struct schema with the given name (empty for
// none) and fields in order. It panics on a duplicate or empty field name or
// a nil field schema: schemas are built by code, so those are bugs.
func StructOf(name string, fields ...Field) *Schema {
	s := &Schema{typ: TypeStruct, name: name, fields: append([]Field(nil), fields...)}
	s.index = make(map[string]int, len(fields))
	for i, f := range fields {
		if f.Name == "" || f.Schema == nil {
			panic(fmt.Sprintf("event: struct %q field %d has no name or schema", name, i))
		}
		if _, dup := s.index[f.Name]; dup {
			panic(fmt.Sprintf("event: struct %q has duplicate field %q", name, f.Name))
		}
		s.index[f.Name] = i
	}
	return s
}

// Decimal returns Connect's Decimal logical schema (bytes, version 1,
// parameter scale).
func Decimal(scale int) *Schema {
	return Bytes().WithName(LogicalDecimal).WithVersion(1).WithParam(DecimalScaleParam, strconv.Itoa(scale))
}

// Date returns Connect's Date logical schema (int32 days since the epoch).
func Date() *Schema { return Int32().WithName(LogicalDate).WithVersion(1) }

// Time returns Connect's Time logical schema (int32 milliseconds of the day).
func Time() *Schema { return Int32().WithName(LogicalTime).WithVersion(1) }

// Timestamp returns Connect's Timestamp logical schema (int64 epoch millis).
func Timestamp() *Schema { return Int64().WithName(LogicalTimestamp).WithVersion(1) }

func (s *Schema) clone() *Schema {
	c := *s
	return &c
}

// Optional returns a copy of s that is optional.
func (s *Schema) Optional() *Schema {
	c := s.clone()
	c.optional = true
	return c
}

// Required returns a copy of s that is required.
func (s *Schema) Required() *Schema {
	c := s.clone()
	c.optional = false
	return c
}

// WithName returns a copy of s with the given name ("" for none).
func (s *Schema) WithName(name string) *Schema {
	c := s.clone()
	c.name = name
	return c
}

// WithVersion returns a copy of s with the given version.
func (s *Schema) WithVersion(v int) *Schema {
	c := s.clone()
	c.version, c.hasVersion = v, true
	return c
}

// WithDoc returns a copy of s with the given documentation.
func (s *Schema) WithDoc(doc string) *Schema {
	c := s.clone()
	c.doc, c.hasDoc = doc, true
	return c
}

// WithParam returns a copy of s with the parameter set. A new key goes last;
// an existing key keeps its position, as in a Java LinkedHashMap.
func (s *Schema) WithParam(key, value string) *Schema {
	c := s.clone()
	c.params = append(make([]Param, 0, len(s.params)+1), s.params...)
	for i := range c.params {
		if c.params[i].Key == key {
			c.params[i].Value = value
			return c
		}
	}
	c.params = append(c.params, Param{Key: key, Value: value})
	return c
}

// WithDefault returns a copy of s with a default value (nil for none). The
// value must suit the schema; converters report a mismatch when encoding.
func (s *Schema) WithDefault(v any) *Schema {
	c := s.clone()
	c.def = v
	return c
}

// Type returns the schema type.
func (s *Schema) Type() Type { return s.typ }

// IsOptional reports whether a null value is allowed.
func (s *Schema) IsOptional() bool { return s.optional }

// Name returns the schema name, "" when unnamed.
func (s *Schema) Name() string { return s.name }

// Version returns the schema version and whether one is set.
func (s *Schema) Version() (int, bool) { return s.version, s.hasVersion }

// Doc returns the documentation and whether it is set.
func (s *Schema) Doc() (string, bool) { return s.doc, s.hasDoc }

// Params returns a copy of the parameters in insertion order.
func (s *Schema) Params() []Param { return append([]Param(nil), s.params...) }

// NumParams returns the number of parameters.
func (s *Schema) NumParams() int { return len(s.params) }

// ParamAt returns the i-th parameter.
func (s *Schema) ParamAt(i int) Param { return s.params[i] }

// Param returns the value of a parameter.
func (s *Schema) Param(key string) (string, bool) {
	for _, p := range s.params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Default returns the default value, nil when there is none.
func (s *Schema) Default() any { return s.def }

// NumFields returns the number of struct fields (0 for other types).
func (s *Schema) NumFields() int { return len(s.fields) }

// Field returns the i-th struct field.
func (s *Schema) Field(i int) Field { return s.fields[i] }

// Fields returns a copy of the struct fields in order.
func (s *Schema) Fields() []Field { return append([]Field(nil), s.fields...) }

// FieldIndex returns the index of the named field, or -1.
func (s *Schema) FieldIndex(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// FieldByName returns the named field's schema, nil if there is none.
func (s *Schema) FieldByName(name string) *Schema {
	if i, ok := s.index[name]; ok {
		return s.fields[i].Schema
	}
	return nil
}

// Items returns the item schema of an array (nil otherwise).
func (s *Schema) Items() *Schema {
	if s.typ != TypeArray {
		return nil
	}
	return s.items
}

// Keys returns the key schema of a map (nil otherwise).
func (s *Schema) Keys() *Schema { return s.keys }

// Values returns the value schema of a map (nil otherwise).
func (s *Schema) Values() *Schema {
	if s.typ != TypeMap {
		return nil
	}
	return s.items
}

// Equal reports whether two schemas are structurally identical, defaults
// included (compared with ValueEqual), parameters in order.
func (s *Schema) Equal(o *Schema) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil {
		return false
	}
	if s.typ != o.typ || s.optional != o.optional || s.name != o.name ||
		s.hasVersion != o.hasVersion || s.version != o.version ||
		s.hasDoc != o.hasDoc || s.doc != o.doc || len(s.params) != len(o.params) ||
		len(s.fields) != len(o.fields) {
		return false
	}
	// The modifiers (Optional, WithName, ...) copy a schema shallowly, so
	// variants of one schema share their params and fields: compare those
	// element by element only when they are not the same array.
	if !sameArray(s.params, o.params) {
		for i := range s.params {
			if s.params[i] != o.params[i] {
				return false
			}
		}
	}
	if !sameArray(s.fields, o.fields) {
		for i := range s.fields {
			if s.fields[i].Name != o.fields[i].Name || !s.fields[i].Schema.Equal(o.fields[i].Schema) {
				return false
			}
		}
	}
	if (s.items == nil) != (o.items == nil) || (s.items != nil && !s.items.Equal(o.items)) {
		return false
	}
	if (s.keys == nil) != (o.keys == nil) || (s.keys != nil && !s.keys.Equal(o.keys)) {
		return false
	}
	return ValueEqual(s.def, o.def)
}

// sameArray reports whether a and b, of equal length, are the same elements
// of the same array.
func sameArray[T any](a, b []T) bool {
	return len(a) > 0 && &a[0] == &b[0]
}

// SameStruct reports whether a struct value bound to s may be written where
// o is expected: the schemas are Equal apart from the top-level optional
// flag. EnvelopeSchema makes the row schema optional, and rows built with the
// required variant must still fit.
func (s *Schema) SameStruct(o *Schema) bool {
	if s == o {
		return true
	}
	if s == nil || o == nil || s.optional == o.optional {
		return s.Equal(o)
	}
	c := *o
	c.optional = s.optional
	return s.Equal(&c)
}

// String renders the schema for debugging, e.g. "struct<id:int32,name:string?>".
func (s *Schema) String() string {
	var b strings.Builder
	s.write(&b)
	return b.String()
}

func (s *Schema) write(b *strings.Builder) {
	if s == nil {
		b.WriteString("<nil>")
		return
	}
	switch s.typ {
	case TypeArray:
		b.WriteString("array<")
		s.items.write(b)
		b.WriteByte('>')
	case TypeMap:
		b.WriteString("map<")
		s.keys.write(b)
		b.WriteByte(',')
		s.items.write(b)
		b.WriteByte('>')
	case TypeStruct:
		b.WriteString("struct")
		if s.name != "" {
			b.WriteString("(" + s.name + ")")
		}
		b.WriteByte('<')
		for i, f := range s.fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f.Name + ":")
			f.Schema.write(b)
		}
		b.WriteByte('>')
	default:
		b.WriteString(s.typ.String())
		if s.name != "" {
			b.WriteString("(" + s.name + ")")
		}
	}
	if s.optional {
		b.WriteByte('?')
	}
}
