package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// Bulk operations.
const (
	opIndex  = "index"
	opUpdate = "update"
	opDelete = "delete"
)

// retryOnConflict is sent with updates: an update reads, merges and writes
// the document, and another writer in between makes it conflict.
const retryOnConflict = 3

// action is one bulk action built from a record: its NDJSON lines (action
// line and, except for deletes, the source line) and what the response is
// checked against.
type action struct {
	rec       sink.Record
	op        string
	index, id string
	versioned bool          // version_type=external
	schema    *event.Schema // of the document, for mappings; nil when none
	lines     []byte
}

// ErrInvalidRecord is wrapped by the errors of records no action can be
// built for (no usable key, a document that is not an object, a bad
// version header); drop.invalid.message drops them instead.
var ErrInvalidRecord = errors.New("invalid record")

// builder turns records into actions.
type builder struct {
	cfg  Config
	conv *jsonconv.Converter
}

func newBuilder(cfg Config) (*builder, error) {
	conv, err := jsonconv.New(jsonconv.Config{DecimalFormat: jsonconv.DecimalNumeric, ReplaceNullWithDefault: true})
	if err != nil {
		return nil, err
	}
	return &builder{cfg: cfg, conv: conv}, nil
}

// build returns the action for r; skip is set (and the action empty) when
// the record writes nothing (an ignored tombstone, a Debezium truncate or
// message, a delete without a key to delete by).
func (b *builder) build(r sink.Record) (a action, skip bool, err error) {
	a.rec = r
	a.index = strings.ToLower(r.Topic)
	if err := checkIndex(a.index); err != nil {
		return a, false, fmt.Errorf("%w: index %q: %w", ErrInvalidRecord, a.index, err)
	}
	docSchema, doc, op, err := document(r, b.cfg.NullValues)
	if err != nil || op == "" {
		return a, op == "" && err == nil, err
	}
	if op == opDelete && b.cfg.KeyIgnore {
		// Documents are keyed by the coordinates of the record that wrote
		// them: there is nothing this record could name.
		return a, true, nil
	}
	if b.cfg.KeyIgnore {
		a.id = r.OriginalTopic + "+" + strconv.FormatInt(int64(r.Partition), 10) + "+" + strconv.FormatInt(r.Offset, 10)
	} else if a.id, err = b.docID(r.KeySchema, r.Key); err != nil {
		return a, false, fmt.Errorf("%w: key: %w", ErrInvalidRecord, err)
	}
	if len(a.id) > 512 {
		return a, false, fmt.Errorf("%w: document id of %d bytes (at most 512)", ErrInvalidRecord, len(a.id))
	}
	var version int64
	if !b.cfg.KeyIgnore && b.cfg.WriteMethod == WriteInsert {
		a.versioned = true
		version = r.Offset
		if h := b.cfg.ExternalVersionHeader; h != "" {
			if version, err = headerVersion(r, h); err != nil {
				return a, false, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
			}
		}
	}
	a.op = op
	if op == opIndex && b.cfg.WriteMethod == WriteUpsert {
		a.op = opUpdate
	}
	var body []byte
	if a.op != opDelete {
		if body, err = b.conv.Encode(nil, docSchema, doc); err != nil {
			return a, false, fmt.Errorf("%w: value to JSON: %w", ErrInvalidRecord, err)
		}
		if len(body) == 0 || body[0] != '{' {
			return a, false, fmt.Errorf("%w: the document is not a JSON object: %.40s", ErrInvalidRecord, body)
		}
		if docSchema != nil && docSchema.Type() == event.TypeStruct {
			a.schema = docSchema
		}
	}
	a.lines = appendActionLine(make([]byte, 0, len(body)+128), a.op, a.index, a.id, a.versioned, version)
	switch a.op {
	case opIndex:
		a.lines = append(append(a.lines, body...), '\n')
	case opUpdate:
		a.lines = append(a.lines, `{"doc":`...)
		a.lines = append(a.lines, body...)
		a.lines = append(a.lines, ",\"doc_as_upsert\":true}\n"...)
	}
	return a, false, nil
}

// document returns what r writes: the value to index (op index), a delete
// (op delete) or nothing (op ""). A raw Debezium envelope indexes its after
// image on c, r and u and deletes on d; t and m write nothing.
func document(r sink.Record, nulls string) (*event.Schema, any, string, error) {
	if r.Value == nil {
		switch nulls {
		case NullIgnore:
			return nil, nil, "", nil
		case NullFail:
			return nil, nil, "", fmt.Errorf("%w: null value (behavior.on.null.values=fail)", ErrInvalidRecord)
		}
		return nil, nil, opDelete, nil
	}
	op, afterSchema, after, ok := envelope(r.ValueSchema, r.Value)
	if !ok {
		return r.ValueSchema, r.Value, opIndex, nil
	}
	switch op {
	case "c", "r", "u":
		if after == nil {
			return nil, nil, "", fmt.Errorf("%w: Debezium op %q without after", ErrInvalidRecord, op)
		}
		return afterSchema, after, opIndex, nil
	case "d":
		return nil, nil, opDelete, nil
	}
	return nil, nil, "", nil // t (truncate), m (message)
}

