package publish

import (
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/config"
)

// Embedded is the bootstrap.servers value that selects the in-process broker
// (kfake) instead of a real Kafka cluster. It is meant for demos and tests.
const Embedded = "embedded"

// Config configures the Kafka producer and topic creation. YAML keys follow
// the Kafka client property names users already know.
type Config struct {
	// Brokers lists the seed brokers, or the single value "embedded".
	Brokers []string `yaml:"bootstrap.servers" json:"bootstrap.servers"`
	// ClientID is sent to the broker with every request.
	ClientID string `yaml:"client.id" json:"client.id"`
	// Compression is one of none, gzip, snappy, lz4, zstd.
	Compression string `yaml:"compression.type" json:"compression.type"`
	// LingerMs is how long a batch may wait for more records.
	LingerMs int `yaml:"linger.ms" json:"linger.ms"`
	// BatchBytes is the largest record batch sent to one partition.
	BatchBytes int `yaml:"batch.size" json:"batch.size"`
	// MaxBufferedBytes bounds the bytes waiting for an ack; producing blocks
	// when it is reached, which pauses the source (back-pressure). The
	// default, 16 MiB (half the Java producer's), still holds over 100 ms
	// of records at 100 MB/s, more than a produce round trip takes; a
	// larger buffer only adds memory, garbage-collector work and queueing
	// delay (measured with internal/bench: 16 MiB gave more events per
	// second for less CPU than 32 MiB, on kfake and on Apache Kafka).
	MaxBufferedBytes int `yaml:"buffer.memory" json:"buffer.memory"`
	// DeliveryTimeoutMs bounds how long a record may wait to be acked before
	// the producer gives up and the pipeline fails (nothing is skipped).
	DeliveryTimeoutMs int `yaml:"delivery.timeout.ms" json:"delivery.timeout.ms"`

	Security SecurityConfig `yaml:"security" json:"security"`
	Topics   TopicsConfig   `yaml:"topics" json:"topics"`
}

// SecurityConfig holds TLS and SASL settings.
type SecurityConfig struct {
	// Protocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
	Protocol string `yaml:"protocol" json:"protocol"`
	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	SASLMechanism string `yaml:"sasl.mechanism" json:"sasl.mechanism"`
	SASLUsername  string `yaml:"sasl.username" json:"sasl.username"`
	SASLPassword  string `yaml:"sasl.password" json:"sasl.password"`
	// CAFile, CertFile and KeyFile are PEM files; CertFile and KeyFile enable
	// client authentication.
	CAFile   string `yaml:"ssl.ca.location" json:"ssl.ca.location"`
	CertFile string `yaml:"ssl.certificate.location" json:"ssl.certificate.location"`
	KeyFile  string `yaml:"ssl.key.location" json:"ssl.key.location"`
	// InsecureSkipVerify disables server certificate checks (testing only).
	InsecureSkipVerify bool `yaml:"ssl.insecure.skip.verify" json:"ssl.insecure.skip.verify"`
}

// TopicsConfig says how Sluice creates the topics it writes to.
type TopicsConfig struct {
	// AutoCreate creates missing topics with kadm before producing.
	AutoCreate bool `yaml:"auto.create" json:"auto.create"`
	// Defaults apply to every topic Sluice creates.
	Defaults TopicSpec `yaml:"defaults" json:"defaults"`
	// Overrides apply to topics whose name matches the key exactly, or as a
	// regular expression when the key is written /like this/ (anchored: it
	// must match the whole name). An exact key wins over expressions; among
	// expressions the first matching key in sorted order wins. Fields left
	// zero in an override inherit from Defaults; configs are merged.
	Overrides map[string]TopicSpec `yaml:"overrides" json:"overrides"`
}

// TopicSpec describes one topic to create. Zero values mean "inherit": from
// Defaults for an override, from the broker's defaults for Defaults.
type TopicSpec struct {
	Partitions        int32             `yaml:"partitions" json:"partitions"`
	ReplicationFactor int16             `yaml:"replication.factor" json:"replication.factor"`
	Configs           map[string]string `yaml:"configs" json:"configs"`
}

