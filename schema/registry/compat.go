package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// Level is a compatibility level as Confluent names it.
type Level string

// The compatibility levels.
const (
	None               Level = "NONE"
	Backward           Level = "BACKWARD"
	BackwardTransitive Level = "BACKWARD_TRANSITIVE"
	Forward            Level = "FORWARD"
	ForwardTransitive  Level = "FORWARD_TRANSITIVE"
	Full               Level = "FULL"
	FullTransitive     Level = "FULL_TRANSITIVE"
)

// DefaultLevel applies when neither the subject nor the registry sets one.
const DefaultLevel = Backward

// ParseLevel accepts a level in any letter case, as Confluent does.
func ParseLevel(s string) (Level, bool) {
	l := Level(strings.ToUpper(strings.TrimSpace(s)))
	switch l {
	case None, Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive:
		return l, true
	}
	return "", false
}

func (l Level) transitive() bool { return strings.HasSuffix(string(l), "_TRANSITIVE") }
func (l Level) backward() bool {
	return strings.HasPrefix(string(l), "BACKWARD") || strings.HasPrefix(string(l), "FULL")
}
func (l Level) forward() bool {
	return strings.HasPrefix(string(l), "FORWARD") || strings.HasPrefix(string(l), "FULL")
}

// IncompatibilityType names a schema-resolution failure with the constant
// names of org.apache.avro.SchemaCompatibility.SchemaIncompatibilityType.
type IncompatibilityType string

// The incompatibility types.
const (
	NameMismatch                   IncompatibilityType = "NAME_MISMATCH"
	FixedSizeMismatch              IncompatibilityType = "FIXED_SIZE_MISMATCH"
	MissingEnumSymbols             IncompatibilityType = "MISSING_ENUM_SYMBOLS"
	ReaderFieldMissingDefaultValue IncompatibilityType = "READER_FIELD_MISSING_DEFAULT_VALUE"
	TypeMismatch                   IncompatibilityType = "TYPE_MISMATCH"
	MissingUnionBranch             IncompatibilityType = "MISSING_UNION_BRANCH"
)

// Incompatibility is one reason a reader schema cannot read data written
// with a writer schema. Location is a JSON pointer into the reader schema in
// the form Avro's Java SchemaCompatibility reports ("/fields/1/type");
// Message is its detail ("reader type: INT not compatible with writer type:
// STRING", a field name, a symbol list).
type Incompatibility struct {
	Type     IncompatibilityType
	Location string
	Message  string
}

// CheckReadable reports every reason why data written with writer cannot be
// read with reader under the Avro specification's schema resolution rules;
// none means compatible. It follows Java's SchemaCompatibility: record fields
// match by name or by the reader field's aliases, a reader field missing from
// the writer needs a default, named types match by unqualified name or a
// reader alias, enums need every writer symbol unless the reader has a
// default symbol, each writer union branch must resolve, numeric promotions
// int→long→float→double and string↔bytes are allowed, logical types are
// judged by their underlying type.
func CheckReadable(reader, writer avro.Schema) []Incompatibility {
	c := &checker{seen: map[[2]avro.Schema]bool{}}
	c.check(reader, writer, nil)
	return c.out
}

