package transform

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// Transforms beyond the list that sink configurations often carry
// alongside them.

func init() {
	transformClasses[kafkaPkg+"TimestampRouter"] = newTimestampRouter
	transformClasses[kafkaPkg+"DropHeaders"] = newDropHeaders
	for name, b := range map[string]func(*conf, side) (Transform, error){
		"HoistField":        newHoistField,
		"SetSchemaMetadata": newSetSchemaMetadata,
	} {
		transformClasses[kafkaPkg+name+"$Key"] = func(c *conf) (Transform, error) { return b(c, onKey) }
		transformClasses[kafkaPkg+name+"$Value"] = func(c *conf) (Transform, error) { return b(c, onValue) }
	}
}

// timestampRouter is Kafka's TimestampRouter: the topic becomes topic.format
// with ${topic} and ${timestamp} (the record timestamp in UTC, formatted by
// timestamp.format) substituted.
type timestampRouter struct {
	topicFormat string
	format      *javaFormat
}

func newTimestampRouter(c *conf) (Transform, error) {
	t := &timestampRouter{topicFormat: c.str("topic.format", "${topic}-${timestamp}")}
	f, err := parseJavaFormat(c.str("timestamp.format", "yyyyMMdd"))
	if err != nil {
		return nil, c.errf("timestamp.format", "%v", err)
	}
	t.format = f
	return t, nil
}

func (t *timestampRouter) Apply(r sink.Record) (sink.Record, bool, error) {
	if r.Timestamp.IsZero() {
		return r, false, fmt.Errorf("timestamp missing on record %s/%d@%d", r.OriginalTopic, r.Partition, r.Offset)
	}
	topic := strings.ReplaceAll(t.topicFormat, "${topic}", r.Topic)
	r.Topic = strings.ReplaceAll(topic, "${timestamp}", t.format.Format(r.Timestamp))
	return r, true, nil
}

// dropHeaders is Kafka's DropHeaders: every header with one of the names
// is removed.
type dropHeaders struct{ names map[string]bool }

func newDropHeaders(c *conf) (Transform, error) {
	names := c.list("headers")
	if len(names) == 0 {
		return nil, c.errf("headers", "missing required configuration (a non-empty list of header names)")
	}
	t := &dropHeaders{names: map[string]bool{}}
	for _, n := range names {
		t.names[n] = true
	}
	return t, nil
}

func (t *dropHeaders) Apply(r sink.Record) (sink.Record, bool, error) {
	var kept []sink.Header
	for _, h := range r.Headers {
		if !t.names[h.Key] {
			kept = append(kept, h)
		}
	}
	r.Headers = kept
	return r, true, nil
}

// hoistField is Kafka's HoistField: the key or value is wrapped in a struct
// (or map) with a single field.
type hoistField struct {
	side    side
	field   string
	schemas schemaCache[*event.Schema]
}

func newHoistField(c *conf, s side) (Transform, error) {
	f, err := c.required("field")
	if err != nil {
		return nil, err
	}
	if f == "" {
		return nil, c.errf("field", "must not be empty")
	}
	return &hoistField{side: s, field: f}, nil
}

func (t *hoistField) Apply(r sink.Record) (sink.Record, bool, error) {
	sc, v := t.side.get(&r)
	if sc == nil {
		t.side.set(&r, nil, []event.MapEntry{{Key: t.field, Value: v}})
		return r, true, nil
	}
	ns, _ := t.schemas.get(sc, func() (*event.Schema, error) {
		return event.StructOf("", event.NewField(t.field, sc)), nil
	})
	t.side.set(&r, ns, event.NewStruct(ns, v))
	return r, true, nil
}

// setSchemaMetadata is Kafka's SetSchemaMetadata: the key or value schema
// gets a new name and/or version; a struct value is rebound to it.
type setSchemaMetadata struct {
	side       side
	name       string
	version    int
	hasVersion bool
	schemas    schemaCache[*event.Schema]
}

func newSetSchemaMetadata(c *conf, s side) (Transform, error) {
	t := &setSchemaMetadata{side: s, name: c.str("schema.name", "")}
	if v := c.str("schema.version", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, c.errf("schema.version", "invalid integer %q", v)
		}
		t.version, t.hasVersion = n, true
	}
	if t.name == "" && !t.hasVersion {
		return nil, c.errf("schema.name", "neither schema.name nor schema.version is configured")
	}
	return t, nil
}

