package transform

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// replaceField is Kafka's ReplaceField: keep the included fields (all when
// none is listed) minus the excluded ones, and rename.
type replaceField struct {
	side        side
	replaceNull bool
	include     map[string]bool
	exclude     map[string]bool
	renames     map[string]string
	schemas     schemaCache[*event.Schema]
}

func newReplaceField(c *conf, s side) (Transform, error) {
	t := &replaceField{side: s, include: map[string]bool{}, exclude: map[string]bool{}, renames: map[string]string{}}
	var err error
	if t.replaceNull, err = c.boolean(replaceNullKey, true); err != nil {
		return nil, err
	}
	for _, f := range c.firstList("include", "whitelist") {
		t.include[f] = true
	}
	for _, f := range c.firstList("exclude", "blacklist") {
		t.exclude[f] = true
	}
	for _, m := range c.list("renames") {
		from, to, ok := strings.Cut(m, ":")
		if !ok || from == "" || to == "" || strings.Contains(to, ":") {
			return nil, c.errf("renames", "invalid rename mapping %q (want old:new)", m)
		}
		t.renames[from] = to
	}
	return t, nil
}

func (t *replaceField) keep(name string) bool {
	return !t.exclude[name] && (len(t.include) == 0 || t.include[name])
}

func (t *replaceField) renamed(name string) string {
	if n, ok := t.renames[name]; ok {
		return n
	}
	return name
}

func (t *replaceField) Apply(r sink.Record) (sink.Record, bool, error) {
	const purpose = "field replacement"
	sc, v := t.side.get(&r)
	if v == nil {
		return r, true, nil
	}
	if sc == nil {
		m, err := requireMap(v, purpose)
		if err != nil {
			return r, false, err
		}
		out := make([]event.MapEntry, 0, len(m))
		for _, e := range m {
			k, _ := e.Key.(string)
			if t.keep(k) {
				out = append(out, event.MapEntry{Key: t.renamed(k), Value: e.Value})
			}
		}
		t.side.set(&r, nil, out)
		return r, true, nil
	}
	st, err := requireStruct(v, purpose)
	if err != nil {
		return r, false, err
	}
	ns, err := t.schemas.get(st.Schema(), func() (*event.Schema, error) {
		var fields []event.Field
		for _, f := range st.Schema().Fields() {
			if t.keep(f.Name) {
				fields = append(fields, event.NewField(t.renamed(f.Name), f.Schema))
			}
		}
		return structLike(st.Schema(), fields)
	})
	if err != nil {
		return r, false, err
	}
	vals := make([]any, 0, ns.NumFields())
	for i, f := range st.Schema().Fields() {
		if t.keep(f.Name) {
			vals = append(vals, fieldValue(st, i, t.replaceNull))
		}
	}
	t.side.set(&r, ns, event.NewStruct(ns, vals...))
	return r, true, nil
}

// maskField is Kafka's MaskField: the listed fields become their type's
// empty value (0, false, "", the epoch), or the replacement.
type maskField struct {
	side        side
	replaceNull bool
	fields      map[string]bool
	order       []string
	replacement string
	hasRepl     bool
}

func newMaskField(c *conf, s side) (Transform, error) {
	t := &maskField{side: s, fields: map[string]bool{}}
	var err error
	if t.replaceNull, err = c.boolean(replaceNullKey, true); err != nil {
		return nil, err
	}
	t.order = c.list("fields")
	if len(t.order) == 0 {
		return nil, c.errf("fields", "missing required configuration (a non-empty list of fields)")
	}
	for _, f := range t.order {
		t.fields[f] = true
	}
	if v := c.str("replacement", ""); v != "" {
		t.replacement, t.hasRepl = v, true
	}
	return t, nil
}

