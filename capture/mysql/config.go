package mysql

import (
	"fmt"
	"hash/fnv"
	"net"
	"regexp"
	"strings"

	"github.com/sluice-cdc/sluice/config"
)

// Snapshot modes (snapshot.mode).
const (
	SnapshotInitial     = "initial"      // snapshot when no position is stored, then stream
	SnapshotInitialOnly = "initial_only" // snapshot when no position is stored, then stop
	SnapshotNoData      = "no_data"      // never snapshot rows; stream from the current binlog end
	SnapshotAlways      = "always"       // snapshot on every start, then stream
	// SnapshotWhenNeeded snapshots when no position is stored or when the
	// binlog after the stored position has been purged, then streams.
	SnapshotWhenNeeded = "when_needed"
)

// Snapshot locking modes (snapshot.locking.mode).
const (
	LockingMinimal = "minimal" // a global read lock only while the binlog position is read
	LockingNone    = "none"    // no lock: the snapshot and its position may disagree
)

// List is config.List: a YAML sequence or a comma-separated string, as in
// a Debezium properties file.
type List = config.List

// Config holds the Debezium MySQL connector keys Sluice supports, spelled as
// in Debezium. It lives in the mysql: block of a source in sluice.yaml.
// tombstones.on.delete is handled by the wiring, not here.
type Config struct {
	// ServerID is the replica server id the connector registers with
	// (database.server.id). 0 picks a stable id from the connector name in
	// 5400..6399, Debezium's default range.
	ServerID            uint32 `yaml:"database.server.id" json:"database.server.id"`
	DatabaseIncludeList List   `yaml:"database.include.list" json:"database.include.list"`
	DatabaseExcludeList List   `yaml:"database.exclude.list" json:"database.exclude.list"`
	TableIncludeList    List   `yaml:"table.include.list" json:"table.include.list"`
	TableExcludeList    List   `yaml:"table.exclude.list" json:"table.exclude.list"`
	SnapshotMode        string `yaml:"snapshot.mode" json:"snapshot.mode"`
	SnapshotLockingMode string `yaml:"snapshot.locking.mode" json:"snapshot.locking.mode"`
	DecimalHandlingMode string `yaml:"decimal.handling.mode" json:"decimal.handling.mode"`
	TimePrecisionMode   string `yaml:"time.precision.mode" json:"time.precision.mode"`
	BinaryHandlingMode  string `yaml:"binary.handling.mode" json:"binary.handling.mode"`
	BigintUnsignedMode  string `yaml:"bigint.unsigned.handling.mode" json:"bigint.unsigned.handling.mode"`
	// IncludeQuery fills source.query with the statement that changed the
	// row (MariaDB annotate-rows events, MySQL rows-query events).
	IncludeQuery bool `yaml:"include.query" json:"include.query"`
	MaxBatchSize int  `yaml:"max.batch.size" json:"max.batch.size"`
	// HeartbeatIntervalMs, when positive, makes the stream emit a
	// heartbeat record to __debezium-heartbeat.<topic.prefix> at that
	// interval while it is between transactions, carrying the current
	// position (heartbeat.interval.ms; 0, Debezium's default, disables it).
	HeartbeatIntervalMs int `yaml:"heartbeat.interval.ms" json:"heartbeat.interval.ms"`
	// SchemaHistoryFile is the schema history file
	// (schema.history.internal.file.filename, as Debezium's
	// FileSchemaHistory). Options.History, when set, takes precedence.
	SchemaHistoryFile string `yaml:"schema.history.internal.file.filename" json:"schema.history.internal.file.filename"`
	// SchemaHistoryKafkaTopic keeps the schema history in this Kafka topic
	// instead of a file (schema.history.internal.kafka.topic, as
	// Debezium's KafkaSchemaHistory). This package does not use it: the
	// wiring (internal/daemon) builds the Kafka store and passes it in
	// Options.History.
	SchemaHistoryKafkaTopic string `yaml:"schema.history.internal.kafka.topic" json:"schema.history.internal.kafka.topic"`
	// SchemaHistoryKafkaBrokers are the bootstrap servers of the history
	// topic (schema.history.internal.kafka.bootstrap.servers); empty means
	// the Kafka the events go to.
	SchemaHistoryKafkaBrokers List `yaml:"schema.history.internal.kafka.bootstrap.servers" json:"schema.history.internal.kafka.bootstrap.servers"`
	// IncludeSchemaChanges publishes a schema change event to
	// <topic.prefix> for every DDL statement applied to a table of a
	// captured database, and for the table definitions a snapshot reads
	// (include.schema.changes; true in DefaultConfig as in Debezium, but
	// a Config literal that leaves it false turns them off).
	IncludeSchemaChanges bool `yaml:"include.schema.changes" json:"include.schema.changes"`
	// SnapshotFetchSize is the number of rows the snapshot reads per
	// chunk, in primary-key order (snapshot.fetch.size; 0 means 10240).
	// Progress is saved per acknowledged chunk, so a crash mid-snapshot
	// resumes after the last chunk Kafka has.
	SnapshotFetchSize int `yaml:"snapshot.fetch.size" json:"snapshot.fetch.size"`
}

