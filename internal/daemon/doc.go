// Package daemon assembles a Sluice process: it composes the packages'
// configurations into the sluice.yaml schema ([Config], [Decode]) and wires
// and supervises sources, publishers and the HTTP server ([Daemon]).
//
// Each source runs in a pipeline of its own: Source.Run hands batches to
// emit, which serializes them with the key, value and header converters and
// hands them to a publish.Publisher (blocking while its buffer is full). An
// ack loop waits for the publisher's Tracker to advance, saves the committed
// position in the offset store, and only then calls Source.Ack; so the
// database never forgets a change that is not both in Kafka and saved.
//
// A pipeline that fails is rebuilt (new source from the saved position, new
// publisher) with capped exponential backoff, unless its error is permanent
// ([Permanent], [IsPermanent]), which stops the daemon. On shutdown each
// pipeline stops its source, flushes its publisher within the shutdown
// timeout, saves and acks the final position.
package daemon