func (t *setSchemaMetadata) Apply(r sink.Record) (sink.Record, bool, error) {
	sc, v := t.side.get(&r)
	if sc == nil {
		return r, false, fmt.Errorf("schema required for [updating schema metadata]")
	}
	ns, _ := t.schemas.get(sc, func() (*event.Schema, error) {
		ns := sc
		if t.name != "" {
			ns = ns.WithName(t.name)
		}
		if t.hasVersion {
			ns = ns.WithVersion(t.version)
		}
		return ns, nil
	})
	if st, ok := v.(*event.Struct); ok && st != nil {
		vals := make([]any, st.Schema().NumFields())
		for i := range vals {
			vals[i] = st.At(i)
		}
		v = event.NewStruct(ns, vals...)
	}
	t.side.set(&r, ns, v)
	return r, true, nil
}

// flatten is Kafka's Flatten: nested structs (or maps) become top-level
// fields named by their path joined with delimiter. A field under an
// optional struct becomes optional; arrays and maps of a schema are kept
// whole.
type flatten struct {
	side      side
	delimiter string
	schemas   schemaCache[*event.Schema]
}

func init() {
	transformClasses[kafkaPkg+"Flatten$Key"] = func(c *conf) (Transform, error) { return newFlatten(c, onKey) }
	transformClasses[kafkaPkg+"Flatten$Value"] = func(c *conf) (Transform, error) { return newFlatten(c, onValue) }
}

func newFlatten(c *conf, s side) (Transform, error) {
	return &flatten{side: s, delimiter: c.raw("delimiter", ".")}, nil
}

func (t *flatten) name(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + t.delimiter + field
}

func (t *flatten) Apply(r sink.Record) (sink.Record, bool, error) {
	const purpose = "flattening"
	sc, v := t.side.get(&r)
	if v == nil {
		return r, true, nil
	}
	if sc == nil {
		m, err := requireMap(v, purpose)
		if err != nil {
			return r, false, err
		}
		t.side.set(&r, nil, t.flatMap(nil, "", m))
		return r, true, nil
	}
	st, err := requireStruct(v, purpose)
	if err != nil {
		return r, false, err
	}
	ns, err := t.schemas.get(sc, func() (*event.Schema, error) {
		var fields []event.Field
		if err := t.flatSchema(&fields, "", sc, sc.IsOptional(), nil); err != nil {
			return nil, err
		}
		return structLike(sc, fields)
	})
	if err != nil {
		return r, false, err
	}
	vals := make([]any, 0, ns.NumFields())
	t.flatValues(&vals, st.Schema(), st)
	t.side.set(&r, ns, event.NewStruct(ns, vals...))
	return r, true, nil
}

func (t *flatten) flatMap(out []event.MapEntry, prefix string, m []event.MapEntry) []event.MapEntry {
	for _, e := range m {
		k := t.name(prefix, fmt.Sprint(e.Key))
		if sub, ok := asMap(e.Value); ok {
			out = t.flatMap(out, k, sub)
			continue
		}
		out = append(out, event.MapEntry{Key: k, Value: e.Value})
	}
	return out
}

func (t *flatten) flatSchema(out *[]event.Field, prefix string, s *event.Schema, optional bool, parentDefault *event.Struct) error {
	for i, f := range s.Fields() {
		name := t.name(prefix, f.Name)
		opt := optional || f.Schema.IsOptional()
		def := f.Schema.Default()
		if parentDefault != nil {
			def = parentDefault.At(i)
		}
		if f.Schema.Type() == event.TypeStruct {
			d, _ := def.(*event.Struct)
			if err := t.flatSchema(out, name, f.Schema, opt, d); err != nil {
				return err
			}
			continue
		}
		fs := f.Schema.WithDefault(def)
		if opt && !fs.IsOptional() {
			fs = fs.Optional()
		}
		*out = append(*out, event.NewField(name, fs))
	}
	return nil
}

func (t *flatten) flatValues(out *[]any, s *event.Schema, st *event.Struct) {
	for i, f := range s.Fields() {
		if f.Schema.Type() == event.TypeStruct {
			var sub *event.Struct
			if st != nil {
				sub, _ = st.At(i).(*event.Struct)
			}
			t.flatValues(out, f.Schema, sub)
			continue
		}
		var v any
		if st != nil {
			v = st.At(i)
		}
		*out = append(*out, v)
	}
}
