// Package mongodb is Sluice's MongoDB capture connector, a drop-in for
// Debezium's MongoDB connector (change streams): an initial snapshot of the
// captured collections, then one change stream per collection
// (go.mongodb.org/mongo-driver/v2), emitted as Debezium 3.4 MongoDB events
// on <topic.prefix>.<db>.<collection>.
//
// # Events
//
// The key is {"id": <_id as relaxed extended JSON>} ("1004", "\"abc\"",
// {"$oid": "..."}). The value is Debezium's MongoDB envelope: after (and
// before, when the server sends a pre-image) as the document in the Java
// driver's strict extended JSON with Debezium's compact layout
// ({"_id": {"$numberLong": "1004"},"name": "Anne"}), updateDescription
// (removedFields, updatedFields as relaxed JSON, truncatedArrays), source
// (version, connector "mongodb", name, ts_ms, snapshot, db, ts_us, ts_ns,
// collection, ord, lsid, txnNumber, wallTime), op and ts_ms. Inserts are
// op=c, updates and replaces op=u, deletes op=d, snapshot reads op=r. With
// capture.mode change_streams_update_full (the default) update events carry
// the document as looked up when the stream reads the event. Events that
// change no document (drop, rename, DDL) are not emitted; after an
// invalidate the stream is opened again after it. ejson.go renders
// extended JSON byte for byte as the Java driver does, since consumers
// compare these strings.
//
// # What is captured
//
// The source's tables list (db.collection) names the collections exactly.
// Without it, every collection outside admin, config and local that
// capture.scope / capture.target (deployment, database or collection)
// and the include/exclude lists allow is captured: database.include.list /
// database.exclude.list match the database name, collection.include.list /
// collection.exclude.list the db.collection name, each a comma-separated
// list of regular expressions anchored to the whole name, as in Debezium.
// Collections created later are found every Options.DiscoveryInterval and
// streamed from the cluster time taken before the listing that missed
// them, so their first documents are not lost (no snapshot is needed).
// field.exclude.list (db.collection.field.nested, * allowed in the
// database and collection names) removes fields from after, before and
// updateDescription. The change stream is always per collection, whatever
// the scope (the stand-in server has no database-level streams).
//
// capture.mode change_streams_with_pre_image and
// change_streams_update_full_with_pre_image ask for
// fullDocumentBeforeChange (whenAvailable), which becomes before; the
// collection needs changeStreamPreAndPostImages (MongoDB 6.0+).
//
// The snapshot reads up to snapshot.max.threads collections at once,
// each in _id order; the last event of the whole snapshot has
// source.snapshot "last".
//
// # Positions
//
// A position (position.go) holds the cluster time taken before the
// snapshot and, per collection, the resume token of the last event handed
// on. A restart resumes every stream after its token (resumeAfter), or at
// the start time for a collection that had no event yet
// (startAtOperationTime). Positions are only reported back through Ack:
// change streams keep no state on the server, so nothing acknowledged is
// repeated and nothing is lost as long as the oplog still holds the tokens.
// During the snapshot the position lists the collections completely read,
// so a restart reads only the others again (each from its start).
//
// With heartbeat.interval.ms, a Debezium heartbeat record goes to
// __debezium-heartbeat.<topic.prefix> at that interval while streaming,
// carrying the newest position, including post-batch resume tokens of
// streams that had no event: a quiet collection's position keeps moving
// with the oplog. A resume point no longer in the oplog (server errors 286,
// 280) is ErrHistoryLost, permanent unless snapshot.mode is when_needed,
// which takes a new snapshot.
//
// # Test server
//
// The integration tests run against mongo-java-server (scripts/services.sh
// mongo), a wire-compatible stand-in, because no mongod can be installed
// here. What they prove: the driver handshake, snapshot reads in _id
// order, change streams with resumeAfter tokens and startAtOperationTime,
// fullDocument: updateLookup, and the key, after and source fields built
// from them. What the stand-in does not do, and so is only unit-tested from
// MongoDB's documented change events (testdata/): updateDescription
// (it sends none), replace events (it reports them as updates), ns and
// wallTime fields, transactions (lsid, txnNumber), pre-images, invalidate
// after a drop, database- or deployment-level streams, post-batch resume
// tokens, and a history lost from the oplog (it never truncates it). It also puts
// the update operators in documentKey of update events; the connector then
// takes the _id from the looked-up document, which works while the
// document still exists when the stream reads the update.
package mongodb
