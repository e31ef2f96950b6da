package transform

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// Transform is one single message transform. Apply returns the transformed
// record, or keep=false to drop it (a Java SMT returning null). An error
// means the record cannot be transformed (Kafka Connect's DataException).
type Transform interface {
	Apply(r sink.Record) (out sink.Record, keep bool, err error)
}

// Predicate decides whether a transform applies to a record.
type Predicate interface {
	Test(r sink.Record) bool
}

// Step is one configured transform of a chain.
type Step struct {
	Alias     string    // the alias in transforms=…
	Class     string    // the configured Java class name
	Transform Transform // the transform
	Predicate Predicate // nil when unconditional
	Negate    bool      // apply when the predicate does not match
}

// Chain is the ordered list of transforms of a connector. The zero value
// (and a nil *Chain) applies no transform.
type Chain struct {
	Steps []Step
}

// Apply runs the chain's transforms in order. It stops at the first one that
// drops the record (keep=false) or fails; the error names the alias.
func (c *Chain) Apply(r sink.Record) (sink.Record, bool, error) {
	if c == nil {
		return r, true, nil
	}
	for i := range c.Steps {
		s := &c.Steps[i]
		if s.Predicate != nil && s.Predicate.Test(r) == s.Negate {
			continue
		}
		out, keep, err := s.Transform.Apply(r)
		if err != nil {
			return r, false, fmt.Errorf("transform %s (%s): %w", s.Alias, s.Class, err)
		}
		if !keep {
			return sink.Record{}, false, nil
		}
		r = out
	}
	return r, true, nil
}

// Len returns the number of transforms.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.Steps)
}

// Config key names and prefixes of Kafka Connect's transform syntax.
const (
	KeyTransforms = "transforms"
	KeyPredicates = "predicates"
)

// Parse builds the chain a connector configuration declares, in the order of
// its transforms list. A configuration without transforms gives an empty
// chain. Keys under a declared alias that the transform does not know are
// ignored, as Kafka Connect does.
func Parse(cfg map[string]string) (*Chain, error) {
	aliases, err := aliasList(cfg, KeyTransforms)
	if err != nil {
		return nil, err
	}
	names, err := aliasList(cfg, KeyPredicates)
	if err != nil {
		return nil, err
	}
	preds := make(map[string]Predicate, len(names))
	for _, name := range names {
		c := newConf(cfg, KeyPredicates+"."+name+".")
		class, ok := c.get("type")
		if !ok || class == "" {
			return nil, c.errf("type", "missing predicate class")
		}
		build, ok := predicateClasses[class]
		if !ok {
			return nil, c.errf("type", "unknown predicate class %q", class)
		}
		p, err := build(c)
		if err != nil {
			return nil, err
		}
		preds[name] = p
	}
	ch := &Chain{Steps: make([]Step, 0, len(aliases))}
	for _, alias := range aliases {
		c := newConf(cfg, KeyTransforms+"."+alias+".")
		class, ok := c.get("type")
		if !ok || class == "" {
			return nil, c.errf("type", "missing transform class")
		}
		build, ok := transformClasses[class]
		if !ok {
			return nil, c.errf("type", "unknown transform class %q", class)
		}
		t, err := build(c)
		if err != nil {
			return nil, err
		}
		st := Step{Alias: alias, Class: class, Transform: t}
		if pn, ok := c.get("predicate"); ok && pn != "" {
			p, ok := preds[pn]
			if !ok {
				return nil, c.errf("predicate", "unknown predicate %q (declare it in %s)", pn, KeyPredicates)
			}
			st.Predicate = p
		}
		if st.Negate, err = c.boolean("negate", false); err != nil {
			return nil, err
		}
		ch.Steps = append(ch.Steps, st)
	}
	return ch, nil
}

// aliasList reads a comma-separated alias list (transforms or predicates),
// rejecting duplicates as Kafka Connect does.
func aliasList(cfg map[string]string, key string) ([]string, error) {
	list := splitList(cfg[key])
	seen := make(map[string]bool, len(list))
	for _, a := range list {
		if seen[a] {
			return nil, fmt.Errorf("%s: duplicate alias %q", key, a)
		}
		seen[a] = true
	}
	return list, nil
}

