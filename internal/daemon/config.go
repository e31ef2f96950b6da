package daemon

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/capture/mongodb"
	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/capture/postgres"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/outbox"
	"github.com/sluice-cdc/sluice/publish"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/schema/registry"
)

// Config is the whole sluice.yaml. Each part is the owning package's Config;
// this struct only composes them and checks what spans several parts.
type Config struct {
	Log        LogConfig        `yaml:"log" json:"log"`
	HTTP       HTTPConfig       `yaml:"http" json:"http"`
	Memory     MemoryConfig     `yaml:"memory" json:"memory"`
	Kafka      publish.Config   `yaml:"kafka" json:"kafka"`
	Converters ConvertersConfig `yaml:"converters" json:"converters"`
	// Registry configures Sluice's embedded schema registry: what
	// `sluice registry` serves, and what `sluice run` starts when a converter
	// says schema.registry.url: embedded (see registry.go).
	Registry registry.Config `yaml:"registry" json:"registry"`
	// TombstonesOnDelete emits a null-value record after each delete event
	// so that compacted topics drop the key (Debezium's tombstones.on.delete).
	TombstonesOnDelete bool `yaml:"tombstones.on.delete" json:"tombstones.on.delete"`
	// DataDir holds Sluice's local state: offsets.json, the last position
	// each source confirmed (standalone mode).
	DataDir string `yaml:"data.dir" json:"data.dir"`
	// OffsetFlushIntervalMs is the least time between two saves of a
	// source's position (and so between two acks to the database), as Kafka
	// Connect's offset.flush.interval.ms: a position Kafka acknowledged
	// sooner is saved when the interval is up. Saving is a durable file
	// replace, which at thousands of transactions a second costs much of
	// the daemon's CPU; a restart after a crash resends up to this much
	// more. 0 (the default) saves on every advance.
	OffsetFlushIntervalMs int            `yaml:"offset.flush.interval.ms" json:"offset.flush.interval.ms"`
	Sources               []SourceConfig `yaml:"sources" json:"sources"`
	// Connectors are more connectors in Kafka Connect's JSON form (name and
	// flat config), e.g. a FileStreamSink, or a Debezium connector JSON
	// pasted in unchanged: `sluice run` creates them beside the sources.
	Connectors []ConnectorConfig `yaml:"connectors" json:"connectors"`
	// REST protects the Kafka Connect REST API served on http.addr.
	REST RESTConfig `yaml:"rest" json:"rest"`
}

// ConnectorConfig is one connector in Kafka Connect's JSON form:
// {"name": …, "config": {"connector.class": …, …}}.
type ConnectorConfig struct {
	Name   string            `yaml:"name" json:"name"`
	Config map[string]string `yaml:"config" json:"config"`
}

// RESTConfig protects the REST API: with neither key set (the default) it
// is open, as Kafka Connect's. /metrics, /healthz and /readyz stay open.
type RESTConfig struct {
	// BasicAuth maps user names to passwords (HTTP basic authentication).
	BasicAuth map[string]string `yaml:"basic.auth" json:"basic.auth"`
	// BearerTokens are accepted as "Authorization: Bearer <token>".
	BearerTokens []string `yaml:"bearer.tokens" json:"bearer.tokens"`
}

// DefaultOffsetFlushIntervalMs is offset.flush.interval.ms's default: save
// on every advance. A longer interval saves CPU at thousands of small
// transactions a second, but widens the window in which Kafka holds records
// past the saved position: a crash then replays more, and a Postgres
// snapshot interrupted after it finished (its last chunks acknowledged, the
// stream under way, the save not yet made) resumes reading chunks whose
// rows the stream has already updated in Kafka.
const DefaultOffsetFlushIntervalMs = 0

// OffsetsFile returns the path of the standalone offset store.
func (c Config) OffsetsFile() string { return filepath.Join(c.DataDir, "offsets.json") }

