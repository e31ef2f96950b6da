package daemon

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/config"
)

// rawConfig is Config without its Validate method, so that the loader
// decodes it without validating: list elements need their defaults applied
// first (see Decode).
type rawConfig Config

// Load reads the YAML file at path onto [DefaultConfig], applies
// [DefaultSourceConfig] to every source, and validates the result. Problems
// come back as a *config.Error.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("read config: %w", err)
	}
	return Decode(config.Loader{}, path, data)
}

// Decode decodes a sluice.yaml document with l; name is the file name used in
// problems.
//
// The loader fills defaults for keys absent from the file, but a list
// element is decoded from its zero value. Decode therefore gives every
// entry of sources the defaults of [DefaultSourceConfig] for the keys the
// entry leaves out, then validates the whole Config, reporting problems as
// the loader does ("FILE:LINE: path: problem").
func Decode(l config.Loader, name string, data []byte) (Config, error) {
	c := DefaultConfig()
	err := l.Decode(name, data, (*rawConfig)(&c))
	var ce *config.Error
	if err != nil && !errors.As(err, &ce) {
		return c, err
	}
	var doc yaml.Node
	if yerr := yaml.Unmarshal(data, &doc); yerr != nil {
		// A syntax error: the loader reported it and decoded nothing.
		return c, err
	}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	applySourceDefaults(&c, root)

	var problems []config.Problem
	if ce != nil {
		problems = ce.Problems
	}
	decoded := len(problems)
	for _, fe := range config.Flatten(c.Validate()) {
		if covered(problems[:decoded], fe.Path) {
			continue
		}
		problems = append(problems, config.Problem{File: name, Line: config.LineOf(root, fe.Path), Path: fe.Path, Msg: fe.Msg})
	}
	if len(problems) == 0 {
		return c, nil
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
	return c, &config.Error{Problems: problems}
}

// covered reports whether path lies under a value that already failed to
// decode, whose validation problems would only repeat the decode problem. An
// unknown key is reported against its parent, which it does not cover.
func covered(decodeProblems []config.Problem, path string) bool {
	for _, p := range decodeProblems {
		bp := p.Path
		if bp == "" || strings.HasPrefix(p.Msg, "unknown field ") {
			continue
		}
		if path == bp || strings.HasPrefix(path, bp) && (path[len(bp)] == '.' || path[len(bp)] == '[') {
			return true
		}
	}
	return false
}

// applySourceDefaults gives each source the defaults of DefaultSourceConfig
// for every key its YAML entry leaves out.
func applySourceDefaults(c *Config, root *yaml.Node) {
	list := child(root, "sources")
	def := reflect.ValueOf(DefaultSourceConfig())
	for i := range c.Sources {
		var entry *yaml.Node
		if list != nil && list.Kind == yaml.SequenceNode && i < len(list.Content) {
			entry = deref(list.Content[i])
		}
		fillAbsent(reflect.ValueOf(&c.Sources[i]).Elem(), def, entry)
	}
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// fillAbsent copies into dst the fields of def whose YAML key is absent from
// the mapping n, recursing into nested structs given as mappings. Only fields
// whose default is not the zero value matter, since dst starts from zero.
func fillAbsent(dst, def reflect.Value, n *yaml.Node) {
	if n != nil && n.Kind != yaml.MappingNode {
		n = nil // null or a value that failed to decode: take every default
	}
	t := dst.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || def.Field(i).IsZero() {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "-" {
			continue
		}
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		v := child(n, key)
		switch {
		case v == nil || v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" && f.Type.Kind() == reflect.Struct:
			dst.Field(i).Set(def.Field(i))
		case f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(unmarshalerType):
			fillAbsent(dst.Field(i), def.Field(i), v)
		}
	}
}

// child returns the value of key in mapping n (following aliases), or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}
