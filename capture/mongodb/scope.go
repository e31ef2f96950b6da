package mongodb

import (
	"context"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// scopeStream is the one change stream that covers what a source captures:
// a deployment-level (client.Watch), database-level (db.Watch) or
// collection-level stream, with an optional $match on ns that narrows it
// to the tables list. Events of collections outside the capture that still
// arrive (the include/exclude lists are regular expressions, applied here
// rather than on the server) are left out by capturesEvent; their tokens
// still move the position on.
type scopeStream struct {
	level    string // ScopeDeployment, ScopeDatabase or ScopeCollection
	db, coll string
	match    bson.D // nil: every event of the level
}

func (sc scopeStream) String() string {
	switch sc.level {
	case ScopeCollection:
		return sc.db + "." + sc.coll
	case ScopeDatabase:
		return sc.db
	}
	return "deployment"
}

// scopeFor returns the change stream that covers the source's collections:
// for a tables list the narrowest level holding them all (with a $match on
// the collections when it holds more), otherwise capture.scope and
// capture.target.
func (s *Source) scopeFor() scopeStream {
	if len(s.colls) > 0 {
		return tablesScope(s.colls)
	}
	switch s.cfg.CaptureScope {
	case ScopeCollection:
		db, coll, _ := strings.Cut(s.cfg.CaptureTarget, ".")
		return scopeStream{level: ScopeCollection, db: db, coll: coll}
	case ScopeDatabase:
		return scopeStream{level: ScopeDatabase, db: s.cfg.CaptureTarget}
	}
	return scopeStream{level: ScopeDeployment}
}

// tablesScope returns the stream for an explicit list of collections.
// Invalidate events name no namespace and are always let through: they
// end the stream, which must then be reopened after them.
func tablesScope(colls []namespace) scopeStream {
	if len(colls) == 1 {
		return scopeStream{level: ScopeCollection, db: colls[0].db, coll: colls[0].coll}
	}
	invalidate := bson.D{{Key: "operationType", Value: "invalidate"}}
	oneDB := !slices.ContainsFunc(colls, func(n namespace) bool { return n.db != colls[0].db })
	if oneDB {
		names := bson.A{}
		for _, n := range colls {
			names = append(names, n.coll)
		}
		return scopeStream{level: ScopeDatabase, db: colls[0].db, match: bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "ns.coll", Value: bson.D{{Key: "$in", Value: names}}}},
			invalidate,
		}}}}
	}
	or := bson.A{}
	for _, n := range colls {
		or = append(or, bson.D{{Key: "ns.db", Value: n.db}, {Key: "ns.coll", Value: n.coll}})
	}
	or = append(or, invalidate)
	return scopeStream{level: ScopeDeployment, match: bson.D{{Key: "$or", Value: or}}}
}

// capturesEvent reports whether a change event of a scope-wide stream
// belongs to a captured collection. Events without a namespace (invalidate)
// pass: the converter skips them but the stream must see them.
func (s *Source) capturesEvent(raw bson.Raw) bool {
	ns := eventNamespace(raw)
	if ns.db == "" {
		return true
	}
	if len(s.colls) > 0 {
		return slices.Contains(s.colls, ns)
	}
	if ns.db == "admin" || ns.db == "config" || ns.db == "local" || strings.HasPrefix(ns.coll, "system.") {
		return false
	}
	return s.filter.captures(ns)
}

// eventNamespace returns the ns field of a change event (db and coll), the
// zero namespace when it has none.
func eventNamespace(raw bson.Raw) namespace {
	if raw == nil {
		return namespace{}
	}
	db, _ := raw.Lookup("ns", "db").StringValueOK()
	coll, _ := raw.Lookup("ns", "coll").StringValueOK()
	return namespace{db, coll}
}

// scopeStreams reports whether the server supports change streams on a
// database or the whole deployment, which MongoDB offers on replica sets
// (4.0+) and sharded clusters: its hello answer names a replica set or a
// mongos. The stand-in test server answers no hello at all and accepts
// db.watch() without ever returning an event, so it gets per-collection
// streams.
func scopeStreams(ctx context.Context, client *mongo.Client) bool {
	raw, err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Raw()
	return err == nil && helloAllowsScope(raw)
}

func helloAllowsScope(hello bson.Raw) bool {
	if name, ok := hello.Lookup("setName").StringValueOK(); ok && name != "" {
		return true
	}
	msg, _ := hello.Lookup("msg").StringValueOK()
	return msg == "isdbgrid"
}
