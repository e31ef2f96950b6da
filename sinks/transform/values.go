package transform

import (
	"fmt"
	"sort"
	"sync"

	"github.com/sluice-cdc/sluice/event"
)

// asMap returns a schemaless object as entries: []event.MapEntry as is, a
// map[string]any in sorted key order.
func asMap(v any) ([]event.MapEntry, bool) {
	switch m := v.(type) {
	case []event.MapEntry:
		return m, true
	case map[string]any:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]event.MapEntry, len(keys))
		for i, k := range keys {
			out[i] = event.MapEntry{Key: k, Value: m[k]}
		}
		return out, true
	}
	return nil, false
}

// requireMap is Connect's Requirements.requireMap.
func requireMap(v any, purpose string) ([]event.MapEntry, error) {
	m, ok := asMap(v)
	if !ok {
		return nil, fmt.Errorf("only Map objects supported in absence of schema for [%s], found: %s", purpose, javaClass(v))
	}
	return m, nil
}

// requireStruct is Connect's Requirements.requireStruct.
func requireStruct(v any, purpose string) (*event.Struct, error) {
	st, ok := v.(*event.Struct)
	if !ok || st == nil {
		return nil, fmt.Errorf("only Struct objects supported for [%s], found: %s", purpose, javaClass(v))
	}
	return st, nil
}

func mapIndex(m []event.MapEntry, key string) int {
	for i, e := range m {
		if k, ok := e.Key.(string); ok && k == key {
			return i
		}
	}
	return -1
}

func mapGet(m []event.MapEntry, key string) (any, bool) {
	if i := mapIndex(m, key); i >= 0 {
		return m[i].Value, true
	}
	return nil, false
}

// mapPut sets key in m (which it may change in place: callers pass copies),
// appending it when absent, as a Java HashMap put.
func mapPut(m []event.MapEntry, key string, v any) []event.MapEntry {
	if i := mapIndex(m, key); i >= 0 {
		m[i].Value = v
		return m
	}
	return append(m, event.MapEntry{Key: key, Value: v})
}

func copyMap(m []event.MapEntry, extra int) []event.MapEntry {
	return append(make([]event.MapEntry, 0, len(m)+extra), m...)
}

// structLike builds a struct schema with the name, version, doc and
// parameters of src and the given fields: Connect's
// SchemaUtil.copySchemaBasics(src, SchemaBuilder.struct()), which leaves the
// result required and without a default.
func structLike(src *event.Schema, fields []event.Field) (*event.Schema, error) {
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if seen[f.Name] {
			return nil, fmt.Errorf("cannot create field because of field name duplication %s", f.Name)
		}
		seen[f.Name] = true
	}
	s := event.StructOf(src.Name(), fields...)
	if v, ok := src.Version(); ok {
		s = s.WithVersion(v)
	}
	if d, ok := src.Doc(); ok {
		s = s.WithDoc(d)
	}
	for i := 0; i < src.NumParams(); i++ {
		p := src.ParamAt(i)
		s = s.WithParam(p.Key, p.Value)
	}
	return s, nil
}

// basicsOptional is copySchemaBasics(s).optional().build() for a field
// schema: s without its default, optional.
func basicsOptional(s *event.Schema) *event.Schema {
	if s.Default() != nil {
		s = s.WithDefault(nil)
	}
	if !s.IsOptional() {
		s = s.Optional()
	}
	return s
}

// withOptional returns s optional when opt is set.
func withOptional(s *event.Schema, opt bool) *event.Schema {
	if opt {
		return s.Optional()
	}
	return s
}

// schemaCacheSize bounds a transform's schema cache: converters share one
// *event.Schema per writer schema, so a handful of entries serve a topic; a
// source of fresh schema pointers only makes the cache restart.
const schemaCacheSize = 64

// schemaCache remembers the output schema a transform built for an input
// schema (schemas are immutable, so their pointers are keys). Besides
// saving the work, it gives downstream stages one output pointer per input
// schema, which their own caches rely on.
type schemaCache[K comparable] struct {
	mu sync.Mutex
	m  map[K]*event.Schema
}

func (c *schemaCache[K]) get(k K, build func() (*event.Schema, error)) (*event.Schema, error) {
	c.mu.Lock()
	out, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return out, nil
	}
	out, err := build()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= schemaCacheSize {
		c.m = make(map[K]*event.Schema)
	}
	c.m[k] = out
	c.mu.Unlock()
	return out, nil
}

// replaceNullKey is KIP-1040's option: a null field whose schema has a
// default reads as the default (Connect's Struct.get, the behaviour before
// the option existed), or as null when false (getWithoutDefault).
const replaceNullKey = "replace.null.with.default"

// fieldValue reads field i of st as Connect's Struct.get (replace) or
// getWithoutDefault.
func fieldValue(st *event.Struct, i int, replace bool) any {
	v := st.At(i)
	if v == nil && replace {
		return st.Schema().Field(i).Schema.Default()
	}
	return v
}
