// Package task runs a sink connector task the way Kafka Connect's
// WorkerSinkTask does: it consumes the connector's topics with the consumer
// group connect-<name>, converts each record's key, value and headers to
// Connect data (JsonConverter with or without schemas, StringConverter,
// ByteArrayConverter, Confluent's AvroConverter through a Schema Registry),
// applies the connector's transforms and hands batches to a sink.Sink.
//
// # What is committed when
//
// Each poll returns at most Config.MaxPollRecords records. The batch is
// converted, transformed and Put, the sink is Flushed, records the error
// handler set aside are produced to the dead letter queue, and only then are
// the batch's offsets committed. The consumer blocks rebalances from poll to
// commit (kgo's BlockRebalanceOnPoll), so a partition is never revoked while
// records of it are written but not committed: a revoked or lost partition
// has nothing pending, and the next owner starts after the last committed
// offset. A failed Put or Flush commits nothing; the records come again
// after a restart, so sinks must be idempotent.
//
// # Sinks that buffer across batches
//
// A sink that writes records in units larger than a batch (an object store
// sink's files) implements Committer: the task then never calls Flush, and
// after each batch, and after each poll that found nothing for a second,
// commits the offsets PreCommit returns instead of the batch's. Such a sink
// usually implements PartitionTracker too: OpenPartitions runs when
// partitions are assigned (kgo's AdjustFetchOffsetsFn, before fetching) and
// may move a partition's start past the group's commit (offsets recovered
// from the target, so a deleted group causes no duplicates);
// ClosePartitions runs from the revoke and lost callbacks, which
// BlockRebalanceOnPoll keeps out of the section from poll to commit, so the
// sink drops exactly what was not committed. kgo fetches a new assignment's
// offsets concurrently with polls of partitions kept, so the task holds a
// lock around Put, PreCommit and those calls.
//
// # Back-pressure
//
// Put is synchronous and a poll is bounded, so nothing is buffered beyond
// one batch. A sink that implements Busy is asked before each poll; while
// it reports busy the task pauses fetching of its topics (no data piles up
// in the client) and resumes once the sink has drained.
//
// # Errors
//
// Kafka Connect's error handling keys apply to the stages KEY_CONVERTER,
// VALUE_CONVERTER, HEADER_CONVERTER, TRANSFORMATION and TASK_PUT. An error
// that is retriable (IsRetriable: a Retriable() bool, Temporary() bool or
// Timeout() bool method in its chain) is retried with capped exponential
// backoff (300 ms doubling up to errors.retry.delay.max.ms) until
// errors.retry.timeout (0: never, -1: forever). What still fails is, with
// errors.tolerance none, the task's error naming the record's topic,
// partition and offset; with all, the record is logged (errors.log.enable)
// and written to errors.deadletterqueue.topic.name with its original key,
// value, headers and timestamp, plus the __connect.errors.* context headers
// when errors.deadletterqueue.context.headers.enable is set; the rest of
// the batch goes on. A sink rejects one record with *sink.RecordError: under
// all it goes to the dead letter queue and the batch is Put again without
// it. Other Put errors and Flush errors fail the task (after retries when
// retriable) whatever the tolerance, as in Kafka Connect.
//
// The __connect.errors.exception.stacktrace header holds "class: message"
// (Go errors carry no stack); exception class names are Kafka Connect's
// DataException for conversion and transformation failures and
// ConnectException for Put failures unless the error names its own class
// (an ExceptionClass() string method).
package task
