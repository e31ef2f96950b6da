// Package s3 is Sluice's S3 sink: it writes Kafka records into objects of an
// S3 bucket (AWS or any S3-compatible server) laid out as Confluent's S3 sink
// connector lays them out, configured with that connector's keys (see
// [ConfigKeys]). The encoders (JSON lines, Avro, Parquet, bytes) are in
// sinks/s3/format; this package names, rotates and uploads objects, and makes
// the result exactly-once.
//
// # Objects
//
// A record goes to
//
//	<topics.dir>/<topic>/<encoded partition>/<topic>+<kafka partition>+<start offset>.<ext>
//
// with "/" the directory.delim, "+" the file.delim, the start offset the
// object's first record's, zero-padded to filename.offset.zero.pad.width
// (10), and ext the format's (".json", ".json.gz", ".avro",
// ".snappy.parquet", …). store.kafka.keys and store.kafka.headers add side
// objects with the same name and ".keys"/".headers" before the extension.
// The encoded partition comes from partitioner.class:
//
//   - DefaultPartitioner: partition=<kafka partition>.
//   - FieldPartitioner: <field>=<value> for each partition.field.name
//     (dotted paths into the value; integers, strings, booleans), joined by
//     directory.delim.
//   - TimeBasedPartitioner: the record's time, floored to
//     partition.duration.ms in timezone, printed with the Joda-Time pattern
//     path.format ('year'=YYYY/'month'=MM/'day'=dd/'hour'=HH: quoted text is
//     literal; y Y x C G M d D w e E a h H k K m s S z Z as in Joda; month and
//     day names in English — another locale is accepted for numeric patterns
//     only). HourlyPartitioner and DailyPartitioner are the fixed patterns
//     and durations. timestamp.extractor picks the time: Record (the Kafka
//     timestamp), RecordField (timestamp.field: epoch milliseconds, a
//     Connect Timestamp or an ISO 8601 string) or Wallclock.
//
// Tombstones follow behavior.on.null.values: ignore skips them, fail (the
// default) rejects the record (a *sink.RecordError: the dead letter queue
// under errors.tolerance all, else the task fails), write hands it to the
// format. With store.kafka.keys a null key, with store.kafka.headers a
// record without headers or with a null header value, is rejected the same
// way, before anything of it is written. Any other failure of a keys or
// headers object to take a record its value object took (a key the format
// cannot encode, a failing spill file) leaves the open set out of step: the
// partition's Puts fail, not retriably, until it is reopened; the set is
// never uploaded and nothing past its start is committed, so the restarted
// task writes it again (and fails again at the same record if the data is
// at fault).
//
// # Rotation and sets
//
// Each Kafka partition has one open set: one object per encoded partition
// (and per topic after transforms) that its records reached since the last
// rotation. The whole set rotates (its objects are finished and uploaded)
// when one of its objects reaches flush.size records, when a record's time
// is rotate.interval.ms or more past the set's first record (the
// partitioner's time with a time-based partitioner, the Kafka timestamp
// otherwise), when a record's value or key schema (store.kafka.keys)
// differs from its object's first record's (what the formats' writers
// report as format.ErrSchemaChanged; a null value or key never differs, the
// headers' schema is fixed), and — wall clock — rotate.schedule.interval.ms
// after the set was opened (checked after each batch and each idle second).
// All of it is decided before anything of the record is written, so the
// value, keys and headers objects of a set hold the same records.
// Confluent rotates each file on its own (and, with a time-based
// partitioner and rotate.interval.ms, whenever the encoded partition
// changes); rotating the set as a whole gives a Kafka partition one commit
// point, which offset recovery needs, so with several encoded partitions
// per Kafka partition the cut points can differ from Confluent's (names
// and layout do not). rotate.interval.ms with a non-time-based partitioner
// measures the Kafka timestamp (Confluent ignores it there).
//
// Every object of a set carries user metadata sluice-set-start,
// sluice-set-end (the offset after the set's last record) and
// sluice-set-objects (how many objects the set has).
//
// # Exactly-once
//
// The sink implements the task layer's Committer and PartitionTracker
// (sinks/task): the task never commits past the first record of a set that
// is not completely uploaded (PreCommit returns the open set's first offset,
// or what the task consumed when no set is open), and rotation depends only
// on the records (their offsets, timestamps, fields and schemas), so after a
// crash the records after the committed offset are cut into the same sets,
// and the same object names are written again with the same bytes (the
// formats are deterministic). When partitions are assigned, OpenPartitions
// lists <topics.dir>/<topic>/ (one listing of the whole folder per topic per
// assignment, plus a HEAD of the newest object, and one more per incomplete
// set) and returns the end of the partition's newest complete set (all the
// objects its metadata counts are there): the task starts at the larger of
// that and the group's commit, so a lost or deleted consumer group causes no
// duplicate objects, and a set whose upload a crash interrupted is written
// again identically. Records below the recovered offset that reach Put (a
// retried batch) are skipped.
//
// Not exactly-once: rotate.schedule.interval.ms and the Wallclock extractor
// (they depend on when records are processed: a replay may cut or place
// them differently, leaving objects of both cuts); a transform that renames
// topics (offsets are recovered from the consumed topic's folder, objects
// are written under the renamed one: only the group's offsets apply); a
// change of flush.size, partitioner or format between runs.
//
// # Uploads and memory
//
// Objects are written to buffers until their set rotates, then uploaded, up
// to four at a time: one PutObject up to s3.part.size, a multipart upload of
// s3.part.size parts above it (aborted if it fails; a crash mid-upload
// leaves an incomplete multipart upload, which a bucket lifecycle rule
// should abort). The buffers hold at most s3.buffer.memory.bytes (a Sluice
// key, 256 MiB) in memory: past it the largest move to temporary files in
// s3.buffer.dir (the system's temporary folder by default), removed once
// uploaded or dropped; where bytes wait changes nothing of what is
// uploaded. Each sink names its files sluice-s3-<pid>-<random>-<n>.part and,
// while it has any, holds an flock on sluice-s3-<pid>-<random>.lock. A
// killed process's files stay until a sink is next created on the folder
// (by any process): New removes the files of every owner whose lock it can
// take or whose lock file is gone, and never those of a live sink, in this
// process or another (a reused pid does not matter: the lock dies with its
// process). Other files, including spill files of older versions
// (sluice-s3-<digits>.part), are left alone. Formats
// that build blocks themselves (Avro blocks, Parquet row groups) hold those
// in their own memory until they write them. An upload that fails fails the
// batch; the set stays pending and is retried first by the next Put or
// PreCommit, and nothing past it is committed.
//
// s3.ssea.name (AES256, aws:kms), s3.sse.kms.key.id and s3.sse.customer.key
// (SSE-C) are passed to S3 with every upload (and HEAD). Credentials are
// aws.access.key.id and aws.secret.access.key, else the AWS default chain
// (environment, shared files, web identity, instance roles); store.url and
// s3.path.style.access.enabled address S3-compatible servers.
package s3
