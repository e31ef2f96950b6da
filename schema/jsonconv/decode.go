package jsonconv

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/event"
)

// ErrEnvelope is returned when schemas are enabled and the JSON is not a
// {"schema":...,"payload":...} object.
var ErrEnvelope = errors.New(`JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields`)

// Decode parses Kafka key or value bytes (JsonConverter.toConnectData). A nil
// or empty input is Kafka's null and gives nil, nil, nil. With schemas
// disabled, or a "schema": null envelope, the schema is nil and the value is
// inferred: bool, int64, float64, string, []any, []event.MapEntry.
func (c *Converter) Decode(data []byte) (*event.Schema, any, error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	root, err := parseJSON(data)
	if err != nil {
		return nil, nil, fmt.Errorf("decode json: %w", err)
	}
	if !c.cfg.SchemasEnable {
		v, err := toConnect(nil, root)
		if err != nil {
			return nil, nil, fmt.Errorf("decode payload: %w", err)
		}
		return nil, v, nil
	}
	if root.kind != kObject || len(root.keys) != 2 || root.get("schema") == nil || root.get("payload") == nil {
		return nil, nil, ErrEnvelope
	}
	s, err := asSchema(root.get("schema"))
	if err != nil {
		return nil, nil, fmt.Errorf("decode schema: %w", err)
	}
	v, err := toConnect(s, root.get("payload"))
	if err != nil {
		return nil, nil, fmt.Errorf("decode payload: %w", err)
	}
	return s, v, nil
}

// DecodeStruct is Decode for a struct key or value; a Kafka null gives nil.
func (c *Converter) DecodeStruct(data []byte) (*event.Struct, error) {
	_, v, err := c.Decode(data)
	if err != nil || v == nil {
		return nil, err
	}
	st, ok := v.(*event.Struct)
	if !ok {
		return nil, fmt.Errorf("decode: value is %T, not a struct", v)
	}
	return st, nil
}

// asSchema is JsonConverter.asConnectSchema.
func asSchema(n *node) (*event.Schema, error) {
	if n.kind == kNull {
		return nil, nil
	}
	if n.kind != kObject {
		return nil, errors.New("schema is not an object")
	}
	tn := n.get("type")
	if tn == nil || tn.kind != kString {
		return nil, errors.New("schema must contain 'type' field")
	}
	var s *event.Schema
	switch tn.str {
	case "boolean":
		s = event.Boolean()
	case "int8":
		s = event.Int8()
	case "int16":
		s = event.Int16()
	case "int32":
		s = event.Int32()
	case "int64":
		s = event.Int64()
	case "float":
		s = event.Float32()
	case "double":
		s = event.Float64()
	case "bytes":
		s = event.Bytes()
	case "string":
		s = event.String()
	case "array":
		in := n.get("items")
		if in == nil || in.kind == kNull {
			return nil, errors.New("array schema did not specify the element type")
		}
		items, err := asSchema(in)
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		s = event.Array(items)
	case "map":
		kn, vn := n.get("keys"), n.get("values")
		if kn == nil || vn == nil || kn.kind == kNull || vn.kind == kNull {
			return nil, errors.New("map schema did not specify the key and value types")
		}
		ks, err := asSchema(kn)
		if err != nil {
			return nil, fmt.Errorf("map keys: %w", err)
		}
		vs, err := asSchema(vn)
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		s = event.Map(ks, vs)
	case "struct":
		fn := n.get("fields")
		if fn == nil || fn.kind != kArray {
			return nil, errors.New(`struct schema's "fields" argument is not an array`)
		}
		fields := make([]event.Field, 0, len(fn.arr))
		seen := make(map[string]bool, len(fn.arr))
		for _, f := range fn.arr {
			if f.kind != kObject {
				return nil, errors.New("struct field schema is not an object")
			}
			name := f.get("field")
			if name == nil || name.kind != kString || name.str == "" {
				return nil, errors.New("struct schema's field name not specified properly")
			}
			if seen[name.str] {
				return nil, fmt.Errorf("struct schema has duplicate field %q", name.str)
			}
			seen[name.str] = true
			fs, err := asSchema(f)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", name.str, err)
			}
			fields = append(fields, event.NewField(name.str, fs))
		}
		s = event.StructOf("", fields...)
	default:
		return nil, fmt.Errorf("unknown schema type: %s", tn.str)
	}
	if on := n.get("optional"); on != nil && on.kind == kBool && on.b {
		s = s.Optional()
	}
	if nn := n.get("name"); nn != nil && nn.kind == kString {
		s = s.WithName(nn.str)
	}
	if vn := n.get("version"); vn != nil && vn.isIntegral() {
		v, err := strconv.ParseInt(vn.str, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("schema version %s: %w", vn.str, err)
		}
		s = s.WithVersion(int(v))
	}
	if dn := n.get("doc"); dn != nil && dn.kind == kString {
		s = s.WithDoc(dn.str)
	}
	if pn := n.get("parameters"); pn != nil && pn.kind == kObject {
		for i, k := range pn.keys {
			if pn.vals[i].kind != kString {
				return nil, errors.New("schema parameters must have string values")
			}
			s = s.WithParam(k, pn.vals[i].str)
		}
	}
	if dn := n.get("default"); dn != nil {
		d, err := toConnect(s, dn)
		if err != nil {
			return nil, fmt.Errorf("schema default: %w", err)
		}
		s = s.WithDefault(d)
	}
	return s, nil
}

