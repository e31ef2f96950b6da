package event

import (
	"bytes"
	"fmt"
	"math/big"
	"reflect"
)

// Struct is a struct value bound to its struct schema, with one value per
// field in schema order. A Struct is not safe for concurrent mutation; once
// handed to an Event it should be treated as read-only.
type Struct struct {
	schema *Schema
	vals   []any
}

// NewStruct returns a struct value for a struct schema. vals, if given, are
// the field values in schema order and must number exactly NumFields. It
// panics when s is not a struct schema or the count is wrong.
func NewStruct(s *Schema, vals ...any) *Struct {
	if s == nil || s.typ != TypeStruct {
		panic(fmt.Sprintf("event: NewStruct with non-struct schema %v", s))
	}
	st := newStruct(s, len(s.fields))
	if len(vals) != 0 {
		if len(vals) != len(s.fields) {
			panic(fmt.Sprintf("event: NewStruct %q: %d values for %d fields", s.name, len(vals), len(s.fields)))
		}
		copy(st.vals, vals)
	}
	return st
}

// newStruct allocates a Struct and its values together: one allocation
// rather than two, for the field counts of almost every row, key, source
// block and envelope.
func newStruct(s *Schema, n int) *Struct {
	var st *Struct
	switch {
	case n <= 4:
		b := &struct {
			st Struct
			v  [4]any
		}{}
		st = &b.st
		st.vals = b.v[:n:n]
	case n <= 8:
		b := &struct {
			st Struct
			v  [8]any
		}{}
		st = &b.st
		st.vals = b.v[:n:n]
	case n <= 16:
		b := &struct {
			st Struct
			v  [16]any
		}{}
		st = &b.st
		st.vals = b.v[:n:n]
	default:
		st = &Struct{vals: make([]any, n)}
	}
	st.schema = s
	return st
}

// Schema returns the struct's schema.
func (st *Struct) Schema() *Schema { return st.schema }

// Set sets the named field and returns st for chaining. It panics if the
// schema has no such field (a bug in the caller, as in Connect's Struct.put).
func (st *Struct) Set(name string, v any) *Struct {
	i := st.schema.FieldIndex(name)
	if i < 0 {
		panic(fmt.Sprintf("event: struct %q has no field %q", st.schema.name, name))
	}
	st.vals[i] = v
	return st
}

// SetAt sets the i-th field and returns st for chaining.
func (st *Struct) SetAt(i int, v any) *Struct {
	st.vals[i] = v
	return st
}

// Get returns the named field's value; nil if unset or unknown.
func (st *Struct) Get(name string) any {
	i := st.schema.FieldIndex(name)
	if i < 0 {
		return nil
	}
	return st.vals[i]
}

// At returns the i-th field's value.
func (st *Struct) At(i int) any { return st.vals[i] }

// Validate checks every value against its schema: Go type per Connect type,
// nulls only where optional or defaulted, nested structs bound to the
// field's schema.
func (st *Struct) Validate() error {
	return ValidateValue(st.schema, st)
}

// Equal reports whether two structs have equal schemas and values.
func (st *Struct) Equal(o *Struct) bool {
	if st == nil || o == nil {
		return st == o
	}
	if !st.schema.Equal(o.schema) || len(st.vals) != len(o.vals) {
		return false
	}
	for i := range st.vals {
		if !ValueEqual(st.vals[i], o.vals[i]) {
			return false
		}
	}
	return true
}

// String renders the struct for debugging.
func (st *Struct) String() string {
	if st == nil {
		return "<nil>"
	}
	var b bytes.Buffer
	b.WriteString("Struct{")
	for i, f := range st.schema.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%v", f.Name, st.vals[i])
	}
	b.WriteByte('}')
	return b.String()
}

// MapEntry is one entry of a map value. A map value is a []MapEntry (order
// kept as given) or, for string keys, a map[string]any (converters emit it in
// sorted key order for determinism).
type MapEntry struct {
	Key, Value any
}