type checker struct {
	// seen holds the reader/writer pairs being checked further up the
	// stack: meeting one again (a recursive type) counts as compatible,
	// as in Java's RECURSION_IN_PROGRESS.
	seen map[[2]avro.Schema]bool
	out  []Incompatibility
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func pointer(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1"))
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

func typeName(s avro.Schema) string { return strings.ToUpper(string(s.Type())) }

func (c *checker) add(t IncompatibilityType, path []string, msg string) {
	c.out = append(c.out, Incompatibility{Type: t, Location: pointer(path), Message: msg})
}

func (c *checker) mismatch(reader, writer avro.Schema, path []string) {
	c.add(TypeMismatch, path, fmt.Sprintf("reader type: %s not compatible with writer type: %s", typeName(reader), typeName(writer)))
}

// compatible answers without recording, for union branch selection.
func (c *checker) compatible(reader, writer avro.Schema) bool {
	sub := &checker{seen: c.seen}
	sub.check(reader, writer, nil)
	return len(sub.out) == 0
}

func with(path []string, more ...string) []string {
	return append(slices.Clip(path), more...)
}

func (c *checker) check(reader, writer avro.Schema, path []string) {
	reader, writer = deref(reader), deref(writer)
	key := [2]avro.Schema{reader, writer}
	if c.seen[key] {
		return // recursive type already under check: assume compatible, as Java does
	}
	c.seen[key] = true
	defer delete(c.seen, key)
	rt, wt := reader.Type(), writer.Type()
	if rt == wt {
		switch r := reader.(type) {
		case *avro.ArraySchema:
			c.check(r.Items(), writer.(*avro.ArraySchema).Items(), with(path, "items"))
		case *avro.MapSchema:
			c.check(r.Values(), writer.(*avro.MapSchema).Values(), with(path, "values"))
		case *avro.FixedSchema:
			w := writer.(*avro.FixedSchema)
			c.names(r, w, path)
			if r.Size() != w.Size() {
				c.add(FixedSizeMismatch, with(path, "size"), fmt.Sprintf("expected: %d, found: %d", w.Size(), r.Size()))
			}
		case *avro.EnumSchema:
			w := writer.(*avro.EnumSchema)
			c.names(r, w, path)
			var missing []string
			for _, s := range w.Symbols() {
				if !slices.Contains(r.Symbols(), s) {
					missing = append(missing, s)
				}
			}
			if len(missing) > 0 && !(r.HasDefault() && slices.Contains(r.Symbols(), r.Default())) {
				slices.Sort(missing)
				c.add(MissingEnumSymbols, with(path, "symbols"), "["+strings.Join(missing, ", ")+"]")
			}
		case *avro.RecordSchema:
			w := writer.(*avro.RecordSchema)
			c.names(r, w, path)
			c.fields(r, w, path)
		case *avro.UnionSchema:
			for i, wb := range writer.(*avro.UnionSchema).Types() {
				if !c.compatible(r, wb) {
					c.add(MissingUnionBranch, with(path, strconv.Itoa(i)), "reader union lacking writer type: "+typeName(deref(wb)))
				}
			}
		}
		return
	}
	if w, ok := writer.(*avro.UnionSchema); ok {
		for _, wb := range w.Types() {
			c.check(reader, wb, path)
		}
		return
	}
	switch rt {
	case avro.Long:
		if wt == avro.Int {
			return
		}
	case avro.Float:
		if wt == avro.Int || wt == avro.Long {
			return
		}
	case avro.Double:
		if wt == avro.Int || wt == avro.Long || wt == avro.Float {
			return
		}
	case avro.Bytes:
		if wt == avro.String {
			return
		}
	case avro.String:
		if wt == avro.Bytes {
			return
		}
	case avro.Union:
		for _, rb := range reader.(*avro.UnionSchema).Types() {
			if c.compatible(rb, writer) {
				return
			}
		}
		c.add(MissingUnionBranch, path, "reader union lacking writer type: "+typeName(writer))
		return
	}
	c.mismatch(reader, writer, path)
}

type named interface {
	Name() string
	FullName() string
	Aliases() []string
}

// names compares unqualified names, or the writer's full name against the
// reader's aliases (Java's SchemaCompatibility.schemaNameEquals).
func (c *checker) names(r, w named, path []string) {
	if r.Name() == w.Name() || slices.Contains(r.Aliases(), w.FullName()) {
		return
	}
	c.add(NameMismatch, with(path, "name"), "expected: "+w.FullName())
}

func (c *checker) fields(r, w *avro.RecordSchema, path []string) {
	byName := map[string]*avro.Field{}
	for _, f := range w.Fields() {
		byName[f.Name()] = f
	}
	for i, rf := range r.Fields() {
		fp := with(path, "fields", strconv.Itoa(i))
		wf := byName[rf.Name()]
		for _, a := range rf.Aliases() {
			if wf != nil {
				break
			}
			wf = byName[a]
		}
		if wf != nil {
			c.check(rf.Type(), wf.Type(), with(fp, "type"))
			continue
		}
		if rf.HasDefault() {
			continue
		}
		if e, ok := deref(rf.Type()).(*avro.EnumSchema); ok && e.HasDefault() {
			c.check(rf.Type(), w, with(fp, "type"))
			continue
		}
		c.add(ReaderFieldMissingDefaultValue, fp, rf.Name())
	}
}

// describe renders an incompatibility as Confluent's
// io.confluent.kafka.schemaregistry.avro.Difference does; reader and writer
// are "new" or "old".
func (in Incompatibility) describe(reader, writer string) string {
	var d string
	switch in.Type {
	case FixedSizeMismatch:
		d = fmt.Sprintf("The size of FIXED type field at path '%s' in the %s schema does not match with the %s schema", in.Location, reader, writer)
	case TypeMismatch:
		d = fmt.Sprintf("The type (path '%s') of a field in the %s schema does not match with the %s schema", in.Location, reader, writer)
	case NameMismatch:
		d = fmt.Sprintf("The name of the schema has changed (path '%s')", in.Location)
	case MissingEnumSymbols:
		d = fmt.Sprintf("The %s schema is missing enum symbols '%s' at path '%s' in the %s schema", reader, in.Message, in.Location, writer)
	case MissingUnionBranch:
		d = fmt.Sprintf("The %s schema is missing a type inside a union field at path '%s' in the %s schema", reader, in.Location, writer)
	case ReaderFieldMissingDefaultValue:
		d = fmt.Sprintf("The field '%s' at path '%s' in the %s schema has no default value and is missing in the %s schema", in.Message, in.Location, reader, writer)
	}
	return "{errorType:'" + string(in.Type) + "', description:'" + d + "', additionalInfo:'" + in.Message + "'}"
}

// previous is an earlier version a new schema is checked against.
type previous struct {
	version int
	text    string
	schema  avro.Schema
}

// checkLevel returns Confluent's error messages for registering next in a
// subject whose live versions are prev (ascending), or nil when allowed.
func checkLevel(level Level, next avro.Schema, prev []previous) []string {
	if level == None || len(prev) == 0 {
		return nil
	}
	against := prev[len(prev)-1:]
	if level.transitive() {
		against = prev
	}
	// Confluent checks the latest first and stops at the first failing version.
	for i := len(against) - 1; i >= 0; i-- {
		p := against[i]
		var msgs []string
		if level.forward() {
			for _, in := range CheckReadable(p.schema, next) {
				msgs = append(msgs, in.describe("old", "new"))
			}
		}
		if level.backward() {
			for _, in := range CheckReadable(next, p.schema) {
				msgs = append(msgs, in.describe("new", "old"))
			}
		}
		if len(msgs) > 0 {
			msgs = append(msgs, fmt.Sprintf("{oldSchemaVersion: %d}", p.version), "{oldSchema: '"+p.text+"'}",
				fmt.Sprintf("{validateFields: 'false', compatibility: '%s'}", level))
			return msgs
		}
	}
	return nil
}
