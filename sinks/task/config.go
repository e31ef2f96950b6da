package task

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Tolerance is errors.tolerance.
type Tolerance string

// The errors.tolerance values.
const (
	ToleranceNone Tolerance = "none"
	ToleranceAll  Tolerance = "all"
)

// Defaults of Kafka Connect's sink configuration.
const (
	DefaultMaxPollRecords       = 500
	DefaultRetryDelayMax        = 60 * time.Second
	DefaultDLQReplicationFactor = 3
	// DefaultHeaderConverter is Connect's SimpleHeaderConverter; Sluice
	// reads header values as strings.
	DefaultHeaderConverter = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
)

// ConverterConfig names a converter class and its settings (the
// key.converter.* sub-keys without the prefix).
type ConverterConfig struct {
	Class string
	Props map[string]string
}

// ErrorsConfig holds Kafka Connect's errors.* keys.
type ErrorsConfig struct {
	Tolerance Tolerance
	// RetryTimeout bounds retries of a retriable failure: 0 never retries,
	// a negative value retries forever (errors.retry.timeout -1).
	RetryTimeout time.Duration
	// RetryDelayMax caps the exponential backoff between retries.
	RetryDelayMax      time.Duration
	LogEnable          bool
	LogIncludeMessages bool
	// DLQTopic is the dead letter queue topic; "" disables it.
	DLQTopic             string
	DLQReplicationFactor int16
	DLQContextHeaders    bool
}

// Config is one sink task's configuration.
type Config struct {
	// Name is the connector name; the consumer group is connect-<Name>.
	Name string
	// TaskID is the task number, reported in __connect.errors.task.id.
	TaskID int
	// TaskClass is reported as the class of TASK_PUT failures.
	TaskClass string
	// Topics or TopicsRegex (exactly one) select the topics to consume.
	Topics      []string
	TopicsRegex string
	// Converters; Class "" is an error for key and value, the
	// SimpleHeaderConverter for headers.
	KeyConverter, ValueConverter, HeaderConverter ConverterConfig
	Errors                                        ErrorsConfig
	// MaxPollRecords bounds one batch (consumer max.poll.records).
	MaxPollRecords int
	// SessionTimeout and HeartbeatInterval are the consumer's group
	// timing (consumer.override.session.timeout.ms and
	// .heartbeat.interval.ms); zero keeps the client's defaults.
	SessionTimeout, HeartbeatInterval time.Duration
}

// GroupID is the consumer group of connector name, as in Kafka Connect.
func GroupID(name string) string { return "connect-" + name }

// DefaultErrors returns Kafka Connect's error handling defaults.
func DefaultErrors() ErrorsConfig {
	return ErrorsConfig{Tolerance: ToleranceNone, RetryDelayMax: DefaultRetryDelayMax,
		DLQReplicationFactor: DefaultDLQReplicationFactor}
}

// Validate reports every bad setting.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Name) == "" {
		errs = append(errs, errors.New("name: is required"))
	}
	switch {
	case len(c.Topics) == 0 && c.TopicsRegex == "":
		errs = append(errs, errors.New("topics: must configure one of topics or topics.regex"))
	case len(c.Topics) > 0 && c.TopicsRegex != "":
		errs = append(errs, errors.New("topics and topics.regex are mutually exclusive options, but both are set"))
	}
	if c.TopicsRegex != "" {
		if _, err := regexp.Compile(c.TopicsRegex); err != nil {
			errs = append(errs, fmt.Errorf("topics.regex: %w", err))
		}
	}
	if c.KeyConverter.Class == "" {
		errs = append(errs, errors.New("key.converter: is required"))
	}
	if c.ValueConverter.Class == "" {
		errs = append(errs, errors.New("value.converter: is required"))
	}
	switch c.Errors.Tolerance {
	case ToleranceNone, ToleranceAll:
	default:
		errs = append(errs, fmt.Errorf("errors.tolerance: %q is not none or all", c.Errors.Tolerance))
	}
	if c.Errors.DLQTopic != "" && c.Errors.DLQReplicationFactor < 1 && c.Errors.DLQReplicationFactor != -1 {
		errs = append(errs, fmt.Errorf("errors.deadletterqueue.topic.replication.factor: %d is not positive", c.Errors.DLQReplicationFactor))
	}
	if c.MaxPollRecords < 0 {
		errs = append(errs, fmt.Errorf("max poll records: %d is negative", c.MaxPollRecords))
	}
	return errors.Join(errs...)
}

