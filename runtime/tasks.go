package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	sinktask "github.com/sluice-cdc/sluice/sinks/task"
)

// GroupID is the consumer group of a sink connector, as in Kafka Connect.
func GroupID(connector string) string { return "connect-" + connector }

// runSink runs a sink task: through sinks/task for a plugin with NewSink
// (converters with schemas and Avro, transforms, errors.* and the dead
// letter queue), else the runtime's minimal loop for a NewSinkTask plugin.
func (h *Herder) runSink(ctx context.Context, c *connector, id int, p *Plugin, cfg map[string]string, log *slog.Logger) error {
	if p.NewSink != nil {
		return h.runTaskSink(ctx, c, id, p, cfg, log)
	}
	return h.runSinkLoop(ctx, c, p, cfg, log)
}

// runTaskSink runs a NewSink plugin under sinks/task; the worker's default
// converters apply when the connector names none.
func (h *Herder) runTaskSink(ctx context.Context, c *connector, id int, p *Plugin, cfg map[string]string, log *slog.Logger) error {
	tc := maps.Clone(cfg)
	tc[KeyName] = c.name
	if strings.TrimSpace(tc[KeyKeyConverter]) == "" {
		tc[KeyKeyConverter] = h.cfg.KeyConverter
	}
	if strings.TrimSpace(tc[KeyValueConverter]) == "" {
		tc[KeyValueConverter] = h.cfg.ValueConverter
	}
	tcfg, err := sinktask.ParseConfig(tc)
	if err != nil {
		return err
	}
	tcfg.TaskID = id
	opts := []sinktask.Option{
		sinktask.WithClientOptions(append(slices.Clone(h.cfg.KafkaOptions), kgo.SeedBrokers(h.cfg.Brokers...))...),
		sinktask.WithLogger(log),
		sinktask.WithTopicHook(func(topic string) { h.addTopic(c, topic) }),
	}
	switch {
	case p.NewTransform != nil:
		tr, err := p.NewTransform(cfg)
		if err != nil {
			return fmt.Errorf("transforms of connector %s: %w", c.name, err)
		}
		if tr != nil {
			opts = append(opts, sinktask.WithTransform(tr, ""))
		}
	case strings.TrimSpace(cfg["transforms"]) != "":
		return fmt.Errorf("connector %s: plugin %s cannot apply transforms %s", c.name, p.Class, cfg["transforms"])
	}
	s, err := p.NewSink(cfg)
	if err != nil {
		return fmt.Errorf("start sink task: %w", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			log.Warn("close sink task", "err", err)
		}
	}()
	return sinktask.Run(ctx, tcfg, s, opts...)
}

