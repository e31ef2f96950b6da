package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Write methods (write.method).
const (
	WriteInsert = "insert"
	WriteUpsert = "upsert"
)

// Behaviours on null values (behavior.on.null.values).
const (
	NullIgnore = "ignore"
	NullDelete = "delete"
	NullFail   = "fail"
)

// Behaviours on malformed documents (behavior.on.malformed.documents).
const (
	MalformedIgnore = "ignore"
	MalformedWarn   = "warn"
	MalformedFail   = "fail"
)

// Decimal mappings (decimal.mapping).
const (
	DecimalScaledFloat = "scaled_float"
	DecimalDouble      = "double"
	DecimalKeyword     = "keyword"
)

// Config is the parsed configuration of an Elasticsearch/OpenSearch sink.
type Config struct {
	URLs                  []string
	Username              string
	Password              string
	KeyIgnore             bool
	SchemaIgnore          bool
	WriteMethod           string
	NullValues            string
	MalformedDocuments    string
	DropInvalidMessage    bool
	ExternalVersionHeader string
	BatchSize             int
	BulkSizeBytes         int
	MaxInFlight           int
	Linger                time.Duration
	FlushTimeout          time.Duration
	MaxRetries            int
	RetryBackoff          time.Duration
	ReadTimeout           time.Duration
	ConnectTimeout        time.Duration
	DecimalMapping        string
}

// Key describes one configuration key, for the runtime's plugin registry.
type Key struct {
	Name    string
	Type    string // string, int, long, boolean, list, password
	Default string // "" when none
	Doc     string
}

// ConfigKeys lists the keys ParseConfig understands: Confluent's
// Elasticsearch sink keys whose meaning Sluice keeps, then Sluice's own.
func ConfigKeys() []Key {
	return []Key{
		{"connection.url", "list", "", "comma-separated http(s) URLs of Elasticsearch 7/8 or OpenSearch 1/2 nodes"},
		{"connection.username", "string", "", "user for HTTP basic authentication"},
		{"connection.password", "password", "", "password for HTTP basic authentication"},
		{"key.ignore", "boolean", "false", "true: the document id is topic+partition+offset and no external version is used; false: the id comes from the record key"},
		{"schema.ignore", "boolean", "false", "false: create a missing index with a mapping derived from the record's Connect schema; true: leave mappings to the engine"},
		{"write.method", "string", WriteInsert, "insert (index the whole document, external version = Kafka offset) or upsert (partial update with doc_as_upsert, no external version)"},
		{"behavior.on.null.values", "string", NullDelete, "tombstones: ignore, delete (the document of the key) or fail"},
		{"behavior.on.malformed.documents", "string", MalformedFail, "documents the engine refuses (mapping and parsing errors): ignore, warn (log and drop) or fail (the record goes to the dead letter queue under errors.tolerance=all, fails the task otherwise)"},
		{"drop.invalid.message", "boolean", "false", "drop (with a warning) records whose id cannot be made (null or unusable key) instead of failing them"},
		{"external.version.header", "string", "", "header whose integer value is the document's external version instead of the Kafka offset"},
		{"batch.size", "int", "2000", "maximum actions per bulk request"},
		{"bulk.size.bytes", "long", "5242880", "maximum bytes per bulk request body (a single larger action goes alone)"},
		{"max.in.flight.requests", "int", "5", "concurrent bulk requests"},
		{"linger.ms", "long", "1", "accepted for compatibility: the task flushes after every poll, which sends every partial request at once"},
		{"flush.timeout.ms", "long", "180000", "how long a flush may take before it fails (retriable; nothing is lost, the records come again)"},
		{"max.retries", "int", "5", "retries of a bulk request or of its rejected items (429, 502, 503, 504, connection errors)"},
		{"retry.backoff.ms", "long", "100", "first retry delay; doubles per retry (capped at 1000 times this value) with jitter"},
		{"connection.timeout.ms", "int", "1000", "timeout of establishing a connection"},
		{"read.timeout.ms", "int", "30000", "timeout of one HTTP request, response included (Confluent's default is 3000, short for large bulk requests)"},
		{"decimal.mapping", "string", DecimalScaledFloat, "mapping of Connect Decimal fields when schema.ignore=false: scaled_float (scaling_factor 10^scale), double or keyword"},
	}
}

