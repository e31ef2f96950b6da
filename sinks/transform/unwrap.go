package transform

import (
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// deleteMode is what ExtractNewRecordState does with a delete event.
type deleteMode uint8

const (
	deleteDrop      deleteMode = iota // drop the record
	deleteNone                        // keep it with a null value (the row schema stays)
	deleteTombstone                   // make it a tombstone (value and schema null)
	deleteRewrite                     // the before row with __deleted "true"
)

// deletedField is the field rewrite mode adds.
const deletedField = "__deleted"

// envelopeOpts are the options Debezium's ExtractNewRecordState and
// MongoDB ExtractNewDocumentState share: what becomes of tombstones and
// deletes, and the envelope fields add.fields and add.headers copy.
type envelopeOpts struct {
	dropTombstones bool
	deletes        deleteMode
	fields         []fieldRef
	headers        []fieldRef
}

// parseEnvelopeOpts reads delete.tombstone.handling.mode (or the legacy
// drop.tombstones and delete.handling.mode), add.fields and add.headers.
func parseEnvelopeOpts(c *conf) (envelopeOpts, error) {
	var o envelopeOpts
	mode := c.str("delete.tombstone.handling.mode", "")
	_, legacyTombstones := c.get("drop.tombstones")
	_, legacyDeletes := c.get("delete.handling.mode")
	if mode == "" && !legacyTombstones && !legacyDeletes {
		mode = "tombstone" // Debezium 3.x's default
	}
	if mode != "" {
		// Debezium 2.5+: one option replaces the two legacy ones, which
		// Debezium 3 no longer reads; Sluice still honours them when the
		// new option is unset, as Debezium 2.5-2.7 did.
		switch mode {
		case "drop":
			o.dropTombstones, o.deletes = true, deleteDrop
		case "tombstone":
			o.dropTombstones, o.deletes = true, deleteNone
		case "rewrite":
			o.dropTombstones, o.deletes = true, deleteRewrite
		case "rewrite-with-tombstone":
			o.dropTombstones, o.deletes = false, deleteRewrite
		case "delete-to-tombstone":
			o.dropTombstones, o.deletes = true, deleteTombstone
		default:
			return o, c.errf("delete.tombstone.handling.mode", "unknown mode %q (want drop, tombstone, rewrite, rewrite-with-tombstone or delete-to-tombstone)", mode)
		}
	} else {
		var err error
		if o.dropTombstones, err = c.boolean("drop.tombstones", true); err != nil {
			return o, err
		}
		switch mode := c.str("delete.handling.mode", "drop"); mode {
		case "drop":
			o.deletes = deleteDrop
		case "none":
			o.deletes = deleteNone
		case "rewrite":
			o.deletes = deleteRewrite
		default:
			return o, c.errf("delete.handling.mode", "unknown mode %q (want drop, rewrite or none)", mode)
		}
	}
	var err error
	if o.fields, err = parseFieldRefs(c, "add.fields", c.raw("add.fields.prefix", "__")); err != nil {
		return o, err
	}
	if o.headers, err = parseFieldRefs(c, "add.headers", c.raw("add.headers.prefix", "__")); err != nil {
		return o, err
	}
	return o, nil
}

// tombstoneHeaders returns the add.headers of a kept tombstone: the op
// header, "d", and no other.
func (o *envelopeOpts) tombstoneHeaders() []sink.Header {
	var hs []sink.Header
	for _, h := range o.headers {
		if h.block == "" && h.field == event.FieldOp {
			hs = append(hs, sink.Header{Key: h.name, Schema: event.String(), Value: "d"})
		}
	}
	return hs
}

// envelopeHeaders returns the add.headers of envelope env, those whose
// field it has.
func (o *envelopeOpts) envelopeHeaders(env *event.Struct) []sink.Header {
	var hs []sink.Header
	for _, h := range o.headers {
		if s := h.schema(env.Schema()); s != nil {
			hs = append(hs, sink.Header{Key: h.name, Schema: s, Value: h.value(env)})
		}
	}
	return hs
}

// unwrap is Debezium's ExtractNewRecordState.
type unwrap struct {
	envelopeOpts
	replaceNull  bool                          // rewrite mode copies the row as Connect's Struct.get
	routeByField string                        // a row field whose string value becomes the topic
	schemas      schemaCache[[2]*event.Schema] // by row and envelope schema
}

// fieldRef is one entry of add.fields / add.headers: a field of the envelope
// ("op", "ts_ms"), of its source block ("source.lsn", or a bare "lsn") or of
// its transaction block ("transaction.id", or "id"), and the name it gets.
type fieldRef struct {
	block string // "" for the envelope itself
	field string
	name  string
}

func newExtractNewRecordState(c *conf) (Transform, error) {
	opts, err := parseEnvelopeOpts(c)
	if err != nil {
		return nil, err
	}
	u := &unwrap{envelopeOpts: opts}
	if u.replaceNull, err = c.boolean(replaceNullKey, true); err != nil {
		return nil, err
	}
	u.routeByField = c.str("route.by.field", "")
	return u, nil
}

func parseFieldRefs(c *conf, key, prefix string) ([]fieldRef, error) {
	var out []fieldRef
	for _, item := range c.list(key) {
		ref, alias, renamed := strings.Cut(item, ":")
		if strings.Contains(alias, ":") {
			return nil, c.errf(key, "unexpected field name %q", item)
		}
		var f fieldRef
		if block, field, ok := strings.Cut(ref, "."); ok {
			f.block, f.field = block, field
			f.name = prefix + block + "_" + field
		} else {
			f.field = ref
			f.name = prefix + ref
			switch ref {
			case "id", "total_order", "data_collection_order":
				f.block = event.FieldTransaction
			case event.FieldOp, event.FieldTsMs, event.FieldTsUs, event.FieldTsNs:
			default:
				f.block = event.FieldSource
			}
		}
		if renamed {
			f.name = prefix + alias
		}
		if f.field == "" {
			return nil, c.errf(key, "unexpected field name %q", item)
		}
		out = append(out, f)
	}
	return out, nil
}

// schema returns the schema of the referenced field in an envelope schema,
// optional and without default, or nil when the envelope has no such field.
// A field missing from its block is looked up in the envelope itself (an
// earlier transform may have added it there), as Debezium does.
func (f *fieldRef) schema(env *event.Schema) *event.Schema {
	parent := env
	if f.block != "" {
		parent = env.FieldByName(f.block)
	}
	var s *event.Schema
	if parent != nil && parent.Type() == event.TypeStruct {
		s = parent.FieldByName(f.field)
	}
	if s == nil {
		s = env.FieldByName(f.field)
	}
	if s == nil {
		return nil
	}
	return basicsOptional(s)
}

func (f *fieldRef) value(env *event.Struct) any {
	parent := env
	if f.block != "" {
		p, _ := env.Get(f.block).(*event.Struct)
		if p == nil {
			return nil
		}
		parent = p
	}
	if parent.Schema().FieldIndex(f.field) >= 0 {
		return parent.Get(f.field)
	}
	return env.Get(f.field)
}

func (u *unwrap) Apply(r sink.Record) (sink.Record, bool, error) {
	if r.Value == nil {
		if u.dropTombstones {
			return sink.Record{}, false, nil
		}
		if hs := u.tombstoneHeaders(); len(hs) > 0 {
			r = r.Clone()
			r.Headers = append(r.Headers, hs...)
		}
		return r, true, nil
	}
	env, ok := r.Value.(*event.Struct)
	if !ok || r.ValueSchema == nil || r.ValueSchema.Type() != event.TypeStruct ||
		!strings.HasSuffix(r.ValueSchema.Name(), event.EnvelopeSuffix) ||
		r.ValueSchema.FieldIndex(event.FieldAfter) < 0 || r.ValueSchema.FieldIndex(event.FieldBefore) < 0 {
		// Not a Debezium data change event (schemaless, a heartbeat, a
		// schema change): passed unchanged, as Debezium does.
		return r, true, nil
	}
	envSchema := env.Schema()
	if len(u.headers) > 0 {
		r = r.Clone()
		r.Headers = append(r.Headers, u.envelopeHeaders(env)...)
	}
	after, before := env.Get(event.FieldAfter), env.Get(event.FieldBefore)
	if after == nil && before == nil {
		return sink.Record{}, false, nil // a truncate event
	}
	if after == nil {
		if err := u.route(&r, before); err != nil {
			return r, false, err
		}
		switch u.deletes {
		case deleteDrop:
			return sink.Record{}, false, nil
		case deleteNone:
			// Debezium keeps the row schema here (its JDBC sink reads such
			// a record as a flattened delete).
			r.ValueSchema, r.Value = envSchema.FieldByName(event.FieldAfter), nil
			return r, true, nil
		case deleteTombstone:
			r.ValueSchema, r.Value = nil, nil
			return r, true, nil
		}
		return u.flatten(r, env, envSchema.FieldByName(event.FieldBefore), before, "true")
	}
	if err := u.route(&r, after); err != nil {
		return r, false, err
	}
	deleted := ""
	if u.deletes == deleteRewrite {
		deleted = "false"
	}
	return u.flatten(r, env, envSchema.FieldByName(event.FieldAfter), after, deleted)
}

// route applies route.by.field: the row's field, when a non-blank
// string, becomes the topic.
func (u *unwrap) route(r *sink.Record, row any) error {
	if u.routeByField == "" {
		return nil
	}
	st, ok := row.(*event.Struct)
	if !ok {
		return nil
	}
	i := st.Schema().FieldIndex(u.routeByField)
	if i < 0 {
		return fmt.Errorf("route.by.field: %s is not a valid field name", u.routeByField)
	}
	v := st.At(i)
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("route.by.field: field %s is %s, not a string", u.routeByField, javaClass(v))
	}
	if strings.TrimSpace(s) != "" {
		r.Topic = s
	}
	return nil
}

