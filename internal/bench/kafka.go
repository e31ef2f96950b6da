package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Broker is the Kafka a case publishes to: the real broker or a kfake
// cluster started in this process.
type Broker struct {
	Kind  string // kfake or kafka
	Addrs []string

	fake *kfake.Cluster
	cl   *kgo.Client
	adm  *kadm.Client
}

// NewBroker connects to the real brokers at addrs (kind kafka) or starts a
// kfake cluster (kind kfake; addrs ignored).
func NewBroker(kind string, addrs []string) (*Broker, error) {
	b := &Broker{Kind: kind, Addrs: addrs}
	if kind == "kfake" {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return nil, fmt.Errorf("start kfake: %w", err)
		}
		b.fake = c
		b.Addrs = c.ListenAddrs()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs...))
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("kafka client %v: %w", b.Addrs, err)
	}
	b.cl = cl
	b.adm = kadm.NewClient(cl)
	return b, nil
}

// Close closes the admin client and stops kfake.
func (b *Broker) Close() {
	if b.cl != nil {
		b.cl.Close()
	}
	if b.fake != nil {
		b.fake.Close()
	}
}

// CreateTopic creates topic with one partition (replication factor from the
// broker's default), so consumers and counters can start before Sluice
// produces; Sluice finds it existing.
func (b *Broker) CreateTopic(ctx context.Context, topic string) error {
	resp, err := b.adm.CreateTopic(ctx, 1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// DeleteTopic deletes topic, ignoring a missing one.
func (b *Broker) DeleteTopic(ctx context.Context, topic string) error {
	resp, err := b.adm.DeleteTopics(ctx, topic)
	if err == nil {
		if r, ok := resp[topic]; ok && r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			err = r.Err
		}
	}
	if err != nil {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	return nil
}

// Acked returns how many records topic holds below its high watermark: the
// records Kafka acknowledged (acks=all). With trim, it then deletes them
// (DeleteRecords), which keeps kfake's memory bounded; the watermark, and so
// the count, does not move back.
func (b *Broker) Acked(ctx context.Context, topic string, trim bool) (int64, error) {
	ends, err := b.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("end offsets %s: %w", topic, err)
	}
	var n int64
	var firstErr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && firstErr == nil {
			firstErr = o.Err
		}
		n += o.Offset
	})
	if firstErr != nil {
		return 0, fmt.Errorf("end offsets %s: %w", topic, firstErr)
	}
	if trim && n > 0 {
		offs := kadm.Offsets{}
		ends.Each(func(o kadm.ListedOffset) {
			offs.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1})
		})
		if _, err := b.adm.DeleteRecords(ctx, offs); err != nil {
			return 0, fmt.Errorf("delete records %s: %w", topic, err)
		}
	}
	return n, nil
}

// Arrivals consumes topic from the start and notes when each record whose
// JSON key carries payload.id (or, failing that, whose JSON value carries
// payload.after.id or after.id) arrived.
type Arrivals struct {
	cl *kgo.Client

	mu  sync.Mutex
	at  map[int64]time.Time
	bad int
	// BadKey is the first key of a record without a readable id (read after
	// Close).
	BadKey string
	done   chan struct{}
}

// Consume starts consuming topic in a goroutine until Close.
func (b *Broker) Consume(topic string) (*Arrivals, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(b.Addrs...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", topic, err)
	}
	a := &Arrivals{cl: cl, at: map[int64]time.Time{}, done: make(chan struct{})}
	go a.run()
	return a, nil
}

func (a *Arrivals) run() {
	defer close(a.done)
	var key struct {
		Payload struct {
			ID *int64 `json:"id"`
		} `json:"payload"`
	}
	// The value's after.id, with or without the schema envelope, for
	// records whose key lacks the id.
	type row struct {
		After struct {
			ID *int64 `json:"id"`
		} `json:"after"`
	}
	var value struct {
		row
		Payload row `json:"payload"`
	}
	for {
		fs := a.cl.PollFetches(context.Background())
		now := time.Now()
		if fs.IsClientClosed() {
			return
		}
		a.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			key.Payload.ID = nil
			id := key.Payload.ID
			if err := json.Unmarshal(r.Key, &key); err == nil {
				id = key.Payload.ID
			}
			if id == nil {
				value.After.ID, value.Payload.After.ID = nil, nil
				if err := json.Unmarshal(r.Value, &value); err == nil {
					id = value.Payload.After.ID
					if id == nil {
						id = value.After.ID
					}
				}
			}
			if id == nil {
				if a.bad == 0 {
					a.BadKey = string(r.Key)
				}
				a.bad++
				return
			}
			if _, seen := a.at[*id]; !seen {
				a.at[*id] = now
			}
		})
		a.mu.Unlock()
	}
}

// Count returns how many distinct ids arrived and how many records had no
// readable id.
func (a *Arrivals) Count() (ids, bad int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at), a.bad
}

// Close stops consuming and returns the arrival time of each id.
func (a *Arrivals) Close() map[int64]time.Time {
	a.cl.Close()
	<-a.done
	return a.at
}
