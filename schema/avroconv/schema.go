package avroconv

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// Names and properties of Confluent's AvroData (io.confluent.connect.avro).
const (
	connectNamespace   = "io.confluent.connect.avro"
	defaultRecordName  = "ConnectDefault"
	mapEntryName       = "MapEntry"
	unionName          = connectNamespace + ".Union"
	propConnectName    = "connect.name"
	propConnectDoc     = "connect.doc"
	propConnectVersion = "connect.version"
	propConnectDefault = "connect.default"
	propConnectParams  = "connect.parameters"
	propConnectType    = "connect.type"
	propInternalType   = "connect.internal.type"
	propLogicalType    = "logicalType"
	paramPrecision     = "connect.decimal.precision"
	paramFieldDefault  = connectNamespace + ".field.default"
	paramRecordDoc     = connectNamespace + ".record.doc"
	paramFieldDocPfx   = connectNamespace + ".field.doc."
	defaultPrecision   = 64
)

// node is one Avro schema in the tree AvroSchema builds before writing it.
// Named records are shared by pointer where AvroData shares its
// org.apache.avro.Schema objects, which decides where the JSON repeats a
// definition and where it writes a name reference.
type node struct {
	typ      string // null boolean int long float double bytes string record array map union
	name     string // records: simple name
	space    string // records: namespace ("" for none)
	doc      *string
	fields   []avroField
	items    *node   // array items, map values
	branches []*node // union
	props    []prop
}

type avroField struct {
	name   string
	schema *node
	doc    *string
	def    *jv // nil: no default
}

type prop struct {
	key string
	val *jv
}

func (n *node) fullName() string {
	if n.space == "" {
		return n.name
	}
	return n.space + "." + n.name
}

// addProp adds a property unless it is already there, as Avro's
// JsonProperties.addProp does (it refuses to overwrite).
func (n *node) addProp(key string, v *jv) {
	for _, p := range n.props {
		if p.key == key {
			return
		}
	}
	n.props = append(n.props, prop{key, v})
}

func (n *node) prop(key string) *jv {
	for _, p := range n.props {
		if p.key == key {
			return p.val
		}
	}
	return nil
}

// jv is a JSON value as Jackson's tree model holds it: defaults and
// properties. Objects keep insertion order (Jackson's LinkedHashMap).
type jv struct {
	kind byte // 'n' null, 'b' bool, 'i' integral, 'f' float32, 'd' float64, 's' string, 'a' array, 'o' object
	b    bool
	i    string // integral digits
	f    float64
	s    string
	arr  []*jv
	keys []string
	vals []*jv
}

func jNull() *jv        { return &jv{kind: 'n'} }
func jInt(i int64) *jv  { return &jv{kind: 'i', i: strconv.FormatInt(i, 10)} }
func jStr(s string) *jv { return &jv{kind: 's', s: s} }

func (o *jv) put(k string, v *jv) {
	for i, key := range o.keys {
		if key == k { // ObjectNode.put replaces in place
			o.vals[i] = v
			return
		}
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

func (o *jv) get(k string) *jv {
	for i, key := range o.keys {
		if key == k {
			return o.vals[i]
		}
	}
	return nil
}

// Strings and floats are written as Jackson does: jsonconv holds the byte-exact escaping and Java
// number formatting, reached through a schemaless converter.
var plainJSON, _ = jsonconv.New(jsonconv.Config{})

func appendJSONString(dst []byte, s string) []byte {
	out, err := plainJSON.Encode(dst, event.String(), s)
	if err != nil { // cannot happen for a string
		panic(err)
	}
	return out
}

func (v *jv) append(dst []byte) []byte {
	switch v.kind {
	case 'n':
		return append(dst, "null"...)
	case 'b':
		return strconv.AppendBool(dst, v.b)
	case 'i':
		return append(dst, v.i...)
	case 'f':
		out, _ := plainJSON.Encode(dst, event.Float32(), float32(v.f))
		return out
	case 'd':
		out, _ := plainJSON.Encode(dst, event.Float64(), v.f)
		return out
	case 's':
		return appendJSONString(dst, v.s)
	case 'a':
		dst = append(dst, '[')
		for i, e := range v.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.append(dst)
		}
		return append(dst, ']')
	default:
		dst = append(dst, '{')
		for i, k := range v.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = v.vals[i].append(dst)
		}
		return append(dst, '}')
	}
}