// LogConfig selects the log level and format.
type LogConfig struct {
	Level  string `yaml:"level" json:"level"`   // debug, info, warn, error
	Format string `yaml:"format" json:"format"` // text, json
}

// HTTPConfig configures the address serving /metrics, /healthz, /readyz and
// the Kafka Connect REST API.
type HTTPConfig struct {
	Addr string `yaml:"addr" json:"addr"`
	// Pprof serves Go's profiling endpoints under /debug/pprof/ (CPU, heap,
	// goroutine, trace). Off by default: profiles reveal internals and a
	// CPU profile or trace costs CPU while it runs.
	Pprof bool `yaml:"pprof" json:"pprof"`
}

// MemoryConfig bounds the daemon's memory.
type MemoryConfig struct {
	// Limit is the soft memory limit, in bytes, the daemon gives the Go
	// runtime (debug.SetMemoryLimit, what GOMEMLIMIT sets): as the process
	// nears it the garbage collector runs more often instead of letting the
	// heap double, which keeps the peak RSS near the limit at little CPU
	// cost. Records awaiting acks (kafka.buffer.memory per source) stay in
	// memory whatever the limit, so the daemon raises a limit below their
	// total plus 32 MiB to that, with a warning. 0 leaves the runtime
	// alone, and so does a GOMEMLIMIT environment variable, which wins.
	Limit int64 `yaml:"limit" json:"limit"`
}

// DefaultMemoryLimit is memory.limit's default: the default
// kafka.buffer.memory (16 MiB), the rest of the daemon's live heap (some 15
// to 25 MiB, more during a snapshot) and room for garbage. The process's
// peak RSS comes out some 15 to 20 MiB above it (the binary's code and
// data, which the limit does not cover): under 100 MiB.
const DefaultMemoryLimit = 72 << 20

// Validate checks that Limit is not negative.
func (m MemoryConfig) Validate() error {
	var p config.Problems
	if m.Limit < 0 {
		p.Addf("limit", "memory limit %d must be 0 (none) or a number of bytes", m.Limit)
	}
	return p.Err()
}

// ConvertersConfig chooses how record keys and values are serialized, as
// Kafka Connect's key.converter and value.converter do.
type ConvertersConfig struct {
	Key   ConverterConfig `yaml:"key" json:"key"`
	Value ConverterConfig `yaml:"value" json:"value"`
}

// ConverterConfig configures one converter.
type ConverterConfig struct {
	// Type is json (Connect's JsonConverter) or avro (Confluent's
	// AvroConverter, see avro.go).
	Type string `yaml:"type" json:"type"`
	// SchemasEnable wraps each JSON payload in a {"schema", "payload"}
	// envelope, like the JsonConverter's schemas.enable.
	SchemasEnable bool `yaml:"schemas.enable" json:"schemas.enable"`
	// The AvroConverter's keys (schema.registry.url, auto.register.schemas,
	// use.latest.version, subject.name.strategy, basic.auth.user.info,
	// ssl.*), for type avro only.
	avroconv.Config `yaml:",inline"`
}

// Connector kinds, as written in SourceConfig.Connector (the Debezium class
// names are accepted too, see [SourceConfig.Kind]).
const (
	Postgres = "postgres"
	MySQL    = "mysql"
	MongoDB  = "mongodb"
)

// debeziumClasses maps Debezium connector class names to connector kinds,
// so that a Debezium connector config can be pasted in unchanged.
var debeziumClasses = map[string]string{
	"io.debezium.connector.postgresql.PostgresConnector": Postgres,
	"io.debezium.connector.mysql.MySqlConnector":         MySQL,
	"io.debezium.connector.mongodb.MongoDbConnector":     MongoDB,
}

