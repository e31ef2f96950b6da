package config

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// walker checks a YAML node tree against the Go type it will be decoded
// into, expanding environment variables on the way. It collects problems
// instead of stopping at the first.
type walker struct {
	file     string
	lookup   func(string) (string, bool)
	problems []Problem
	bad      map[*yaml.Node]bool // values that must not reach the final decode
	badPaths []string            // their paths, to silence repeated Validate problems
	expanded map[*yaml.Node]bool // scalars already interpolated (aliases share nodes)
	active   map[*yaml.Node]bool // alias targets being walked, to catch cycles
	visits   int
	depth    int
}

// maxDepth bounds nesting so that a hostile document cannot exhaust the stack.
const maxDepth = 200

func (w *walker) addf(line int, path, format string, args ...any) {
	w.problems = append(w.problems, Problem{File: w.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail records a problem with the value n and keeps it out of the decode.
func (w *walker) fail(n *yaml.Node, path, format string, args ...any) {
	w.addf(n.Line, path, format, args...)
	w.bad[n] = true
	w.badPaths = append(w.badPaths, path)
}

var (
	yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	nodeType        = reflect.TypeFor[yaml.Node]()
	durationType    = reflect.TypeFor[time.Duration]()
)

// walk checks n against t; a nil t means "anything" (only interpolate).
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	w.visits++
	if w.visits == maxVisits+1 {
		w.addf(n.Line, "", "document too large (too many nodes or alias expansions)")
	}
	if w.visits > maxVisits {
		return
	}
	if w.depth >= maxDepth {
		w.fail(n, path, "nested more than %d levels deep", maxDepth)
		return
	}
	w.depth++
	defer func() { w.depth-- }()
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		switch {
		case n.Alias == nil:
		case w.active[n.Alias]:
			w.fail(n, path, "alias *%s refers to a value that contains it", n.Value)
		default:
			w.walk(n.Alias, t, path)
			if w.bad[n.Alias] {
				w.bad[n] = true
			}
		}
		return
	}
	if n.Anchor != "" {
		w.active[n] = true
		defer delete(w.active, n)
	}
	if n.Kind == yaml.ScalarNode && !w.expand(n, path) {
		return
	}
	switch {
	case t == nil || t.Kind() == reflect.Interface || t == nodeType:
		w.walkAny(n, path)
		return
	case reflect.PointerTo(t).Implements(yamlUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler):
		// The type decodes itself: interpolate inside, then let it judge.
		w.walkAny(n, path)
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			w.fail(n, path, "%s", decodeMsg(err))
		}
		return
	}

	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			// A section left empty ("kafka:" with every key commented out)
			// keeps its defaults: drop it rather than rely on how yaml.v3
			// treats null for a struct. A null list or map becomes nil and
			// a null scalar keeps its default, as in yaml.v3.
			if t.Kind() == reflect.Struct {
				w.bad[n] = true
			}
			return
		}
		switch t.Kind() {
		case reflect.Struct, reflect.Map:
			w.fail(n, path, "want a mapping, got %s", describe(n))
		case reflect.Slice, reflect.Array:
			w.fail(n, path, "want a list, got %s", describe(n))
		default:
			if err := n.Decode(reflect.New(t).Interface()); err != nil {
				w.fail(n, path, "want %s, got %s", typeWord(t), describe(n))
			}
		}
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Struct:
			w.walkStruct(n, t, path)
		case reflect.Map:
			w.walkMap(n, t, path)
		default:
			w.walkAny(n, path)
			w.fail(n, path, "want %s, got a mapping", typeWord(t))
		}
	case yaml.SequenceNode:
		switch t.Kind() {
		case reflect.Slice, reflect.Array:
			if t.Kind() == reflect.Array && len(n.Content) > t.Len() {
				w.fail(n, path, "want at most %d items, got %d", t.Len(), len(n.Content))
				return
			}
			for i, item := range n.Content {
				w.walk(item, t.Elem(), JoinPath(path, "["+strconv.Itoa(i)+"]"))
			}
		default:
			w.walkAny(n, path)
			w.fail(n, path, "want %s, got a list", typeWord(t))
		}
	}
}