// ParseConfig reads a Kafka Connect sink connector configuration (name,
// topics/topics.regex, key.converter and value.converter with their
// sub-keys, header.converter, errors.*, task.class). Keys it does not know
// are left to the sink.
func ParseConfig(cfg map[string]string) (Config, error) {
	c := Config{Name: strings.TrimSpace(cfg["name"]), TaskClass: strings.TrimSpace(cfg["task.class"]),
		TopicsRegex: strings.TrimSpace(cfg["topics.regex"]), Errors: DefaultErrors(), MaxPollRecords: DefaultMaxPollRecords}
	for _, t := range strings.Split(cfg["topics"], ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.Topics = append(c.Topics, t)
		}
	}
	c.KeyConverter = converterConfig(cfg, "key.converter")
	c.ValueConverter = converterConfig(cfg, "value.converter")
	c.HeaderConverter = converterConfig(cfg, "header.converter")
	var errs []error
	get := func(key string) (string, bool) {
		v, ok := cfg[key]
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	ms := func(key string, dst *time.Duration) {
		if v, ok := get(key); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a number of milliseconds", key, v))
				return
			}
			if n < 0 {
				*dst = -1
				return
			}
			*dst = time.Duration(n) * time.Millisecond
		}
	}
	boolean := func(key string, dst *bool) {
		if v, ok := get(key); ok {
			b, err := strconv.ParseBool(strings.ToLower(v))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not true or false", key, v))
				return
			}
			*dst = b
		}
	}
	if v, ok := get("errors.tolerance"); ok {
		c.Errors.Tolerance = Tolerance(strings.ToLower(v))
	}
	ms("errors.retry.timeout", &c.Errors.RetryTimeout)
	ms("errors.retry.delay.max.ms", &c.Errors.RetryDelayMax)
	boolean("errors.log.enable", &c.Errors.LogEnable)
	boolean("errors.log.include.messages", &c.Errors.LogIncludeMessages)
	boolean("errors.deadletterqueue.context.headers.enable", &c.Errors.DLQContextHeaders)
	c.Errors.DLQTopic, _ = get("errors.deadletterqueue.topic.name")
	if v, ok := get("errors.deadletterqueue.topic.replication.factor"); ok {
		n, err := strconv.ParseInt(v, 10, 16)
		if err != nil {
			errs = append(errs, fmt.Errorf("errors.deadletterqueue.topic.replication.factor: %q is not a number", v))
		} else {
			c.Errors.DLQReplicationFactor = int16(n)
		}
	}
	for _, key := range []string{"consumer.override.max.poll.records", "max.poll.records"} {
		if v, ok := get(key); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive number", key, v))
			} else {
				c.MaxPollRecords = n
			}
			break
		}
	}
	// The consumer's group timing, as Kafka Connect's
	// consumer.override.<key> (a killed task's member otherwise holds its
	// partitions for the client's default 45 s session).
	for key, dst := range map[string]*time.Duration{
		"consumer.override.session.timeout.ms":    &c.SessionTimeout,
		"consumer.override.heartbeat.interval.ms": &c.HeartbeatInterval,
	} {
		if v, ok := get(key); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("%s: %q is not a positive number of milliseconds", key, v))
			} else {
				*dst = time.Duration(n) * time.Millisecond
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("sink connector %s config: %w", c.Name, err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("sink connector %s config: %w", c.Name, err)
	}
	return c, nil
}

func converterConfig(cfg map[string]string, prefix string) ConverterConfig {
	cc := ConverterConfig{Class: strings.TrimSpace(cfg[prefix]), Props: map[string]string{}}
	for k, v := range maps.All(cfg) {
		if sub, ok := strings.CutPrefix(k, prefix+"."); ok {
			cc.Props[sub] = v
		}
	}
	return cc
}