// SourceConfig configures one captured database.
type SourceConfig struct {
	// Name identifies the connector (logs, metrics, offsets, REST API).
	Name string `yaml:"name" json:"name"`
	// Connector is postgres, mysql or mongodb, or the Debezium class name.
	Connector string `yaml:"connector" json:"connector"`
	// TopicPrefix starts every topic name: <prefix>.<schema>.<table>.
	TopicPrefix string `yaml:"topic.prefix" json:"topic.prefix"`
	// URL is the connection string (postgres://..., mysql://..., mongodb://...).
	URL string `yaml:"url" json:"url"`
	// Tables lists the captured tables as schema.table (db.collection for
	// MongoDB, database.table for MySQL); empty captures every table.
	Tables []string `yaml:"tables" json:"tables"`

	// Connector-specific settings, one typed block per connector owned by
	// its capture package. Keys absent from the file keep the package's
	// defaults (see [Decode]); only the block matching Connector is used and
	// validated.
	Postgres postgres.Config `yaml:"postgres" json:"postgres"`
	MySQL    mysql.Config    `yaml:"mysql" json:"mysql"`
	MongoDB  mongodb.Config  `yaml:"mongodb" json:"mongodb"`

	// Outbox routes the source's outbox table and outbox logical decoding
	// messages as Debezium's Outbox Event Router does (see outbox.go).
	Outbox *outbox.Config `yaml:"outbox,omitempty" json:"outbox,omitempty"`

	// Kafka Connect's error handling keys (see deadletter.go). With
	// errors.tolerance all, an event whose conversion fails (a schema
	// change the registry refuses, a value its converter cannot encode)
	// goes to ErrorsDeadLetterQueueTopic instead of stopping the source.
	ErrorsTolerance            string `yaml:"errors.tolerance" json:"errors.tolerance"` // none (default) or all
	ErrorsDeadLetterQueueTopic string `yaml:"errors.deadletterqueue.topic.name" json:"errors.deadletterqueue.topic.name"`
	// ErrorsContextHeaders adds the __connect.errors.* headers to each
	// dead letter record.
	ErrorsContextHeaders bool `yaml:"errors.deadletterqueue.context.headers.enable" json:"errors.deadletterqueue.context.headers.enable"`
	// ErrorsLogEnable logs each tolerated error with its details.
	ErrorsLogEnable bool `yaml:"errors.log.enable" json:"errors.log.enable"`

	// Converters and TombstonesOnDelete, when set, replace the daemon-wide
	// settings for this source: a connector created through the REST API
	// with its own key.converter, value.converter or tombstones.on.delete.
	// They have no sluice.yaml key (the daemon-wide keys set them there).
	Converters         *ConvertersConfig `yaml:"-" json:"-"`
	TombstonesOnDelete *bool             `yaml:"-" json:"-"`
}

// effective returns the daemon configuration with this source's overrides
// applied.
func (s SourceConfig) effective(c Config) Config {
	if s.Converters != nil {
		c.Converters = *s.Converters
	}
	if s.TombstonesOnDelete != nil {
		c.TombstonesOnDelete = *s.TombstonesOnDelete
	}
	return c
}

// errors.tolerance values.
const (
	ToleranceNone = "none"
	ToleranceAll  = "all"
)

// DefaultSourceConfig returns the defaults every entry of sources starts
// from: the connector blocks' defaults.
func DefaultSourceConfig() SourceConfig {
	return SourceConfig{Postgres: postgres.DefaultConfig(), MySQL: mysql.DefaultConfig(), ErrorsTolerance: ToleranceNone}
}

// DefaultConfig returns the configuration used for keys absent from the file.
func DefaultConfig() Config {
	return Config{
		Log:    LogConfig{Level: "info", Format: "text"},
		HTTP:   HTTPConfig{Addr: ":8083"},
		Memory: MemoryConfig{Limit: DefaultMemoryLimit},
		Kafka:  publish.DefaultConfig(),
		Converters: ConvertersConfig{
			Key:   ConverterConfig{Type: "json", SchemasEnable: true, Config: avroconv.DefaultConfig()},
			Value: ConverterConfig{Type: "json", SchemasEnable: true, Config: avroconv.DefaultConfig()},
		},
		Registry:              registry.DefaultConfig(),
		TombstonesOnDelete:    true,
		DataDir:               "./data",
		OffsetFlushIntervalMs: DefaultOffsetFlushIntervalMs,
	}
}

