package e2e

import (
	"fmt"
	"sort"
)

// change is one row change as the checker sees it: the row's version after
// the change (for deletes, the version of the deleted row) and the op.
type change struct {
	Op      byte // 'c', 'u', 'd' or 'r'
	Version int64
}

// committed is a change the workload committed, with bounds on its commit
// LSN: the WAL insert position just before COMMIT and just after it returned.
type committed struct {
	change
	lo, hi uint64
}

func (c change) String() string { return fmt.Sprintf("%c%d", c.Op, c.Version) }

// rank orders the changes of one key: versions rise with each update, and a
// delete comes after the last version it deleted.
func (c change) rank() int64 {
	r := c.Version * 2
	if c.Op == 'd' {
		r++
	}
	return r
}

// keyHistory checks the changes of one key in topic order.
//
// The rules: a change not seen before must be newer than every change seen
// before (no going backwards, no gap while re-delivering); a change seen
// before is a re-delivery, and a re-delivery must continue as a suffix of
// what was seen, in order, up to the newest change, before anything new
// comes. Snapshot reads ('r') may jump ahead: the snapshot summarises the
// history before it.
type keyHistory struct {
	seen   []change       // distinct changes in first-seen order
	index  map[change]int // change -> position in seen
	replay int            // next expected position while re-delivering; len(seen) at the frontier
	dups   int
}

func newKeyHistory() *keyHistory { return &keyHistory{index: map[change]int{}} }

func (h *keyHistory) add(c change) error {
	if h.replay < len(h.seen) && h.seen[h.replay] == c {
		h.replay++
		h.dups++
		return nil
	}
	if j, ok := h.index[c]; ok {
		// A new re-delivery starts (a restart can begin replaying anywhere
		// in the key's history: at the saved position).
		h.replay = j + 1
		h.dups++
		return nil
	}
	if h.replay < len(h.seen) {
		return fmt.Errorf("new change %v arrived while re-delivering: expected %v next (seen %v)", c, h.seen[h.replay], h.seen)
	}
	if n := len(h.seen); n > 0 && c.rank() <= h.seen[n-1].rank() {
		return fmt.Errorf("change %v goes backwards after %v (seen %v)", c, h.seen[n-1], h.seen)
	}
	h.index[c] = len(h.seen)
	h.seen = append(h.seen, c)
	h.replay = len(h.seen)
	return nil
}

// missing returns the expected changes absent from the history. Changes
// that may have committed before the snapshot's consistent point (snapLSN)
// are the snapshot's to summarise and are not required, nor are changes older
// than the key's last snapshot read.
func (h *keyHistory) missing(expected []committed, snapLSN uint64) []change {
	var floor int64 = -1
	for _, c := range h.seen {
		if c.Op == 'r' && c.rank() > floor {
			floor = c.rank()
		}
	}
	var out []change
	for _, ce := range expected {
		e := ce.change
		if e.rank() <= floor || ce.lo <= snapLSN {
			continue
		}
		if _, ok := h.index[e]; !ok {
			// A snapshot read of the same version stands for the change.
			if _, ok := h.index[change{Op: 'r', Version: e.Version}]; ok && e.Op != 'd' {
				continue
			}
			out = append(out, e)
		}
	}
	return out
}

// checker checks the change events of a whole table against the workload's
// committed changes.
type checker struct {
	keys    map[int64]*keyHistory
	errs    []string
	snapLSN uint64 // highest consistent point of any snapshot read seen
}

func newChecker() *checker { return &checker{keys: map[int64]*keyHistory{}} }

func (k *checker) add(id int64, c change, lsn uint64) {
	if c.Op == 'r' {
		k.snapLSN = max(k.snapLSN, lsn)
	}
	h := k.keys[id]
	if h == nil {
		h = newKeyHistory()
		k.keys[id] = h
	}
	if err := h.add(c); err != nil && len(k.errs) < 20 {
		k.errs = append(k.errs, fmt.Sprintf("key %d: %v", id, err))
	}
}

// verify returns every problem: ordering errors found while adding, and
// committed changes that never arrived.
func (k *checker) verify(expected map[int64][]committed) []string {
	problems := append([]string(nil), k.errs...)
	ids := make([]int64, 0, len(expected))
	for id := range expected {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		h := k.keys[id]
		if h == nil {
			h = newKeyHistory()
		}
		if miss := h.missing(expected[id], k.snapLSN); len(miss) > 0 && len(problems) < 40 {
			problems = append(problems, fmt.Sprintf("key %d: missing %v (seen %v)", id, miss, h.seen))
		}
	}
	return problems
}

func (k *checker) duplicates() int {
	n := 0
	for _, h := range k.keys {
		n += h.dups
	}
	return n
}
