// Package demo runs Sluice's end-to-end demonstration (`make demo`,
// `sluice demo`): it recreates a small inventory database in Postgres, runs
// the daemon on it with an in-process (or real) Kafka broker, applies a short
// workload and prints every change event read back from Kafka, one line
// each. It fails unless exactly the expected events arrive in time.
//
// The printing consumer runs in the same process as the daemon because the
// embedded broker lives in memory.
package demo