// DefaultConfig returns the producer defaults: idempotent acks=all is not
// configurable, the rest follows Kafka Connect's producer settings.
func DefaultConfig() Config {
	return Config{
		Brokers:           []string{"localhost:9092"},
		ClientID:          "sluice",
		Compression:       "none",
		LingerMs:          5,
		BatchBytes:        1 << 20,
		MaxBufferedBytes:  16 << 20,
		DeliveryTimeoutMs: 120_000,
		Security:          SecurityConfig{Protocol: "PLAINTEXT"},
		Topics: TopicsConfig{
			AutoCreate: true,
			Defaults:   TopicSpec{Partitions: 1, ReplicationFactor: -1},
		},
	}
}

// IsEmbedded reports whether the config selects the in-process broker.
func (c Config) IsEmbedded() bool {
	return len(c.Brokers) == 1 && c.Brokers[0] == Embedded
}

// Validate reports every problem with c; paths are YAML keys relative to c.
func (c Config) Validate() error {
	var p config.Problems
	if len(c.Brokers) == 0 {
		p.Addf("bootstrap.servers", "at least one broker (host:port) or %q is required", Embedded)
	}
	for i, b := range c.Brokers {
		if b == Embedded {
			if len(c.Brokers) > 1 {
				p.Addf(fmt.Sprintf("bootstrap.servers[%d]", i), "%q cannot be mixed with real brokers", Embedded)
			}
			continue
		}
		if host, port, ok := strings.Cut(b, ":"); !ok || host == "" || port == "" {
			p.Addf(fmt.Sprintf("bootstrap.servers[%d]", i), "broker %q must be host:port", b)
		}
	}
	switch c.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		p.Addf("compression.type", "unknown compression %q (want none, gzip, snappy, lz4 or zstd)", c.Compression)
	}
	if c.LingerMs < 0 {
		p.Addf("linger.ms", "must not be negative, got %d", c.LingerMs)
	}
	if c.BatchBytes <= 0 {
		p.Addf("batch.size", "must be positive, got %d", c.BatchBytes)
	}
	if c.MaxBufferedBytes < c.BatchBytes {
		p.Addf("buffer.memory", "must be at least batch.size (%d), got %d", c.BatchBytes, c.MaxBufferedBytes)
	}
	if c.DeliveryTimeoutMs <= 0 {
		p.Addf("delivery.timeout.ms", "must be positive, got %d", c.DeliveryTimeoutMs)
	}
	p.Merge("security", c.Security.Validate())
	p.Merge("topics", c.Topics.Validate())
	return p.Err()
}

// Validate reports problems with the TLS and SASL settings.
func (s SecurityConfig) Validate() error {
	var p config.Problems
	sasl, tls := false, false
	switch s.Protocol {
	case "PLAINTEXT":
	case "SSL":
		tls = true
	case "SASL_PLAINTEXT":
		sasl = true
	case "SASL_SSL":
		sasl, tls = true, true
	default:
		p.Addf("protocol", "unknown protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", s.Protocol)
	}
	if sasl {
		switch s.SASLMechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			p.Addf("sasl.mechanism", "unknown mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", s.SASLMechanism)
		}
		if s.SASLUsername == "" {
			p.Addf("sasl.username", "required with protocol %s", s.Protocol)
		}
	} else if s.SASLMechanism != "" {
		p.Addf("sasl.mechanism", "set, but protocol %s does not use SASL", s.Protocol)
	}
	if !tls && (s.CAFile != "" || s.CertFile != "" || s.KeyFile != "") {
		p.Addf("protocol", "TLS files are set, but protocol %s does not use TLS", s.Protocol)
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		p.Addf("ssl.key.location", "ssl.certificate.location and ssl.key.location must be set together")
	}
	return p.Err()
}

// Validate reports problems with topic creation settings.
func (t TopicsConfig) Validate() error {
	var p config.Problems
	p.Merge("defaults", t.Defaults.Validate())
	for name, spec := range t.Overrides {
		if name == "" {
			p.Addf("overrides", "empty topic name")
		}
		if isPattern(name) {
			if _, err := compilePattern(name); err != nil {
				p.Addf("overrides."+name, "bad regular expression: %v", err)
			}
		}
		p.Merge("overrides."+name, spec.Validate())
	}
	return p.Err()
}

// Validate reports problems with one topic spec.
func (s TopicSpec) Validate() error {
	var p config.Problems
	if s.Partitions < 0 {
		p.Addf("partitions", "must not be negative, got %d", s.Partitions)
	}
	if s.ReplicationFactor < -1 {
		p.Addf("replication.factor", "must be -1 (broker default) or positive, got %d", s.ReplicationFactor)
	}
	return p.Err()
}
