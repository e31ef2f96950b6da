package schemahistory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/capture/mysql"
)

// ErrTopicLayout is returned when the history topic exists with a layout
// that could reorder or lose records: more than one partition, a finite
// retention, or compaction.
var ErrTopicLayout = errors.New("schema history topic layout")

// Config configures a Kafka schema history.
type Config struct {
	// Brokers are the bootstrap servers
	// (schema.history.internal.kafka.bootstrap.servers).
	Brokers []string
	// Topic is the history topic (schema.history.internal.kafka.topic).
	Topic string
	// ReplicationFactor is used when the topic is created; 0 or -1 means
	// the broker's default.
	ReplicationFactor int16
	// ClientOptions are added to the franz-go client options (TLS, SASL,
	// a client id).
	ClientOptions []kgo.Opt
	// Logger receives the topic creation notice; nil discards.
	Logger *slog.Logger
}

// Validate reports what is missing from c.
func (c Config) Validate() error {
	var msgs []string
	if len(c.Brokers) == 0 {
		msgs = append(msgs, "no bootstrap servers")
	}
	if strings.TrimSpace(c.Topic) == "" {
		msgs = append(msgs, "no topic")
	}
	if c.ReplicationFactor < -1 {
		msgs = append(msgs, fmt.Sprintf("replication factor %d", c.ReplicationFactor))
	}
	if len(msgs) > 0 {
		return fmt.Errorf("kafka schema history: %s", strings.Join(msgs, ", "))
	}
	return nil
}

// Kafka is a mysql.SchemaHistory in a one-partition Kafka topic. Its
// clients are made on first use and released by Close; a closed Kafka can
// be used again (it reconnects). Safe for concurrent use.
type Kafka struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	prod    *kgo.Client // producer and admin client, nil until first use
	checked bool        // the topic exists with a valid layout
}

var _ mysql.SchemaHistory = (*Kafka)(nil)

// New returns a Kafka history for cfg. It does no I/O and starts no
// goroutines.
func New(cfg Config) (*Kafka, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = -1
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Kafka{cfg: cfg, log: log}, nil
}

// Topic returns the history topic's name.
func (k *Kafka) Topic() string { return k.cfg.Topic }

// Close releases the clients.
func (k *Kafka) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.prod != nil {
		k.prod.Close()
		k.prod = nil
	}
	k.checked = false
}

// client returns the producer client, creating it and checking (or
// creating) the topic on first use. Callers hold k.mu.
func (k *Kafka) client(ctx context.Context) (*kgo.Client, error) {
	if k.prod == nil {
		opts := append([]kgo.Opt{
			kgo.SeedBrokers(k.cfg.Brokers...),
			kgo.DefaultProduceTopic(k.cfg.Topic),
			kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent writes are franz-go's default
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerLinger(0),
		}, k.cfg.ClientOptions...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, fmt.Errorf("schema history topic %s: kafka client: %w", k.cfg.Topic, err)
		}
		k.prod = cl
	}
	if !k.checked {
		if err := k.ensureTopic(ctx, kadm.NewClient(k.prod)); err != nil {
			return nil, err
		}
		k.checked = true
	}
	return k.prod, nil
}

// ensureTopic creates the topic when missing and checks its layout.
func (k *Kafka) ensureTopic(ctx context.Context, adm *kadm.Client) error {
	topic := k.cfg.Topic
	td, err := describe(ctx, adm, topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		_, err = adm.CreateTopic(ctx, 1, k.cfg.ReplicationFactor, map[string]*string{
			"cleanup.policy":  kadm.StringPtr("delete"),
			"retention.ms":    kadm.StringPtr("-1"),
			"retention.bytes": kadm.StringPtr("-1"),
		}, topic)
		switch {
		case err == nil:
			k.log.Info("created the schema history topic", "topic", topic)
		case errors.Is(err, kerr.TopicAlreadyExists): // created meanwhile
		default:
			return fmt.Errorf("create schema history topic %s: %w", topic, err)
		}
		td, err = describeNew(ctx, adm, topic)
	}
	if err != nil {
		return fmt.Errorf("describe schema history topic %s: %w", topic, err)
	}
	if n := len(td.Partitions); n != 1 {
		return fmt.Errorf("%w: topic %s has %d partitions; the schema history needs exactly one to keep its order", ErrTopicLayout, topic, n)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return fmt.Errorf("describe schema history topic %s configs: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return fmt.Errorf("describe schema history topic %s configs: %w", topic, err)
	}
	return checkConfigs(topic, rc.Configs)
}

// describe returns the topic's metadata, kerr.UnknownTopicOrPartition when
// it does not exist.
func describe(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicDetail, error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return kadm.TopicDetail{}, err
	}
	td, ok := tds[topic]
	if !ok {
		return kadm.TopicDetail{}, kerr.UnknownTopicOrPartition
	}
	return td, td.Err
}

