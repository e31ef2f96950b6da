package publish

import (
	"fmt"
	"sync"
)

// Ticket identifies one tracked record. Tickets are sequence numbers handed
// out by Track in call order.
type Ticket uint64

// Tracker turns out-of-order acknowledgements into an in-order committed
// position.
//
// A source calls Track for every record in source order, before handing the
// record to the producer, and the producer calls Ack when Kafka has answered
// for it. Acks may arrive in any order (different partitions, different
// brokers). Committed reports the position of the last record of the longest
// fully acknowledged prefix: every record tracked before it, and it, are
// durable in Kafka, so the source may confirm that position to its database.
//
// A record tracked with a nil position carries no position of its own: it
// must be acknowledged before the prefix can grow past it, but Committed
// keeps reporting the last non-nil position. A source whose records share a
// resume point (the events of one transaction, say) gives the position only
// to the last record of the group, so the group is confirmed as a whole.
//
// A failed record (Ack with a non-nil error) stops the tracker for good: the
// committed position never moves past the record before it, and Err reports
// the failure. Nothing is ever skipped.
//
// Track and Ack cost O(1) amortized with no allocation once the ring has grown
// to the number of records in flight. All methods are safe for concurrent use.
type Tracker struct {
	mu sync.Mutex
	// ring holds the records in flight; sequence s lives at ring[s&mask].
	ring []slot
	mask uint64
	head uint64 // lowest sequence not yet part of the acknowledged prefix
	tail uint64 // next sequence Track hands out

	committed any
	hasCommit bool
	err       error
	notify    chan struct{}
}

type slot struct {
	pos    any
	acked  bool
	failed bool // never acked: the prefix stops before it for good
}

const minRing = 64

// NewTracker returns an empty tracker. Committed reports nothing until the
// first record with a position is acknowledged.
func NewTracker() *Tracker {
	return &Tracker{
		ring:   make([]slot, minRing),
		mask:   minRing - 1,
		notify: make(chan struct{}, 1),
	}
}

// Track registers the next record, in source order, with its source position
// (nil for none) and returns the ticket to acknowledge it with.
func (t *Tracker) Track(pos any) Ticket {
	t.mu.Lock()
	seq := t.push(pos)
	t.mu.Unlock()
	return Ticket(seq)
}

// Mark records a position that has no record attached, such as a source
// heartbeat or an empty transaction: Committed reaches it as soon as every
// record tracked before it is acknowledged.
func (t *Tracker) Mark(pos any) {
	t.mu.Lock()
	seq := t.push(pos)
	advanced := t.ack(seq, nil)
	t.mu.Unlock()
	if advanced {
		t.signal()
	}
}

// Ack reports the outcome of the record with ticket tk. A nil err means Kafka
// acknowledged the record; any other error fails the tracker permanently.
// Acknowledging a ticket twice, or one Track never returned, is a no-op.
func (t *Tracker) Ack(tk Ticket, err error) {
	t.mu.Lock()
	advanced := t.ack(uint64(tk), err)
	t.mu.Unlock()
	if advanced {
		t.signal()
	}
}

// Committed returns the highest position up to which every tracked record is
// acknowledged, and false when there is none yet.
func (t *Tracker) Committed() (pos any, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed, t.hasCommit
}

// Err returns the first failure reported through Ack, or nil.
func (t *Tracker) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Pending returns the number of tracked records not yet part of the
// acknowledged prefix.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.tail - t.head)
}

// Notify returns a channel that receives a value after Committed advances or
// the tracker fails. Notifications coalesce: one receive may stand for many
// advances, so read Committed and Err after each.
func (t *Tracker) Notify() <-chan struct{} { return t.notify }

func (t *Tracker) signal() {
	select {
	case t.notify <- struct{}{}:
	default:
	}
}

// push appends pos to the ring, doubling it when full. Called with mu held.
func (t *Tracker) push(pos any) uint64 {
	if t.tail-t.head == uint64(len(t.ring)) {
		t.grow()
	}
	seq := t.tail
	t.ring[seq&t.mask] = slot{pos: pos}
	t.tail++
	return seq
}

func (t *Tracker) grow() {
	ring := make([]slot, 2*len(t.ring))
	mask := uint64(len(ring) - 1)
	for s := t.head; s != t.tail; s++ {
		ring[s&mask] = t.ring[s&t.mask]
	}
	t.ring, t.mask = ring, mask
}

// ack marks seq and extends the acknowledged prefix. It reports whether the
// caller should notify. Called with mu held.
func (t *Tracker) ack(seq uint64, err error) bool {
	if seq < t.head || seq >= t.tail {
		return false
	}
	s := &t.ring[seq&t.mask]
	if s.acked || s.failed {
		return false
	}
	if err != nil {
		s.failed = true
		if t.err != nil {
			return false
		}
		t.err = fmt.Errorf("record %d not delivered: %w", seq, err)
		return true
	}
	s.acked = true
	if seq != t.head {
		return false // a hole before seq; the prefix cannot grow yet
	}
	advanced := false
	for t.head != t.tail {
		s := &t.ring[t.head&t.mask]
		if !s.acked {
			break
		}
		if s.pos != nil {
			t.committed, t.hasCommit = s.pos, true
			advanced = true
		}
		*s = slot{} // drop the reference to pos
		t.head++
	}
	return advanced
}
