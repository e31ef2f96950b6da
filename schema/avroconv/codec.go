package avroconv

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/event"
)

// ErrMismatch is wrapped by encoding errors where a value does not fit its
// schema.
var ErrMismatch = errors.New("value does not match schema")

func mismatch(n *node, s *event.Schema, v any) error {
	return fmt.Errorf("%w: %T for avro %s (connect %v)", ErrMismatch, v, n.typ, s)
}

// parseHamba validates schema JSON with hamba/avro, with a private name
// cache: hamba's default cache is global, and two versions of one table
// schema share their record names.
func parseHamba(schema []byte) (avro.Schema, error) {
	return avro.ParseBytesWithCache(schema, "", &avro.SchemaCache{})
}

// encodeValue writes v, a value of Connect schema s, as Avro type n with
// hamba/avro's binary writer. n is the writer schema: the record's own
// schema, or with use.latest.version the subject's latest, whose fields are
// matched to the struct's by name.
func encodeValue(w *avro.Writer, n *node, s *event.Schema, v any) error {
	if v == nil && s != nil {
		v = s.Default() // Connect's Struct.get replaces null with the default
	}
	switch n.typ {
	case "union":
		idx := -1
		if v == nil {
			for i, b := range n.branches {
				if b.typ == "null" {
					idx = i
					break
				}
			}
		} else {
			for i, b := range n.branches {
				if accepts(b, s) {
					idx = i
					break
				}
			}
		}
		if idx < 0 {
			return mismatch(n, s, v)
		}
		w.WriteLong(int64(idx))
		return encodeValue(w, n.branches[idx], s, v)
	case "null":
		if v != nil {
			return mismatch(n, s, v)
		}
		return nil
	}
	if v == nil {
		return fmt.Errorf("%w: null for required avro %s (connect %v)", ErrMismatch, n.typ, s)
	}
	switch n.typ {
	case "int":
		i, ok := event.AsInt64(v)
		if !ok || i < math.MinInt32 || i > math.MaxInt32 {
			return mismatch(n, s, v)
		}
		w.WriteInt(int32(i))
	case "long":
		i, ok := event.AsInt64(v)
		if !ok {
			return mismatch(n, s, v)
		}
		w.WriteLong(i)
	case "float":
		f, ok := v.(float32)
		if !ok {
			return mismatch(n, s, v)
		}
		w.WriteFloat(f)
	case "double":
		switch f := v.(type) {
		case float64:
			w.WriteDouble(f)
		case float32:
			w.WriteDouble(float64(f))
		default:
			return mismatch(n, s, v)
		}
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return mismatch(n, s, v)
		}
		w.WriteBool(b)
	case "string":
		str, ok := v.(string)
		if !ok {
			return mismatch(n, s, v)
		}
		w.WriteString(str)
	case "bytes":
		b, ok := bytesOf(v)
		if !ok {
			return mismatch(n, s, v)
		}
		w.WriteBytes(b)
	case "array":
		if s.Type() == event.TypeMap { // array of MapEntry records
			entries, ok := mapEntries(v)
			if !ok || n.items.typ != "record" || len(n.items.fields) != 2 {
				return mismatch(n, s, v)
			}
			if len(entries) > 0 {
				w.WriteLong(int64(len(entries)))
				for _, e := range entries {
					if err := encodeValue(w, n.items.fields[0].schema, s.Keys(), e.Key); err != nil {
						return err
					}
					if err := encodeValue(w, n.items.fields[1].schema, s.Values(), e.Value); err != nil {
						return err
					}
				}
			}
			w.WriteLong(0)
			return nil
		}
		list, ok := v.([]any)
		if !ok || s.Type() != event.TypeArray {
			return mismatch(n, s, v)
		}
		if len(list) > 0 {
			w.WriteLong(int64(len(list)))
			for _, e := range list {
				if err := encodeValue(w, n.items, s.Items(), e); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case "map":
		entries, ok := mapEntries(v)
		if !ok || s.Type() != event.TypeMap {
			return mismatch(n, s, v)
		}
		if len(entries) > 0 {
			w.WriteLong(int64(len(entries)))
			for _, e := range entries {
				k, ok := e.Key.(string)
				if !ok {
					return mismatch(n, s, v)
				}
				w.WriteString(k)
				if err := encodeValue(w, n.items, s.Values(), e.Value); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case "record":
		st, ok := v.(*event.Struct)
		if !ok || s.Type() != event.TypeStruct {
			return mismatch(n, s, v)
		}
		ss := st.Schema()
		for i, f := range n.fields {
			idx := i
			if i >= ss.NumFields() || ss.Field(i).Name != f.name {
				idx = ss.FieldIndex(f.name)
			}
			if idx < 0 {
				if f.def == nil {
					return fmt.Errorf("%w: struct %q has no field %q and the writer schema gives it no default", ErrMismatch, ss.Name(), f.name)
				}
				if err := encodeDefault(w, f.schema, f.def); err != nil {
					return fmt.Errorf("field %s: %w", f.name, err)
				}
				continue
			}
			if err := encodeValue(w, f.schema, ss.Field(idx).Schema, st.At(idx)); err != nil {
				return fmt.Errorf("field %s: %w", f.name, err)
			}
		}
	default:
		return fmt.Errorf("avro type %s is not supported", n.typ)
	}
	return nil
}

// accepts reports whether union branch b can carry a value of schema s.
func accepts(b *node, s *event.Schema) bool {
	if s == nil {
		return false
	}
	switch b.typ {
	case "int":
		t := s.Type()
		return t == event.TypeInt8 || t == event.TypeInt16 || t == event.TypeInt32
	case "long":
		return s.Type() == event.TypeInt64
	case "float":
		return s.Type() == event.TypeFloat32
	case "double":
		return s.Type() == event.TypeFloat64
	case "boolean":
		return s.Type() == event.TypeBoolean
	case "string":
		return s.Type() == event.TypeString
	case "bytes":
		return s.Type() == event.TypeBytes
	case "record":
		return s.Type() == event.TypeStruct
	case "array":
		return s.Type() == event.TypeArray || (s.Type() == event.TypeMap && b.items.typ == "record")
	case "map":
		return s.Type() == event.TypeMap
	}
	return false
}

// encodeDefault writes an Avro field default (JSON) in binary, for fields
// the writer schema has and the struct lacks.
func encodeDefault(w *avro.Writer, n *node, d *jv) error {
	bad := fmt.Errorf("%w: default %s for avro %s", ErrMismatch, d.append(nil), n.typ)
	switch n.typ {
	case "union":
		for i, b := range n.branches {
			if validDefault(b, d) {
				w.WriteLong(int64(i))
				return encodeDefault(w, b, d)
			}
		}
		return bad
	case "null":
		return nil
	case "boolean":
		w.WriteBool(d.b)
	case "int", "long":
		i, err := strconv.ParseInt(d.i, 10, 64)
		if err != nil {
			return bad
		}
		if n.typ == "int" {
			w.WriteInt(int32(i))
		} else {
			w.WriteLong(i)
		}
	case "float", "double":
		f := d.f
		if d.kind == 'i' {
			f, _ = strconv.ParseFloat(d.i, 64)
		}
		if n.typ == "float" {
			w.WriteFloat(float32(f))
		} else {
			w.WriteDouble(f)
		}
	case "string":
		w.WriteString(d.s)
	case "bytes":
		w.WriteBytes(latin1(d.s))
	case "array":
		if len(d.arr) > 0 {
			w.WriteLong(int64(len(d.arr)))
			for _, e := range d.arr {
				if err := encodeDefault(w, n.items, e); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case "map":
		if len(d.keys) > 0 {
			w.WriteLong(int64(len(d.keys)))
			for i, k := range d.keys {
				w.WriteString(k)
				if err := encodeDefault(w, n.items, d.vals[i]); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	case "record":
		for _, f := range n.fields {
			fv := d.get(f.name)
			if fv == nil {
				fv = f.def
			}
			if fv == nil {
				return bad
			}
			if err := encodeDefault(w, f.schema, fv); err != nil {
				return err
			}
		}
	default:
		return bad
	}
	return nil
}

// latin1 reverses the ISO-8859-1 string Avro uses for bytes defaults.
func latin1(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		out = append(out, byte(r))
	}
	return out
}

// decodeValue reads a value of Avro type n into the Go representation of
// Connect schema s (built from n by toConnect).
// decoder is hamba/avro's reader plus the input size, which bounds block
// counts: a corrupt count must not make the decoder spin or allocate.
type decoder struct {
	*avro.Reader
	size int64
}

func (r *decoder) blockCount() (int64, error) {
	count := r.ReadLong()
	if r.Error != nil {
		return 0, r.Error
	}
	if count < 0 {
		count = -count
		r.ReadLong() // block size in bytes
	}
	if count < 0 || count > r.size {
		return 0, fmt.Errorf("block count %d exceeds the record size", count)
	}
	return count, r.Error
}

func decodeValue(r *decoder, n *node, s *event.Schema) (any, error) {
	switch n.typ {
	case "union":
		idx := r.ReadLong()
		if r.Error != nil {
			return nil, r.Error
		}
		if idx < 0 || int(idx) >= len(n.branches) {
			return nil, fmt.Errorf("union index %d out of range", idx)
		}
		if generalUnion(n) {
			return decodeUnionBranch(r, n, int(idx), s)
		}
		return decodeValue(r, n.branches[idx], s)
	case "null":
		return nil, nil
	case "int":
		i := r.ReadInt()
		switch s.Type() {
		case event.TypeInt8:
			return int8(i), nil
		case event.TypeInt16:
			return int16(i), nil
		}
		return i, nil
	case "long":
		return r.ReadLong(), nil
	case "float":
		return r.ReadFloat(), nil
	case "double":
		return r.ReadDouble(), nil
	case "boolean":
		return r.ReadBool(), nil
	case "string":
		return strings.Clone(r.ReadString()), nil
	case "bytes":
		return r.ReadBytes(), nil
	case "array":
		var list []any
		var entries []event.MapEntry
		isMap := s.Type() == event.TypeMap
		for {
			count, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if count == 0 {
				break
			}
			for ; count > 0 && r.Error == nil; count-- {
				if isMap {
					k, err := decodeValue(r, n.items.fields[0].schema, s.Keys())
					if err != nil {
						return nil, err
					}
					v, err := decodeValue(r, n.items.fields[1].schema, s.Values())
					if err != nil {
						return nil, err
					}
					entries = append(entries, event.MapEntry{Key: k, Value: v})
					continue
				}
				e, err := decodeValue(r, n.items, s.Items())
				if err != nil {
					return nil, err
				}
				list = append(list, e)
			}
		}
		if isMap {
			if entries == nil {
				entries = []event.MapEntry{}
			}
			return entries, nil
		}
		if list == nil {
			list = []any{}
		}
		return list, nil
	case "map":
		m := map[string]any{}
		for {
			count, err := r.blockCount()
			if err != nil {
				return nil, err
			}
			if count == 0 {
				break
			}
			for ; count > 0 && r.Error == nil; count-- {
				k := strings.Clone(r.ReadString())
				v, err := decodeValue(r, n.items, s.Values())
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
		}
		return m, nil
	case "record":
		st := event.NewStruct(s)
		for i, f := range n.fields {
			v, err := decodeValue(r, f.schema, s.Field(i).Schema)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.name, err)
			}
			st.SetAt(i, v)
		}
		return st, nil
	}
	return nil, fmt.Errorf("avro type %s is not supported", n.typ)
}

// toConnect is AvroData.toConnectSchema for the schemas AvroData writes:
// connect.name/version/doc/parameters/default/type restore the Connect
// schema exactly; schemas from other producers get the Connect logical types
// of their Avro logical types.
func toConnect(n *node) (*event.Schema, error) {
	return (&toConnectCtx{records: map[*node]*event.Schema{}}).schema(n)
}

type toConnectCtx struct {
	records map[*node]*event.Schema
}

func (c *toConnectCtx) schema(n *node) (*event.Schema, error) {
	var s *event.Schema
	switch n.typ {
	case "union":
		var other *node
		nulls := 0
		for _, b := range n.branches {
			if b.typ == "null" {
				nulls++
			} else {
				other = b
			}
		}
		if nulls != 1 || len(n.branches) != 2 {
			return c.unionSchema(n)
		}
		inner, err := c.schema(other)
		if err != nil {
			return nil, err
		}
		return inner.Optional(), nil
	case "int":
		switch ct := n.prop(propConnectType); {
		case ct != nil && ct.s == "int8":
			s = event.Int8()
		case ct != nil && ct.s == "int16":
			s = event.Int16()
		default:
			s = event.Int32()
		}
	case "long":
		s = event.Int64()
	case "float":
		s = event.Float32()
	case "double":
		s = event.Float64()
	case "boolean":
		s = event.Boolean()
	case "string", "enum":
		s = event.String()
	case "bytes", "fixed":
		s = event.Bytes()
	case "array":
		if it := n.items; it.typ == "record" && len(it.fields) == 2 && it.fields[0].name == "key" && it.fields[1].name == "value" &&
			((it.space == connectNamespace && it.name == mapEntryName) || jvString(it.prop(propInternalType)) == mapEntryName) {
			k, err := c.schema(it.fields[0].schema)
			if err != nil {
				return nil, err
			}
			v, err := c.schema(it.fields[1].schema)
			if err != nil {
				return nil, err
			}
			s = event.Map(k, v)
			break
		}
		items, err := c.schema(n.items)
		if err != nil {
			return nil, err
		}
		s = event.Array(items)
	case "map":
		v, err := c.schema(n.items)
		if err != nil {
			return nil, err
		}
		s = event.Map(event.String(), v)
	case "record":
		if done, ok := c.records[n]; ok {
			return done, nil
		}
		name := jvString(n.prop(propConnectName))
		if name == "" && !strings.HasPrefix(n.fullName(), connectNamespace+"."+defaultRecordName) {
			name = n.fullName()
		}
		fields := make([]event.Field, len(n.fields))
		for i, f := range n.fields {
			fs, err := c.schema(f.schema)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.name, err)
			}
			if fs.Default() == nil && f.def != nil && f.def.kind != 'n' {
				if dv, err := jsonToValue(fs, f.def); err == nil {
					fs = fs.WithDefault(dv)
				}
			}
			fields[i] = event.NewField(f.name, fs)
		}
		s = event.StructOf(name, fields...)
	default:
		return nil, fmt.Errorf("avro type %s is not supported", n.typ)
	}
	if n.typ != "record" {
		if name := jvString(n.prop(propConnectName)); name != "" {
			s = s.WithName(name)
		}
	}
	if v := n.prop(propConnectVersion); v != nil && v.kind == 'i' {
		ver, err := strconv.Atoi(v.i)
		if err == nil {
			s = s.WithVersion(ver)
		}
	}
	if d := n.prop(propConnectDoc); d != nil && d.kind == 's' {
		s = s.WithDoc(d.s)
	}
	if ps := n.prop(propConnectParams); ps != nil && ps.kind == 'o' {
		for i, k := range ps.keys {
			s = s.WithParam(k, jvString(ps.vals[i]))
		}
	}
	if s.Name() == "" { // a foreign schema: Avro logical types as Connect's
		switch jvString(n.prop(propLogicalType)) {
		case "decimal":
			scale := jvString(n.prop("scale"))
			if scale == "" {
				scale = "0"
			}
			s = s.WithName(event.LogicalDecimal).WithVersion(1).WithParam(event.DecimalScaleParam, scale)
			if p := jvString(n.prop("precision")); p != "" {
				s = s.WithParam(paramPrecision, p)
			}
		case "date":
			s = s.WithName(event.LogicalDate).WithVersion(1)
		case "time-millis":
			s = s.WithName(event.LogicalTime).WithVersion(1)
		case "timestamp-millis":
			s = s.WithName(event.LogicalTimestamp).WithVersion(1)
		}
	}
	if d := n.prop(propConnectDefault); d != nil && d.kind != 'n' {
		dv, err := jsonToValue(s, d)
		if err != nil {
			return nil, fmt.Errorf("connect.default: %w", err)
		}
		s = s.WithDefault(dv)
	}
	if n.typ == "record" {
		c.records[n] = s
	}
	return s, nil
}

func jvString(v *jv) string {
	if v == nil {
		return ""
	}
	switch v.kind {
	case 's':
		return v.s
	case 'i':
		return v.i
	}
	return ""
}

// jsonToValue converts a JSON default to the Go value of schema s
// (AvroData.defaultValueFromAvro).
func jsonToValue(s *event.Schema, d *jv) (any, error) {
	if d.kind == 'n' {
		return nil, nil
	}
	bad := fmt.Errorf("default %s does not fit %v", d.append(nil), s)
	switch s.Type() {
	case event.TypeInt8, event.TypeInt16, event.TypeInt32, event.TypeInt64:
		if d.kind != 'i' {
			return nil, bad
		}
		i, err := strconv.ParseInt(d.i, 10, 64)
		if err != nil {
			return nil, bad
		}
		switch s.Type() {
		case event.TypeInt8:
			return int8(i), nil
		case event.TypeInt16:
			return int16(i), nil
		case event.TypeInt32:
			return int32(i), nil
		}
		return i, nil
	case event.TypeFloat32, event.TypeFloat64:
		f := d.f
		switch d.kind {
		case 'i':
			f, _ = strconv.ParseFloat(d.i, 64)
		case 's': // "NaN", "Infinity"
			var err error
			if f, err = strconv.ParseFloat(strings.TrimSuffix(d.s, "inity"), 64); err != nil {
				return nil, bad
			}
		}
		if s.Type() == event.TypeFloat32 {
			return float32(f), nil
		}
		return f, nil
	case event.TypeBoolean:
		if d.kind != 'b' {
			return nil, bad
		}
		return d.b, nil
	case event.TypeString:
		if d.kind != 's' {
			return nil, bad
		}
		return d.s, nil
	case event.TypeBytes:
		if d.kind != 's' {
			return nil, bad
		}
		return latin1(d.s), nil
	case event.TypeArray:
		if d.kind != 'a' {
			return nil, bad
		}
		out := make([]any, len(d.arr))
		for i, e := range d.arr {
			v, err := jsonToValue(s.Items(), e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case event.TypeMap:
		switch d.kind {
		case 'o':
			out := map[string]any{}
			for i, k := range d.keys {
				v, err := jsonToValue(s.Values(), d.vals[i])
				if err != nil {
					return nil, err
				}
				out[k] = v
			}
			return out, nil
		case 'a':
			out := make([]event.MapEntry, 0, len(d.arr))
			for _, e := range d.arr {
				if e.kind != 'a' || len(e.arr) != 2 {
					return nil, bad
				}
				k, err := jsonToValue(s.Keys(), e.arr[0])
				if err != nil {
					return nil, err
				}
				v, err := jsonToValue(s.Values(), e.arr[1])
				if err != nil {
					return nil, err
				}
				out = append(out, event.MapEntry{Key: k, Value: v})
			}
			return out, nil
		}
		return nil, bad
	case event.TypeStruct:
		if d.kind != 'o' {
			return nil, bad
		}
		st := event.NewStruct(s)
		for i, f := range s.Fields() {
			if fv := d.get(f.Name); fv != nil {
				v, err := jsonToValue(f.Schema, fv)
				if err != nil {
					return nil, err
				}
				st.SetAt(i, v)
			}
		}
		return st, nil
	}
	return nil, bad
}