// AvroSchema returns the Avro schema JSON that Confluent's AvroConverter
// registers for s: AvroData.fromConnectSchema (Confluent Platform 7.9, with
// the AvroConverter defaults connect.meta.data=true,
// enhanced.avro.schema.support=false, scrub.invalid.names=false) written by
// Avro 1.12's Schema.toString (compact, properties in insertion order,
// namespaces relative to the enclosing record, repeated named types as name
// references).
func AvroSchema(s *event.Schema) ([]byte, error) {
	n, err := toAvro(s)
	if err != nil {
		return nil, err
	}
	w := &schemaWriter{known: map[string]*node{}}
	if err := w.write(n); err != nil {
		return nil, err
	}
	return w.buf, nil
}

func toAvro(s *event.Schema) (*node, error) {
	if s == nil {
		return nil, fmt.Errorf("avro schema: nil schema (schemaless data is not supported)")
	}
	c := &fromConnect{cycle: map[string]*node{}}
	return c.convert(s, false)
}

type cachedNode struct {
	s *event.Schema
	n *node
}

// fromConnect is AvroData's FromConnectContext: schemaMap (required schemas
// already converted, compared with Connect's equals), cycleReferences (named
// structs by name) and the ConnectDefault counter.
type fromConnect struct {
	done      []cachedNode
	cycle     map[string]*node
	nameIndex int
}

func (c *fromConnect) lookup(s *event.Schema) *node {
	for _, d := range c.done {
		if d.s == s || d.s.Equal(s) {
			return d.n
		}
	}
	return nil
}

func isUnion(s *event.Schema) bool {
	return s.Type() == event.TypeStruct && s.Name() == unionName
}

func (c *fromConnect) names(name string) (space, simple string) {
	if name == "" {
		c.nameIndex++
		if c.nameIndex > 1 {
			return connectNamespace, defaultRecordName + strconv.Itoa(c.nameIndex)
		}
		return connectNamespace, defaultRecordName
	}
	return splitName(name)
}

// splitName splits a full name at the last dot (AvroData.splitName).
func splitName(full string) (space, name string) {
	i := strings.LastIndexByte(full, '.')
	if i < 0 {
		return "", full
	}
	return full[:i], full[i+1:]
}

func (c *fromConnect) convertWithCycle(s *event.Schema, ignoreOptional bool) (*node, error) {
	if s.Name() != "" {
		if n, ok := c.cycle[s.Name()]; ok {
			if !ignoreOptional {
				n = maybeOptional(s, n)
			}
			return n, nil
		}
	}
	return c.convert(s, ignoreOptional)
}