func (t *maskField) Apply(r sink.Record) (sink.Record, bool, error) {
	const purpose = "mask fields"
	sc, v := t.side.get(&r)
	if v == nil {
		return r, true, nil
	}
	if sc == nil {
		m, err := requireMap(v, purpose)
		if err != nil {
			return r, false, err
		}
		out := copyMap(m, len(t.order))
		for _, f := range t.order {
			orig, _ := mapGet(m, f)
			mv, err := t.mask(nil, orig)
			if err != nil {
				return r, false, fmt.Errorf("field %s: %w", f, err)
			}
			out = mapPut(out, f, mv)
		}
		t.side.set(&r, nil, out)
		return r, true, nil
	}
	st, err := requireStruct(v, purpose)
	if err != nil {
		return r, false, err
	}
	ss := st.Schema()
	vals := make([]any, ss.NumFields())
	for i := range vals {
		f := ss.Field(i)
		vals[i] = fieldValue(st, i, t.replaceNull)
		if t.fields[f.Name] {
			if vals[i], err = t.mask(f.Schema, vals[i]); err != nil {
				return r, false, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
	}
	t.side.set(&r, sc, event.NewStruct(ss, vals...))
	return r, true, nil
}

// mask returns the masked form of v (s, when known, tells a Decimal from
// plain bytes). A null stays null.
func (t *maskField) mask(s *event.Schema, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	decimal := s != nil && s.Name() == event.LogicalDecimal
	if t.hasRepl {
		if decimal {
			return maskDecimal(s, v, t.replacement)
		}
		return maskReplace(v, t.replacement)
	}
	switch v.(type) {
	case bool:
		return false, nil
	case int8:
		return int8(0), nil
	case int16:
		return int16(0), nil
	case int32:
		return int32(0), nil // also Date and Time: the epoch
	case int64:
		return int64(0), nil // also Timestamp: the epoch
	case float32:
		return float32(0), nil
	case float64:
		return float64(0), nil
	case string:
		return "", nil
	case *big.Int:
		return new(big.Int), nil
	case []byte:
		if decimal {
			return event.DecimalBytes(new(big.Int)), nil
		}
	case []any:
		return []any{}, nil
	case []event.MapEntry, map[string]any:
		return []event.MapEntry{}, nil
	}
	return nil, fmt.Errorf("cannot mask value of type: %s", javaClass(v))
}

// maskDecimal replaces a Decimal with repl, which (as Java's new
// BigDecimal(repl) bound to the schema) must have the schema's scale.
func maskDecimal(s *event.Schema, v any, repl string) (any, error) {
	p, _ := s.Param(event.DecimalScaleParam)
	scale, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("decimal schema has invalid scale %q", p)
	}
	whole, frac, _ := strings.Cut(repl, ".")
	unscaled, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok || strings.ContainsAny(frac, "+-") || (whole == "" && frac == "") {
		return nil, fmt.Errorf("unable to convert %s (java.math.BigDecimal) to number", repl)
	}
	if len(frac) != scale {
		return nil, fmt.Errorf("replacement %s has scale %d, the Decimal schema %d", repl, len(frac), scale)
	}
	if _, isBig := v.(*big.Int); isBig {
		return unscaled, nil
	}
	return event.DecimalBytes(unscaled), nil
}

func maskReplace(v any, repl string) (any, error) {
	bad := func(err error) error {
		return fmt.Errorf("unable to convert %s (%s) to number: %v", repl, javaClass(v), err)
	}
	switch v.(type) {
	case string:
		return repl, nil
	case int8, int16, int32, int64:
		bits := map[string]int{"java.lang.Byte": 8, "java.lang.Short": 16, "java.lang.Integer": 32, "java.lang.Long": 64}[javaClass(v)]
		n, err := strconv.ParseInt(repl, 10, bits)
		if err != nil {
			return nil, bad(err)
		}
		switch v.(type) {
		case int8:
			return int8(n), nil
		case int16:
			return int16(n), nil
		case int32:
			return int32(n), nil
		}
		return n, nil
	case float32:
		f, err := strconv.ParseFloat(repl, 32)
		if err != nil {
			return nil, bad(err)
		}
		return float32(f), nil
	case float64:
		f, err := strconv.ParseFloat(repl, 64)
		if err != nil {
			return nil, bad(err)
		}
		return f, nil
	case *big.Int:
		n, ok := new(big.Int).SetString(repl, 10)
		if !ok {
			return nil, bad(fmt.Errorf("not an integer"))
		}
		return n, nil
	}
	return nil, fmt.Errorf("cannot mask value of type %s with custom replacement", javaClass(v))
}

// insertField is Kafka's InsertField: record metadata (topic, partition,
// offset, timestamp) and a static string as new fields.
type insertField struct {
	side                                side
	topic, partition, offset, timestamp insertSpec
	static                              insertSpec
	staticValue                         string
	hasStaticValue                      bool
	replaceNull                         bool
	schemas                             schemaCache[*event.Schema]
}

// insertSpec is a field name with Connect's suffix: "!" required, "?" or
// none optional.
type insertSpec struct {
	name     string
	optional bool
}

func parseInsertSpec(c *conf, key string) insertSpec {
	v := c.str(key, "")
	switch {
	case v == "":
		return insertSpec{}
	case strings.HasSuffix(v, "!"):
		return insertSpec{name: v[:len(v)-1]}
	case strings.HasSuffix(v, "?"):
		return insertSpec{name: v[:len(v)-1], optional: true}
	}
	return insertSpec{name: v, optional: true}
}

func newInsertField(c *conf, s side) (Transform, error) {
	t := &insertField{side: s}
	t.topic = parseInsertSpec(c, "topic.field")
	t.partition = parseInsertSpec(c, "partition.field")
	t.offset = parseInsertSpec(c, "offset.field")
	t.timestamp = parseInsertSpec(c, "timestamp.field")
	t.static = parseInsertSpec(c, "static.field")
	_, t.hasStaticValue = c.get("static.value")
	t.staticValue = c.str("static.value", "")
	var err error
	if t.replaceNull, err = c.boolean(replaceNullKey, true); err != nil {
		return nil, err
	}
	return t, nil
}

// inserts lists the fields to add with their schemas and values.
func (t *insertField) inserts(r *sink.Record) (fields []event.Field, vals []any) {
	add := func(sp insertSpec, s *event.Schema, v any) {
		if sp.name != "" {
			fields = append(fields, event.NewField(sp.name, withOptional(s, sp.optional)))
			vals = append(vals, v)
		}
	}
	add(t.topic, event.String(), r.Topic)
	add(t.partition, event.Int32(), r.Partition)
	add(t.offset, event.Int64(), r.Offset)
	var ts any
	if !r.Timestamp.IsZero() {
		ts = r.Timestamp.UnixMilli()
	}
	add(t.timestamp, event.Timestamp(), ts)
	var sv any
	if t.hasStaticValue {
		sv = t.staticValue
	}
	add(t.static, event.String(), sv)
	return fields, vals
}

func (t *insertField) Apply(r sink.Record) (sink.Record, bool, error) {
	const purpose = "field insertion"
	sc, v := t.side.get(&r)
	if v == nil {
		return r, true, nil
	}
	fields, vals := t.inserts(&r)
	if len(fields) == 0 {
		return r, true, nil
	}
	if sc == nil {
		m, err := requireMap(v, purpose)
		if err != nil {
			return r, false, err
		}
		out := copyMap(m, len(fields))
		for i, f := range fields {
			if vals[i] != nil { // Connect skips a null timestamp or static value
				out = mapPut(out, f.Name, vals[i])
			}
		}
		t.side.set(&r, nil, out)
		return r, true, nil
	}
	st, err := requireStruct(v, purpose)
	if err != nil {
		return r, false, err
	}
	ns, err := t.schemas.get(st.Schema(), func() (*event.Schema, error) {
		return structLike(st.Schema(), append(st.Schema().Fields(), fields...))
	})
	if err != nil {
		return r, false, err
	}
	nv := make([]any, 0, ns.NumFields())
	for i := 0; i < st.Schema().NumFields(); i++ {
		nv = append(nv, fieldValue(st, i, t.replaceNull))
	}
	nv = append(nv, vals...)
	t.side.set(&r, ns, event.NewStruct(ns, nv...))
	return r, true, nil
}

// valueToKey is Kafka's ValueToKey: the key becomes a struct (or map) of
// the listed value fields.
type valueToKey struct {
	fields      []string
	replaceNull bool
	schemas     schemaCache[*event.Schema]
}

func newValueToKey(c *conf) (Transform, error) {
	f := c.list("fields")
	if len(f) == 0 {
		return nil, c.errf("fields", "missing required configuration (a non-empty list of fields)")
	}
	t := &valueToKey{fields: f}
	var err error
	if t.replaceNull, err = c.boolean(replaceNullKey, true); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *valueToKey) Apply(r sink.Record) (sink.Record, bool, error) {
	const purpose = "copying fields from value to key"
	if r.ValueSchema == nil {
		m, err := requireMap(r.Value, purpose)
		if err != nil {
			return r, false, err
		}
		key := make([]event.MapEntry, 0, len(t.fields))
		for _, f := range t.fields {
			v, ok := mapGet(m, f)
			if !ok {
				return r, false, fmt.Errorf("field does not exist: %s", f)
			}
			key = mapPut(key, f, v)
		}
		r.KeySchema, r.Key = nil, key
		return r, true, nil
	}
	st, err := requireStruct(r.Value, purpose)
	if err != nil {
		return r, false, err
	}
	ks, err := t.schemas.get(st.Schema(), func() (*event.Schema, error) {
		var fields []event.Field
		for _, f := range t.fields {
			i := st.Schema().FieldIndex(f)
			if i < 0 {
				return nil, fmt.Errorf("field does not exist: %s", f)
			}
			fields = append(fields, event.NewField(f, st.Schema().Field(i).Schema))
		}
		return structLike(event.StructOf(""), fields)
	})
	if err != nil {
		return r, false, err
	}
	vals := make([]any, len(t.fields))
	for i, f := range t.fields {
		vals[i] = fieldValue(st, st.Schema().FieldIndex(f), t.replaceNull)
	}
	r.KeySchema, r.Key = ks, event.NewStruct(ks, vals...)
	return r, true, nil
}

// extractField is Kafka's ExtractField: the key or value becomes one of its
// fields.
type extractField struct {
	side        side
	field       string
	replaceNull bool
}

func newExtractField(c *conf, s side) (Transform, error) {
	f, err := c.required("field")
	if err != nil {
		return nil, err
	}
	if f == "" {
		return nil, c.errf("field", "must not be empty")
	}
	t := &extractField{side: s, field: f}
	if t.replaceNull, err = c.boolean(replaceNullKey, true); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *extractField) Apply(r sink.Record) (sink.Record, bool, error) {
	const purpose = "field extraction"
	sc, v := t.side.get(&r)
	if sc == nil {
		if v == nil {
			t.side.set(&r, nil, nil)
			return r, true, nil
		}
		m, err := requireMap(v, purpose)
		if err != nil {
			return r, false, err
		}
		fv, _ := mapGet(m, t.field)
		t.side.set(&r, nil, fv)
		return r, true, nil
	}
	if sc.Type() != event.TypeStruct {
		return r, false, fmt.Errorf("only Struct objects supported for [%s], found schema %v", purpose, sc)
	}
	fs := sc.FieldByName(t.field)
	if fs == nil {
		return r, false, fmt.Errorf("unknown field: %s", t.field)
	}
	if v == nil {
		t.side.set(&r, fs, nil)
		return r, true, nil
	}
	st, err := requireStruct(v, purpose)
	if err != nil {
		return r, false, err
	}
	t.side.set(&r, fs, fieldValue(st, sc.FieldIndex(t.field), t.replaceNull))
	return r, true, nil
}
