package avroconv

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/sluice-cdc/sluice/config"
)

// Config mirrors the Confluent AvroConverter settings Debezium users set
// under key.converter.* / value.converter.*. Use DefaultConfig for the
// Confluent defaults.
type Config struct {
	// SchemaRegistryURL is "embedded" (Sluice's own registry, wired by the
	// daemon) or a comma-separated list of http(s) URLs.
	SchemaRegistryURL string `yaml:"schema.registry.url" json:"schema.registry.url"`
	// AutoRegisterSchemas registers each new schema under its subject
	// (default true). When false the schema must already be registered:
	// it is looked up (POST /subjects/{subject}) and a missing schema is an
	// error.
	AutoRegisterSchemas bool `yaml:"auto.register.schemas" json:"auto.register.schemas"`
	// UseLatestVersion writes with the subject's latest registered schema
	// instead of the record's own (default false). As in Confluent's
	// serializer it applies only when AutoRegisterSchemas is false, and only
	// when the latest schema can read what the record's schema writes
	// (checked once per schema); the struct's fields are matched to the
	// latest schema's by name, and fields the struct lacks take the latest
	// schema's defaults.
	UseLatestVersion bool `yaml:"use.latest.version" json:"use.latest.version"`
	// SubjectNameStrategy is TopicNameStrategy (default), RecordNameStrategy
	// or TopicRecordNameStrategy, or their Confluent class names
	// (io.confluent.kafka.serializers.subject.TopicNameStrategy, ...).
	SubjectNameStrategy string `yaml:"subject.name.strategy" json:"subject.name.strategy"`
	// BasicAuthUserInfo is "user:password" for HTTP basic authentication.
	BasicAuthUserInfo string `yaml:"basic.auth.user.info" json:"basic.auth.user.info"`
	// CAFile, CertFile and KeyFile configure TLS: a PEM CA bundle to trust
	// and a PEM client certificate and key.
	CAFile   string `yaml:"ssl.ca.location" json:"ssl.ca.location"`
	CertFile string `yaml:"ssl.certificate.location" json:"ssl.certificate.location"`
	KeyFile  string `yaml:"ssl.key.location" json:"ssl.key.location"`
}

// Embedded is the SchemaRegistryURL value that selects Sluice's embedded
// registry.
const Embedded = "embedded"

// DefaultConfig returns the AvroConverter defaults (the registry URL has no
// default).
func DefaultConfig() Config {
	return Config{AutoRegisterSchemas: true, SubjectNameStrategy: string(TopicNameStrategy)}
}

// Validate reports every bad setting as config.FieldErrors.
func (c Config) Validate() error {
	var p config.Problems
	if c.SchemaRegistryURL == "" {
		p.Addf("schema.registry.url", "is required (%q or http(s)://host:port)", Embedded)
	} else if c.SchemaRegistryURL != Embedded {
		for _, u := range registryURLs(c.SchemaRegistryURL) {
			pu, err := url.Parse(u)
			if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				p.Addf("schema.registry.url", "%q is not an http(s) URL", u)
			}
		}
	}
	if _, err := ParseStrategy(c.SubjectNameStrategy); err != nil {
		p.Addf("subject.name.strategy", "%v", err)
	}
	if c.BasicAuthUserInfo != "" && !strings.Contains(c.BasicAuthUserInfo, ":") {
		p.Addf("basic.auth.user.info", "must be user:password")
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		p.Addf("ssl.key.location", "ssl.certificate.location and ssl.key.location go together")
	}
	return p.Err()
}

func registryURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Strategy is a subject name strategy.
type Strategy string

// The subject name strategies of Confluent's serializers.
const (
	// TopicNameStrategy: "<topic>-key" / "<topic>-value".
	TopicNameStrategy Strategy = "TopicNameStrategy"
	// RecordNameStrategy: the record's full name.
	RecordNameStrategy Strategy = "RecordNameStrategy"
	// TopicRecordNameStrategy: "<topic>-<record full name>".
	TopicRecordNameStrategy Strategy = "TopicRecordNameStrategy"
)

const strategyPackage = "io.confluent.kafka.serializers.subject."

// ParseStrategy accepts a strategy's short name or its Confluent class name;
// "" is TopicNameStrategy.
func ParseStrategy(s string) (Strategy, error) {
	short := strings.TrimPrefix(s, strategyPackage)
	switch Strategy(short) {
	case "", TopicNameStrategy:
		return TopicNameStrategy, nil
	case RecordNameStrategy, TopicRecordNameStrategy:
		return Strategy(short), nil
	}
	return "", fmt.Errorf("%q is not TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy", s)
}

// Subject returns the subject for a record of topic whose Avro record full
// name is recordName.
func (st Strategy) Subject(topic string, isKey bool, recordName string) string {
	switch st {
	case RecordNameStrategy:
		return recordName
	case TopicRecordNameStrategy:
		return topic + "-" + recordName
	}
	if isKey {
		return topic + "-key"
	}
	return topic + "-value"
}