// describeNew describes a topic just created, waiting for the metadata
// of the broker asked to know it (a few hundred milliseconds at most,
// usually; 30s at most).
func describeNew(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicDetail, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		td, err := describe(ctx, adm, topic)
		if err == nil && len(td.Partitions) > 0 {
			return td, nil
		}
		if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) && !errors.Is(err, kerr.LeaderNotAvailable) {
			return td, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return td, fmt.Errorf("wait for the new topic: %w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// checkConfigs refuses a retention or cleanup policy that could delete
// history records.
func checkConfigs(topic string, cs []kadm.Config) error {
	var bad []string
	for _, c := range cs {
		if c.Value == nil {
			continue
		}
		v := strings.TrimSpace(*c.Value)
		switch c.Key {
		case "retention.ms", "retention.bytes":
			if v != "-1" {
				bad = append(bad, fmt.Sprintf("%s=%s (must be -1)", c.Key, v))
			}
		case "cleanup.policy":
			if strings.Contains(v, "compact") {
				bad = append(bad, fmt.Sprintf("cleanup.policy=%s (must be delete)", v))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: topic %s has %s: the schema history must keep every record", ErrTopicLayout, topic, strings.Join(bad, ", "))
	}
	return nil
}

// Append produces r and returns once every in-sync replica has it.
func (k *Kafka) Append(ctx context.Context, r mysql.HistoryRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode schema history record: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	cl, err := k.client(ctx)
	if err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: b, Partition: 0}).FirstErr(); err != nil {
		return fmt.Errorf("append to schema history topic %s: %w", k.cfg.Topic, err)
	}
	return nil
}

// Load reads the topic from its first record to the high watermark.
func (k *Kafka) Load(ctx context.Context) ([]mysql.HistoryRecord, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	cl, err := k.client(ctx)
	if err != nil {
		return nil, err
	}
	topic := k.cfg.Topic
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("schema history topic %s: start offset: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("schema history topic %s: end offset: %w", topic, err)
	}
	start, _ := starts.Lookup(topic, 0)
	end, _ := ends.Lookup(topic, 0)
	if end.Offset <= start.Offset {
		return nil, nil
	}
	// A consumer of its own: the producer client has no consume options,
	// and this one lives only as long as the read.
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(k.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(start.Offset)}}),
		// Control records are seen so that the read can tell it reached the
		// high watermark even when a transaction marker (a foreign
		// transactional writer) takes the last offsets.
		kgo.KeepControlRecords(),
	}, k.cfg.ClientOptions...)
	cons, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema history topic %s: kafka client: %w", topic, err)
	}
	defer cons.Close()
	var out []mysql.HistoryRecord
	next := start.Offset
	for next < end.Offset {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read schema history topic %s: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("read schema history topic %s: %w", topic, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		for it := fs.RecordIter(); !it.Done(); {
			rec := it.Next()
			if rec.Offset >= end.Offset {
				continue // appended after Load began
			}
			next = rec.Offset + 1
			if rec.Attrs.IsControl() {
				continue
			}
			var r mysql.HistoryRecord
			if err := json.Unmarshal(rec.Value, &r); err != nil {
				return nil, fmt.Errorf("schema history topic %s offset %d: %w", topic, rec.Offset, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}