// Validate reports every problem with c; paths are YAML keys.
func (c Config) Validate() error {
	var p config.Problems
	p.Merge("log", c.Log.Validate())
	p.Merge("http", c.HTTP.Validate())
	p.Merge("memory", c.Memory.Validate())
	p.Merge("kafka", c.Kafka.Validate())
	p.Merge("converters", c.Converters.Validate())
	p.Merge("registry", validateRegistry(c))
	if strings.TrimSpace(c.DataDir) == "" {
		p.Addf("data.dir", "required (a directory for offsets.json)")
	}
	if c.OffsetFlushIntervalMs < 0 {
		p.Addf("offset.flush.interval.ms", "must be 0 (every advance) or positive, got %d", c.OffsetFlushIntervalMs)
	}
	seen := map[string]int{}
	for i, cc := range c.Connectors {
		prefix := fmt.Sprintf("connectors[%d]", i)
		switch {
		case cc.Name == "":
			p.Addf(prefix+".name", "required")
		case !nameRE.MatchString(cc.Name):
			p.Addf(prefix+".name", "name %q may only contain letters, digits, '.', '_' and '-'", cc.Name)
		}
		if cc.Config["connector.class"] == "" {
			p.Addf(prefix+".config", "connector.class is required")
		}
		if n, ok := cc.Config["name"]; ok && n != cc.Name {
			p.Addf(prefix+".config", "name %q differs from the connector's name %q", n, cc.Name)
		}
	}
	for i, s := range c.Sources {
		prefix := fmt.Sprintf("sources[%d]", i)
		p.Merge(prefix, s.Validate())
		if s.Name == "" {
			continue
		}
		if j, dup := seen[s.Name]; dup {
			p.Addf(prefix+".name", "duplicate source name %q (also sources[%d])", s.Name, j)
		} else {
			seen[s.Name] = i
		}
	}
	for i, cc := range c.Connectors {
		if j, dup := seen[cc.Name]; dup && cc.Name != "" {
			p.Addf(fmt.Sprintf("connectors[%d].name", i), "connector name %q is also sources[%d]'s name", cc.Name, j)
		}
	}
	return p.Err()
}

// Validate checks the level and format.
func (l LogConfig) Validate() error {
	var p config.Problems
	if _, err := obs.ParseLevel(l.Level); err != nil || l.Level != strings.ToLower(l.Level) {
		p.Addf("level", "unknown log level %q (want debug, info, warn or error)", l.Level)
	}
	if err := obs.CheckFormat(l.Format); err != nil {
		p.Addf("format", "%v", err)
	}
	return p.Err()
}

// Validate checks that Addr is host:port.
func (h HTTPConfig) Validate() error {
	var p config.Problems
	_, port, err := net.SplitHostPort(h.Addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("bad port %q", port)
		}
	}
	if err != nil {
		p.Addf("addr", "address %q must be host:port or :port", h.Addr)
	}
	return p.Err()
}

// Validate checks both converters.
func (c ConvertersConfig) Validate() error {
	var p config.Problems
	p.Merge("key", c.Key.Validate())
	p.Merge("value", c.Value.Validate())
	return p.Err()
}

// Validate checks the converter type and, for avro, its settings.
func (c ConverterConfig) Validate() error {
	var p config.Problems
	switch c.Type {
	case "json":
		if c.SchemaRegistryURL != "" {
			p.Addf("schema.registry.url", "only applies to type avro (type is json)")
		}
	case "avro":
		p.Merge("", c.Config.Validate())
	default:
		p.Addf("type", "unknown converter %q (want json or avro)", c.Type)
	}
	return p.Err()
}

// Kind returns the connector kind (postgres, mysql, mongodb) named by
// Connector, or "" if it names none.
func (s SourceConfig) Kind() string {
	switch k := strings.ToLower(s.Connector); k {
	case Postgres, MySQL, MongoDB:
		return k
	case "postgresql":
		return Postgres
	case "mongo":
		return MongoDB
	}
	return debeziumClasses[s.Connector]
}

