package registry

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sluice-cdc/sluice/config"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Storage backends.
const (
	StorageKafka = "kafka"
	StorageFile  = "file"
)

// Config configures the embedded registry.
type Config struct {
	// Storage is kafka (default: a compacted topic in Confluent's format)
	// or file (JSON lines, for development).
	Storage string `yaml:"storage" json:"storage"`
	// Topic is the Kafka topic (kafkastore.topic, default _schemas).
	Topic string `yaml:"topic" json:"topic"`
	// File is the store file when Storage is file.
	File string `yaml:"file" json:"file"`
	// Listen is the HTTP address for `sluice registry` run alone.
	Listen string `yaml:"listen" json:"listen"`
}

// DefaultConfig returns Kafka storage on _schemas, listening on :8081.
func DefaultConfig() Config {
	return Config{Storage: StorageKafka, Topic: "_schemas", Listen: ":8081"}
}

// Validate reports every bad setting.
func (c Config) Validate() error {
	var p config.Problems
	switch c.Storage {
	case "", StorageKafka:
		if c.Topic == "" {
			p.Addf("topic", "must be set for kafka storage")
		}
	case StorageFile:
		if c.File == "" {
			p.Addf("file", "must be set for file storage")
		}
	default:
		p.Addf("storage", "%q is not kafka or file", c.Storage)
	}
	return p.Err()
}

// Option configures New.
type Option func(*options)

type options struct {
	log     *slog.Logger
	brokers []string
	kopts   []kgo.Opt
	reg     prometheus.Registerer
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithKafka sets the brokers for kafka storage and extra client options
// (TLS, SASL).
func WithKafka(brokers []string, opts ...kgo.Opt) Option {
	return func(o *options) { o.brokers = brokers; o.kopts = opts }
}

// WithRegisterer registers the request metrics on reg.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }
