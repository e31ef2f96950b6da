// Package runtime is Sluice's Connect-like runtime: a worker that runs
// connectors and their tasks, with Kafka Connect's model and vocabulary, so
// that operators can drive Sluice as they drive Kafka Connect.
//
// It is a top-level folder, beside capture/ and sinks/, because it is the
// stage of the data path between Kafka and the targets (and, for source
// connectors, between a reader and Kafka) that every connector shares:
//
//	capture/<db> → publish ⇢ Kafka ⇢ runtime (workers, connectors, tasks) → sinks/<target>
//
// The pieces:
//
//   - Plugins: the connector classes the worker knows (Registry), by short
//     name and by the Java class names users already have
//     (org.apache.kafka.connect.file.FileStreamSinkConnector, …), each with
//     its configuration definitions (ConfigKey) and validation (ConfigInfos,
//     Kafka Connect's JSON shape).
//   - Herder: holds connector configurations and drives their lifecycle
//     (create, update, pause, resume, stop, restart, delete), splits a
//     connector into task configurations (tasks.max) and keeps the status of
//     connectors and tasks (RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED,
//     RESTARTING). The standalone Herder keeps configurations in memory:
//     changes made through the REST API (package runtime/rest) last until the
//     process restarts, as in Kafka Connect standalone.
//   - Tasks: a sink task consumes with the consumer group connect-<name>,
//     converts values with the connector's value.converter, hands batches to
//     the sink, and commits offsets only after the sink's Flush. A source task
//     hands batches to the runtime, which produces them to Kafka and, only
//     once Kafka acknowledged them, saves the source offsets in the runtime's
//     OffsetStore. Offsets belong to the runtime, not to the connectors.
//   - Loggers: named slog level variables, read and set through
//     /admin/loggers.
//
// Configuration values whose key names secret material (Secret) are masked
// as "[hidden]" in what the Herder returns; Kafka Connect itself does not
// mask (testdata/connect-rest/README.md). A "[hidden]" value written back
// through an update keeps the stored secret.
//
// Differences from Kafka Connect: a failed task is not restarted
// automatically (as in Kafka Connect: restart it through the API); PAUSED
// tasks are stopped (their consumer leaves the group) rather than kept idle;
// the file sink writes JSON values as JSON text, where FileStreamSink writes
// Java's toString of the converted map.
//
// Distributed mode (Worker, `sluice worker -c worker.yaml`, WorkerConfig):
// workers with the same group.id join one Kafka consumer group (the broker
// is the coordinator) through kgo with a custom GroupBalancer; member
// metadata (REST URL, config topic offset, work owned) and assignments are
// JSON carried in the UserData of Kafka's consumer protocol structures
// (Kafka 4's coordinator parses those). The leader assigns connectors and
// tasks, balanced separately; members keep what they own up to their fair
// share. Rebalancing is incremental cooperative at the level of work: a
// unit taken from a member is assigned to nobody in that round, and the
// leader rebalances again one heartbeat interval later, once the owner has
// stopped it; work of a dead member is reassigned at once (no
// scheduled.rebalance.max.delay.ms). Connector configs (key connector-<name>,
// {"properties": …}), target states (target-state-<name>) and restart
// requests (restart-<name>) live in the config topic; task configurations
// are derived by every worker from the connector config (no task records).
// Source offsets are stored as Kafka Connect stores them, one entry per
// source partition: key ["<connector>",{<partition>}], value the offset
// JSON, a tombstone for a removed partition (in the offsets topic, or in
// internal/offsets.File standalone), so tasks of one connector on
// different workers never overwrite each other; a record of the former
// layout (connector/<name>, the whole list) is migrated when read.
// Statuses live in the status topic, written by the worker running each
// unit, and so do active topics (status-topic-<topic>:connector-<name>,
// written by the worker whose task first used the topic; a reset writes
// tombstones). A worker that may have lost its group session (kgo reports
// the membership lost, or no heartbeat was answered within
// session.timeout.ms) fences itself: it stops its connectors and tasks and
// writes no status, offset or topic record until it has an assignment
// again. Topics are created compacted if missing (1, 25 and 5 partitions
// by default). REST writes under /connectors reaching a non-leader are
// proxied over HTTP to the leader's advertised URL (Worker.Forward), which
// serializes them.
//
// Capture connectors (Plugin.NewCaptureTask): Sluice's Debezium sources
// publish by themselves through the daemon's pipeline (internal/connectors
// adapts them), so the runtime gives such a task only its TaskOffsets (the
// same per-partition store) and a callback for its active topics. `sluice
// run` runs a standalone Herder with the sources and connectors of
// sluice.yaml and the REST API on http.addr; `sluice worker` a Worker.
package runtime