// Keys returns the keys of cfg that belong to the transform chain, sorted:
// "transforms" and "predicates" themselves and every key under a declared
// alias (transforms.<alias>.*, predicates.<name>.*). Keys under transforms.
// or predicates. that are not returned name an undeclared alias (a typo,
// or an alias dropped from the list); the runtime's validation may report
// them.
func Keys(cfg map[string]string) []string {
	var prefixes []string
	for _, a := range splitList(cfg[KeyTransforms]) {
		prefixes = append(prefixes, KeyTransforms+"."+a+".")
	}
	for _, a := range splitList(cfg[KeyPredicates]) {
		prefixes = append(prefixes, KeyPredicates+"."+a+".")
	}
	var out []string
	for k := range cfg {
		if k == KeyTransforms || k == KeyPredicates {
			out = append(out, k)
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				out = append(out, k)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// splitList splits a Kafka Connect LIST value: comma-separated, trimmed,
// empty items dropped.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// conf reads the keys of one transform or predicate.
type conf struct {
	prefix string
	cfg    map[string]string
}

func newConf(cfg map[string]string, prefix string) *conf {
	return &conf{prefix: prefix, cfg: cfg}
}

func (c *conf) get(key string) (string, bool) {
	v, ok := c.cfg[c.prefix+key]
	return v, ok
}

// str returns the trimmed value of key, def when unset. Kafka's ConfigDef
// trims STRING values, so transforms read theirs with str.
func (c *conf) str(key, def string) string {
	if v, ok := c.get(key); ok {
		return strings.TrimSpace(v)
	}
	return def
}

// raw returns the untrimmed value of key, def when unset.
func (c *conf) raw(key, def string) string {
	if v, ok := c.get(key); ok {
		return v
	}
	return def
}

// required returns the trimmed value of a required key.
func (c *conf) required(key string) (string, error) {
	v, ok := c.get(key)
	if !ok {
		return "", c.errf(key, "missing required configuration")
	}
	return strings.TrimSpace(v), nil
}

func (c *conf) list(key string) []string { return splitList(c.raw(key, "")) }

// firstList returns the list under the first of keys that is set (a key
// and its deprecated spellings).
func (c *conf) firstList(keys ...string) []string {
	for _, k := range keys {
		if _, ok := c.get(k); ok {
			return c.list(k)
		}
	}
	return nil
}

func (c *conf) boolean(key string, def bool) (bool, error) {
	v, ok := c.get(key)
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, c.errf(key, "invalid boolean %q (want true or false)", v)
}

func (c *conf) errf(key, format string, args ...any) error {
	return fmt.Errorf("%s%s: %s", c.prefix, key, fmt.Sprintf(format, args...))
}

// side selects the record's key or value, for the $Key/$Value variants.
type side bool

const (
	onValue side = false
	onKey   side = true
)

func (s side) get(r *sink.Record) (*event.Schema, any) {
	if s == onKey {
		return r.KeySchema, r.Key
	}
	return r.ValueSchema, r.Value
}

func (s side) set(r *sink.Record, sc *event.Schema, v any) {
	if s == onKey {
		r.KeySchema, r.Key = sc, v
	} else {
		r.ValueSchema, r.Value = sc, v
	}
}

func (s side) String() string {
	if s == onKey {
		return "key"
	}
	return "value"
}

type buildFunc func(c *conf) (Transform, error)

const (
	kafkaPkg     = "org.apache.kafka.connect.transforms."
	kafkaPredPkg = kafkaPkg + "predicates."
)

// transformClasses maps the accepted Java class names to constructors.
var transformClasses = map[string]buildFunc{
	"io.debezium.transforms.ExtractNewRecordState": newExtractNewRecordState,
	DebeziumMongoExtractNewDocumentState:           newExtractNewDocumentState,
	kafkaPkg + "RegexRouter":                       newRegexRouter,
	kafkaPkg + "Filter":                            func(*conf) (Transform, error) { return filter{}, nil },
	kafkaPkg + "ValueToKey":                        newValueToKey,
}

func init() {
	for name, b := range map[string]func(*conf, side) (Transform, error){
		"ReplaceField":       newReplaceField,
		"MaskField":          newMaskField,
		"InsertField":        newInsertField,
		"ExtractField":       newExtractField,
		"TimestampConverter": newTimestampConverter,
		"Cast":               newCast,
	} {
		transformClasses[kafkaPkg+name+"$Key"] = func(c *conf) (Transform, error) { return b(c, onKey) }
		transformClasses[kafkaPkg+name+"$Value"] = func(c *conf) (Transform, error) { return b(c, onValue) }
	}
}

// Classes returns the accepted transform class names, sorted.
func Classes() []string {
	out := make([]string, 0, len(transformClasses))
	for k := range transformClasses {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// javaClass names a Go value by the Java class Kafka Connect would see, for
// error messages that match Connect's.
func javaClass(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case int8:
		return "java.lang.Byte"
	case int16:
		return "java.lang.Short"
	case int32:
		return "java.lang.Integer"
	case int64:
		return "java.lang.Long"
	case float32:
		return "java.lang.Float"
	case float64:
		return "java.lang.Double"
	case bool:
		return "java.lang.Boolean"
	case string:
		return "java.lang.String"
	case []byte:
		return "[B"
	case []any:
		return "java.util.ArrayList"
	case []event.MapEntry, map[string]any:
		return "java.util.HashMap"
	case *event.Struct:
		return "org.apache.kafka.connect.data.Struct"
	}
	return fmt.Sprintf("%T", v)
}
