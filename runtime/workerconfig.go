package runtime

import (
	"net/url"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// WorkerConfig is worker.yaml, the configuration of a distributed worker
// (`sluice worker -c worker.yaml`), with Kafka Connect's key names.
type WorkerConfig struct {
	// GroupID names the cluster: workers with the same group.id share
	// connectors and tasks.
	GroupID string `yaml:"group.id" json:"group.id"`
	// BootstrapServers is a comma-separated host:port list.
	BootstrapServers string `yaml:"bootstrap.servers" json:"bootstrap.servers"`

	ConfigTopic         string    `yaml:"config.storage.topic" json:"config.storage.topic"`
	ConfigReplication   int       `yaml:"config.storage.replication.factor" json:"config.storage.replication.factor"`
	OffsetTopic         string    `yaml:"offset.storage.topic" json:"offset.storage.topic"`
	OffsetPartitions    int       `yaml:"offset.storage.partitions" json:"offset.storage.partitions"`
	OffsetReplication   int       `yaml:"offset.storage.replication.factor" json:"offset.storage.replication.factor"`
	StatusTopic         string    `yaml:"status.storage.topic" json:"status.storage.topic"`
	StatusPartitions    int       `yaml:"status.storage.partitions" json:"status.storage.partitions"`
	StatusReplication   int       `yaml:"status.storage.replication.factor" json:"status.storage.replication.factor"`
	RESTListen          string    `yaml:"rest.listen" json:"rest.listen"`
	RESTAdvertisedURL   string    `yaml:"rest.advertised.url" json:"rest.advertised.url"`
	SessionTimeoutMs    int       `yaml:"session.timeout.ms" json:"session.timeout.ms"`
	HeartbeatIntervalMs int       `yaml:"heartbeat.interval.ms" json:"heartbeat.interval.ms"`
	RebalanceTimeoutMs  int       `yaml:"rebalance.timeout.ms" json:"rebalance.timeout.ms"`
	KeyConverter        string    `yaml:"key.converter" json:"key.converter"`
	ValueConverter      string    `yaml:"value.converter" json:"value.converter"`
	Log                 WorkerLog `yaml:"log" json:"log"`
	// RESTBasicAuth (user → password) and RESTBearerTokens protect the REST
	// API; both empty (the default) leave it open, as Kafka Connect's.
	RESTBasicAuth    map[string]string `yaml:"rest.basic.auth" json:"rest.basic.auth"`
	RESTBearerTokens []string          `yaml:"rest.bearer.tokens" json:"rest.bearer.tokens"`
	// Security protects every Kafka client of the worker (its group, the
	// internal topics, connectors' producers and consumers), with Kafka's
	// client key names; sluice.yaml's kafka.security block takes the same
	// values.
	SecurityProtocol   string `yaml:"security.protocol" json:"security.protocol"` // PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
	SASLMechanism      string `yaml:"sasl.mechanism" json:"sasl.mechanism"`       // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	SASLUsername       string `yaml:"sasl.username" json:"sasl.username"`
	SASLPassword       string `yaml:"sasl.password" json:"sasl.password"`
	SSLCALocation      string `yaml:"ssl.ca.location" json:"ssl.ca.location"` // PEM files
	SSLCertLocation    string `yaml:"ssl.certificate.location" json:"ssl.certificate.location"`
	SSLKeyLocation     string `yaml:"ssl.key.location" json:"ssl.key.location"`
	InsecureSkipVerify bool   `yaml:"ssl.insecure.skip.verify" json:"ssl.insecure.skip.verify"` // testing only
}

// WorkerLog sets the worker's log output.
type WorkerLog struct {
	Level  string `yaml:"level" json:"level"`
	Format string `yaml:"format" json:"format"`
}

// DefaultWorkerConfig returns Kafka Connect's defaults (replication factor 1
// instead of 3, so that a one-broker development cluster works).
func DefaultWorkerConfig() WorkerConfig {
	return WorkerConfig{
		ConfigTopic: "connect-configs", ConfigReplication: 1,
		OffsetTopic: "connect-offsets", OffsetPartitions: 25, OffsetReplication: 1,
		StatusTopic: "connect-status", StatusPartitions: 5, StatusReplication: 1,
		RESTListen:          ":8083",
		SessionTimeoutMs:    10000,
		HeartbeatIntervalMs: 3000,
		RebalanceTimeoutMs:  60000,
		KeyConverter:        JSONConverterClass,
		ValueConverter:      JSONConverterClass,
		Log:                 WorkerLog{Level: "info", Format: "text"},
	}
}

// LoadWorkerConfig reads worker.yaml onto the defaults and validates it.
func LoadWorkerConfig(path string) (WorkerConfig, error) {
	cfg := DefaultWorkerConfig()
	if err := config.Load(path, &cfg); err != nil {
		return WorkerConfig{}, err
	}
	return cfg, nil
}

// Brokers splits bootstrap.servers.
func (c WorkerConfig) Brokers() []string { return splitList(c.BootstrapServers) }

// SessionTimeout, HeartbeatInterval and RebalanceTimeout are the group
// timings as durations.
func (c WorkerConfig) SessionTimeout() time.Duration {
	return time.Duration(c.SessionTimeoutMs) * time.Millisecond
}

// HeartbeatInterval is heartbeat.interval.ms.
func (c WorkerConfig) HeartbeatInterval() time.Duration {
	return time.Duration(c.HeartbeatIntervalMs) * time.Millisecond
}

// RebalanceTimeout is rebalance.timeout.ms.
func (c WorkerConfig) RebalanceTimeout() time.Duration {
	return time.Duration(c.RebalanceTimeoutMs) * time.Millisecond
}

// AdvertisedURL is rest.advertised.url, or http://host:port from
// rest.listen (localhost when the host is empty).
func (c WorkerConfig) AdvertisedURL() string {
	if c.RESTAdvertisedURL != "" {
		return strings.TrimRight(c.RESTAdvertisedURL, "/")
	}
	host, port, _ := strings.Cut(c.RESTListen, ":")
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + host + ":" + port
}

// Validate reports every problem at once.
func (c WorkerConfig) Validate() error {
	var p config.Problems
	if strings.TrimSpace(c.GroupID) == "" {
		p.Addf("group.id", "required: the name of the worker cluster")
	}
	if len(c.Brokers()) == 0 {
		p.Addf("bootstrap.servers", "required: a comma-separated host:port list")
	}
	topics := map[string]string{}
	for _, t := range []struct {
		path, name  string
		parts, repl int
	}{
		{"config.storage", c.ConfigTopic, 1, c.ConfigReplication},
		{"offset.storage", c.OffsetTopic, c.OffsetPartitions, c.OffsetReplication},
		{"status.storage", c.StatusTopic, c.StatusPartitions, c.StatusReplication},
	} {
		if t.name == "" {
			p.Addf(t.path+".topic", "must not be empty")
		} else if other, dup := topics[t.name]; dup {
			p.Addf(t.path+".topic", "%s is also %s.topic", t.name, other)
		}
		topics[t.name] = t.path
		if t.parts < 1 {
			p.Addf(t.path+".partitions", "must be at least 1, got %d", t.parts)
		}
		if t.repl < 1 {
			p.Addf(t.path+".replication.factor", "must be at least 1, got %d", t.repl)
		}
	}
	if _, port, ok := strings.Cut(c.RESTListen, ":"); !ok || port == "" {
		p.Addf("rest.listen", "want host:port, got %q", c.RESTListen)
	}
	if c.RESTAdvertisedURL != "" {
		if u, err := url.Parse(c.RESTAdvertisedURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.Addf("rest.advertised.url", "want an http(s) URL, got %q", c.RESTAdvertisedURL)
		}
	}
	if c.SessionTimeoutMs < 1000 {
		p.Addf("session.timeout.ms", "must be at least 1000, got %d", c.SessionTimeoutMs)
	}
	if c.HeartbeatIntervalMs < 1 || c.HeartbeatIntervalMs >= c.SessionTimeoutMs {
		p.Addf("heartbeat.interval.ms", "must be positive and below session.timeout.ms (%d), got %d", c.SessionTimeoutMs, c.HeartbeatIntervalMs)
	}
	if c.RebalanceTimeoutMs < c.SessionTimeoutMs {
		p.Addf("rebalance.timeout.ms", "must be at least session.timeout.ms (%d), got %d", c.SessionTimeoutMs, c.RebalanceTimeoutMs)
	}
	for path, conv := range map[string]string{"key.converter": c.KeyConverter, "value.converter": c.ValueConverter} {
		if _, ok := lookupConverter(conv); !ok {
			p.Addf(path, "unknown converter %s", conv)
		}
	}
	return p.Err()
}
