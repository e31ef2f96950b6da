package jsonconv

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sluice-cdc/sluice/event"
)

// Converter encodes and decodes Connect data as JsonConverter does. It is
// safe for concurrent use; it caches what it derives from each *event.Schema
// it has seen (schemas are immutable, so the pointer is a sound key): the
// schema JSON, the escaped field names of structs and the size of the last
// value encoded with it, so that encoding an event of a known schema costs
// one map lookup, no per-field name escaping and at most one allocation.
type Converter struct {
	cfg     Config
	schemas sync.Map // *event.Schema -> *schemaInfo
}

// schemaInfo is what the converter keeps per top-level schema.
type schemaInfo struct {
	// envelope is `{"schema":<schema JSON>,"payload":` (empty when schemas
	// are disabled); the schema JSON is envelope[len(envPrefix):len-len(envSuffix)].
	envelope []byte
	// plan is the encoding plan of a struct schema, nil for other types.
	plan *structPlan
	// hint is the length of the last encoding, to size the next one.
	hint atomic.Int64
}

const (
	envPrefix = `{"schema":`
	envSuffix = `,"payload":`
)

// structPlan holds the escaped field names of a struct schema, each with
// its separator, and the plans of its struct-typed fields.
type structPlan struct {
	keys [][]byte      // `{"name":` for the first field, `,"name":` after
	sub  []*structPlan // plan of field i when it is a struct, else nil
}

func newStructPlan(s *event.Schema) *structPlan {
	n := s.NumFields()
	p := &structPlan{keys: make([][]byte, n), sub: make([]*structPlan, n)}
	for i := range n {
		f := s.Field(i)
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		p.keys[i] = append(appendString([]byte{sep}, f.Name), ':')
		if f.Schema.Type() == event.TypeStruct {
			p.sub[i] = newStructPlan(f.Schema)
		}
	}
	return p
}

// New returns a converter for cfg.
func New(cfg Config) (*Converter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("json converter config: %w", err)
	}
	if cfg.DecimalFormat == "" {
		cfg.DecimalFormat = DecimalBase64
	}
	return &Converter{cfg: cfg}, nil
}

// Config returns the converter's configuration.
func (c *Converter) Config() Config { return c.cfg }

// ErrMismatch is wrapped by encoding errors where a value does not fit its
// schema.
var ErrMismatch = errors.New("value does not match schema")

// EncodeStruct encodes a key or value struct; a nil struct is Kafka's null
// (returns nil, nil), which is how tombstones and null keys are written.
func (c *Converter) EncodeStruct(dst []byte, v *event.Struct) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	return c.Encode(dst, v.Schema(), v)
}

// Encode appends the JSON for value v with schema s to dst
// (JsonConverter.fromConnectData). A nil schema and nil value give nil, nil.
// A nil schema with a non-nil value is encoded schemaless.
//
// When dst has less room than the last encoding with s took, Encode grows
// it once up front (a nil dst gets a new slice of about that size).
func (c *Converter) Encode(dst []byte, s *event.Schema, v any) ([]byte, error) {
	if s == nil && v == nil {
		return nil, nil
	}
	if s == nil {
		if c.cfg.SchemasEnable {
			dst = append(dst, `{"schema":null,"payload":`...)
		}
		dst, err := c.appendValue(dst, s, v)
		if err != nil {
			return nil, err
		}
		if c.cfg.SchemasEnable {
			dst = append(dst, '}')
		}
		return dst, nil
	}
	info, err := c.info(s)
	if err != nil {
		return nil, err
	}
	start := len(dst)
	if h := int(info.hint.Load()); cap(dst)-len(dst) < h {
		dst = slices.Grow(dst, h+h/8)
	}
	dst = append(dst, info.envelope...)
	st, isStruct := v.(*event.Struct)
	if info.plan != nil && isStruct {
		dst, err = c.appendStruct(dst, info.plan, s, st)
	} else {
		dst, err = c.appendValue(dst, s, v)
	}
	if err != nil {
		return nil, err
	}
	if c.cfg.SchemasEnable {
		dst = append(dst, '}')
	}
	if n := int64(len(dst) - start); n != info.hint.Load() {
		info.hint.Store(n)
	}
	return dst, nil
}

