// Package bench measures Sluice end to end, Postgres → Kafka, with Go
// benchmarks that `make bench` runs and benchstat can compare.
//
// # What runs
//
// Every Sluice case builds ./cmd/sluice once and runs `sluice run -c
// <generated yaml>` as a child process, so the CPU time and peak RSS reported
// are Sluice's alone (not Postgres's walsender, not the broker, not this
// harness): CPU is the child's user+system time from wait4 after it exits;
// peak RSS is the child's VmHWM from /proc/<pid>/status, sampled every 100 ms
// and just before it is stopped (ru_maxrss would be wrong: Linux carries the
// parent's high-water mark into a vforked child at exec).
//
// Each case runs twice, against two brokers:
//
//   - kafka: the real Apache Kafka broker at SLUICE_KAFKA_BROKERS.
//   - kfake: franz-go's in-memory kfake broker, started inside this benchmark
//     process (not inside Sluice: a 10M-record topic held in Sluice's heap
//     would swamp its RSS). The broker costs little, so Sluice's own cost
//     dominates the figures. The harness trims acknowledged records
//     (DeleteRecords) as it goes so the broker's memory stays bounded.
//
// Beside the Sluice runs, the same backlog is drained by Postgres's own
// pg_recvlogical (pgoutput, proto_version=1, output to /dev/null) from a slot
// created before the backlog was written: the speed of the database's logical
// decoding, the ceiling any client can reach.
//
// # Cases
//
//   - Backlog: 10M rows inserted in ten 1M-row transactions while nothing
//     reads the slot, then drained.
//   - Updates: 400k single-row UPDATE transactions, then drained.
//   - BigTx: one transaction inserting 10M rows, then drained.
//   - Live: 5,000 single-row INSERT transactions per second (autocommit,
//     synchronous_commit=on) while Sluice streams.
//   - Snapshot: the initial snapshot (snapshot.mode initial) of a 10M-row table.
//
// Sizes scale with SLUICE_BENCH_SCALE (default 1; -short defaults to 0.01).
// The Live case's rate never scales, only its duration (60 s × scale, at
// least 3 s). SLUICE_BENCH_BROKERS (default "kfake,kafka") picks the brokers.
//
// # Metrics
//
//   - events/s: change events acknowledged by Kafka divided by the wall time
//     from starting the Sluice process until the topic's high watermark
//     reached the expected count (so it includes start-up: connect, topic
//     metadata). Acknowledged = below the high watermark, polled every 50 ms
//     with ListOffsets; with acks=all this is what Kafka has committed.
//   - rows/s: the same for pg_recvlogical (process start to exit at --endpos)
//     and for the snapshot.
//   - cpu-s/Mevents: the Sluice process's user+system CPU seconds over its
//     whole life (start-up and shutdown included) per million events.
//   - peak-rss-MiB: VmHWM of the Sluice process.
//   - p50-ms, p99-ms (Live only): commit-to-consume latency. The workload notes
//     the time each single-row transaction's COMMIT returned (keyed by row
//     id); a franz-go consumer in this process notes the time each record
//     arrives. The difference is an upper bound on commit-to-ack latency: it
//     adds the broker's fetch path and the consumer's wake-up (sub-millisecond
//     on loopback; records are visible to consumers at the same high
//     watermark that acks=all acknowledges).
//   - B/event: mean key+value bytes per record (sluice_publish_bytes_total
//     over sluice_publish_records_total).
//   - ack-p50-ms, ack-p99-ms: Sluice's own publish-to-ack histogram
//     (sluice_publish_ack_latency_seconds from its /metrics), interpolated in
//     its buckets, when the process exposes it.
//
// The test cluster runs with fsync=off (scripts/services.sh), so commits and
// WAL flushes cost no disk sync; synchronous_commit=on then only orders the
// commit after the WAL write. Every case uses its own schema, publication,
// slot(s) and topic, and drops them afterwards (an orphan slot would retain
// WAL forever).
//
// The benchmarks do their work once whatever b.N is (run them with
// -benchtime=1x; a repeated call reports the first call's figures).
//
// # Running
//
//	make bench                              # full sizes, both brokers (~30 min on 2 cores)
//	make bench BENCH_SCALE=0.1 BENCH_E2E=Live
//	go test ./internal/bench -run '^$' -bench . -benchtime=1x -short   # tiny sizes, seconds
//
// The Sluice binary is built from the working tree; SLUICE_BENCH_REV=<git
// rev> builds that revision instead (exported with git archive, so work in
// progress does not break the build), and SLUICE_BENCH_BIN=<path> uses a
// prebuilt binary. testdata/ keeps the figures of earlier full runs, to
// compare with benchstat. BenchmarkProfileBacklog, run with
// SLUICE_BENCH_CPUPROFILE=<file>, drains the Backlog case with the daemon in
// this process and writes a CPU profile (Sluice's HTTP server has no
// /debug/pprof).
package bench