func (c *fromConnect) convert(s *event.Schema, ignoreOptional bool) (*node, error) {
	if !isUnion(s) && !s.IsOptional() {
		if n := c.lookup(s); n != nil {
			return n, nil
		}
	}
	var base *node
	connectType := ""
	params := s.Params()
	param := func(k string) (string, bool) { return s.Param(k) }
	switch s.Type() {
	case event.TypeInt8:
		connectType, base = "int8", &node{typ: "int"}
	case event.TypeInt16:
		connectType, base = "int16", &node{typ: "int"}
	case event.TypeInt32:
		base = &node{typ: "int"}
	case event.TypeInt64:
		base = &node{typ: "long"}
	case event.TypeFloat32:
		base = &node{typ: "float"}
	case event.TypeFloat64:
		base = &node{typ: "double"}
	case event.TypeBoolean:
		base = &node{typ: "boolean"}
	case event.TypeString:
		base = &node{typ: "string"}
	case event.TypeBytes:
		base = &node{typ: "bytes"}
		if strings.EqualFold(s.Name(), event.LogicalDecimal) {
			scale, precision, err := decimalParams(s)
			if err != nil {
				return nil, err
			}
			base.addProp("scale", jInt(int64(scale)))
			base.addProp("precision", jInt(int64(precision)))
		}
	case event.TypeArray:
		items, err := c.convertWithCycle(s.Items(), false)
		if err != nil {
			return nil, err
		}
		base = &node{typ: "array", items: items}
	case event.TypeMap:
		if s.Keys().Type() == event.TypeString && !s.Keys().IsOptional() {
			values, err := c.convertWithCycle(s.Values(), false)
			if err != nil {
				return nil, err
			}
			base = &node{typ: "map", items: values}
			break
		}
		entry := &node{typ: "record", name: mapEntryName, space: connectNamespace}
		if s.Name() != "" {
			entry.space, entry.name = c.names(s.Name())
			entry.addProp(propInternalType, jStr(mapEntryName))
		}
		for _, f := range []event.Field{event.NewField("key", s.Keys()), event.NewField("value", s.Values())} {
			af, err := c.field(f.Name, f.Schema, nil)
			if err != nil {
				return nil, err
			}
			entry.fields = append(entry.fields, af)
		}
		base = &node{typ: "array", items: entry}
	case event.TypeStruct:
		switch {
		case isUnion(s):
			u := &node{typ: "union"}
			if s.IsOptional() {
				u.branches = append(u.branches, &node{typ: "null"})
			}
			for _, f := range s.Fields() {
				b, err := c.convertWithCycle(f.Schema.Required(), true)
				if err != nil {
					return nil, err
				}
				u.branches = append(u.branches, b)
			}
			base = u
		case s.IsOptional():
			inner, err := c.convertWithCycle(s.Required(), false)
			if err != nil {
				return nil, err
			}
			base = &node{typ: "union", branches: []*node{{typ: "null"}, inner}}
		default:
			rec := &node{typ: "record"}
			rec.space, rec.name = c.names(s.Name())
			if d, ok := param(paramRecordDoc); ok {
				rec.doc = &d
			}
			if s.Name() != "" {
				c.cycle[s.Name()] = rec
			}
			for _, f := range s.Fields() {
				var doc *string
				if d, ok := param(paramFieldDocPfx + f.Name); ok {
					doc = &d
				}
				af, err := c.field(f.Name, f.Schema, doc)
				if err != nil {
					return nil, err
				}
				rec.fields = append(rec.fields, af)
			}
			base = rec
		}
	default:
		return nil, fmt.Errorf("avro schema: unknown schema type %v", s.Type())
	}

	final := base
	if base.typ != "union" {
		if d, ok := s.Doc(); ok {
			base.addProp(propConnectDoc, jStr(d))
		}
		if v, ok := s.Version(); ok {
			base.addProp(propConnectVersion, jInt(int64(v)))
		}
		if obj := paramsObject(params); len(obj.keys) > 0 {
			base.addProp(propConnectParams, obj)
		}
		if def := s.Default(); def != nil {
			if _, flagged := param(paramFieldDefault); !flagged {
				dv, err := defaultJSON(s, def)
				if err != nil {
					return nil, err
				}
				base.addProp(propConnectDefault, dv)
			}
		}
		if s.Name() != "" {
			base.addProp(propConnectName, jStr(s.Name()))
		}
		if connectType != "" {
			base.addProp(propConnectType, jStr(connectType))
		}
		if err := addLogicalType(s, base); err != nil {
			return nil, err
		}
		for _, p := range params {
			if strings.HasPrefix(p.Key, "avro") {
				base.addProp(p.Key, jStr(p.Value))
			}
		}
		if !ignoreOptional {
			final = maybeOptional(s, base)
		}
	}
	if !s.IsOptional() {
		c.done = append(c.done, cachedNode{s, final})
	}
	return final, nil
}

func decimalParams(s *event.Schema) (scale, precision int, err error) {
	sc, ok := s.Param(event.DecimalScaleParam)
	if !ok {
		return 0, 0, fmt.Errorf("avro schema: decimal schema has no %q parameter", event.DecimalScaleParam)
	}
	if scale, err = strconv.Atoi(sc); err != nil {
		return 0, 0, fmt.Errorf("avro schema: decimal scale %q: %w", sc, err)
	}
	precision = defaultPrecision
	if p, ok := s.Param(paramPrecision); ok {
		if precision, err = strconv.Atoi(p); err != nil {
			return 0, 0, fmt.Errorf("avro schema: decimal precision %q: %w", p, err)
		}
	}
	return scale, precision, nil
}