// SchemaJSON returns the JSON schema object for s (asJsonSchema). The slice
// is shared; do not modify it.
func (c *Converter) SchemaJSON(s *event.Schema) ([]byte, error) {
	if !c.cfg.SchemasEnable {
		return c.buildSchema(nil, s, "")
	}
	info, err := c.info(s)
	if err != nil {
		return nil, err
	}
	e := info.envelope
	return e[len(envPrefix) : len(e)-len(envSuffix) : len(e)-len(envSuffix)], nil
}

// info returns the cached schemaInfo of s, building it on first use.
func (c *Converter) info(s *event.Schema) (*schemaInfo, error) {
	if cached, ok := c.schemas.Load(s); ok {
		return cached.(*schemaInfo), nil
	}
	info := &schemaInfo{}
	if c.cfg.SchemasEnable {
		b, err := c.buildSchema([]byte(envPrefix), s, "")
		if err != nil {
			return nil, err
		}
		info.envelope = append(b, envSuffix...)
	}
	if s.Type() == event.TypeStruct {
		info.plan = newStructPlan(s)
	}
	actual, _ := c.schemas.LoadOrStore(s, info)
	return actual.(*schemaInfo), nil
}

func typeName(t event.Type) string {
	switch t {
	case event.TypeFloat32:
		return "float"
	case event.TypeFloat64:
		return "double"
	}
	return t.String()
}

