package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The registry operations behind the REST API. Writes run one at a time in
// an instance (writeMu); across instances they are optimistic: catch up
// with the log, plan, write, read back, and retry if another instance's
// record landed first (see doc.go).

// storeErr maps a store failure to Confluent's 50001/50002.
func storeErr(what string, err error) *apiError {
	if errors.Is(err, context.DeadlineExceeded) {
		return errTimeout(what + " operation timed out")
	}
	return errStore(what+" operation failed while writing to the Kafka store", err)
}

// versionArg is a parsed {version} path element: n > 0, or -1 for latest.
type versionArg struct {
	n   int
	raw string
}

// parseVersion follows Confluent's VersionId: "latest" (any case), -1, or
// 1..2^31-1.
func parseVersion(raw string) (versionArg, *apiError) {
	t := strings.TrimSpace(raw)
	if strings.EqualFold(t, "latest") {
		return versionArg{n: -1, raw: raw}, nil
	}
	n, err := strconv.ParseInt(t, 10, 32)
	if err != nil || (n <= 0 && n != -1) {
		return versionArg{}, errInvalidVersion(raw)
	}
	return versionArg{n: int(n), raw: raw}, nil
}

// resolve finds the version number v names in subject, or 0.
func (st *state) resolve(subject string, v versionArg, deleted bool) int {
	vs := st.versions(subject, deleted)
	if v.n == -1 {
		if len(vs) == 0 {
			return 0
		}
		return vs[len(vs)-1]
	}
	if slices.Contains(vs, v.n) {
		return v.n
	}
	return 0
}

// subjectVersion is the REST Schema entity.
type subjectVersion struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
	ID      int    `json:"id"`
	Schema  string `json:"schema"`
}

func (st *state) entity(subject string, n int) subjectVersion {
	v := st.subjects[subject][n]
	return subjectVersion{Subject: subject, Version: n, ID: v.id, Schema: st.ids[v.id].text}
}

// liveSchemas returns the subject's live versions ascending with parsed
// schemas, for compatibility checks.
func (st *state) liveSchemas(subject string) ([]previous, error) {
	var out []previous
	for _, n := range st.versions(subject, false) {
		e := st.ids[st.subjects[subject][n].id]
		if e.schema == nil {
			p, err := parseSchema(e.text)
			if err != nil {
				return nil, fmt.Errorf("stored schema %s version %d: %w", subject, n, err)
			}
			e.schema = p.schema
		}
		out = append(out, previous{version: n, text: e.text, schema: e.schema})
	}
	return out, nil
}

// plan is what registering needs to write.
type plan struct {
	existing int // id already registered under the subject; nothing to write
	id       int
	version  int
	recs     []record
}

func (st *state) planRegister(subject string, p parsed) (plan, *apiError) {
	vs := st.versions(subject, false)
	for i := len(vs) - 1; i >= 0; i-- {
		if v := st.subjects[subject][vs[i]]; st.ids[v.id].ident == p.ident {
			return plan{existing: v.id}, nil
		}
	}
	prev, err := st.liveSchemas(subject)
	if err != nil {
		return plan{}, errStore("Error while reading the store", err)
	}
	if msgs := checkLevel(st.level(subject), p.schema, prev); len(msgs) > 0 {
		return plan{}, errIncompatible(subject, msgs)
	}
	id, ok := st.byIdent[p.ident]
	if !ok {
		id = st.maxID + 1
	}
	all := st.versions(subject, true)
	next := 1
	if len(all) > 0 {
		next = all[len(all)-1] + 1
	}
	var recs []record
	for _, n := range all {
		// As Confluent: a soft-deleted earlier version with the same id is
		// tombstoned when the schema comes back as a new version.
		if v := st.subjects[subject][n]; v.deleted && v.id == id {
			recs = append(recs, record{Key: schemaKey(subject, n)})
		}
	}
	recs = append(recs, record{
		Key:   schemaKey(subject, next),
		Value: marshal(schemaValue{Subject: subject, Version: next, ID: id, Schema: p.text}),
	})
	return plan{id: id, version: next, recs: recs}, nil
}

// register adds schema text to subject and returns its global id.
func (s *Server) register(ctx context.Context, subject, text string) (int, *apiError) {
	p, aerr := parseRequestSchema(text)
	if aerr != nil {
		return 0, aerr
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if err := s.sync(ctx); err != nil {
			return 0, storeErr("Register", err)
		}
		s.mu.Lock() // planning may cache parsed schemas in the state
		pl, aerr := s.st.planRegister(subject, p)
		s.mu.Unlock()
		if aerr != nil {
			return 0, aerr
		}
		if pl.existing > 0 {
			return pl.existing, nil
		}
		if err := s.write(ctx, pl.recs...); err != nil {
			return 0, storeErr("Register", err)
		}
		s.mu.RLock()
		got := s.st.subjects[subject][pl.version]
		// Ours only if the slot holds our id and that id holds our schema:
		// another instance may have written the same id or the same
		// version for a different schema first, and readers ignored ours.
		won := got != nil && got.id == pl.id && s.st.ids[got.id].ident == p.ident
		var restore []record
		if got != nil && !won {
			// Write the winner again so that log compaction, which keeps
			// the last record of a key, keeps the winner and not ours.
			restore = append(restore, record{
				Key:   schemaKey(subject, pl.version),
				Value: marshal(schemaValue{Subject: subject, Version: pl.version, ID: got.id, Schema: s.st.ids[got.id].text, Deleted: got.deleted}),
			})
		}
		s.mu.RUnlock()
		if won {
			return pl.id, nil
		}
		s.opts.log.Info("schema registry: lost a concurrent registration, retrying", "subject", subject, "version", pl.version, "id", pl.id)
		if len(restore) > 0 {
			if err := s.write(ctx, restore...); err != nil {
				return 0, storeErr("Register", err)
			}
		}
	}
	return 0, errStore("Register operation failed", fmt.Errorf("no free id or version after %d attempts", maxAttempts))
}