// addLogicalType adds Avro's logicalType for Connect's Decimal, Time,
// Timestamp and Date. Avro's LogicalType.addToSchema and AvroData's legacy
// property both end up as one "logicalType" after the connect.* properties;
// a decimal's precision and scale were added first, with the base type.
func addLogicalType(s *event.Schema, n *node) error {
	name := s.Name()
	var lt, want string
	switch {
	case strings.EqualFold(name, event.LogicalDecimal):
		lt, want = "decimal", "bytes"
	case strings.EqualFold(name, event.LogicalTime):
		lt, want = "time-millis", "int"
	case strings.EqualFold(name, event.LogicalTimestamp):
		lt, want = "timestamp-millis", "long"
	case strings.EqualFold(name, event.LogicalDate):
		lt, want = "date", "int"
	default:
		return nil
	}
	if n.typ != want {
		return fmt.Errorf("avro schema: logical type %s can only be used with an underlying %s type", lt, want)
	}
	n.addProp(propLogicalType, jStr(lt))
	return nil
}

func paramsObject(params []event.Param) *jv {
	o := &jv{kind: 'o'}
	for _, p := range params {
		if p.Key != paramFieldDefault {
			o.put(p.Key, jStr(p.Value))
		}
	}
	return o
}

// maybeOptional wraps an optional schema in a union: null first, or last
// when the schema has a default (an Avro union default must match a branch,
// and AvroData puts the default's branch first).
func maybeOptional(s *event.Schema, base *node) *node {
	if !s.IsOptional() {
		return base
	}
	if s.Default() != nil {
		return &node{typ: "union", branches: []*node{base, {typ: "null"}}}
	}
	return &node{typ: "union", branches: []*node{{typ: "null"}, base}}
}

// field is AvroData.addAvroRecordField: the field default is the schema
// default or null for an optional schema, dropped when Avro would reject it.
func (c *fromConnect) field(name string, fs *event.Schema, doc *string) (avroField, error) {
	var def *jv
	if d := fs.Default(); d != nil {
		dv, err := defaultJSON(fs, d)
		if err != nil {
			return avroField{}, err
		}
		def = dv
	} else if fs.IsOptional() {
		def = jNull()
	}
	n, err := c.convert(fs, false)
	if err != nil {
		return avroField{}, err
	}
	if def != nil && !validDefault(n, def) {
		def = nil // Confluent logs "Ignoring invalid default for field"
	}
	return avroField{name: name, schema: n, doc: doc, def: def}, nil
}

// defaultJSON is AvroData.defaultValueFromConnect.
func defaultJSON(s *event.Schema, v any) (*jv, error) {
	if v == nil {
		return jNull(), nil
	}
	bad := func() (*jv, error) {
		return nil, fmt.Errorf("avro schema: invalid type used for default value of %v field: %T", s.Type(), v)
	}
	switch s.Type() {
	case event.TypeInt8, event.TypeInt16, event.TypeInt32, event.TypeInt64:
		i, ok := event.AsInt64(v)
		if !ok {
			return bad()
		}
		return jInt(i), nil
	case event.TypeFloat32:
		f, ok := v.(float32)
		if !ok {
			return bad()
		}
		return &jv{kind: 'f', f: float64(f)}, nil
	case event.TypeFloat64:
		f, ok := v.(float64)
		if !ok {
			return bad()
		}
		return &jv{kind: 'd', f: f}, nil
	case event.TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return bad()
		}
		return &jv{kind: 'b', b: b}, nil
	case event.TypeString:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		return jStr(str), nil
	case event.TypeBytes:
		b, ok := bytesOf(v)
		if !ok {
			return bad()
		}
		// new String(bytes, ISO_8859_1): one char per byte.
		var sb strings.Builder
		for _, c := range b {
			sb.WriteRune(rune(c))
		}
		return jStr(sb.String()), nil
	case event.TypeArray:
		list, ok := v.([]any)
		if !ok {
			return bad()
		}
		out := &jv{kind: 'a', arr: []*jv{}}
		for _, e := range list {
			ev, err := defaultJSON(s.Items(), e)
			if err != nil {
				return nil, err
			}
			out.arr = append(out.arr, ev)
		}
		return out, nil
	case event.TypeMap:
		entries, ok := mapEntries(v)
		if !ok {
			return bad()
		}
		stringKeys := s.Keys().Type() == event.TypeString && !s.Keys().IsOptional()
		if stringKeys {
			out := &jv{kind: 'o'}
			for _, e := range entries {
				k, ok := e.Key.(string)
				if !ok {
					return bad()
				}
				ev, err := defaultJSON(s.Values(), e.Value)
				if err != nil {
					return nil, err
				}
				out.put(k, ev)
			}
			return out, nil
		}
		out := &jv{kind: 'a', arr: []*jv{}}
		for _, e := range entries {
			kv, err := defaultJSON(s.Keys(), e.Key)
			if err != nil {
				return nil, err
			}
			vv, err := defaultJSON(s.Values(), e.Value)
			if err != nil {
				return nil, err
			}
			out.arr = append(out.arr, &jv{kind: 'a', arr: []*jv{kv, vv}})
		}
		return out, nil
	case event.TypeStruct:
		st, ok := v.(*event.Struct)
		if !ok {
			return bad()
		}
		out := &jv{kind: 'o'}
		for i, f := range s.Fields() {
			fv := st.At(i)
			if fv == nil {
				fv = f.Schema.Default() // Connect's Struct.get applies the default
			}
			dv, err := defaultJSON(f.Schema, fv)
			if err != nil {
				return nil, err
			}
			if isUnion(s) {
				return dv, nil
			}
			out.put(f.Name, dv)
		}
		return out, nil
	}
	return bad()
}