// walkAny interpolates every scalar value under n.
func (w *walker) walkAny(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		w.expand(n, path)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.walk(n.Content[i+1], nil, JoinPath(path, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			w.walk(item, nil, JoinPath(path, "["+strconv.Itoa(i)+"]"))
		}
	case yaml.AliasNode:
		w.walk(n, nil, path)
	}
}

// pairs calls fn for each key/value of a mapping, reporting duplicate keys
// and descending into "<<" merge keys with the same type.
func (w *walker) pairs(n *yaml.Node, t reflect.Type, path string, fn func(k, v *yaml.Node)) {
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			w.walk(v, t, path)
			continue
		}
		if line, dup := first[k.Value]; dup {
			w.fail(v, JoinPath(path, k.Value), "duplicate key %q (first at line %d)", k.Value, line)
			continue
		}
		first[k.Value] = k.Line
		fn(k, v)
	}
}

func (w *walker) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	fields, rest := structFields(t)
	w.pairs(n, t, path, func(k, v *yaml.Node) {
		if ft, ok := fields[k.Value]; ok {
			w.walk(v, ft, JoinPath(path, k.Value))
			return
		}
		if rest != nil { // an ",inline" map takes the remaining keys
			w.walk(v, rest, JoinPath(path, k.Value))
			return
		}
		msg := fmt.Sprintf("unknown field %q", k.Value)
		if s := suggest(k.Value, fields); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		w.addf(k.Line, path, "%s", msg)
		w.walkAny(v, JoinPath(path, k.Value))
		w.bad[v] = true
	})
}

func (w *walker) walkMap(n *yaml.Node, t reflect.Type, path string) {
	kt := t.Key()
	w.pairs(n, t, path, func(k, v *yaml.Node) {
		if kt.Kind() != reflect.String && kt.Kind() != reflect.Interface {
			if err := k.Decode(reflect.New(kt).Interface()); err != nil {
				w.addf(k.Line, path, "key: want %s, got %s", typeWord(kt), describe(k))
				w.bad[v] = true
				return
			}
		}
		w.walk(v, t.Elem(), JoinPath(path, k.Value))
	})
}

// structFields returns the YAML keys a struct accepts, following yaml.v3's
// rules (tag name, else the lowercased field name; ",inline" flattens), and
// the element type of an inline map if there is one.
func structFields(t reflect.Type) (map[string]reflect.Type, reflect.Type) {
	fields := map[string]reflect.Type{}
	var rest reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(f.Tag), ":") {
			tag = string(f.Tag)
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if inline(opts) {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Struct:
				inner, innerRest := structFields(ft)
				for k, v := range inner {
					fields[k] = v
				}
				if innerRest != nil {
					rest = innerRest
				}
			case reflect.Map:
				rest = ft.Elem()
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields, rest
}

func inline(opts string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == "inline" {
			return true
		}
	}
	return false
}

// suggest returns the known key closest to an unknown one, or "" when none
// is close enough to be a likely typo.
func suggest(key string, fields map[string]reflect.Type) string {
	if len(key) > 64 {
		return ""
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	best, bestDist := "", 0
	for _, name := range names {
		if strings.EqualFold(name, key) || strings.EqualFold(strings.NewReplacer("_", ".", "-", ".").Replace(key), name) {
			return name
		}
		d := editDistance(strings.ToLower(key), name)
		if best == "" || d < bestDist {
			best, bestDist = name, d
		}
	}
	limit := max(len(key), len(best)) / 3
	if best == "" || bestDist > max(limit, 1) {
		return ""
	}
	return best
}

// editDistance counts the single-byte insertions, deletions, substitutions
// and adjacent transpositions that turn a into b (optimal string alignment),
// so the common typo "nmae" is one edit from "name".
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// typeWord names what a Go type expects, in the user's terms.
func typeWord(t reflect.Type) string {
	if t == durationType {
		return "a duration (such as 30s or 5m)"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return fmt.Sprintf("an integer that fits in %s", t.Kind())
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return "a non-negative integer"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("a non-negative integer that fits in %s", t.Kind())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return t.String()
}

// describe shows a node in a problem message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if len(v) > 60 {
		v = v[:57] + "..."
	}
	return strconv.Quote(v)
}

// decodeMsg strips yaml.v3's "line N:" decoration from a decode error.
func decodeMsg(err error) string {
	msg := err.Error()
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		return m[2]
	}
	return strings.TrimPrefix(msg, "yaml: ")
}
