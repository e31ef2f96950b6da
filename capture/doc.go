// Package capture is the home of Sluice's log readers, one sub-package per
// database: capture/postgres (logical replication, pgoutput), capture/mysql
// (binlog) and capture/mongo (change streams).
//
// Every reader follows one contract, declared by the code that runs it: a
// blocking Run(ctx, emit) that performs the consistent initial snapshot and
// then streams the log, handing batches of event.Event to emit, and an
// Ack(ctx, position) that confirms a position to the database only after the
// publisher's tracker reports every event up to it acknowledged by Kafka.
// Readers never import Kafka, each other, or any sink.
package capture
