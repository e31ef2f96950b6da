package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration file, located by line.
type Problem struct {
	File string
	Line int    // 1-based; 0 when the problem concerns the whole file
	Path string // "sources[0].tables[1]"; empty for the document itself
	Msg  string
}

// String formats p as "FILE:LINE: path: problem", leaving out the line and
// path when they are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(p.Line))
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in one configuration file, in line order.
type Error struct {
	Problems []Problem
}

// Error returns one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Validator is implemented by configuration structs that check themselves
// after decoding. The error should carry [FieldError]s (see [Problems]).
type Validator interface {
	Validate() error
}

// Loader decodes configuration files. The zero Loader reads the process
// environment; tests set LookupEnv to control interpolation.
type Loader struct {
	// LookupEnv resolves ${VAR}; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
}

// Load reads the YAML file at path onto dst with the process environment.
// See [Loader.Decode].
func Load(path string, dst any) error {
	return Loader{}.Load(path, dst)
}

// Decode decodes YAML data onto dst with the process environment; name is
// the file name used in problems. See [Loader.Decode].
func Decode(name string, data []byte, dst any) error {
	return Loader{}.Decode(name, data, dst)
}

// Load reads the YAML file at path onto dst. See [Loader.Decode].
func (l Loader) Load(path string, dst any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	return l.Decode(path, data, dst)
}

// maxVisits bounds the nodes the checking walk visits, so that a document
// built from nested aliases cannot make loading take exponential time.
const maxVisits = 1 << 17

// Decode decodes YAML data onto dst, a non-nil pointer to a struct already
// holding defaults: keys present in data replace the defaults, lists
// replace lists, and mappings are merged key by key.
//
// Problems with the document (syntax, unset environment variables, unknown
// keys, wrong types) and, when dst implements [Validator], problems Validate
// reports are all returned together as an [*Error]. Validation problems on a
// value that already failed to decode are left out, since they would only
// repeat it. A value that fails to decode leaves the default in place.
func (l Loader) Decode(name string, data []byte, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("decode config %s: destination must be a non-nil pointer, got %T", name, dst)
	}
	lookup := l.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	w := &walker{
		file:     name,
		lookup:   lookup,
		bad:      map[*yaml.Node]bool{},
		expanded: map[*yaml.Node]bool{},
		active:   map[*yaml.Node]bool{},
	}

	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		// An empty file keeps every default.
	case err != nil:
		w.problems = append(w.problems, syntaxProblem(name, err))
		return &Error{Problems: w.problems}
	default:
		var next yaml.Node
		if err := dec.Decode(&next); err == nil {
			w.addf(next.Line, "", "a second YAML document is not supported (remove the \"---\")")
		} else if !errors.Is(err, io.EOF) {
			w.problems = append(w.problems, syntaxProblem(name, err))
		}
	}

	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
		w.walk(root, rv.Type().Elem(), "")
		if w.visits <= maxVisits && !w.bad[root] {
			prune(root, w.bad, map[*yaml.Node]bool{})
			if err := doc.Decode(dst); err != nil {
				w.decodeError(err)
			}
		}
	}

	if v, ok := dst.(Validator); ok && w.visits <= maxVisits {
		for _, fe := range Flatten(v.Validate()) {
			if w.covered(fe.Path) {
				continue
			}
			w.problems = append(w.problems, Problem{
				File: name,
				Line: LineOf(root, fe.Path),
				Path: fe.Path,
				Msg:  fe.Msg,
			})
		}
	}
	if len(w.problems) == 0 {
		return nil
	}
	sort.SliceStable(w.problems, func(i, j int) bool { return w.problems[i].Line < w.problems[j].Line })
	return &Error{Problems: w.problems}
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxProblem turns a yaml.v3 parse error ("yaml: line 3: did not find
// expected key") into a Problem.
func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Msg: m[2]}
	}
	return Problem{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// decodeError records what the final yaml.v3 decode still rejected. The
// checking walk catches type problems first, so this is a fallback.
func (w *walker) decodeError(err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		w.problems = append(w.problems, syntaxProblem(w.file, err))
		return
	}
	for _, s := range te.Errors {
		w.problems = append(w.problems, syntaxProblem(w.file, errors.New(s)))
	}
}

// covered reports whether path is, or lies under, a value that already
// failed to decode.
func (w *walker) covered(path string) bool {
	for _, bp := range w.badPaths {
		if path == bp || strings.HasPrefix(path, bp) && (path[len(bp)] == '.' || path[len(bp)] == '[') {
			return true
		}
	}
	return false
}

// prune removes values that failed to decode so that the final decode keeps
// the defaults for them: a mapping entry is dropped, a list item becomes
// null (dropping it would shift the indexes Validate reports).
func prune(n *yaml.Node, bad, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	switch n.Kind {
	case yaml.MappingNode:
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if bad[v] {
				continue
			}
			prune(v, bad, seen)
			kept = append(kept, k, v)
		}
		n.Content = kept
	case yaml.SequenceNode:
		for i, item := range n.Content {
			if bad[item] {
				n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: item.Line, Column: item.Column}
				continue
			}
			prune(item, bad, seen)
		}
	case yaml.AliasNode:
		prune(n.Alias, bad, seen)
	}
}
