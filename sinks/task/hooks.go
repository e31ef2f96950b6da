package task

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicPartition names one consumed Kafka partition (the record's original
// topic, before transforms).
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// Committer is an optional interface of a sink.Sink that buffers records
// across batches (Kafka Connect's SinkTask.preCommit). When a sink
// implements it, the task does not call Flush after each batch: it calls
// PreCommit with the offsets consumed so far (the offset after the last
// record handed to Put or set aside, per partition) and commits the offsets
// PreCommit returns, which must be those whose records before them are
// durable in the target. A partition missing from the result is not
// committed. PreCommit is also called when a poll finds no records for a
// while (so a sink may act on wall-clock time), with the same consumed
// offsets.
type Committer interface {
	PreCommit(ctx context.Context, consumed map[TopicPartition]int64) (map[TopicPartition]int64, error)
}

// PartitionTracker is an optional interface of a sink.Sink that keeps state
// per partition (Kafka Connect's SinkTask.open and close).
//
// OpenPartitions is called when partitions are assigned to the task,
// before any of their records are fetched; it returns the offsets the sink
// wants to resume from (for example recovered from the target). The task
// starts each partition at the larger of the group's committed offset and
// the sink's (the sink's alone when the group has none): a sink can skip
// records it already has, never rewind before the group. An error fails the
// task. ClosePartitions is called when partitions are revoked or lost: the
// sink drops what it buffered for them (the next owner starts again from
// the last committed offset).
//
// OpenPartitions, ClosePartitions, Put and PreCommit are never called
// concurrently.
type PartitionTracker interface {
	OpenPartitions(ctx context.Context, parts []TopicPartition) (map[TopicPartition]int64, error)
	ClosePartitions(parts []TopicPartition)
}

// tracker serializes the sink's calls made from the client's group
// callbacks (OpenPartitions from AdjustFetchOffsetsFn, which kgo does not gate with
// polls) with those of the task loop, and keeps the consumed offsets.
type tracker struct {
	mu       sync.Mutex
	consumed map[TopicPartition]int64
	// committed holds what the task last committed, to skip commits that
	// would change nothing.
	committed map[TopicPartition]int64
}

func newTracker() *tracker {
	return &tracker{consumed: map[TopicPartition]int64{}, committed: map[TopicPartition]int64{}}
}

// adjust is kgo's AdjustFetchOffsetsFn: it opens the assigned partitions in
// the sink and moves each one's start to the sink's offset when that is
// past the group's.
func (r *runner) adjust(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	pt, ok := r.sink.(PartitionTracker)
	if !ok {
		return offsets, nil
	}
	var parts []TopicPartition
	for t, ps := range offsets {
		for p := range ps {
			parts = append(parts, TopicPartition{t, p})
		}
	}
	slices.SortFunc(parts, compareTP)
	r.track.mu.Lock()
	defer r.track.mu.Unlock()
	start, err := pt.OpenPartitions(ctx, parts)
	if err != nil {
		// The client then leaves the group and reports the error; the
		// task fails from its next poll.
		r.openErr.Store(&err)
		return nil, fmt.Errorf("open partitions %v: %w", parts, err)
	}
	for _, tp := range parts {
		want, ok := start[tp]
		if !ok || want < 0 {
			continue
		}
		cur := offsets[tp.Topic][tp.Partition]
		if at := cur.EpochOffset().Offset; at >= 0 && at >= want {
			continue
		}
		r.log.Info("partition starts at the sink's offset", "topic", tp.Topic, "partition", tp.Partition, "offset", want)
		offsets[tp.Topic][tp.Partition] = kgo.NewOffset().At(want).WithEpoch(-1)
	}
	for _, tp := range parts {
		delete(r.track.consumed, tp)
		delete(r.track.committed, tp)
	}
	return offsets, nil
}

// closeParts tells the sink that partitions were revoked or lost.
func (r *runner) closeParts(m map[string][]int32) {
	pt, ok := r.sink.(PartitionTracker)
	var parts []TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			parts = append(parts, TopicPartition{t, p})
		}
	}
	slices.SortFunc(parts, compareTP)
	r.track.mu.Lock()
	defer r.track.mu.Unlock()
	for _, tp := range parts {
		delete(r.track.consumed, tp)
		delete(r.track.committed, tp)
	}
	if ok && len(parts) > 0 {
		pt.ClosePartitions(parts)
	}
}

func compareTP(a, b TopicPartition) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	return int(a.Partition) - int(b.Partition)
}

// preCommit asks a Committer sink which offsets are safe and commits them.
// recs are the batch just processed (nil after an idle poll).
func (r *runner) preCommit(ctx context.Context, cl *kgo.Client, c Committer, recs []*kgo.Record) error {
	r.track.mu.Lock()
	for _, rec := range recs {
		r.track.consumed[TopicPartition{rec.Topic, rec.Partition}] = rec.Offset + 1
	}
	consumed := maps.Clone(r.track.consumed)
	safe, err := c.PreCommit(ctx, consumed)
	if err != nil {
		r.track.mu.Unlock()
		return fmt.Errorf("pre-commit: %w", err)
	}
	commit := map[string]map[int32]kgo.EpochOffset{}
	for tp, off := range safe {
		if _, assigned := consumed[tp]; !assigned || off < 0 || r.track.committed[tp] == off {
			continue
		}
		if commit[tp.Topic] == nil {
			commit[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		commit[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	r.track.mu.Unlock()
	if len(commit) == 0 {
		return nil
	}
	if err := commitOffsets(ctx, cl, commit); err != nil {
		return err
	}
	r.track.mu.Lock()
	for t, ps := range commit {
		for p, eo := range ps {
			tp := TopicPartition{t, p}
			if _, still := r.track.consumed[tp]; still {
				r.track.committed[tp] = eo.Offset
			}
		}
	}
	r.track.mu.Unlock()
	return nil
}

// commitOffsets commits offsets synchronously and returns the first error
// of the request or of a partition.
func commitOffsets(ctx context.Context, cl *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) error {
	var rerr error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			rerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && rerr == nil {
					rerr = fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	return rerr
}

// rejectedCommit reports whether a commit error means the group moved on
// without this member (the records come again to the next owner).
func rejectedCommit(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) ||
		errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.FencedInstanceID)
}

// DefaultIdleCommit is how long a poll of a Committer sink's task waits for
// records before it calls PreCommit anyway.
const DefaultIdleCommit = time.Second

// WithIdleCommit sets how long a poll of a Committer sink's task waits for
// records before PreCommit is called without new records.
func WithIdleCommit(d time.Duration) Option { return func(o *options) { o.idlePoll = d } }

// poll polls a batch; for a Committer sink it gives up after the idle
// interval so that PreCommit runs even without records.
func (r *runner) poll(ctx context.Context, cl *kgo.Client) kgo.Fetches {
	if _, ok := r.sink.(Committer); !ok || r.opts.idlePoll <= 0 {
		return cl.PollRecords(ctx, r.cfg.MaxPollRecords)
	}
	pctx, cancel := context.WithTimeout(ctx, r.opts.idlePoll)
	defer cancel()
	return cl.PollRecords(pctx, r.cfg.MaxPollRecords)
}