// toConnect is JsonConverter.convertToConnect.
func toConnect(s *event.Schema, n *node) (any, error) {
	if s == nil {
		return schemaless(n)
	}
	if n == nil || n.kind == kNull {
		switch {
		case s.Default() != nil:
			return s.Default(), nil
		case s.IsOptional():
			return nil, nil
		}
		return nil, fmt.Errorf("invalid null value for required %s field", s.Type())
	}
	switch s.Name() {
	case event.LogicalDecimal:
		if s.Type() == event.TypeBytes {
			return decimalFrom(s, n)
		}
	case event.LogicalDate, event.LogicalTime:
		if s.Type() == event.TypeInt32 {
			v, err := intFrom(n, 32, true)
			return int32(v), err
		}
	case event.LogicalTimestamp:
		if s.Type() == event.TypeInt64 {
			return intFrom(n, 64, true)
		}
	}
	switch s.Type() {
	case event.TypeBoolean:
		if n.kind != kBool {
			return nil, wrongKind(s, n)
		}
		return n.b, nil
	case event.TypeInt8:
		v, err := intFrom(n, 64, false)
		return int8(v), err
	case event.TypeInt16:
		v, err := intFrom(n, 64, false)
		return int16(v), err
	case event.TypeInt32:
		v, err := intFrom(n, 64, false)
		return int32(v), err
	case event.TypeInt64:
		return intFrom(n, 64, false)
	case event.TypeFloat32:
		f, err := floatFrom(n, 32)
		return float32(f), err
	case event.TypeFloat64:
		return floatFrom(n, 64)
	case event.TypeString:
		if n.kind != kString {
			return nil, wrongKind(s, n)
		}
		return n.str, nil
	case event.TypeBytes:
		if n.kind != kString {
			return nil, wrongKind(s, n)
		}
		return decodeBase64(n.str)
	case event.TypeArray:
		if n.kind != kArray {
			return nil, wrongKind(s, n)
		}
		out := make([]any, len(n.arr))
		for i, e := range n.arr {
			v, err := toConnect(s.Items(), e)
			if err != nil {
				return nil, fmt.Errorf("array element %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	case event.TypeMap:
		return mapFrom(s, n)
	case event.TypeStruct:
		if n.kind != kObject {
			return nil, wrongKind(s, n)
		}
		st := event.NewStruct(s)
		for i := range s.NumFields() {
			f := s.Field(i)
			v, err := toConnect(f.Schema, n.get(f.Name))
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			st.SetAt(i, v)
		}
		return st, nil
	}
	return nil, fmt.Errorf("unknown schema type %v", s.Type())
}

var kindNames = [...]string{kNull: "NULL", kBool: "BOOLEAN", kNumber: "NUMBER", kString: "STRING", kArray: "ARRAY", kObject: "OBJECT"}

func wrongKind(s *event.Schema, n *node) error {
	return fmt.Errorf("%s schema: found JSON %s", s.Type(), kindNames[n.kind])
}

// intFrom reads an integer; like Jackson's intValue/longValue a fractional
// number is truncated and a wider integer wraps, unless strict, where the
// logical types require an integral number that fits.
func intFrom(n *node, bits int, strict bool) (int64, error) {
	if n.kind != kNumber {
		return 0, fmt.Errorf("expected a number, found JSON %s", kindNames[n.kind])
	}
	if n.isIntegral() {
		if v, err := strconv.ParseInt(n.str, 10, bits); err == nil {
			return v, nil
		} else if strict {
			return 0, fmt.Errorf("integer %s: %w", n.str, err)
		}
		b, ok := new(big.Int).SetString(n.str, 10)
		if !ok {
			return 0, fmt.Errorf("invalid integer %s", n.str)
		}
		// Two's-complement low 64 bits, as BigInteger.longValue.
		return int64(new(big.Int).And(b, mask64).Uint64()), nil
	}
	if strict {
		return 0, fmt.Errorf("expected an integral number, found %s", n.str)
	}
	f, err := strconv.ParseFloat(n.str, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("number %s: %w", n.str, err)
	}
	switch {
	case math.IsNaN(f):
		return 0, nil
	case f >= math.MaxInt64:
		return math.MaxInt64, nil
	case f <= math.MinInt64:
		return math.MinInt64, nil
	}
	return int64(f), nil
}

var mask64 = new(big.Int).SetUint64(math.MaxUint64)

func floatFrom(n *node, bits int) (float64, error) {
	if n.kind == kString {
		// The encoder writes non-finite values as Jackson does, as strings;
		// accept them back (Connect itself would read 0.0 here).
		switch n.str {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	if n.kind != kNumber {
		return 0, fmt.Errorf("expected a number, found JSON %s", kindNames[n.kind])
	}
	f, err := strconv.ParseFloat(n.str, bits)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("number %s: %w", n.str, err)
	}
	return f, nil
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b2, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
			return b2, nil
		}
		return nil, fmt.Errorf("invalid base64 bytes: %w", err)
	}
	return b, nil
}

// decimalFrom accepts base64 unscaled bytes or, as Connect does, a JSON
// number; numbers are rescaled to the schema scale and must fit it exactly.
func decimalFrom(s *event.Schema, n *node) (any, error) {
	switch n.kind {
	case kString:
		return decodeBase64(n.str)
	case kNumber:
		scaleStr, _ := s.Param(event.DecimalScaleParam)
		scale, err := strconv.Atoi(scaleStr)
		if err != nil {
			return nil, fmt.Errorf("decimal schema scale %q: %w", scaleStr, err)
		}
		if scale < -1000 || scale > 1000 {
			return nil, fmt.Errorf("decimal schema scale %d out of range", scale)
		}
		if i := strings.IndexAny(n.str, "eE"); i >= 0 || len(n.str) > 2000 {
			// Bound the work: big.Rat would expand 1e999999999 in full.
			if e, err := strconv.Atoi(n.str[i+1:]); err != nil || e > 2000 || e < -2000 {
				return nil, fmt.Errorf("decimal %.40s out of range", n.str)
			}
		}
		r, ok := new(big.Rat).SetString(n.str)
		if !ok {
			return nil, fmt.Errorf("invalid decimal %s", n.str)
		}
		if r.Denom().BitLen() > 4000 || r.Num().BitLen() > 4000 {
			return nil, fmt.Errorf("decimal %s too large", n.str)
		}
		pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(scale))), nil)
		if scale >= 0 {
			r.Mul(r, new(big.Rat).SetInt(pow))
		} else {
			r.Quo(r, new(big.Rat).SetInt(pow))
		}
		if !r.IsInt() {
			return nil, fmt.Errorf("decimal %s does not fit scale %d", n.str, scale)
		}
		return event.DecimalBytes(r.Num()), nil
	}
	return nil, fmt.Errorf("decimal: found JSON %s", kindNames[n.kind])
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func mapFrom(s *event.Schema, n *node) (any, error) {
	var out []event.MapEntry
	if s.Keys().Type() == event.TypeString {
		if n.kind != kObject {
			return nil, fmt.Errorf("maps with string keys should be JSON objects, found %s", kindNames[n.kind])
		}
		out = make([]event.MapEntry, len(n.keys))
		for i, k := range n.keys {
			v, err := toConnect(s.Values(), n.vals[i])
			if err != nil {
				return nil, fmt.Errorf("map value for %q: %w", k, err)
			}
			out[i] = event.MapEntry{Key: k, Value: v}
		}
		return out, nil
	}
	if n.kind != kArray {
		return nil, fmt.Errorf("maps with non-string keys should be JSON arrays of pairs, found %s", kindNames[n.kind])
	}
	out = make([]event.MapEntry, len(n.arr))
	for i, e := range n.arr {
		if e.kind != kArray || len(e.arr) != 2 {
			return nil, errors.New("invalid map entry: expected a [key, value] array")
		}
		k, err := toConnect(s.Keys(), e.arr[0])
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		v, err := toConnect(s.Values(), e.arr[1])
		if err != nil {
			return nil, fmt.Errorf("map value: %w", err)
		}
		out[i] = event.MapEntry{Key: k, Value: v}
	}
	return out, nil
}

func schemaless(n *node) (any, error) {
	if n == nil {
		return nil, nil
	}
	switch n.kind {
	case kNull:
		return nil, nil
	case kBool:
		return n.b, nil
	case kNumber:
		if n.isIntegral() {
			return intFrom(n, 64, false)
		}
		return floatFrom(n, 64)
	case kString:
		return n.str, nil
	case kArray:
		out := make([]any, len(n.arr))
		for i, e := range n.arr {
			v, err := schemaless(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case kObject:
		out := make([]event.MapEntry, len(n.keys))
		for i, k := range n.keys {
			v, err := schemaless(n.vals[i])
			if err != nil {
				return nil, err
			}
			out[i] = event.MapEntry{Key: k, Value: v}
		}
		return out, nil
	}
	return nil, errors.New("unknown JSON node")
}
