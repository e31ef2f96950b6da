// Package mongodb is Sluice's MongoDB capture connector, a drop-in for
// Debezium's MongoDB connector (change streams): an initial snapshot of the
// captured collections, then their change streams
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
// updateDescription.
//
// # Change streams and order
//
// On a replica set or a sharded cluster (hello names a replica set or a
// mongos) one change stream covers the whole capture (scope.go): for a
// tables list the narrowest level holding every listed collection (a
// collection, a database with a $match on ns.coll, or the deployment with
// a $match on ns), otherwise capture.scope (client.Watch for deployment,
// db.Watch for database, the target collection); events of collections the
// include/exclude lists leave out are dropped by the connector. Events of
// every collection, and all events of a multi-document transaction, are
// then emitted in oplog order, and the position holds that one stream's
// resume token. New collections need no discovery. On any other server
// (the stand-in test server answers no hello), or when the stored
// position was written by per-collection streams, every collection gets a
// change stream of its own: each collection's events keep their order, but
// events of different collections are interleaved as they arrive.
//
// # Transactions
//
// With provide.transaction.metadata, events of a multi-document
// transaction (those whose change events carry lsid and txnNumber) get
// Debezium's transaction block (id lsid:txnNumber, total_order,
// data_collection_order) and are enclosed by BEGIN and END records on
// <topic.prefix>.transaction; END goes out before the next event outside
// the transaction, since a change stream has no commit event (txmeta.go
// has the details and the restart rules). Without a scope-wide stream
// another collection's events may come between a transaction's events, so
// the transaction metadata is only exact with one.
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
// (startAtOperationTime); with one scope-wide stream the position holds
// its single token instead. Positions are only reported back through Ack:
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
// wallTime fields, transactions (lsid, txnNumber; it has no sessions) and
// so the transaction metadata, pre-images, invalidate after a drop,
// database- or deployment-level streams (it refuses client.Watch and
// accepts db.Watch without ever returning an event) and so the scope-wide
// stream, its $match filters and its single-token positions, post-batch
// resume tokens, and a history lost from the oplog (it never truncates it).
// The scope-wide stream and the transaction metadata are unit-tested on a
// recorded stream (testdata/txn/stream.jsonl), including a restart from
// every position; TestScopeStreamsStandIn checks that the stand-in takes
// the per-collection path. It also puts
// the update operators in documentKey of update events; the connector then
// takes the _id from the looked-up document, which works while the
// document still exists when the stream reads the update.
package mongodb