// flatten makes the row the record's value, with the add.fields appended
// and, in rewrite mode, __deleted.
func (u *unwrap) flatten(r sink.Record, env *event.Struct, rowSchema *event.Schema, row any, deleted string) (sink.Record, bool, error) {
	st, ok := row.(*event.Struct)
	if !ok {
		return r, false, fmt.Errorf("envelope row is %s, not a struct", javaClass(row))
	}
	if len(u.fields) == 0 && deleted == "" {
		r.ValueSchema, r.Value = rowSchema, st
		return r, true, nil
	}
	rs := st.Schema()
	ns, err := u.schemas.get([2]*event.Schema{rs, env.Schema()}, func() (*event.Schema, error) {
		fields := rs.Fields()
		for _, f := range u.fields {
			if s := f.schema(env.Schema()); s != nil {
				fields = append(fields, event.NewField(f.name, s))
			}
		}
		if u.deletes == deleteRewrite {
			fields = append(fields, event.NewField(deletedField, event.String().Optional()))
		}
		return structLike(rs, fields)
	})
	if err != nil {
		return r, false, err
	}
	vals := make([]any, 0, ns.NumFields())
	// Debezium copies the row without defaults for add.fields; rewrite
	// mode's __deleted goes through Kafka's InsertField, which reads fields
	// as Struct.get unless replace.null.with.default is false.
	replace := u.replaceNull && u.deletes == deleteRewrite
	for i := 0; i < rs.NumFields(); i++ {
		vals = append(vals, fieldValue(st, i, replace))
	}
	for _, f := range u.fields {
		if ns.FieldIndex(f.name) >= rs.NumFields() {
			vals = append(vals, f.value(env))
		}
	}
	if u.deletes == deleteRewrite {
		vals = append(vals, deleted)
	}
	r.ValueSchema, r.Value = ns, event.NewStruct(ns, vals...)
	return r, true, nil
}