// DefaultSnapshotFetchSize is snapshot.fetch.size when it is not set.
const DefaultSnapshotFetchSize = 10240

// DefaultConfig returns Debezium's defaults for every supported key.
func DefaultConfig() Config {
	return Config{
		SnapshotMode:         SnapshotInitial,
		SnapshotLockingMode:  LockingMinimal,
		DecimalHandlingMode:  "precise",
		TimePrecisionMode:    "adaptive_time_microseconds",
		BinaryHandlingMode:   "bytes",
		BigintUnsignedMode:   "long",
		MaxBatchSize:         2048,
		IncludeSchemaChanges: true,
		SnapshotFetchSize:    DefaultSnapshotFetchSize,
	}
}

// withDefaults fills the keys left at their zero value (a Config built in
// Go rather than decoded over DefaultConfig) with Debezium's defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *string }{
		{&c.SnapshotMode, &d.SnapshotMode},
		{&c.SnapshotLockingMode, &d.SnapshotLockingMode},
		{&c.DecimalHandlingMode, &d.DecimalHandlingMode},
		{&c.TimePrecisionMode, &d.TimePrecisionMode},
		{&c.BinaryHandlingMode, &d.BinaryHandlingMode},
		{&c.BigintUnsignedMode, &d.BigintUnsignedMode},
	} {
		if *f.v == "" {
			*f.v = *f.def
		}
	}
	if c.MaxBatchSize == 0 {
		c.MaxBatchSize = d.MaxBatchSize
	}
	if c.SnapshotFetchSize == 0 {
		c.SnapshotFetchSize = d.SnapshotFetchSize
	}
	return c
}

// Validate reports every problem with c; paths are YAML keys relative to the
// mysql: block. Keys left at their zero value mean Debezium's default.
func (c Config) Validate() error {
	c = c.withDefaults()
	var p config.Problems
	for _, l := range []struct {
		key  string
		list List
	}{
		{"database.include.list", c.DatabaseIncludeList},
		{"database.exclude.list", c.DatabaseExcludeList},
		{"table.include.list", c.TableIncludeList},
		{"table.exclude.list", c.TableExcludeList},
	} {
		for i, s := range l.list {
			if _, err := compileAnchored(s); err != nil {
				p.Addf(fmt.Sprintf("%s[%d]", l.key, i), "bad regular expression %q: %v", s, err)
			}
		}
	}
	if len(c.DatabaseIncludeList) > 0 && len(c.DatabaseExcludeList) > 0 {
		p.Addf("database.exclude.list", "cannot be used together with database.include.list")
	}
	if len(c.TableIncludeList) > 0 && len(c.TableExcludeList) > 0 {
		p.Addf("table.exclude.list", "cannot be used together with table.include.list")
	}
	switch c.SnapshotMode {
	case SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotAlways, SnapshotWhenNeeded:
	case "never", "schema_only":
		p.Addf("snapshot.mode", "%q was renamed \"no_data\" in Debezium 2.x; use no_data", c.SnapshotMode)
	default:
		p.Addf("snapshot.mode", "unknown or unsupported mode %q (want initial, initial_only, no_data, always or when_needed)", c.SnapshotMode)
	}
	switch c.SnapshotLockingMode {
	case LockingMinimal, LockingNone:
	default:
		p.Addf("snapshot.locking.mode", "unknown or unsupported mode %q (want minimal or none)", c.SnapshotLockingMode)
	}
	if _, err := c.TypeOptions(); err != nil {
		if fe, ok := err.(*optionError); ok {
			p.Addf(fe.key, "%s", fe.msg)
		}
	}
	if c.MaxBatchSize <= 0 {
		p.Addf("max.batch.size", "must be positive, got %d", c.MaxBatchSize)
	}
	if c.SnapshotFetchSize < 0 {
		p.Addf("snapshot.fetch.size", "must be positive, got %d", c.SnapshotFetchSize)
	}
	if c.SchemaHistoryKafkaTopic != "" && c.SchemaHistoryFile != "" {
		p.Addf("schema.history.internal.kafka.topic", "cannot be used together with schema.history.internal.file.filename")
	}
	if len(c.SchemaHistoryKafkaBrokers) > 0 && c.SchemaHistoryKafkaTopic == "" {
		p.Addf("schema.history.internal.kafka.bootstrap.servers", "needs schema.history.internal.kafka.topic")
	}
	for i, b := range c.SchemaHistoryKafkaBrokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			p.Addf(fmt.Sprintf("schema.history.internal.kafka.bootstrap.servers[%d]", i), "want host:port, got %q", b)
		}
	}
	if c.HeartbeatIntervalMs < 0 {
		p.Addf("heartbeat.interval.ms", "must not be negative, got %d", c.HeartbeatIntervalMs)
	}
	return p.Err()
}

