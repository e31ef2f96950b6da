// Package elasticsearch is Sluice's Elasticsearch/OpenSearch sink: it writes
// Kafka Connect records as documents with the Bulk API, configured with the
// keys of Confluent's Elasticsearch sink connector where their meaning is
// the same (see [ConfigKeys]). The runtime registers it under Confluent's
// class io.confluent.connect.elasticsearch.ElasticsearchSinkConnector and
// the aliases ElasticsearchSinkConnector, elasticsearch and opensearch; the
// sink task layer (sinks/task) consumes, converts, transforms, retries and
// handles the dead letter queue around it.
//
// # Engines
//
// One client, opensearch-go, talks to OpenSearch 1 and 2 and to
// Elasticsearch 7 and 8 (go-elasticsearch refuses servers that are not
// Elastic's). The sink uses only what the four share: POST /_bulk with
// index, update and delete actions without _type (typeless since 7; the
// _type Elasticsearch 7 echoes in its responses is ignored), version and
// version_type=external in action lines, HEAD and PUT /<index> with a
// typeless mappings object. New reads GET / (waiting, while its context
// lasts, for a node that is not up yet), logs the distribution and version,
// and refuses Elasticsearch before 7. Elasticsearch 8 names a
// parsing failure document_parsing_exception where the others say
// mapper_parsing_exception; both count as malformed. Security is left to
// the URL scheme (https) and connection.username/password (basic auth).
//
// # Documents
//
// The index is the record's topic (after transforms, e.g. RegexRouter)
// lower-cased; a topic that is no valid index name (starting with _, - or +,
// containing \ / * ? " < > | , # : or space) is an invalid record.
//
// The document is the value converted to JSON as Kafka Connect's
// JsonConverter does with schemas.enable=false, except that decimals are
// numbers (decimal.format=NUMERIC) rather than base64. A raw Debezium
// envelope (a struct, or a schemaless object, with before, after and op) is
// accepted without the unwrap transform: op c, r and u index after, op d
// deletes, t and m write nothing. A tombstone (null value) follows
// behavior.on.null.values: delete (the default; Confluent's default is
// fail, which would stop on every tombstone Debezium writes after a
// delete), ignore, or fail (an invalid record).
//
// The document _id, with key.ignore=false (the default), comes from the
// record key: a string as is; a number or boolean as JSON writes it (7,
// 12.50, true); bytes in base64; a struct or map with exactly one field
// holding such a primitive as that field's value (Debezium's {"id": 7} key
// gives "7"); any other struct or map as canonical JSON — object keys
// sorted, no spaces, e.g. {"n":3,"region":"eu"} for a composite primary
// key. A null key is an invalid record. With key.ignore=true the id is
// <original topic>+<partition>+<offset> (the original topic, so that topics
// routed into one index do not collide) and tombstones and op d records
// write nothing: there is no document they could name. Sorting object keys
// makes two MongoDB document _ids that differ only in field order ({a:1,
// b:2} and {b:2, a:1}, distinct to MongoDB) one document here.
//
// A document may not hold a field named _id: the engines refuse it (index
// creation fails with "Field [_id] is defined more than once"), as with
// Confluent's connector. MongoDB documents keep _id after
// ExtractNewDocumentState; rename it (ReplaceField renames=_id:mongo_id) or
// exclude it.
//
// Invalid records are returned by Put as *sink.RecordError (the task sends
// them to the dead letter queue under errors.tolerance=all and fails
// otherwise), or dropped with a warning when drop.invalid.message=true.
//
// # Versions and order
//
// With write.method=insert and key.ignore=false every index and delete
// action carries version_type=external and the Kafka offset as version (or
// the integer in the header named by external.version.header), as
// Confluent's sink does for both. The engine applies a write only if its
// version is higher than the stored one, and answers
// version_conflict_engine_exception otherwise, which the sink counts as
// success: the stored document is newer. So a redelivery after a crash, a
// replay of the topic from offset 0 and a retried old request never
// overwrite a newer document. This relies on the offsets of one id being
// comparable, that is on one id living in one partition of one topic
// (Debezium partitions by key); topics routed into one index must not share
// ids, and an index written earlier with higher versions (another topic, a
// topic recreated from offset 0) keeps refusing writes until it is dropped.
//
// A versioned delete leaves a tombstone carrying its version for
// index.gc_deletes (60 s by default). Within that window a late index of an
// older version is refused; after it, an index with a lower version than the
// delete would create the document again. The sink never sends a document's
// writes out of order (below), so this can only come from an older record
// replayed more than 60 s after the delete — and a replay then also replays
// the delete: the document reappears only until the replay passes it.
//
// Writes to one document reach the engine in record order: a flush spreads
// actions over max.in.flight.requests lanes by a hash of index and id, each
// lane sends its bulk requests one after another, a request never holds the
// same id twice, and a request's rejected items are retried before the
// lane's next request.
//
// write.method=upsert sends update actions with doc_as_upsert (the value
// merged into the stored document) and retry_on_conflict=3. The engines
// refuse external versions on updates, so upserts and their deletes are not
// versioned: order within a run is kept by the lanes, but a replay of old
// records writes old states again until it reaches the newest one.
//
// # Bulk requests, retries, errors
//
// Put converts records and buffers their actions; Flush (which the task
// calls after every poll batch) sends them in requests of at most batch.size
// actions and bulk.size.bytes bytes (an action larger than that goes
// alone), up to max.in.flight.requests at a time, and returns when each
// action's outcome is known. linger.ms is accepted but has nothing to wait
// for: a flush sends every partial request at once. The sink does not
// implement the task's Busy: nothing stays buffered between flushes, so
// back-pressure is the flush itself taking longer.
//
// A request answered 429, 502, 503 or 504, or failing on the connection or
// after read.timeout.ms (a dial bounded by connection.timeout.ms), is sent
// again; items answered 429 or with a
// rejected-execution, circuit-breaker or unavailable-shards error are sent
// again in a request of their own. Retries wait retry.backoff.ms doubling
// per attempt up to 1000 times that, half of it random ("equal jitter"), at
// most max.retries times per request. Then, or when flush.timeout.ms
// passes, Flush fails with a retriable error and keeps its whole buffer:
// a later Flush sends it all again, which the versions make harmless, and
// if the task fails the records come again after its restart.
//
// Items the engine refuses as malformed (mapper_parsing_exception,
// document_parsing_exception, strict_dynamic_mapping_exception,
// illegal_argument_exception and other parse errors) follow
// behavior.on.malformed.documents: ignore and warn drop them (warn logs),
// fail returns each as a *sink.RecordError wrapping a *DocumentError, one
// per Flush call after everything else of the flush is written (the task
// sends it to the dead letter queue with errors.tolerance=all, failing
// otherwise, and flushes again). Any other item error (a closed index,
// index_closed_exception, although its status is 400; a write block,
// cluster_block_exception) fails the flush.
//
// # Mappings
//
// With schema.ignore=false (the default) a flush first creates each index
// that does not exist yet with a mapping derived from the Connect schema of
// its first document (after image for envelopes): int8…int64 as byte,
// short, integer, long; float32/64 as float, double; boolean; string as
// text with a keyword sub-field (as dynamic mapping does); bytes as binary;
// structs as objects; maps with string keys as dynamic objects, other maps
// (written as [key, value] pairs) as disabled objects; Decimal per
// decimal.mapping (scaled_float with scaling_factor 10^scale — double
// beyond scale 15 —, double or keyword); org.apache.kafka.connect.data.Timestamp and
// io.debezium.time.Timestamp as date with format
// epoch_millis||strict_date_optional_time (numbers stored, ISO in queries);
// io.debezium.time.ZonedTimestamp, IsoTimestamp and IsoDate as date;
// io.debezium.time.MicroTimestamp and NanoTimestamp as long and the day
// counts (Connect Date, io.debezium.time.Date) as integer, since the engines
// have no date format for those numbers; Uuid and Enum as keyword. An
// existing index, and records without schema, are left to the engine's own
// mapping; so is an index whose first flush holds only deletes (the engine
// creates an index for a bulk delete too, with dynamic mapping). With
// schema.ignore=true nothing is created: the engine auto-creates indices
// (or applies the user's index templates). Index creation is retried as
// bulk requests are; an index another task created first is fine.
//
// # Differences from Confluent's connector
//
// behavior.on.null.values defaults to delete (Confluent: fail); struct and
// map keys make ids (Confluent refuses them); decimals are JSON numbers;
// read.timeout.ms defaults to 30 s (Confluent: 3 s) and
// connection.timeout.ms bounds the dial only; linger.ms has no effect;
// data streams, index templates, the proxy.* keys (HTTP_PROXY from the
// environment applies) and SSL keystores (use https URLs and the system
// trust store) are not supported; the Sluice key
// decimal.mapping chooses the mapping of decimals.
package elasticsearch
