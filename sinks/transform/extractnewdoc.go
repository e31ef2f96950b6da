package transform

import (
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// extractNewDoc is Debezium's MongoDB ExtractNewDocumentState
// (io.debezium.connector.mongodb.transforms.ExtractNewDocumentState): the
// MongoDB connector's after (or, without it, updateDescription) extended
// JSON string becomes a struct whose Connect schema is inferred from the
// document, and the key {"id": "<_id as JSON>"} becomes {id: <typed _id>}.
//
// Behaviour, as Debezium 3's transform and MongoDataConverter:
//   - the value schema is named after the envelope without ".Envelope";
//     nested documents are optional structs named <parent>.<field>; every
//     field is optional; _id keeps its name in the value (the key's field
//     is id);
//   - BSON types: string, null, JavaScript code, ObjectId (hex) and
//     Decimal128 become strings; double float64; int32, int64; boolean;
//     binary bytes; date and timestamp Connect Timestamps (timestamp: its
//     seconds × 1000); regular expressions a struct
//     io.debezium.mongodb.regex {regex, options}; code with scope a struct
//     {code, scope}; other types (undefined, min/max key, symbol, DBPointer)
//     are left out;
//   - array.encoding array (default): a Connect array of the elements'
//     type, all elements of one BSON type (else an error), documents
//     merged into one struct of the union of their fields, an empty array
//     an array of optional strings; document: a struct named
//     <parent>.<field> with fields _0, _1, … in index order;
//   - an update without after (capture.mode change_streams) becomes a
//     partial document: updatedFields (top-level keys as they come, dotted
//     paths included), without removedFields, with _id from the key;
//   - deletes and tombstones follow delete.tombstone.handling.mode (or the
//     legacy drop.tombstones / delete.handling.mode): a kept delete is the
//     key with a null value (null schema); rewrite gives the pre-image, when
//     the event has one, plus __deleted (a boolean, unlike
//     ExtractNewRecordState's string);
//   - add.fields / add.headers as ExtractNewRecordState (source, transaction
//     and updateDescription fields), flatten.struct (Kafka's Flatten on the
//     value, flatten.struct.delimiter, default _), and
//     field.name.adjustment.mode avro / avro_unicode (or the legacy
//     sanitize.field.names=true, as avro), which also leaves out empty
//     arrays.
//
// Records that are not MongoDB change events (no struct key with an id
// string, or a value that is not a Debezium envelope: heartbeats,
// transaction records) pass unchanged.
type extractNewDoc struct {
	envelopeOpts
	arrayDocument bool   // array.encoding document
	adjust        string // field.name.adjustment.mode: none, avro, avro_unicode
	flatten       *flatten
	delimiter     string
}

// DebeziumMongoExtractNewDocumentState is the class name of Debezium's
// MongoDB document unwrapping transform.
const DebeziumMongoExtractNewDocumentState = "io.debezium.connector.mongodb.transforms.ExtractNewDocumentState"

func newExtractNewDocumentState(c *conf) (Transform, error) {
	opts, err := parseEnvelopeOpts(c)
	if err != nil {
		return nil, err
	}
	x := &extractNewDoc{envelopeOpts: opts}
	switch enc := strings.ToLower(c.str("array.encoding", "array")); enc {
	case "array":
	case "document":
		x.arrayDocument = true
	default:
		return nil, c.errf("array.encoding", "unknown encoding %q (want array or document)", enc)
	}
	flat, err := c.boolean("flatten.struct", false)
	if err != nil {
		return nil, err
	}
	x.delimiter = c.raw("flatten.struct.delimiter", "_")
	if flat {
		x.flatten = &flatten{side: onValue, delimiter: x.delimiter}
	}
	sanitize, err := c.boolean("sanitize.field.names", false)
	if err != nil {
		return nil, err
	}
	x.adjust = "none"
	if sanitize {
		x.adjust = "avro"
	}
	switch m := strings.ToLower(c.str("field.name.adjustment.mode", "")); m {
	case "":
	case "none", "avro", "avro_unicode":
		x.adjust = m
	default:
		return nil, c.errf("field.name.adjustment.mode", "unknown mode %q (want none, avro or avro_unicode)", m)
	}
	return x, nil
}

// mongoField is one field of a parsed document: its name and BSON value.
type mongoField struct {
	name string
	val  bson.RawValue
}

func (x *extractNewDoc) Apply(r sink.Record) (sink.Record, bool, error) {
	keyJSON, ok := mongoKeyID(r)
	if !ok {
		return r, true, nil // not a MongoDB connector key
	}
	if r.Value == nil {
		if x.dropTombstones {
			return sink.Record{}, false, nil
		}
		out, err := x.newRecord(r, nil, keyJSON, nil)
		if err != nil {
			return r, false, err
		}
		out.Headers = append(out.Headers, x.tombstoneHeaders()...)
		return out, true, nil
	}
	env, ok := r.Value.(*event.Struct)
	if !ok || r.ValueSchema == nil || r.ValueSchema.Type() != event.TypeStruct ||
		!strings.HasSuffix(r.ValueSchema.Name(), event.EnvelopeSuffix) ||
		r.ValueSchema.FieldIndex(event.FieldAfter) < 0 {
		return r, true, nil // a heartbeat, a transaction record, …
	}
	headers := x.envelopeHeaders(env)
	after, _ := env.Get(event.FieldAfter).(string)
	var ud *event.Struct
	if env.Schema().FieldIndex("updateDescription") >= 0 {
		ud, _ = env.Get("updateDescription").(*event.Struct)
	}
	var doc []mongoField
	var err error
	switch {
	case after == "" && ud == nil: // a delete
		switch x.deletes {
		case deleteDrop:
			return sink.Record{}, false, nil
		case deleteNone, deleteTombstone:
			// Debezium 3 gives the key and a null value with a null schema.
		case deleteRewrite:
			if before, _ := env.Get(event.FieldBefore).(string); before != "" {
				if doc, err = parseMongoDocument(before); err != nil {
					return r, false, fmt.Errorf("before: %w", err)
				}
			}
			doc = append(doc, mongoField{deletedField, boolValue(true)})
		}
	case after != "":
		if doc, err = parseMongoDocument(after); err != nil {
			return r, false, fmt.Errorf("after: %w", err)
		}
		if x.deletes == deleteRewrite {
			doc = append(doc, mongoField{deletedField, boolValue(false)})
		}
	default:
		if doc, err = x.partialUpdate(ud, keyJSON); err != nil {
			return r, false, err
		}
		if x.deletes == deleteRewrite {
			doc = append(doc, mongoField{deletedField, boolValue(false)})
		}
	}
	out, err := x.newRecord(r, env, keyJSON, doc)
	if err != nil {
		return r, false, err
	}
	out.Headers = append(append([]sink.Header(nil), r.Headers...), headers...)
	return out, true, nil
}

// partialUpdate builds the document of an update event without after:
// updatedFields set (their keys as they come, so "a.b" stays one field
// unless flatten.struct replaces the dot), removedFields gone, and _id
// from the key when the update did not set it.
func (x *extractNewDoc) partialUpdate(ud *event.Struct, keyJSON string) ([]mongoField, error) {
	var doc []mongoField
	if s, _ := ud.Get("updatedFields").(string); s != "" {
		var err error
		if doc, err = parseMongoDocument(s); err != nil {
			return nil, fmt.Errorf("updateDescription.updatedFields: %w", err)
		}
	}
	if removed, _ := ud.Get("removedFields").([]any); len(removed) > 0 {
		kept := doc[:0:0]
		for _, f := range doc {
			drop := false
			for _, r := range removed {
				if r == f.name {
					drop = true
				}
			}
			if !drop {
				kept = append(kept, f)
			}
		}
		doc = kept
	}
	hasID := false
	for _, f := range doc {
		hasID = hasID || f.name == "_id"
	}
	if !hasID {
		key, err := parseMongoDocument(`{"id": ` + keyJSON + `}`)
		if err != nil {
			return nil, fmt.Errorf("key: %w", err)
		}
		doc = append(doc, mongoField{"_id", key[0].val})
	}
	if x.flatten != nil {
		for i := range doc {
			doc[i].name = strings.ReplaceAll(doc[i].name, ".", x.delimiter)
		}
	}
	return doc, nil
}

// newRecord makes the output record: the key {id} typed from keyJSON and,
// for a non-empty doc, the value struct with add.fields, flattened when
// flatten.struct is set.
func (x *extractNewDoc) newRecord(r sink.Record, env *event.Struct, keyJSON string, doc []mongoField) (sink.Record, error) {
	keyDoc, err := parseMongoDocument(`{"id": ` + keyJSON + `}`)
	if err != nil {
		return r, fmt.Errorf("key: %w", err)
	}
	// Debezium's key builder has no name; nested structs of a composite
	// _id are named from it as Java concatenates a null: "null.id".
	ks, kv, err := x.buildStruct("", "null", keyDoc, false)
	if err != nil {
		return r, fmt.Errorf("key: %w", err)
	}
	out := r.Clone()
	out.KeySchema, out.Key = ks, kv
	out.ValueSchema, out.Value = nil, nil
	if len(doc) == 0 {
		return out, nil
	}
	name := strings.TrimSuffix(r.ValueSchema.Name(), event.EnvelopeSuffix)
	vs, vv, err := x.buildStruct(name, name, doc, false)
	if err != nil {
		return r, err
	}
	if len(x.fields) > 0 && env != nil {
		fields := vs.Fields()
		vals := make([]any, 0, len(fields)+len(x.fields))
		for i := range fields {
			vals = append(vals, vv.At(i))
		}
		for _, f := range x.fields {
			if s := f.schema(env.Schema()); s != nil {
				fields = append(fields, event.NewField(f.name, s))
				vals = append(vals, f.value(env))
			}
		}
		if vs, err = structLike(vs, fields); err != nil {
			return r, err
		}
		vv = event.NewStruct(vs, vals...)
	}
	out.ValueSchema, out.Value = vs, vv
	if x.flatten != nil {
		flat, _, err := x.flatten.Apply(out)
		if err != nil {
			return r, err
		}
		out = flat
	}
	return out, nil
}

// mongoKeyID returns the id string of a MongoDB connector key
// ({"id": "<_id as JSON>"}), false for any other key.
func mongoKeyID(r sink.Record) (string, bool) {
	k, ok := r.Key.(*event.Struct)
	if !ok || k.Schema().FieldIndex("id") < 0 {
		return "", false
	}
	id, ok := k.Get("id").(string)
	return id, ok
}

// parseMongoDocument parses extended JSON (the MongoDB connector's strict
// or relaxed output, including the Java driver's legacy {"$binary": …,
// "$type": …} form) into its fields, in document order. Plain JSON numbers
// become int32 when they fit, else int64, and doubles when they have a
// fraction or exponent, as the Java driver's BsonDocument.parse does.
func parseMongoDocument(s string) ([]mongoField, error) {
	var raw bson.Raw
	if err := bson.UnmarshalExtJSON([]byte(s), false, &raw); err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	return rawFields(raw)
}

func rawFields(raw bson.Raw) ([]mongoField, error) {
	elems, err := raw.Elements()
	if err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	out := make([]mongoField, len(elems))
	for i, e := range elems {
		out[i] = mongoField{e.Key(), e.Value()}
	}
	return out, nil
}

func boolValue(b bool) bson.RawValue {
	v := byte(0)
	if b {
		v = 1
	}
	return bson.RawValue{Type: bson.TypeBoolean, Value: []byte{v}}
}

// fieldName applies field.name.adjustment.mode to a document key.
func (x *extractNewDoc) fieldName(s string) string {
	if x.adjust == "none" || s == "" {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		switch {
		case ok:
			b.WriteRune(c)
		case x.adjust == "avro_unicode" && c <= 0xffff:
			fmt.Fprintf(&b, "_u%04x", c)
		case x.adjust == "avro_unicode":
			for _, u := range []rune(string(utf16Pair(c))) {
				fmt.Fprintf(&b, "_u%04x", u)
			}
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// utf16Pair returns the two UTF-16 code units of a supplementary rune as
// runes (Java names characters by code unit).
func utf16Pair(c rune) []rune {
	c -= 0x10000
	return []rune{0xd800 + (c>>10)&0x3ff, 0xdc00 + c&0x3ff}
}

// buildStruct infers the struct schema of doc and its value. name is the
// schema name ("" for none), prefix what nested struct names start with.
func (x *extractNewDoc) buildStruct(name, prefix string, doc []mongoField, optional bool) (*event.Schema, *event.Struct, error) {
	fields := make([]event.Field, 0, len(doc))
	vals := make([]any, 0, len(doc))
	seen := map[string]bool{}
	for _, f := range doc {
		key := x.fieldName(f.name)
		s, v, ok, err := x.convert(prefix, key, f.val)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			continue
		}
		if key == "" {
			return nil, nil, fmt.Errorf("document %s has a field with an empty name", prefix)
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("cannot create field because of field name duplication %s", key)
		}
		seen[key] = true
		fields = append(fields, event.NewField(key, s))
		vals = append(vals, v)
	}
	s := event.StructOf(name, fields...)
	if optional {
		s = s.Optional()
	}
	return s, event.NewStruct(s, vals...), nil
}

// convert returns the schema and Connect value of one BSON value of field
// key in a struct whose name is prefix; ok is false for types Debezium
// leaves out.
func (x *extractNewDoc) convert(prefix, key string, v bson.RawValue) (*event.Schema, any, bool, error) {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		doc, err := rawFields(v.Document())
		if err != nil {
			return nil, nil, false, err
		}
		switch legacyForm(doc) {
		case "$regex":
			s := regexSchema()
			return s, event.NewStruct(s, doc[0].val.StringValue(), doc[1].val.StringValue()), true, nil
		case "$ref":
			return nil, nil, false, nil // a DBPointer
		}
		s, st, err := x.buildStruct(prefix+"."+key, prefix+"."+key, doc, true)
		return s, st, err == nil, err
	case bson.TypeArray:
		return x.convertArray(prefix, key, v)
	case bson.TypeRegex:
		pattern, options := v.Regex()
		s := regexSchema()
		return s, event.NewStruct(s, pattern, options), true, nil
	case bson.TypeCodeWithScope:
		code, scope := v.CodeWithScope()
		name := prefix + "." + key
		doc, err := rawFields(scope)
		if err != nil {
			return nil, nil, false, err
		}
		ss, sv, err := x.buildStruct(name+".scope", name+".scope", doc, true)
		if err != nil {
			return nil, nil, false, err
		}
		s := event.StructOf(name, event.NewField("code", event.String().Optional()), event.NewField("scope", ss))
		return s, event.NewStruct(s, code, sv), true, nil
	}
	s := scalarSchema(v.Type)
	if s == nil {
		return nil, nil, false, nil
	}
	return s, scalarValue(v), true, nil
}

func regexSchema() *event.Schema {
	return event.StructOf("io.debezium.mongodb.regex",
		event.NewField("regex", event.String().Optional()),
		event.NewField("options", event.String().Optional())).Optional()
}

// legacyForm recognises the legacy extended JSON wrappers the Java
// driver's strict mode writes and Go's parser reads as plain documents:
// {"$regex": …, "$options": …} (a regular expression) and {"$ref": …,
// "$id": …} (a DBPointer). It returns "$regex", "$ref" or "".
func legacyForm(doc []mongoField) string {
	if len(doc) != 2 || doc[0].val.Type != bson.TypeString {
		return ""
	}
	switch {
	case doc[0].name == "$regex" && doc[1].name == "$options" && doc[1].val.Type == bson.TypeString:
		return "$regex"
	case doc[0].name == "$ref" && doc[1].name == "$id":
		return "$ref"
	}
	return ""
}

// scalarSchema is the schema of a BSON type that is neither a document,
// an array, a regular expression nor code with scope; nil for the types
// Debezium leaves out.
func scalarSchema(t bson.Type) *event.Schema {
	switch t {
	case bson.TypeNull, bson.TypeString, bson.TypeJavaScript, bson.TypeObjectID, bson.TypeDecimal128:
		return event.String().Optional()
	case bson.TypeDouble:
		return event.Float64().Optional()
	case bson.TypeBinary:
		return event.Bytes().Optional()
	case bson.TypeInt32:
		return event.Int32().Optional()
	case bson.TypeInt64:
		return event.Int64().Optional()
	case bson.TypeDateTime, bson.TypeTimestamp:
		return event.Timestamp().Optional()
	case bson.TypeBoolean:
		return event.Boolean().Optional()
	}
	return nil
}

func scalarValue(v bson.RawValue) any {
	switch v.Type {
	case bson.TypeString:
		return v.StringValue()
	case bson.TypeJavaScript:
		return v.JavaScript()
	case bson.TypeObjectID:
		return v.ObjectID().Hex()
	case bson.TypeDecimal128:
		return v.Decimal128().String()
	case bson.TypeDouble:
		return v.Double()
	case bson.TypeBinary:
		_, data := v.Binary()
		return append([]byte(nil), data...)
	case bson.TypeInt32:
		return v.Int32()
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDateTime:
		return v.DateTime()
	case bson.TypeTimestamp:
		t, _ := v.Timestamp()
		return int64(t) * 1000
	case bson.TypeBoolean:
		return v.Boolean()
	}
	return nil
}

// convertArray converts an array field per array.encoding.
func (x *extractNewDoc) convertArray(prefix, key string, v bson.RawValue) (*event.Schema, any, bool, error) {
	vals, err := v.Array().Values()
	if err != nil {
		return nil, nil, false, err
	}
	name := prefix + "." + key
	if len(vals) == 0 && x.adjust != "none" {
		return nil, nil, false, nil // Avro cannot type an empty array
	}
	if x.arrayDocument {
		doc := make([]mongoField, len(vals))
		for i, e := range vals {
			doc[i] = mongoField{fmt.Sprintf("_%d", i), e}
		}
		s, st, err := x.buildStruct(name, name, doc, true)
		return s, st, err == nil, err
	}
	if len(vals) == 0 {
		return event.Array(event.String().Optional()).Optional(), []any{}, true, nil
	}
	items, err := x.elementSchema(prefix, key, vals)
	if err != nil {
		return nil, nil, false, err
	}
	out, err := x.arrayValues(items, vals)
	if err != nil {
		return nil, nil, false, err
	}
	return event.Array(items).Optional(), out, true, nil
}

// elementSchema is the schema of the elements of a non-empty array under
// array.encoding array: all of one BSON type, documents merged into the
// union of their fields (a field of two types is an error), arrays typed
// by their first element.
func (x *extractNewDoc) elementSchema(prefix, key string, vals []bson.RawValue) (*event.Schema, error) {
	t := vals[0].Type
	for _, e := range vals {
		if e.Type != t {
			return nil, fmt.Errorf("field %s of schema %s is not a homogenous array; check option 'document' of parameter 'array.encoding'", key, prefix)
		}
	}
	switch t {
	case bson.TypeEmbeddedDocument:
		name := prefix + "." + key
		var fields []event.Field
		types := map[string]bson.Type{}
		// Debezium types a field from its first non-empty document or
		// array value, and only falls back to empty ones when every
		// element has them empty.
		for _, pass := range []bool{true, false} {
			for _, e := range vals {
				doc, err := rawFields(e.Document())
				if err != nil {
					return nil, err
				}
				for _, f := range doc {
					k := x.fieldName(f.name)
					if k == "" {
						return nil, fmt.Errorf("document %s has a field with an empty name", name)
					}
					if pass && isEmptyContainer(f.val) {
						continue
					}
					if prev, ok := types[k]; ok {
						if prev != f.val.Type {
							return nil, fmt.Errorf("field %s of schema %s is not the same type for all documents in the array; check option 'document' of parameter 'array.encoding'", k, name)
						}
						continue
					}
					types[k] = f.val.Type
					s, _, ok, err := x.convert(name, k, f.val)
					if err != nil {
						return nil, err
					}
					if ok {
						fields = append(fields, event.NewField(k, s))
					}
				}
			}
			if len(fields) > 0 {
				break
			}
		}
		return event.StructOf(name, fields...).Optional(), nil
	case bson.TypeArray:
		first, err := vals[0].Array().Values()
		if err != nil {
			return nil, err
		}
		if len(first) == 0 {
			return event.Array(event.String().Optional()).Optional(), nil
		}
		items, err := x.elementSchema(prefix, key, first)
		if err != nil {
			return nil, err
		}
		return event.Array(items).Optional(), nil
	}
	if s := scalarSchema(t); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("the value type %s of field %s is not supported inside an array", t, key)
}

func isEmptyContainer(v bson.RawValue) bool {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		e, _ := v.Document().Elements()
		return len(e) == 0
	case bson.TypeArray:
		e, _ := v.Array().Values()
		return len(e) == 0
	}
	return false
}

// arrayValues converts array elements to values of the items schema.
func (x *extractNewDoc) arrayValues(items *event.Schema, vals []bson.RawValue) ([]any, error) {
	out := make([]any, 0, len(vals))
	for _, e := range vals {
		switch e.Type {
		case bson.TypeEmbeddedDocument:
			st, err := x.structAs(items, e)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		case bson.TypeArray:
			sub, err := e.Array().Values()
			if err != nil {
				return nil, err
			}
			if items.Type() != event.TypeArray {
				return nil, fmt.Errorf("nested array where %s was inferred", items)
			}
			vs, err := x.arrayValues(items.Items(), sub)
			if err != nil {
				return nil, err
			}
			out = append(out, vs)
		default:
			out = append(out, scalarValue(e))
		}
	}
	return out, nil
}

// structAs converts the embedded document v of a merged array element to a
// struct of schema s, which has the fields inferred for all elements.
func (x *extractNewDoc) structAs(s *event.Schema, v bson.RawValue) (*event.Struct, error) {
	doc, err := rawFields(v.Document())
	if err != nil {
		return nil, err
	}
	st := event.NewStruct(s)
	for _, f := range doc {
		k := x.fieldName(f.name)
		if s.FieldIndex(k) < 0 {
			continue
		}
		_, fv, ok, err := x.convertAs(s.FieldByName(k), f.val)
		if err != nil {
			return nil, err
		}
		if ok {
			st.Set(k, fv)
		}
	}
	return st, nil
}

// convertAs converts a value of a merged array-element document to the
// field schema s inferred for it.
func (x *extractNewDoc) convertAs(s *event.Schema, v bson.RawValue) (*event.Schema, any, bool, error) {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		st, err := x.structAs(s, v)
		if err != nil {
			return nil, nil, false, err
		}
		return s, st, true, nil
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, nil, false, err
		}
		if s.Type() != event.TypeArray {
			return nil, nil, false, fmt.Errorf("array where %s was inferred", s)
		}
		out, err := x.arrayValues(s.Items(), vals)
		return s, out, err == nil, err
	case bson.TypeRegex:
		p, o := v.Regex()
		return s, event.NewStruct(s, p, o), true, nil
	case bson.TypeCodeWithScope:
		_, sv, ok, err := x.convert("", "", v)
		return s, sv, ok, err
	}
	return s, scalarValue(v), scalarSchema(v.Type) != nil, nil
}