// ParseConfig parses and validates a sink configuration. Unknown keys are
// ignored (the runtime passes connector-level keys too).
func ParseConfig(m map[string]string) (Config, error) {
	c := Config{
		URLs:                  list(m["connection.url"]),
		Username:              m["connection.username"],
		Password:              m["connection.password"],
		WriteMethod:           strings.ToLower(strings.TrimSpace(get(m, "write.method", WriteInsert))),
		NullValues:            strings.ToLower(strings.TrimSpace(get(m, "behavior.on.null.values", NullDelete))),
		MalformedDocuments:    strings.ToLower(strings.TrimSpace(get(m, "behavior.on.malformed.documents", MalformedFail))),
		ExternalVersionHeader: strings.TrimSpace(m["external.version.header"]),
		DecimalMapping:        strings.ToLower(strings.TrimSpace(get(m, "decimal.mapping", DecimalScaledFloat))),
	}
	if len(c.URLs) == 0 {
		return c, errors.New("elasticsearch sink: connection.url is required")
	}
	for _, b := range []struct {
		key string
		dst *bool
	}{{"key.ignore", &c.KeyIgnore}, {"schema.ignore", &c.SchemaIgnore}, {"drop.invalid.message", &c.DropInvalidMessage}} {
		if v := strings.TrimSpace(m[b.key]); v != "" {
			var err error
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				return c, fmt.Errorf("elasticsearch sink: %s: %q is not a boolean", b.key, v)
			}
		}
	}
	for _, n := range []struct {
		key string
		def int64
		min int64
		dst *int
	}{
		{"batch.size", 2000, 1, &c.BatchSize},
		{"bulk.size.bytes", 5 << 20, 1, &c.BulkSizeBytes},
		{"max.in.flight.requests", 5, 1, &c.MaxInFlight},
		{"max.retries", 5, 0, &c.MaxRetries},
	} {
		v, err := integer(m, n.key, n.def, n.min)
		if err != nil {
			return c, err
		}
		*n.dst = int(v)
	}
	for _, d := range []struct {
		key string
		def int64
		min int64
		dst *time.Duration
	}{
		{"linger.ms", 1, 0, &c.Linger},
		{"flush.timeout.ms", 180000, 1, &c.FlushTimeout},
		{"retry.backoff.ms", 100, 0, &c.RetryBackoff},
		{"read.timeout.ms", 30000, 1, &c.ReadTimeout},
		{"connection.timeout.ms", 1000, 1, &c.ConnectTimeout},
	} {
		v, err := integer(m, d.key, d.def, d.min)
		if err != nil {
			return c, err
		}
		*d.dst = time.Duration(v) * time.Millisecond
	}
	return c, c.Validate()
}

// Validate checks the values and their combinations.
func (c Config) Validate() error {
	if len(c.URLs) == 0 {
		return errors.New("elasticsearch sink: connection.url is required")
	}
	for _, s := range c.URLs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("elasticsearch sink: connection.url: %q is not an http(s) URL", s)
		}
	}
	switch c.WriteMethod {
	case WriteInsert, WriteUpsert:
	default:
		return fmt.Errorf("elasticsearch sink: write.method: %q is not insert or upsert", c.WriteMethod)
	}
	switch c.NullValues {
	case NullIgnore, NullDelete, NullFail:
	default:
		return fmt.Errorf("elasticsearch sink: behavior.on.null.values: %q is not ignore, delete or fail", c.NullValues)
	}
	switch c.MalformedDocuments {
	case MalformedIgnore, MalformedWarn, MalformedFail:
	default:
		return fmt.Errorf("elasticsearch sink: behavior.on.malformed.documents: %q is not ignore, warn or fail", c.MalformedDocuments)
	}
	switch c.DecimalMapping {
	case DecimalScaledFloat, DecimalDouble, DecimalKeyword:
	default:
		return fmt.Errorf("elasticsearch sink: decimal.mapping: %q is not scaled_float, double or keyword", c.DecimalMapping)
	}
	if c.KeyIgnore && c.ExternalVersionHeader != "" {
		return errors.New("elasticsearch sink: external.version.header needs key.ignore=false (documents keyed by offset are never versioned)")
	}
	if c.WriteMethod == WriteUpsert && c.ExternalVersionHeader != "" {
		return errors.New("elasticsearch sink: external.version.header cannot be used with write.method=upsert (updates take no external version)")
	}
	if c.BatchSize < 1 || c.BulkSizeBytes < 1 || c.MaxInFlight < 1 {
		return errors.New("elasticsearch sink: batch.size, bulk.size.bytes and max.in.flight.requests must be positive")
	}
	if c.MaxRetries < 0 {
		return errors.New("elasticsearch sink: max.retries must not be negative")
	}
	return nil
}

func integer(m map[string]string, key string, def, lo int64) (int64, error) {
	v := strings.TrimSpace(m[key])
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo {
		return 0, fmt.Errorf("elasticsearch sink: %s: %q is not an integer ≥ %d", key, v, lo)
	}
	return n, nil
}

func get(m map[string]string, k, def string) string {
	if v, ok := m[k]; ok && strings.TrimSpace(v) != "" {
		return v
	}
	return def
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