// envelope recognises a Debezium change event: a struct, or a schemaless
// object, with op, before and after.
func envelope(s *event.Schema, v any) (op string, afterSchema *event.Schema, after any, ok bool) {
	switch x := v.(type) {
	case *event.Struct:
		sc := x.Schema()
		if sc == nil || sc.FieldIndex(event.FieldOp) < 0 || sc.FieldIndex(event.FieldAfter) < 0 || sc.FieldIndex(event.FieldBefore) < 0 {
			return "", nil, nil, false
		}
		op, ok = x.Get(event.FieldOp).(string)
		return op, sc.FieldByName(event.FieldAfter), x.Get(event.FieldAfter), ok
	case []event.MapEntry:
		var hasBefore, hasAfter bool
		for _, e := range x {
			switch e.Key {
			case event.FieldOp:
				op, ok = e.Value.(string)
			case event.FieldAfter:
				hasAfter, after = true, e.Value
			case event.FieldBefore:
				hasBefore = true
			}
		}
		return op, nil, after, ok && hasBefore && hasAfter
	case map[string]any:
		_, hasBefore := x[event.FieldBefore]
		after, hasAfter := x[event.FieldAfter]
		op, ok = x[event.FieldOp].(string)
		return op, nil, after, ok && hasBefore && hasAfter
	}
	return "", nil, nil, false
}

// docID makes a document id from a record key: a primitive as its string
// form (numbers and booleans as JSON writes them, bytes in base64), a struct
// or map of one primitive field as that field's string form, any other
// struct or map as canonical JSON (object keys sorted, no insignificant
// space).
func (b *builder) docID(s *event.Schema, key any) (string, error) {
	if key == nil {
		return "", errors.New("null key (needed as document id; set key.ignore=true to key by topic+partition+offset)")
	}
	js, err := b.conv.Encode(nil, s, key)
	if err != nil {
		return "", err
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "", fmt.Errorf("decode key JSON: %w", err)
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for _, f := range m {
			if id, ok := primitiveID(f); ok {
				return id, nil
			}
		}
	}
	if id, ok := primitiveID(v); ok {
		return id, nil
	}
	if v == nil {
		return "", errors.New("null key")
	}
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(out.String(), "\n"), nil
}

func primitiveID(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// headerVersion reads the external version from the last header named h.
func headerVersion(r sink.Record, h string) (int64, error) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key != h {
			continue
		}
		var v int64
		switch x := r.Headers[i].Value.(type) {
		case int8:
			v = int64(x)
		case int16:
			v = int64(x)
		case int32:
			v = int64(x)
		case int64:
			v = x
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("header %s: %q is not an integer version", h, x)
			}
			v = n
		case []byte:
			n, err := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("header %s: %q is not an integer version", h, x)
			}
			v = n
		default:
			return 0, fmt.Errorf("header %s: %T is not an integer version", h, x)
		}
		if v < 0 {
			return 0, fmt.Errorf("header %s: negative version %d", h, v)
		}
		return v, nil
	}
	return 0, fmt.Errorf("header %s (external.version.header) missing", h)
}

// checkIndex applies the engines' index name rules to a lower-cased name.
func checkIndex(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return errors.New("not a valid index name")
	case len(name) > 255:
		return errors.New("longer than 255 bytes")
	case strings.ContainsAny(name[:1], "_-+"):
		return errors.New("starts with _, - or +")
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return errors.New(`contains one of \ / * ? " < > | space , # :`)
	}
	return nil
}

// appendActionLine appends a bulk action line and its newline.
func appendActionLine(dst []byte, op, index, id string, versioned bool, version int64) []byte {
	dst = append(dst, `{"`...)
	dst = append(dst, op...)
	dst = append(dst, `":{"_index":`...)
	dst = appendString(dst, index)
	dst = append(dst, `,"_id":`...)
	dst = appendString(dst, id)
	if versioned {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, version, 10)
		dst = append(dst, `,"version_type":"external"`...)
	}
	if op == opUpdate {
		dst = append(dst, `,"retry_on_conflict":`...)
		dst = strconv.AppendInt(dst, retryOnConflict, 10)
	}
	return append(dst, "}}\n"...)
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