// buildSchema writes s; field, when not empty, is appended as "field".
func (c *Converter) buildSchema(dst []byte, s *event.Schema, field string) ([]byte, error) {
	if !s.Type().Valid() {
		return nil, fmt.Errorf("schema with invalid type %v", s.Type())
	}
	var err error
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, typeName(s.Type()))
	switch s.Type() {
	case event.TypeArray:
		dst = append(dst, `,"items":`...)
		if dst, err = c.buildSchema(dst, s.Items(), ""); err != nil {
			return nil, err
		}
	case event.TypeMap:
		dst = append(dst, `,"keys":`...)
		if dst, err = c.buildSchema(dst, s.Keys(), ""); err != nil {
			return nil, err
		}
		dst = append(dst, `,"values":`...)
		if dst, err = c.buildSchema(dst, s.Values(), ""); err != nil {
			return nil, err
		}
	case event.TypeStruct:
		dst = append(dst, `,"fields":[`...)
		for i := range s.NumFields() {
			if i > 0 {
				dst = append(dst, ',')
			}
			f := s.Field(i)
			if dst, err = c.buildSchema(dst, f.Schema, f.Name); err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"optional":`...)
	dst = strconv.AppendBool(dst, s.IsOptional())
	if s.Name() != "" {
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, s.Name())
	}
	if v, ok := s.Version(); ok {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, int64(v), 10)
	}
	if d, ok := s.Doc(); ok {
		dst = append(dst, `,"doc":`...)
		dst = appendString(dst, d)
	}
	if n := s.NumParams(); n > 0 {
		dst = append(dst, `,"parameters":{`...)
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			p := s.ParamAt(i)
			dst = appendString(dst, p.Key)
			dst = append(dst, ':')
			dst = appendString(dst, p.Value)
		}
		dst = append(dst, '}')
	}
	if d := s.Default(); d != nil {
		dst = append(dst, `,"default":`...)
		if dst, err = c.appendValue(dst, s, d); err != nil {
			return nil, fmt.Errorf("default: %w", err)
		}
	}
	if field != "" {
		dst = append(dst, `,"field":`...)
		dst = appendString(dst, field)
	}
	return append(dst, '}'), nil
}

func mismatch(s *event.Schema, v any) error {
	return fmt.Errorf("%w: Go type %T for %v", ErrMismatch, v, s)
}

// appendValue is JsonConverter.convertToJson.
func (c *Converter) appendValue(dst []byte, s *event.Schema, v any) ([]byte, error) {
	if v == nil {
		switch {
		case s == nil:
			return append(dst, "null"...), nil
		case s.Default() != nil && c.cfg.ReplaceNullWithDefault:
			return c.appendValue(dst, s, s.Default())
		case s.IsOptional():
			return append(dst, "null"...), nil
		}
		return nil, fmt.Errorf("%w: null for required %v", ErrMismatch, s)
	}
	if s == nil {
		return c.appendSchemaless(dst, v)
	}
	switch s.Name() {
	case event.LogicalDecimal:
		if s.Type() == event.TypeBytes {
			return c.appendDecimal(dst, s, v)
		}
	}
	switch s.Type() {
	case event.TypeInt8, event.TypeInt16, event.TypeInt32, event.TypeInt64:
		n, ok := asInt64(v)
		if !ok {
			return nil, mismatch(s, v)
		}
		return strconv.AppendInt(dst, n, 10), nil
	case event.TypeFloat32:
		switch f := v.(type) {
		case float32:
			return appendFloat(dst, float64(f), 32), nil
		}
		return nil, mismatch(s, v)
	case event.TypeFloat64:
		switch f := v.(type) {
		case float64:
			return appendFloat(dst, f, 64), nil
		case float32:
			return appendFloat(dst, float64(f), 64), nil
		}
		return nil, mismatch(s, v)
	case event.TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, mismatch(s, v)
		}
		return strconv.AppendBool(dst, b), nil
	case event.TypeString:
		str, ok := v.(string)
		if !ok {
			return nil, mismatch(s, v)
		}
		return appendString(dst, str), nil
	case event.TypeBytes:
		b, ok := v.([]byte)
		if !ok {
			return nil, mismatch(s, v)
		}
		return appendBase64(dst, b), nil
	case event.TypeArray:
		arr, ok := v.([]any)
		if !ok {
			return nil, mismatch(s, v)
		}
		dst = append(dst, '[')
		var err error
		for i, e := range arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = c.appendValue(dst, s.Items(), e); err != nil {
				return nil, fmt.Errorf("array element %d: %w", i, err)
			}
		}
		return append(dst, ']'), nil
	case event.TypeMap:
		return c.appendMap(dst, s, v)
	case event.TypeStruct:
		st, ok := v.(*event.Struct)
		if !ok {
			return nil, mismatch(s, v)
		}
		if !st.Schema().SameStruct(s) {
			return nil, fmt.Errorf("%w: struct bound to %v written as %v", ErrMismatch, st.Schema(), s)
		}
		dst = append(dst, '{')
		var err error
		for i := range s.NumFields() {
			if i > 0 {
				dst = append(dst, ',')
			}
			f := s.Field(i)
			dst = appendString(dst, f.Name)
			dst = append(dst, ':')
			if dst, err = c.appendValue(dst, f.Schema, st.At(i)); err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("schema with invalid type %v", s.Type())
}

// appendStruct writes st, whose schema must fit s, with the precomputed
// field names of plan (s's plan). It is appendValue's struct case.
func (c *Converter) appendStruct(dst []byte, plan *structPlan, s *event.Schema, st *event.Struct) ([]byte, error) {
	if ss := st.Schema(); ss != s && !ss.SameStruct(s) {
		return nil, fmt.Errorf("%w: struct bound to %v written as %v", ErrMismatch, ss, s)
	}
	n := s.NumFields()
	if n == 0 {
		return append(dst, '{', '}'), nil
	}
	var err error
	for i := range n {
		dst = append(dst, plan.keys[i]...)
		v := st.At(i)
		fs := s.Field(i).Schema
		// The common scalars directly; appendValue writes them the same.
		switch x := v.(type) {
		case string:
			if fs.Type() == event.TypeString {
				dst = appendString(dst, x)
				continue
			}
		case int64:
			if fs.Type() == event.TypeInt64 {
				dst = strconv.AppendInt(dst, x, 10)
				continue
			}
		case int32:
			if fs.Type() == event.TypeInt32 {
				dst = strconv.AppendInt(dst, int64(x), 10)
				continue
			}
		case bool:
			if fs.Type() == event.TypeBoolean {
				dst = strconv.AppendBool(dst, x)
				continue
			}
		}
		if sub := plan.sub[i]; sub != nil {
			if sv, ok := v.(*event.Struct); ok {
				if dst, err = c.appendStruct(dst, sub, fs, sv); err != nil {
					return nil, fmt.Errorf("field %q: %w", s.Field(i).Name, err)
				}
				continue
			}
		}
		if dst, err = c.appendValue(dst, fs, v); err != nil {
			return nil, fmt.Errorf("field %q: %w", s.Field(i).Name, err)
		}
	}
	return append(dst, '}'), nil
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), true
		}
	}
	return 0, false
}

func (c *Converter) appendDecimal(dst []byte, s *event.Schema, v any) ([]byte, error) {
	var raw []byte
	var unscaled *big.Int
	switch d := v.(type) {
	case []byte:
		raw = d
	case *big.Int:
		unscaled = d
	default:
		return nil, mismatch(s, v)
	}
	if c.cfg.DecimalFormat == DecimalNumeric {
		scaleStr, _ := s.Param(event.DecimalScaleParam)
		scale, err := strconv.Atoi(scaleStr)
		if err != nil {
			return nil, fmt.Errorf("decimal schema scale %q: %w", scaleStr, err)
		}
		if unscaled == nil {
			unscaled = event.DecimalUnscaled(raw)
		}
		return append(dst, bigDecimalString(unscaled, scale)...), nil
	}
	if raw == nil {
		raw = event.DecimalBytes(unscaled)
	}
	return appendBase64(dst, raw), nil
}

func (c *Converter) appendMap(dst []byte, s *event.Schema, v any) ([]byte, error) {
	objectMode := s.Keys().Type() == event.TypeString
	var entries []event.MapEntry
	switch m := v.(type) {
	case []event.MapEntry:
		entries = m
	case map[string]any:
		if !objectMode {
			return nil, mismatch(s, v)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		entries = make([]event.MapEntry, len(keys))
		for i, k := range keys {
			entries[i] = event.MapEntry{Key: k, Value: m[k]}
		}
	default:
		return nil, mismatch(s, v)
	}
	var err error
	if objectMode {
		dst = append(dst, '{')
		for i, e := range entries {
			if i > 0 {
				dst = append(dst, ',')
			}
			k, ok := e.Key.(string)
			if !ok {
				return nil, fmt.Errorf("map key: %w", mismatch(s.Keys(), e.Key))
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			if dst, err = c.appendValue(dst, s.Values(), e.Value); err != nil {
				return nil, fmt.Errorf("map value for %q: %w", k, err)
			}
		}
		return append(dst, '}'), nil
	}
	dst = append(dst, '[')
	for i, e := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		if dst, err = c.appendValue(dst, s.Keys(), e.Key); err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		dst = append(dst, ',')
		if dst, err = c.appendValue(dst, s.Values(), e.Value); err != nil {
			return nil, fmt.Errorf("map value: %w", err)
		}
		dst = append(dst, ']')
	}
	return append(dst, ']'), nil
}

// appendSchemaless writes a value without a schema, inferring the type from
// the Go value as ConnectSchema.schemaType does.
func (c *Converter) appendSchemaless(dst []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case int8, int16, int32, int64, int, uint8, uint16, uint32:
		n, _ := asInt64(x)
		return strconv.AppendInt(dst, n, 10), nil
	case float32:
		return appendFloat(dst, float64(x), 32), nil
	case float64:
		return appendFloat(dst, x, 64), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendString(dst, x), nil
	case []byte:
		return appendBase64(dst, x), nil
	case *event.Struct:
		return c.appendValue(dst, x.Schema(), x)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = c.appendSchemaless(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		entries := make([]event.MapEntry, len(keys))
		for i, k := range keys {
			entries[i] = event.MapEntry{Key: k, Value: x[k]}
		}
		return c.appendSchemaless(dst, entries)
	case []event.MapEntry:
		objectMode := true
		for _, e := range x {
			if _, ok := e.Key.(string); !ok {
				objectMode = false
				break
			}
		}
		if objectMode {
			dst = append(dst, '{')
		} else {
			dst = append(dst, '[')
		}
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if objectMode {
				dst = appendString(dst, e.Key.(string))
				dst = append(dst, ':')
			} else {
				dst = append(dst, '[')
				if dst, err = c.appendSchemaless(dst, e.Key); err != nil {
					return nil, err
				}
				dst = append(dst, ',')
			}
			if dst, err = c.appendSchemaless(dst, e.Value); err != nil {
				return nil, err
			}
			if !objectMode {
				dst = append(dst, ']')
			}
		}
		if objectMode {
			return append(dst, '}'), nil
		}
		return append(dst, ']'), nil
	}
	return nil, fmt.Errorf("%w: Go type %T has no Connect schema type", ErrMismatch, v)
}