var (
	nameRE   = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	identRE  = regexp.MustCompile(`^[^\s."'` + "`" + `]+$`)
	schemeOf = map[string][]string{
		Postgres: {"postgres", "postgresql"},
		MySQL:    {"mysql"},
		MongoDB:  {"mongodb", "mongodb+srv"},
	}
)

// Validate checks one source. The URL scheme must match the connector; the
// database is not contacted.
func (s SourceConfig) Validate() error {
	var p config.Problems
	switch {
	case s.Name == "":
		p.Addf("name", "required")
	case !nameRE.MatchString(s.Name):
		p.Addf("name", "name %q may only contain letters, digits, '.', '_' and '-'", s.Name)
	}
	kind := s.Kind()
	if kind == "" {
		if s.Connector == "" {
			p.Addf("connector", "required (postgres, mysql or mongodb)")
		} else {
			p.Addf("connector", "unknown connector %q (want postgres, mysql or mongodb)", s.Connector)
		}
	}
	switch {
	case s.TopicPrefix == "":
		p.Addf("topic.prefix", "required")
	case !nameRE.MatchString(s.TopicPrefix):
		p.Addf("topic.prefix", "topic prefix %q may only contain letters, digits, '.', '_' and '-'", s.TopicPrefix)
	}
	if s.URL == "" {
		p.Addf("url", "required")
	} else if kind != "" {
		scheme, _, ok := strings.Cut(s.URL, "://")
		if !ok || !contains(schemeOf[kind], strings.ToLower(scheme)) {
			// Never echo the URL: it usually holds a password.
			p.Addf("url", "must be a %s:// URL for connector %s", schemeOf[kind][0], kind)
		}
	}
	seen := map[string]bool{}
	for i, t := range s.Tables {
		path := fmt.Sprintf("tables[%d]", i)
		if !validTable(kind, t) {
			p.Addf(path, "%s", tableRule(kind))
			continue
		}
		if seen[t] {
			p.Addf(path, "duplicate table %q", t)
		}
		seen[t] = true
	}
	if kind == Postgres {
		p.Merge("postgres", s.Postgres.Validate())
	}
	if kind == MySQL {
		p.Merge("mysql", s.MySQL.Validate())
	}
	if kind == MongoDB {
		p.Merge("mongodb", s.MongoDB.Validate())
	}
	p.Merge("outbox", validateOutbox(s))
	switch s.ErrorsTolerance {
	case "", ToleranceNone:
	case ToleranceAll:
		if s.ErrorsDeadLetterQueueTopic == "" {
			p.Addf("errors.deadletterqueue.topic.name", "required when errors.tolerance is all")
		}
	default:
		p.Addf("errors.tolerance", "unknown tolerance %q (want none or all)", s.ErrorsTolerance)
	}
	if t := s.ErrorsDeadLetterQueueTopic; t != "" && (!nameRE.MatchString(t) || t == "." || t == ".." || len(t) > 249) {
		p.Addf("errors.deadletterqueue.topic.name", "topic %q must be 1 to 249 letters, digits, '.', '_' and '-'", t)
	}
	return p.Err()
}

// validTable checks a qualified table name. MongoDB collection names may
// themselves contain dots, so only the first dot separates the database.
func validTable(kind, t string) bool {
	var first, rest string
	var ok bool
	if kind == MongoDB {
		first, rest, ok = strings.Cut(t, ".")
		return ok && identRE.MatchString(first) && rest != "" && !strings.ContainsAny(rest, " \t\n$")
	}
	first, rest, ok = strings.Cut(t, ".")
	return ok && identRE.MatchString(first) && identRE.MatchString(rest)
}

func tableRule(kind string) string {
	switch kind {
	case MongoDB:
		return "collection name must be db.collection"
	case MySQL:
		return "table name must be database.table"
	}
	return "table name must be schema.table"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
