package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicSpec is an internal topic of a distributed worker.
type topicSpec struct {
	name        string
	partitions  int32
	replication int16
}

// ensureTopics creates the compacted internal topics that do not exist.
// Existing topics are left as they are (Kafka Connect checks their cleanup
// policy; Sluice trusts the operator).
func ensureTopics(ctx context.Context, adm *kadm.Client, specs []topicSpec) error {
	compact := "compact"
	for _, s := range specs {
		resp, err := adm.CreateTopic(ctx, s.partitions, s.replication, map[string]*string{"cleanup.policy": &compact}, s.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", s.name, err)
		}
	}
	return nil
}

// kafkaLog is a compacted topic that every worker reads from its start and
// keeps reading (Kafka Connect's KafkaBasedLog): apply sees every record in
// partition order; readToEnd waits until everything written before the call
// has been applied.
type kafkaLog struct {
	topic string
	cl    *kgo.Client // direct consumer of every partition
	prod  *kgo.Client
	adm   *kadm.Client
	apply func(*kgo.Record)
	log   *slog.Logger

	mu      sync.Mutex
	next    map[int32]int64 // next offset to apply, per partition
	changed chan struct{}   // closed and replaced when next advances
}

func newKafkaLog(topic string, brokers []string, opts []kgo.Opt, prod *kgo.Client, adm *kadm.Client, apply func(*kgo.Record), log *slog.Logger) (*kafkaLog, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("reader of %s: %w", topic, err)
	}
	return &kafkaLog{topic: topic, cl: cl, prod: prod, adm: adm, apply: apply, log: log,
		next: map[int32]int64{}, changed: make(chan struct{})}, nil
}

// run applies records until ctx ends; it closes the consumer.
func (l *kafkaLog) run(ctx context.Context) {
	defer l.cl.Close()
	for {
		fs := l.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			l.log.Warn("read internal topic", "topic", t, "partition", p, "err", err)
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 {
				return
			}
			for _, r := range p.Records {
				l.apply(r)
			}
			last := p.Records[len(p.Records)-1]
			l.mu.Lock()
			l.next[p.Partition] = last.Offset + 1
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		})
	}
}

// readToEnd waits until every record written before the call is applied.
func (l *kafkaLog) readToEnd(ctx context.Context) error {
	var ends kadm.ListedOffsets
	for {
		var err error
		ends, err = l.adm.ListEndOffsets(ctx, l.topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			break
		}
		// A topic just created may not be known to every broker yet.
		if !errors.Is(err, kerr.UnknownTopicOrPartition) && !kerr.IsRetriable(err) {
			return fmt.Errorf("end offsets of %s: %w", l.topic, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("end offsets of %s: %w", l.topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for {
		l.mu.Lock()
		behind := false
		ends.Each(func(o kadm.ListedOffset) {
			if l.next[o.Partition] < o.Offset {
				behind = true
			}
		})
		ch := l.changed
		l.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("read %s to its end: %w", l.topic, ctx.Err())
		}
	}
}

// write produces one record (value nil: a tombstone) and waits for Kafka's
// acknowledgement.
func (l *kafkaLog) write(ctx context.Context, key string, value []byte) error {
	if err := l.prod.ProduceSync(ctx, &kgo.Record{Topic: l.topic, Key: []byte(key), Value: value}).FirstErr(); err != nil {
		return fmt.Errorf("write %s to %s: %w", key, l.topic, err)
	}
	return nil
}

// kafkaOffsets is the OffsetStore of a distributed worker: the offsets
// topic, keyed by the store key, with an in-memory index of what this
// worker has read and written.
type kafkaOffsets struct {
	log *kafkaLog
	// guard, when set, is asked before every write: a worker cut off from
	// its group must not write offsets of tasks it may no longer own.
	guard func() error

	mu sync.Mutex
	m  map[string][]byte
}

func (o *kafkaOffsets) applyRecord(r *kgo.Record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.Value == nil {
		delete(o.m, string(r.Key))
		return
	}
	o.m[string(r.Key)] = r.Value
}

func (o *kafkaOffsets) readToEnd() error {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	return o.log.readToEnd(ctx)
}

// Load reads the offsets topic to its end, then returns key's value.
func (o *kafkaOffsets) Load(key string) ([]byte, error) {
	if err := o.readToEnd(); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[key], nil
}

// Entries reads the offsets topic to its end, then returns every key
// starting with prefix and its value.
func (o *kafkaOffsets) Entries(prefix string) (map[string][]byte, error) {
	if err := o.readToEnd(); err != nil {
		return nil, err
	}
	return o.cached(prefix), nil
}

// cached is Entries without reading to the end first.
func (o *kafkaOffsets) cached(prefix string) map[string][]byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range o.m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// Save writes key's value (nil: a tombstone) and returns once Kafka
// acknowledged it.
func (o *kafkaOffsets) Save(key string, pos []byte) error {
	return o.SaveAll(map[string][]byte{key: pos})
}

// SaveAll writes every entry (nil: a tombstone) and returns once Kafka
// acknowledged them all.
func (o *kafkaOffsets) SaveAll(entries map[string][]byte) error {
	if len(entries) == 0 {
		return nil
	}
	if o.guard != nil {
		if err := o.guard(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	recs := make([]*kgo.Record, 0, len(entries))
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		recs = append(recs, &kgo.Record{Topic: o.log.topic, Key: []byte(k), Value: entries[k]})
	}
	if err := o.log.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write %d offsets to %s: %w", len(recs), o.log.topic, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, v := range entries {
		if v == nil {
			delete(o.m, k)
		} else {
			o.m[k] = v
		}
	}
	return nil
}