// validDefault is Avro 1.12's Schema.isValidValue (a union default may
// match any branch).
func validDefault(n *node, v *jv) bool {
	switch n.typ {
	case "null":
		return v.kind == 'n'
	case "boolean":
		return v.kind == 'b'
	case "string", "bytes":
		return v.kind == 's'
	case "int":
		if v.kind != 'i' {
			return false
		}
		i, err := strconv.ParseInt(v.i, 10, 64)
		return err == nil && i >= math.MinInt32 && i <= math.MaxInt32
	case "long":
		return v.kind == 'i'
	case "float", "double":
		return v.kind == 'i' || v.kind == 'f' || v.kind == 'd'
	case "array":
		if v.kind != 'a' {
			return false
		}
		for _, e := range v.arr {
			if !validDefault(n.items, e) {
				return false
			}
		}
		return true
	case "map":
		if v.kind != 'o' {
			return false
		}
		for _, e := range v.vals {
			if !validDefault(n.items, e) {
				return false
			}
		}
		return true
	case "union":
		return slices.ContainsFunc(n.branches, func(b *node) bool { return validDefault(b, v) })
	case "record":
		if v.kind != 'o' {
			return false
		}
		for _, f := range n.fields {
			fv := v.get(f.name)
			if fv == nil {
				if f.def == nil {
					return false
				}
				continue
			}
			if !validDefault(f.schema, fv) {
				return false
			}
		}
		return true
	}
	return false
}

func bytesOf(v any) ([]byte, bool) {
	switch x := v.(type) {
	case []byte:
		return x, true
	case *big.Int:
		return event.DecimalBytes(x), true
	}
	return nil, false
}

// mapEntries returns a map value's entries: []MapEntry in order, a
// map[string]any sorted by key (Java's HashMap order is not reproducible).
func mapEntries(v any) ([]event.MapEntry, bool) {
	switch m := v.(type) {
	case []event.MapEntry:
		return m, true
	case map[string]any:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make([]event.MapEntry, len(keys))
		for i, k := range keys {
			out[i] = event.MapEntry{Key: k, Value: m[k]}
		}
		return out, true
	}
	return nil, false
}

// schemaWriter is Avro's Schema.toJson: the first occurrence of a named
// type is written in full, later ones as its name relative to the enclosing
// namespace.
type schemaWriter struct {
	buf   []byte
	space string
	known map[string]*node
}

var primitiveNames = []string{"null", "boolean", "int", "long", "float", "double", "bytes", "string",
	"record", "enum", "array", "map", "union", "fixed"}

