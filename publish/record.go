package publish

import "time"

// Record is one Kafka record to publish, already serialized.
type Record struct {
	Topic string
	// Key is hashed with murmur2 to pick the partition, as the Java client
	// does (unless ExplicitPartition is set). A nil Key spreads records over
	// partitions; an empty non-nil Key is a key like any other.
	Key []byte
	// Partition is the partition the record is produced to when
	// ExplicitPartition is true, as a Kafka Connect source record with a
	// partition (the outbox router's partition placement). A partition the
	// topic does not have fails the record, and so the publisher, with an
	// error naming the topic and the partition. Without ExplicitPartition
	// the key hash picks the partition and Partition is ignored.
	Partition         int32
	ExplicitPartition bool
	// Timestamp is the record's timestamp (CreateTime). The zero Time lets
	// the producer stamp the record when Publish hands it over, which is
	// what a Kafka Connect source record without a timestamp gets.
	Timestamp time.Time
	// Value is the serialized event; nil produces a tombstone.
	Value   []byte
	Headers []Header
	// Position is the source position of the record, opaque to this package.
	// It is handed to the Tracker in Publish order. Nil means the record has
	// no resume point of its own (see Tracker).
	Position any
	// Buffer, when not nil, is released once the producer is done with the
	// record (Kafka acknowledged it, or it failed), so that the memory
	// behind Key, Value and the header values may be reused. A record that
	// Publish never handed over (Publish returned an error before it) is
	// never released: its buffer is then left to the garbage collector.
	Buffer Releaser
}

// Releaser is told that a record no longer needs its bytes.
type Releaser interface {
	Release()
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// recordOverhead is what one buffered record costs beyond its key, value and
// header bytes when counting against Config.MaxBufferedBytes, so that a flood
// of tiny records (tombstones) is bounded too.
const recordOverhead = 128

// size is the number of bytes r counts for in the buffer and in metrics.
func (r *Record) size() int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