// runSinkLoop consumes the connector's topics with its consumer group and
// hands converted batches to a NewSinkTask sink; offsets are committed
// after Flush.
func (h *Herder) runSinkLoop(ctx context.Context, c *connector, p *Plugin, cfg map[string]string, log *slog.Logger) error {
	keyConv, valueConv, err := h.converters(cfg)
	if err != nil {
		return err
	}
	opts := append(slices.Clone(h.cfg.KafkaOptions),
		kgo.SeedBrokers(h.cfg.Brokers...),
		kgo.ConsumerGroup(GroupID(c.name)),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if re := strings.TrimSpace(cfg[KeyTopicsRegex]); re != "" {
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(re))
	} else {
		opts = append(opts, kgo.ConsumeTopics(splitList(cfg[KeyTopics])...))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sink consumer: %w", err)
	}
	defer func() {
		// Leaving the group waits for a rebalance this task may be blocking,
		// and for the coordinator, which may be unreachable (a fenced
		// worker): bounded, the group then expires the member itself.
		cl.AllowRebalance()
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cl.LeaveGroupContext(lctx)
		cancel()
		cl.Close()
	}()
	sink, err := p.NewSinkTask(cfg)
	if err != nil {
		return fmt.Errorf("start sink task: %w", err)
	}
	defer func() {
		if err := sink.Close(); err != nil {
			log.Warn("close sink task", "err", err)
		}
	}()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) {
				log.Warn("fetch", "topic", topic, "partition", partition, "err", err)
			}
		})
		recs := fs.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		batch := make([]SinkRecord, len(recs))
		for i, r := range recs {
			k, err := convertIn(keyConv, r.Topic, r.Key)
			if err != nil {
				return fmt.Errorf("convert key of %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			v, err := convertIn(valueConv, r.Topic, r.Value)
			if err != nil {
				return fmt.Errorf("convert value of %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			batch[i] = SinkRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: k, Value: v}
			h.addTopic(c, r.Topic)
		}
		if err := sink.Put(ctx, batch); err != nil {
			return fmt.Errorf("put %d records: %w", len(batch), err)
		}
		if err := sink.Flush(ctx); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("commit offsets of group %s: %w", GroupID(c.name), err)
		}
		cl.AllowRebalance()
	}
}

func convertIn(conv Converter, topic string, b []byte) (any, error) {
	if b == nil {
		return nil, nil
	}
	return conv.ToConnect(topic, b)
}

// runSource runs a source task: each batch is produced, acknowledged by
// Kafka, and only then are its offsets saved.
func (h *Herder) runSource(ctx context.Context, c *connector, p *Plugin, cfg map[string]string, log *slog.Logger) error {
	if h.cfg.Offsets == nil {
		return errors.New("source connectors need an offset store")
	}
	if p.NewCaptureTask != nil {
		return h.runCapture(ctx, c, p, cfg, log)
	}
	keyConv, valueConv, err := h.converters(cfg)
	if err != nil {
		return err
	}
	saved, err := h.loadSourceOffsets(c.name)
	if err != nil {
		return err
	}
	src, err := p.NewSourceTask(cfg, func(partition map[string]any) map[string]any {
		for _, o := range saved {
			if partitionKey(o.Partition) == partitionKey(partition) {
				return o.Offset
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("start source task: %w", err)
	}
	cl, err := kgo.NewClient(append(slices.Clone(h.cfg.KafkaOptions), kgo.SeedBrokers(h.cfg.Brokers...), kgo.AllowAutoTopicCreation())...)
	if err != nil {
		return fmt.Errorf("source producer: %w", err)
	}
	defer cl.Close()
	log.Info("source task started", "offsets", len(saved))
	return src.Run(ctx, func(ctx context.Context, batch []SourceRecord) error {
		recs := make([]*kgo.Record, len(batch))
		for i, r := range batch {
			k, err := keyConv.FromConnect(r.Topic, r.Key)
			if err != nil {
				return fmt.Errorf("convert key for %s: %w", r.Topic, err)
			}
			v, err := valueConv.FromConnect(r.Topic, r.Value)
			if err != nil {
				return fmt.Errorf("convert value for %s: %w", r.Topic, err)
			}
			recs[i] = &kgo.Record{Topic: r.Topic, Key: k, Value: v}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce %d records: %w", len(recs), err)
		}
		latest := map[string]SourceOffset{}
		for _, r := range batch {
			latest[partitionKey(r.Partition)] = SourceOffset{Partition: r.Partition, Offset: r.Offset}
			h.addTopic(c, r.Topic)
		}
		next, err := h.mergeSourceOffsets(c.name, slices.Collect(maps.Values(latest)))
		if err != nil {
			return err
		}
		saved = next
		return nil
	})
}

func splitList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// runCapture runs a source task that publishes by itself, with its offsets
// kept by the runtime.
func (h *Herder) runCapture(ctx context.Context, c *connector, p *Plugin, cfg map[string]string, log *slog.Logger) error {
	task, err := p.NewCaptureTask(cfg, TaskEnv{
		Connector: c.name,
		Offsets:   taskOffsets{h: h, name: c.name},
		Topic:     func(topic string) { h.addTopic(c, topic) },
		Logger:    log,
	})
	if err != nil {
		return fmt.Errorf("start source task: %w", err)
	}
	log.Info("source task started")
	return task.Run(ctx)
}

// taskOffsets is the TaskOffsets of one connector's task.
type taskOffsets struct {
	h    *Herder
	name string
}

func (o taskOffsets) Load(partition map[string]any) (map[string]any, error) {
	saved, err := o.h.loadSourceOffsets(o.name)
	if err != nil {
		return nil, err
	}
	for _, so := range saved {
		if partitionKey(so.Partition) == partitionKey(partition) {
			return so.Offset, nil
		}
	}
	return nil, nil
}

func (o taskOffsets) Save(partition, offset map[string]any) error {
	_, err := o.h.mergeSourceOffsets(o.name, []SourceOffset{{Partition: partition, Offset: offset}})
	return err
}
