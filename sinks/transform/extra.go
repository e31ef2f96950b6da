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
