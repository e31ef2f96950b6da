package mongodb

import (
	"fmt"
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/config"
)

// List is a list of strings given in YAML as a sequence or, as in a
// Debezium properties file, as one comma-separated string.
type List = config.List

// compileAnchored compiles a Debezium include/exclude expression, which must
// match the whole name.
func compileAnchored(s string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + s + `)$`)
}

func compileAll(list List) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(list))
	for _, s := range list {
		re, err := compileAnchored(s)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

// nsFilter decides which collections are captured: database.include.list /
// database.exclude.list match the database name, collection.include.list /
// collection.exclude.list the name db.collection, each expression anchored
// to the whole name, as in Debezium.
//
// capture.scope database or collection first narrows the capture to
// capture.target.
type nsFilter struct {
	scope, target                                  string
	dbInclude, dbExclude, collInclude, collExclude []*regexp.Regexp
}

func newNSFilter(c Config) (nsFilter, error) {
	f := nsFilter{scope: c.CaptureScope, target: c.CaptureTarget}
	for _, l := range []struct {
		key  string
		list List
		dst  *[]*regexp.Regexp
	}{
		{"database.include.list", c.DatabaseIncludeList, &f.dbInclude},
		{"database.exclude.list", c.DatabaseExcludeList, &f.dbExclude},
		{"collection.include.list", c.CollectionIncludeList, &f.collInclude},
		{"collection.exclude.list", c.CollectionExcludeList, &f.collExclude},
	} {
		res, err := compileAll(l.list)
		if err != nil {
			return f, fmt.Errorf("mongodb: %s: %w", l.key, err)
		}
		*l.dst = res
	}
	return f, nil
}

// captures reports whether the collection ns passes every list.
func (f nsFilter) captures(ns namespace) bool {
	return f.inScope(ns.db, ns.coll) && matchLists(ns.db, f.dbInclude, f.dbExclude) && matchLists(ns.String(), f.collInclude, f.collExclude)
}

// inScope reports whether capture.scope covers the collection coll of db;
// an empty coll asks about the database as a whole.
func (f nsFilter) inScope(db, coll string) bool {
	switch f.scope {
	case ScopeDatabase:
		return db == f.target
	case ScopeCollection:
		tdb, tcoll, _ := strings.Cut(f.target, ".")
		return db == tdb && (coll == "" || coll == tcoll)
	}
	return true
}

// capturesDB reports whether any collection of db may be captured.
func (f nsFilter) capturesDB(db string) bool {
	return f.inScope(db, "") && matchLists(db, f.dbInclude, f.dbExclude)
}

// matchLists: s matches an include expression (or there are none) and no
// exclude expression.
func matchLists(s string, include, exclude []*regexp.Regexp) bool {
	if len(include) > 0 && !anyMatch(include, s) {
		return false
	}
	return !anyMatch(exclude, s)
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// fieldRule is one entry of field.exclude.list:
// databaseName.collectionName.fieldName.nestedFieldName, where the
// database and collection names may use * for any characters.
type fieldRule struct {
	db, coll *regexp.Regexp
	path     string // fieldName.nestedFieldName
}

// parseFieldRules parses field.exclude.list.
func parseFieldRules(list List) ([]fieldRule, error) {
	var out []fieldRule
	for _, s := range list {
		parts := strings.SplitN(s, ".", 3)
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" || strings.HasPrefix(parts[2], ".") || strings.HasSuffix(parts[2], ".") || strings.Contains(parts[2], "..") {
			return nil, fmt.Errorf("%q must be databaseName.collectionName.fieldName", s)
		}
		out = append(out, fieldRule{db: wildcard(parts[0]), coll: wildcard(parts[1]), path: parts[2]})
	}
	return out, nil
}

// wildcard compiles a name in which * matches any characters.
func wildcard(s string) *regexp.Regexp {
	parts := strings.Split(s, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`)
}

// excludedFields returns the field paths removed from the documents of ns
// (nil when none).
func excludedFields(rules []fieldRule, ns namespace) []string {
	var out []string
	for _, r := range rules {
		if r.db.MatchString(ns.db) && r.coll.MatchString(ns.coll) {
			out = append(out, r.path)
		}
	}
	return out
}

// pruneDocument returns doc without the fields at the dotted paths; nested
// paths descend into embedded documents (fields inside arrays are kept).
// doc itself is returned when nothing is removed.
func pruneDocument(doc bson.Raw, paths []string) (bson.Raw, error) {
	if len(paths) == 0 || len(doc) == 0 {
		return doc, nil
	}
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	changed := false
	out := bson.D{}
	for _, e := range elems {
		key := e.Key()
		var nested []string
		drop := false
		for _, p := range paths {
			switch {
			case p == key:
				drop = true
			case strings.HasPrefix(p, key+"."):
				nested = append(nested, p[len(key)+1:])
			}
		}
		if drop {
			changed = true
			continue
		}
		v := e.Value()
		if sub, ok := v.DocumentOK(); ok && len(nested) > 0 {
			pruned, err := pruneDocument(sub, nested)
			if err != nil {
				return nil, err
			}
			if len(pruned) != len(sub) {
				changed = true
				out = append(out, bson.E{Key: key, Value: pruned})
				continue
			}
		}
		out = append(out, bson.E{Key: key, Value: v})
	}
	if !changed {
		return doc, nil
	}
	b, err := bson.Marshal(out)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// pruneUpdate removes the excluded fields from an update description:
// updatedFields keys are dotted paths ("address.city", "tags.2"), dropped
// when they are an excluded path or lie below one, and pruned inside when
// an excluded path lies below them; removedFields entries likewise.
func pruneUpdate(updated bson.Raw, removed []string, paths []string) (bson.Raw, []string, error) {
	if len(paths) == 0 {
		return updated, removed, nil
	}
	under := func(key, p string) bool { return key == p || strings.HasPrefix(key, p+".") }
	var keptRemoved []string
	for _, r := range removed {
		drop := false
		for _, p := range paths {
			drop = drop || under(r, p)
		}
		if !drop {
			keptRemoved = append(keptRemoved, r)
		}
	}
	if len(updated) == 0 {
		return updated, keptRemoved, nil
	}
	elems, err := updated.Elements()
	if err != nil {
		return nil, nil, err
	}
	out := bson.D{}
	for _, e := range elems {
		key := e.Key()
		drop := false
		var nested []string
		for _, p := range paths {
			switch {
			case under(key, p):
				drop = true
			case strings.HasPrefix(p, key+"."):
				nested = append(nested, p[len(key)+1:])
			}
		}
		if drop {
			continue
		}
		v := e.Value()
		if sub, ok := v.DocumentOK(); ok && len(nested) > 0 {
			pruned, err := pruneDocument(sub, nested)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, bson.E{Key: key, Value: pruned})
			continue
		}
		out = append(out, bson.E{Key: key, Value: v})
	}
	b, err := bson.Marshal(out)
	if err != nil {
		return nil, nil, err
	}
	return b, keptRemoved, nil
}