func parseRequestSchema(text string) (parsed, *apiError) {
	if strings.TrimSpace(text) == "" {
		return parsed{}, errInvalidSchema("Empty schema")
	}
	p, err := parseSchema(text)
	if err != nil {
		return parsed{}, errInvalidSchema("Invalid schema " + text + ": " + err.Error())
	}
	return p, nil
}

// lookup finds the version of subject holding schema text.
func (s *Server) lookup(subject, text string, deleted bool) (subjectVersion, *apiError) {
	p, aerr := parseRequestSchema(text)
	if aerr != nil {
		return subjectVersion{}, aerr
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	vs := s.st.versions(subject, deleted)
	if len(vs) == 0 {
		return subjectVersion{}, errSubjectNotFound(subject)
	}
	for _, n := range vs {
		if s.st.ids[s.st.subjects[subject][n].id].ident == p.ident {
			return s.st.entity(subject, n), nil
		}
	}
	return subjectVersion{}, errSchemaNotFound()
}

// deleteVersion soft- or permanently deletes one version.
func (s *Server) deleteVersion(ctx context.Context, subject string, v versionArg, permanent bool) (int, *apiError) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.sync(ctx); err != nil {
		return 0, storeErr("Delete Schema Version", err)
	}
	s.mu.RLock()
	n := s.st.resolve(subject, v, permanent)
	var ver version
	if n > 0 {
		ver = *s.st.subjects[subject][n]
	}
	if n == 0 && !permanent && v.n > 0 {
		if old := s.st.subjects[subject][v.n]; old != nil && old.deleted {
			s.mu.RUnlock()
			return 0, errVersionSoftDeleted(subject, v.raw)
		}
	}
	hasAny := s.st.hasSubject(subject, true)
	var text string
	if n > 0 {
		text = s.st.ids[ver.id].text
	}
	lastOne := len(s.st.versions(subject, true)) == 1
	_, hasLevel := s.st.levels[subject]
	s.mu.RUnlock()
	switch {
	case n == 0 && !hasAny:
		return 0, errSubjectNotFound(subject)
	case n == 0:
		return 0, errVersionNotFound(v.n)
	case permanent && !ver.deleted:
		return 0, errVersionNotSoftDeleted(subject, v.raw)
	}
	var recs []record
	if permanent {
		recs = append(recs, record{Key: schemaKey(subject, n)})
		if lastOne && hasLevel {
			recs = append(recs, record{Key: configKey(subject)})
		}
	} else {
		recs = append(recs, record{Key: schemaKey(subject, n),
			Value: marshal(schemaValue{Subject: subject, Version: n, ID: ver.id, Schema: text, Deleted: true})})
	}
	if err := s.write(ctx, recs...); err != nil {
		return 0, storeErr("Delete Schema Version", err)
	}
	return n, nil
}

// deleteSubject soft- or permanently deletes a subject's versions.
func (s *Server) deleteSubject(ctx context.Context, subject string, permanent bool) ([]int, *apiError) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.sync(ctx); err != nil {
		return nil, storeErr("Delete subject", err)
	}
	s.mu.RLock()
	all := s.st.versions(subject, true)
	live := s.st.versions(subject, false)
	_, hasLevel := s.st.levels[subject]
	s.mu.RUnlock()
	switch {
	case len(all) == 0:
		return nil, errSubjectNotFound(subject)
	case !permanent && len(live) == 0:
		return nil, errSubjectSoftDeleted(subject)
	case permanent && len(live) > 0:
		return nil, errSubjectNotSoftDeleted(subject)
	}
	var recs []record
	if permanent {
		for _, n := range all {
			recs = append(recs, record{Key: schemaKey(subject, n)})
		}
		if hasLevel {
			recs = append(recs, record{Key: configKey(subject)})
		}
	} else {
		recs = append(recs, record{Key: deleteSubjectKey(subject),
			Value: marshal(deleteSubjectValue{Subject: subject, Version: live[len(live)-1]})})
	}
	if err := s.write(ctx, recs...); err != nil {
		return nil, storeErr("Delete subject", err)
	}
	if permanent {
		return all, nil
	}
	return live, nil
}

// setLevel writes a compatibility level ("" subject: global); l "" deletes.
func (s *Server) setLevel(ctx context.Context, subject string, l Level) *apiError {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	rec := record{Key: configKey(subject)}
	if l != "" {
		rec.Value = marshal(configValue{CompatibilityLevel: string(l)})
	}
	if err := s.write(ctx, rec); err != nil {
		return storeErr("Update compatibility level", err)
	}
	return nil
}

// checkCompatibility tests text against one version (v) or all live
// versions (v nil) of subject, returning Confluent's messages.
func (s *Server) checkCompatibility(subject string, v *versionArg, text string) ([]string, *apiError) {
	p, aerr := parseRequestSchema(text)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, err := s.st.liveSchemas(subject)
	if err != nil {
		return nil, errStore("Error while reading the store", err)
	}
	level := s.st.level(subject)
	if v != nil {
		n := s.st.resolve(subject, *v, false)
		if n == 0 {
			if v.n != -1 {
				return nil, errVersionNotFound(v.n)
			}
			return nil, nil
		}
		i := slices.IndexFunc(prev, func(p previous) bool { return p.version == n })
		prev = prev[i : i+1]
		level = Level(strings.TrimSuffix(string(level), "_TRANSITIVE"))
	}
	msgs := checkLevel(level, p.schema, prev)
	return msgs, nil
}