// ValueEqual compares two values of the model deeply ([]byte by content,
// *Struct with Equal, *big.Int by value).
func ValueEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case *Struct:
		y, ok := b.(*Struct)
		return ok && x.Equal(y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !ValueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case []MapEntry:
		y, ok := b.([]MapEntry)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !ValueEqual(x[i].Key, y[i].Key) || !ValueEqual(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !ValueEqual(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// DecimalBytes encodes an unscaled decimal value as Connect's Decimal does:
// the minimal big-endian two's-complement bytes (Java BigInteger.toByteArray).
func DecimalBytes(unscaled *big.Int) []byte {
	switch unscaled.Sign() {
	case 0:
		return []byte{0}
	case 1:
		b := unscaled.Bytes()
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// Negative: two's complement of |v| in n bytes, n minimal such that the
	// value fits: -2^(8n-1) <= v.
	n := (new(big.Int).Not(unscaled).BitLen())/8 + 1 // Not(v) = -v-1 >= 0
	mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	b := new(big.Int).Add(mod, unscaled).Bytes()
	for len(b) < n {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// DecimalUnscaled decodes big-endian two's-complement bytes (Connect's
// Decimal representation) into the unscaled value.
func DecimalUnscaled(b []byte) *big.Int {
	v := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

// ValidateValue checks v against s the way Connect's ConnectSchema.validateValue
// does, with Sluice's Go representations.
func ValidateValue(s *Schema, v any) error {
	if v == nil {
		if s.optional || s.def != nil {
			return nil
		}
		return fmt.Errorf("null value for required %s", s.describe())
	}
	ok := true
	switch s.typ {
	case TypeInt8:
		_, ok = v.(int8)
	case TypeInt16:
		_, ok = v.(int16)
	case TypeInt32:
		_, ok = v.(int32)
	case TypeInt64:
		_, ok = v.(int64)
	case TypeFloat32:
		_, ok = v.(float32)
	case TypeFloat64:
		_, ok = v.(float64)
	case TypeBoolean:
		_, ok = v.(bool)
	case TypeString:
		_, ok = v.(string)
	case TypeBytes:
		switch v.(type) {
		case []byte:
		case *big.Int:
			ok = s.name == LogicalDecimal
		default:
			ok = false
		}
	case TypeArray:
		arr, isArr := v.([]any)
		if !isArr {
			ok = false
			break
		}
		for i, e := range arr {
			if err := ValidateValue(s.items, e); err != nil {
				return fmt.Errorf("array element %d: %w", i, err)
			}
		}
	case TypeMap:
		switch m := v.(type) {
		case []MapEntry:
			for _, e := range m {
				if err := ValidateValue(s.keys, e.Key); err != nil {
					return fmt.Errorf("map key: %w", err)
				}
				if err := ValidateValue(s.items, e.Value); err != nil {
					return fmt.Errorf("map value for key %v: %w", e.Key, err)
				}
			}
		case map[string]any:
			if s.keys.typ != TypeString {
				ok = false
				break
			}
			for k, e := range m {
				if err := ValidateValue(s.items, e); err != nil {
					return fmt.Errorf("map value for key %q: %w", k, err)
				}
			}
		default:
			ok = false
		}
	case TypeStruct:
		st, isStruct := v.(*Struct)
		if !isStruct {
			ok = false
			break
		}
		if !st.schema.SameStruct(s) {
			return fmt.Errorf("struct value for schema %v bound to %v", s, st.schema)
		}
		for i, f := range s.fields {
			if err := ValidateValue(f.Schema, st.vals[i]); err != nil {
				return fmt.Errorf("field %q: %w", f.Name, err)
			}
		}
	}
	if !ok {
		return fmt.Errorf("value of Go type %T for %s", v, s.describe())
	}
	return nil
}

func (s *Schema) describe() string {
	if s.name != "" {
		return s.typ.String() + " schema " + s.name
	}
	return s.typ.String() + " schema"
}

// AsInt64 returns v as an int64 when it is one of the signed integer types
// Connect values use (int8 … int64, and int from hand-built values).
func AsInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}
