package publish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ConnOptions returns the franz-go options that connect a client to the
// cluster cfg describes: the seed brokers, the client id when set, TLS and
// SASL from cfg.Security and, when log is not nil, franz-go's logs sent to
// log. It sets nothing about producing or consuming, so that every Kafka
// client Sluice opens (sink consumers, dead letter producers, the
// distributed worker's group and internal topics, the embedded registry's
// store, the schema history) reaches a secured cluster the same way the
// source publisher does. A client may add its own options after these; a
// later kgo.SeedBrokers replaces cfg.Brokers.
//
// cfg.Brokers is taken as is: the value "embedded" must have been replaced
// by the embedded broker's addresses first. An error names the setting
// (security.protocol, security.sasl.mechanism, a TLS file) that is wrong.
func ConnOptions(cfg Config, log *slog.Logger) ([]kgo.Opt, error) {
	sec, err := securityOpts(cfg.Security)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}
	if cfg.ClientID != "" {
		opts = append(opts, kgo.ClientID(cfg.ClientID))
	}
	if log != nil {
		opts = append(opts, kgo.WithLogger(kgoLogger{log}))
	}
	return append(opts, sec...), nil
}

// clientOpts translates cfg into the publisher's franz-go options: the
// connection (ConnOptions) and the producer settings. The producer is always
// idempotent with acks=all and partitions keys like the Java client.
func clientOpts(cfg Config, log *slog.Logger) ([]kgo.Opt, error) {
	codec, err := compression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	conn, err := ConnOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	return append(conn,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// StickyKeyPartitioner(nil) hashes non-nil keys with Kafka's murmur2,
		// masks the sign bit and takes the modulo, exactly as the Java
		// client's BuiltInPartitioner.partitionForKey; records without a key
		// stick to one partition per batch. Tested against Java vectors.
		// A record with an explicit partition (Record.ExplicitPartition)
		// goes there instead, as a Connect source record with a partition.
		kgo.RecordPartitioner(explicitPartitioner{onePartitionShortcut{kgo.StickyKeyPartitioner(nil)}}),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(time.Duration(cfg.LingerMs)*time.Millisecond),
		kgo.ProducerBatchMaxBytes(int32(cfg.BatchBytes)),
		// No kgo.RecordDeliveryTimeout: franz-go counts it from each
		// batch's first record Timestamp, and a record may carry its own
		// (an outbox event's time, possibly long past), which would fail it
		// at once. The Publisher enforces delivery.timeout.ms through each
		// record's Context instead (inflight.Done), counted from Publish.
		// Broker-side data loss (an out-of-order sequence after an unclean
		// leader change) fails the records instead of resetting the producer
		// ID and carrying on. The usual caveat (a failed batch can cause a
		// false detection later) does not matter here: any failed record
		// already stops the publisher.
		kgo.StopProducerOnDataLossDetected(),
		// The Publisher bounds buffered bytes itself (so that a canceled
		// Publish context only stops waiting and never fails records already
		// handed over); the client's own record limit must not bind first.
		kgo.MaxBufferedRecords(1<<30),
		// Topics are created right before their first record: let the
		// client look up a new topic sooner than its 5s default allows.
		kgo.MetadataMinAge(500*time.Millisecond),
	), nil
}

// onePartitionShortcut wraps a partitioner so that a topic with a single
// partition skips it: there is nothing to choose, and hashing every key
// (a few hundred bytes of JSON with its schema) costs more than the rest of
// producing a small record. Topics with more partitions use the wrapped
// partitioner unchanged.
type onePartitionShortcut struct{ kgo.Partitioner }

func (p onePartitionShortcut) ForTopic(topic string) kgo.TopicPartitioner {
	return &onePartitionTopic{p.Partitioner.ForTopic(topic)}
}

type onePartitionTopic struct{ kgo.TopicPartitioner }

func (t *onePartitionTopic) Partition(r *kgo.Record, n int) int {
	if n == 1 {
		return 0
	}
	return t.TopicPartitioner.Partition(r, n)
}

// OnNewBatch forwards to the wrapped partitioner (the sticky partitioner of
// records without a key moves on to another partition).
func (t *onePartitionTopic) OnNewBatch() {
	if nb, ok := t.TopicPartitioner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// partitionPinner is implemented by the Context of a record that may carry
// its own partition (the Publisher's *inflight).
type partitionPinner interface {
	explicitPartition() (int32, bool)
}

// explicitPartitioner sends a record whose Context pins a partition to that
// partition, and hands every other record to the wrapped partitioner. A
// pinned partition the topic does not have is returned as is: the client
// then fails the record ("invalid record partitioning choice"), as the Java
// producer fails a record whose partition is out of range, rather than
// moving it elsewhere.
type explicitPartitioner struct{ kgo.Partitioner }

func (p explicitPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return &explicitTopic{p.Partitioner.ForTopic(topic)}
}

type explicitTopic struct{ kgo.TopicPartitioner }

func pinned(r *kgo.Record) (int32, bool) {
	if pp, ok := r.Context.(partitionPinner); ok {
		return pp.explicitPartition()
	}
	return 0, false
}

// RequiresConsistency is true for a pinned record: the partition number
// must index all of the topic's partitions, not only the writable ones.
func (t *explicitTopic) RequiresConsistency(r *kgo.Record) bool {
	if _, ok := pinned(r); ok {
		return true
	}
	return t.TopicPartitioner.RequiresConsistency(r)
}

func (t *explicitTopic) Partition(r *kgo.Record, n int) int {
	if p, ok := pinned(r); ok {
		return int(p)
	}
	return t.TopicPartitioner.Partition(r, n)
}

// OnNewBatch forwards to the wrapped partitioner.
func (t *explicitTopic) OnNewBatch() {
	if nb, ok := t.TopicPartitioner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

func compression(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression.type: unknown codec %q", name)
}

func securityOpts(s SecurityConfig) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	useTLS, useSASL := false, false
	switch s.Protocol {
	case "", "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return nil, fmt.Errorf("security.protocol: unknown protocol %q", s.Protocol)
	}
	if useTLS {
		tc, err := tlsConfig(s)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if useSASL {
		switch s.SASLMechanism {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: s.SASLUsername, Pass: s.SASLPassword}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.SASLUsername, Pass: s.SASLPassword}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: s.SASLUsername, Pass: s.SASLPassword}.AsSha512Mechanism()))
		default:
			return nil, fmt.Errorf("security.sasl.mechanism: unknown mechanism %q", s.SASLMechanism)
		}
	}
	return opts, nil
}

func tlsConfig(s SecurityConfig) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.InsecureSkipVerify} //nolint:gosec // opt-in, documented as testing only
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificates found", s.CAFile)
		}
		tc.RootCAs = pool
	}
	if s.CertFile != "" || s.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate %s: %w", s.CertFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// kgoLogger sends franz-go's logs to slog. franz-go logs connection chatter
// (and every Flush) at info, so its info becomes slog debug.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug-4):
		return kgo.LogLevelDebug
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case k.l.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	var l slog.Level
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	case kgo.LogLevelInfo:
		l = slog.LevelDebug
	default:
		l = slog.LevelDebug - 4
	}
	k.l.Log(context.Background(), l, "kafka client: "+msg, keyvals...)
}