// serverID returns database.server.id, or a stable id in 5400..6399 derived
// from the connector name when it is 0.
func (c Config) serverID(name string) uint32 {
	if c.ServerID != 0 {
		return c.ServerID
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return 5400 + h.Sum32()%1000
}

type optionError struct{ key, msg string }

func (e *optionError) Error() string { return e.key + ": " + e.msg }

// TypeOptions returns the value-conversion options c selects.
func (c Config) TypeOptions() (TypeOptions, error) {
	c = c.withDefaults()
	var o TypeOptions
	switch c.DecimalHandlingMode {
	case "precise":
		o.Decimal = DecimalPrecise
	case "double":
		o.Decimal = DecimalDouble
	case "string":
		o.Decimal = DecimalString
	default:
		return o, &optionError{"decimal.handling.mode", fmt.Sprintf("unknown mode %q (want precise, double or string)", c.DecimalHandlingMode)}
	}
	switch c.TimePrecisionMode {
	case "adaptive_time_microseconds":
		o.Time = TimeAdaptiveMicros
	case "connect":
		o.Time = TimeConnect
	case "adaptive":
		return o, &optionError{"time.precision.mode", "\"adaptive\" is not supported by Debezium's MySQL connector; use adaptive_time_microseconds or connect"}
	default:
		return o, &optionError{"time.precision.mode", fmt.Sprintf("unknown mode %q (want adaptive_time_microseconds or connect)", c.TimePrecisionMode)}
	}
	switch c.BinaryHandlingMode {
	case "bytes":
		o.Binary = BinaryBytes
	case "base64":
		o.Binary = BinaryBase64
	case "base64-url-safe":
		o.Binary = BinaryBase64URL
	case "hex":
		o.Binary = BinaryHex
	default:
		return o, &optionError{"binary.handling.mode", fmt.Sprintf("unknown mode %q (want bytes, base64, base64-url-safe or hex)", c.BinaryHandlingMode)}
	}
	switch c.BigintUnsignedMode {
	case "long":
		o.BigintPrecise = false
	case "precise":
		o.BigintPrecise = true
	default:
		return o, &optionError{"bigint.unsigned.handling.mode", fmt.Sprintf("unknown mode %q (want long or precise)", c.BigintUnsignedMode)}
	}
	return o, nil
}

// compileAnchored compiles a Debezium include/exclude expression, which must
// match the whole identifier.
func compileAnchored(s string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + s + `)$`)
}

// filter decides which tables are captured.
type filter struct {
	tables             map[string]bool // explicit db.table list from sluice.yaml
	dbInc, dbExc       []*regexp.Regexp
	tableInc, tableExc []*regexp.Regexp
}

func newFilter(c Config, tables []string) (*filter, error) {
	f := &filter{}
	if len(tables) > 0 {
		f.tables = map[string]bool{}
		for _, t := range tables {
			f.tables[t] = true
		}
	}
	var err error
	comp := func(l List) []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, s := range l {
			re, e := compileAnchored(s)
			if e != nil && err == nil {
				err = e
			}
			out = append(out, re)
		}
		return out
	}
	f.dbInc, f.dbExc = comp(c.DatabaseIncludeList), comp(c.DatabaseExcludeList)
	f.tableInc, f.tableExc = comp(c.TableIncludeList), comp(c.TableExcludeList)
	return f, err
}

// systemDatabases are never captured.
var systemDatabases = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}

// database reports whether tables of db may be captured.
func (f *filter) database(db string) bool {
	if systemDatabases[db] {
		return false
	}
	if f.tables != nil {
		for t := range f.tables {
			if d, _, _ := strings.Cut(t, "."); d == db {
				return true
			}
		}
		return false
	}
	return matchLists(db, f.dbInc, f.dbExc)
}

// table reports whether db.table is captured.
func (f *filter) table(db, table string) bool {
	if !f.database(db) {
		return false
	}
	id := db + "." + table
	if f.tables != nil {
		return f.tables[id]
	}
	return matchLists(id, f.tableInc, f.tableExc)
}

func matchLists(s string, inc, exc []*regexp.Regexp) bool {
	if len(inc) > 0 {
		for _, re := range inc {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	}
	for _, re := range exc {
		if re.MatchString(s) {
			return false
		}
	}
	return true
}