func (w *schemaWriter) write(n *node) error {
	switch n.typ {
	case "union":
		w.buf = append(w.buf, '[')
		for i, b := range n.branches {
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			if err := w.write(b); err != nil {
				return err
			}
		}
		w.buf = append(w.buf, ']')
		return nil
	case "record":
		full := n.fullName()
		if prev, ok := w.known[full]; ok {
			if prev != n && !sameRecord(prev, n) {
				return fmt.Errorf("avro schema: can't redefine: %s", full)
			}
			ref := full
			if n.space != "" && n.space == w.space && !slices.Contains(primitiveNames, n.name) {
				ref = n.name
			}
			w.buf = appendJSONString(w.buf, ref)
			return nil
		}
		if err := validName(n.name); err != nil {
			return err
		}
		if n.space != "" {
			for _, part := range strings.Split(n.space, ".") {
				if err := validName(part); err != nil {
					return fmt.Errorf("%w (namespace %q)", err, n.space)
				}
			}
		}
		w.known[full] = n
		saved := w.space
		w.buf = append(w.buf, `{"type":"record","name":`...)
		w.buf = appendJSONString(w.buf, n.name)
		if n.space != "" {
			if n.space != w.space {
				w.buf = append(w.buf, `,"namespace":`...)
				w.buf = appendJSONString(w.buf, n.space)
			}
		} else if w.space != "" {
			w.buf = append(w.buf, `,"namespace":""`...)
		}
		w.space = n.space
		if n.doc != nil {
			w.buf = append(w.buf, `,"doc":`...)
			w.buf = appendJSONString(w.buf, *n.doc)
		}
		w.buf = append(w.buf, `,"fields":[`...)
		for i, f := range n.fields {
			if err := validName(f.name); err != nil {
				return err
			}
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.buf = append(w.buf, `{"name":`...)
			w.buf = appendJSONString(w.buf, f.name)
			w.buf = append(w.buf, `,"type":`...)
			if err := w.write(f.schema); err != nil {
				return err
			}
			if f.doc != nil {
				w.buf = append(w.buf, `,"doc":`...)
				w.buf = appendJSONString(w.buf, *f.doc)
			}
			if f.def != nil {
				w.buf = append(w.buf, `,"default":`...)
				w.buf = f.def.append(w.buf)
			}
			w.buf = append(w.buf, '}')
		}
		w.buf = append(w.buf, ']')
		w.props(n)
		w.buf = append(w.buf, '}')
		w.space = saved
		return nil
	case "array", "map":
		w.buf = append(w.buf, `{"type":"`...)
		w.buf = append(w.buf, n.typ...)
		if n.typ == "array" {
			w.buf = append(w.buf, `","items":`...)
		} else {
			w.buf = append(w.buf, `","values":`...)
		}
		if err := w.write(n.items); err != nil {
			return err
		}
		w.props(n)
		w.buf = append(w.buf, '}')
		return nil
	default:
		if len(n.props) == 0 {
			w.buf = append(w.buf, '"')
			w.buf = append(w.buf, n.typ...)
			w.buf = append(w.buf, '"')
			return nil
		}
		w.buf = append(w.buf, `{"type":"`...)
		w.buf = append(w.buf, n.typ...)
		w.buf = append(w.buf, '"')
		w.props(n)
		w.buf = append(w.buf, '}')
		return nil
	}
}

func (w *schemaWriter) props(n *node) {
	for _, p := range n.props {
		w.buf = append(w.buf, ',')
		w.buf = appendJSONString(w.buf, p.key)
		w.buf = append(w.buf, ':')
		w.buf = p.val.append(w.buf)
	}
}

// sameRecord compares two record trees by their standalone JSON, close to
// Avro's Schema.equals for the shapes AvroData builds.
func sameRecord(a, b *node) bool {
	wa := &schemaWriter{known: map[string]*node{}}
	wb := &schemaWriter{known: map[string]*node{}}
	if wa.write(a) != nil || wb.write(b) != nil {
		return false
	}
	return bytes.Equal(wa.buf, wb.buf)
}

// validName applies Avro's name rule ([A-Za-z_][A-Za-z0-9_]*), which Avro
// Java enforces when AvroData builds the schema (scrub.invalid.names=false).
func validName(name string) error {
	if name == "" {
		return fmt.Errorf("avro schema: empty name")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return fmt.Errorf("avro schema: illegal character in name %q", name)
	}
	return nil
}
