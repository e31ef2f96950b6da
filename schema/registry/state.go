package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/hamba/avro/v2"
)

// version is one subject version as the store holds it.
type version struct {
	id      int
	deleted bool
}

// schemaEntry is one global id.
type schemaEntry struct {
	text  string // the schema as first registered, compacted
	ident string // identity (see identity)
	refs  int    // subject versions (soft-deleted included) holding the id
	// schema is the parsed form, filled on first use.
	schema avro.Schema
}

// state is the registry's content, rebuilt by applying _schemas records in
// log order. Every instance applies the same records in the same order, so
// every instance reaches the same state.
type state struct {
	subjects map[string]map[int]*version
	ids      map[int]*schemaEntry
	byIdent  map[string]int
	maxID    int
	global   Level // "" means DefaultLevel
	levels   map[string]Level
}

func newState() *state {
	return &state{
		subjects: map[string]map[int]*version{},
		ids:      map[int]*schemaEntry{},
		byIdent:  map[string]int{},
		levels:   map[string]Level{},
	}
}

// parsed is a validated schema: its compacted text, its identity and the
// parsed form.
type parsed struct {
	text   string
	ident  string
	schema avro.Schema
}

// parseSchema validates an Avro schema. Its identity is hamba's full JSON
// rendering of the parsed schema: whitespace, key order and {"type":"int"}
// versus "int" do not matter, while names, defaults, docs, aliases and
// properties (connect.name, connect.parameters...) do, as with Confluent's
// canonical string.
func parseSchema(text string) (parsed, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return parsed{}, err
	}
	ident, err := json.Marshal(s)
	if err != nil {
		return parsed{}, err
	}
	var raw json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return parsed{}, err
	}
	return parsed{text: string(compact(raw)), ident: string(ident), schema: s}, nil
}

// compact strips insignificant whitespace; json.Compact leaves string
// contents (and <, >, &) as they are.
func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// apply folds one record into the state. Records that would give an id to a
// second, different schema, or a taken subject version to a different id,
// are ignored: the first in the log wins (as Confluent's
// KafkaStoreMessageHandler ignores duplicate ids), which is what lets two
// instances allocate optimistically (see doc.go).
func (st *state) apply(rec record, log *slog.Logger) {
	var k recordKey
	if err := json.Unmarshal(rec.Key, &k); err != nil {
		log.Warn("schema registry: skip record with bad key", "key", string(rec.Key), "err", err)
		return
	}
	subject := ""
	if k.Subject != nil {
		subject = *k.Subject
	}
	switch k.KeyType {
	case keySchema:
		if rec.Value == nil {
			st.dropVersion(subject, k.Version)
			return
		}
		var v schemaValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			log.Warn("schema registry: skip schema record with bad value", "subject", subject, "version", k.Version, "err", err)
			return
		}
		if err := st.putVersion(v); err != nil {
			log.Warn("schema registry: ignore schema record", "subject", v.Subject, "version", v.Version, "id", v.ID, "err", err)
		}
	case keyConfig:
		if rec.Value == nil {
			st.setLevel(subject, "")
			return
		}
		var v configValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			log.Warn("schema registry: skip config record with bad value", "subject", subject, "err", err)
			return
		}
		l, ok := ParseLevel(v.CompatibilityLevel)
		if !ok {
			log.Warn("schema registry: skip config record with unknown level", "subject", subject, "level", v.CompatibilityLevel)
			return
		}
		st.setLevel(subject, l)
	case keyDeleteSubject:
		if rec.Value == nil {
			return
		}
		var v deleteSubjectValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			log.Warn("schema registry: skip delete-subject record with bad value", "subject", subject, "err", err)
			return
		}
		for n, ver := range st.subjects[v.Subject] {
			if n <= v.Version {
				ver.deleted = true
			}
		}
	default:
		// MODE, NOOP, CLEAR_SUBJECT, CONTEXT and later types carry nothing
		// this registry serves.
	}
}

func (st *state) setLevel(subject string, l Level) {
	if subject == "" {
		st.global = l
	} else if l == "" {
		delete(st.levels, subject)
	} else {
		st.levels[subject] = l
	}
}

func (st *state) putVersion(v schemaValue) error {
	if v.SchemaType != "" && v.SchemaType != "AVRO" {
		return fmt.Errorf("schema type %s is not served", v.SchemaType)
	}
	if v.ID > st.maxID {
		// Counted even when the record loses below, so an id once written is
		// never handed out again by this log.
		st.maxID = v.ID
	}
	p, err := parseSchema(v.Schema)
	if err != nil {
		return fmt.Errorf("invalid schema: %w", err)
	}
	if e := st.ids[v.ID]; e != nil && e.ident != p.ident {
		return fmt.Errorf("id %d already holds another schema", v.ID)
	}
	if other, ok := st.byIdent[p.ident]; ok && other != v.ID {
		return fmt.Errorf("schema already has id %d", other)
	}
	vers := st.subjects[v.Subject]
	if old := vers[v.Version]; old != nil {
		if old.id != v.ID {
			return fmt.Errorf("version already holds id %d", old.id)
		}
		old.deleted = v.Deleted
		return nil
	}
	if vers == nil {
		vers = map[int]*version{}
		st.subjects[v.Subject] = vers
	}
	vers[v.Version] = &version{id: v.ID, deleted: v.Deleted}
	e := st.ids[v.ID]
	if e == nil {
		e = &schemaEntry{text: p.text, ident: p.ident, schema: p.schema}
		st.ids[v.ID] = e
		st.byIdent[p.ident] = v.ID
	}
	e.refs++
	return nil
}

func (st *state) dropVersion(subject string, n int) {
	vers := st.subjects[subject]
	old := vers[n]
	if old == nil {
		return
	}
	delete(vers, n)
	if len(vers) == 0 {
		delete(st.subjects, subject)
	}
	if e := st.ids[old.id]; e != nil {
		e.refs--
		if e.refs == 0 {
			delete(st.ids, old.id)
			delete(st.byIdent, e.ident)
		}
	}
}

// versions lists a subject's version numbers ascending, soft-deleted ones
// only when deleted is true.
func (st *state) versions(subject string, deleted bool) []int {
	var out []int
	for n, v := range st.subjects[subject] {
		if deleted || !v.deleted {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// hasSubject reports whether subject has a live version (or any, deleted).
func (st *state) hasSubject(subject string, deleted bool) bool {
	return len(st.versions(subject, deleted)) > 0
}

// subjectNames lists subjects ascending.
func (st *state) subjectNames(deleted bool) []string {
	var out []string
	for _, s := range slices.Sorted(maps.Keys(st.subjects)) {
		if st.hasSubject(s, deleted) {
			out = append(out, s)
		}
	}
	return out
}

// level is the subject's compatibility level, falling back to the global one.
func (st *state) level(subject string) Level {
	if l, ok := st.levels[subject]; ok && subject != "" {
		return l
	}
	if st.global != "" {
		return st.global
	}
	return DefaultLevel
}
