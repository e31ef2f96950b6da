package postgres

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/sluice-cdc/sluice/config"
)

// Snapshot modes (snapshot.mode).
const (
	SnapshotInitial     = "initial"      // snapshot when no position is stored, then stream
	SnapshotInitialOnly = "initial_only" // snapshot when no position is stored, then stop
	SnapshotNoData      = "no_data"      // never snapshot rows; stream only
	SnapshotAlways      = "always"       // snapshot on every start, then stream
	SnapshotWhenNeeded  = "when_needed"  // snapshot when no position is stored or the slot is gone
)

// Publication autocreate modes (publication.autocreate.mode).
const (
	PublicationAllTables = "all_tables" // CREATE PUBLICATION ... FOR ALL TABLES
	PublicationFiltered  = "filtered"   // FOR TABLE <the captured tables>
	PublicationDisabled  = "disabled"   // the publication must exist
)

// DefaultUnavailableValue is Debezium's unavailable.value.placeholder default,
// written in place of unchanged TOASTed values.
const DefaultUnavailableValue = "__debezium_unavailable_value"

// List is config.List: a YAML sequence or a comma-separated string, as in
// a Debezium properties file.
type List = config.List

// Config holds the Debezium PostgreSQL connector keys Sluice supports, spelled
// as in Debezium. It lives in the postgres: block of a source in sluice.yaml.
// tombstones.on.delete is handled by the wiring, not here.
type Config struct {
	SlotName               string `yaml:"slot.name" json:"slot.name"`
	PublicationName        string `yaml:"publication.name" json:"publication.name"`
	PublicationAutocreate  string `yaml:"publication.autocreate.mode" json:"publication.autocreate.mode"`
	TableIncludeList       List   `yaml:"table.include.list" json:"table.include.list"`
	TableExcludeList       List   `yaml:"table.exclude.list" json:"table.exclude.list"`
	ColumnIncludeList      List   `yaml:"column.include.list" json:"column.include.list"`
	ColumnExcludeList      List   `yaml:"column.exclude.list" json:"column.exclude.list"`
	SnapshotMode           string `yaml:"snapshot.mode" json:"snapshot.mode"`
	SnapshotFetchSize      int    `yaml:"snapshot.fetch.size" json:"snapshot.fetch.size"`
	SnapshotMaxThreads     int    `yaml:"snapshot.max.threads" json:"snapshot.max.threads"`
	HeartbeatIntervalMs    int    `yaml:"heartbeat.interval.ms" json:"heartbeat.interval.ms"`
	HeartbeatActionQuery   string `yaml:"heartbeat.action.query" json:"heartbeat.action.query"`
	DecimalHandlingMode    string `yaml:"decimal.handling.mode" json:"decimal.handling.mode"`
	TimePrecisionMode      string `yaml:"time.precision.mode" json:"time.precision.mode"`
	BinaryHandlingMode     string `yaml:"binary.handling.mode" json:"binary.handling.mode"`
	IntervalHandlingMode   string `yaml:"interval.handling.mode" json:"interval.handling.mode"`
	HStoreHandlingMode     string `yaml:"hstore.handling.mode" json:"hstore.handling.mode"`
	MoneyFractionDigits    int    `yaml:"money.fraction.digits" json:"money.fraction.digits"`
	ProvideTxMetadata      bool   `yaml:"provide.transaction.metadata" json:"provide.transaction.metadata"`
	MaxBatchSize           int    `yaml:"max.batch.size" json:"max.batch.size"`
	MaxQueueSize           int    `yaml:"max.queue.size" json:"max.queue.size"`
	UnavailableValue       string `yaml:"unavailable.value.placeholder" json:"unavailable.value.placeholder"`
	StatusUpdateIntervalMs int    `yaml:"status.update.interval.ms" json:"status.update.interval.ms"`
	ProtoVersion           int    `yaml:"proto.version" json:"proto.version"`
	// SkippedOperations lists the change operations not emitted: c, u, d,
	// t, or none. Debezium's default is t (truncates are skipped).
	SkippedOperations List `yaml:"skipped.operations" json:"skipped.operations"`
}

// DefaultConfig returns Debezium's defaults for every supported key.
func DefaultConfig() Config {
	return Config{
		SlotName:               "debezium",
		PublicationName:        "dbz_publication",
		PublicationAutocreate:  PublicationAllTables,
		SnapshotMode:           SnapshotInitial,
		SnapshotFetchSize:      10240,
		SnapshotMaxThreads:     1,
		DecimalHandlingMode:    "precise",
		TimePrecisionMode:      "adaptive",
		BinaryHandlingMode:     "bytes",
		IntervalHandlingMode:   "numeric",
		HStoreHandlingMode:     "json",
		MoneyFractionDigits:    2,
		MaxBatchSize:           2048,
		MaxQueueSize:           8192,
		UnavailableValue:       DefaultUnavailableValue,
		StatusUpdateIntervalMs: 10000,
		ProtoVersion:           1,
		SkippedOperations:      List{"t"},
	}
}

// identRE is what Postgres accepts as an unquoted replication slot name
// (lower-case letters, digits, underscore; at most 63 bytes).
var identRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// Validate reports every problem with c; paths are YAML keys relative to the
// postgres: block.
func (c Config) Validate() error {
	var p config.Problems
	if !identRE.MatchString(c.SlotName) {
		p.Addf("slot.name", "%q is not a valid slot name (lower-case letters, digits and underscores, at most 63)", c.SlotName)
	}
	if c.PublicationName == "" || len(c.PublicationName) > 63 {
		p.Addf("publication.name", "must be 1 to 63 characters, got %q", c.PublicationName)
	}
	switch c.PublicationAutocreate {
	case PublicationAllTables, PublicationFiltered, PublicationDisabled:
	default:
		p.Addf("publication.autocreate.mode", "unknown mode %q (want all_tables, filtered or disabled)", c.PublicationAutocreate)
	}
	checkRegexps(&p, "table.include.list", c.TableIncludeList)
	checkRegexps(&p, "table.exclude.list", c.TableExcludeList)
	checkRegexps(&p, "column.include.list", c.ColumnIncludeList)
	checkRegexps(&p, "column.exclude.list", c.ColumnExcludeList)
	if len(c.TableIncludeList) > 0 && len(c.TableExcludeList) > 0 {
		p.Addf("table.exclude.list", "cannot be used together with table.include.list")
	}
	if len(c.ColumnIncludeList) > 0 && len(c.ColumnExcludeList) > 0 {
		p.Addf("column.exclude.list", "cannot be used together with column.include.list")
	}
	switch c.SnapshotMode {
	case SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotAlways, SnapshotWhenNeeded:
	case "never":
		p.Addf("snapshot.mode", "\"never\" was renamed \"no_data\" in Debezium 2.x; use no_data")
	default:
		p.Addf("snapshot.mode", "unknown mode %q (want initial, initial_only, no_data, always or when_needed)", c.SnapshotMode)
	}
	if c.SnapshotFetchSize <= 0 {
		p.Addf("snapshot.fetch.size", "must be positive, got %d", c.SnapshotFetchSize)
	}
	if c.SnapshotMaxThreads <= 0 {
		p.Addf("snapshot.max.threads", "must be positive, got %d", c.SnapshotMaxThreads)
	}
	if c.HeartbeatIntervalMs < 0 {
		p.Addf("heartbeat.interval.ms", "must not be negative, got %d", c.HeartbeatIntervalMs)
	}
	if c.HeartbeatActionQuery != "" && c.HeartbeatIntervalMs == 0 {
		p.Addf("heartbeat.action.query", "has no effect while heartbeat.interval.ms is 0")
	}
	opts := DefaultTypeOptions()
	for _, kv := range c.typeSettings() {
		if _, err := opts.Set(kv[0], kv[1]); err != nil {
			p.Addf(kv[0], "invalid value %q", kv[1])
		}
	}
	if c.MaxBatchSize <= 0 {
		p.Addf("max.batch.size", "must be positive, got %d", c.MaxBatchSize)
	}
	if c.MaxQueueSize <= c.MaxBatchSize {
		// Debezium requires max.queue.size > max.batch.size.
		p.Addf("max.queue.size", "must be larger than max.batch.size (%d), got %d", c.MaxBatchSize, c.MaxQueueSize)
	}
	if c.StatusUpdateIntervalMs <= 0 {
		p.Addf("status.update.interval.ms", "must be positive, got %d", c.StatusUpdateIntervalMs)
	}
	if c.ProtoVersion != 1 && c.ProtoVersion != 2 {
		p.Addf("proto.version", "must be 1 or 2, got %d", c.ProtoVersion)
	}
	for i, op := range c.SkippedOperations {
		switch op {
		case "c", "u", "d", "t":
		case "none":
			if len(c.SkippedOperations) > 1 {
				p.Addf(fmt.Sprintf("skipped.operations[%d]", i), "\"none\" cannot be combined with other operations")
			}
		default:
			p.Addf(fmt.Sprintf("skipped.operations[%d]", i), "unknown operation %q (want c, u, d, t or none)", op)
		}
	}
	return p.Err()
}

// skipped reports whether skipped.operations drops change events of op.
func (c Config) skipped(op byte) bool {
	for _, s := range c.SkippedOperations {
		if len(s) == 1 && s[0] == op {
			return true
		}
	}
	return false
}

// typeSettings returns the value-conversion keys as TypeOptions.Set takes them.
func (c Config) typeSettings() [][2]string {
	return [][2]string{
		{"decimal.handling.mode", c.DecimalHandlingMode},
		{"time.precision.mode", c.TimePrecisionMode},
		{"binary.handling.mode", c.BinaryHandlingMode},
		{"interval.handling.mode", c.IntervalHandlingMode},
		{"hstore.handling.mode", c.HStoreHandlingMode},
		{"money.fraction.digits", strconv.Itoa(c.MoneyFractionDigits)},
	}
}

// TypeOptions returns the value-conversion options c selects.
func (c Config) TypeOptions() (TypeOptions, error) {
	opts := DefaultTypeOptions()
	for _, kv := range c.typeSettings() {
		if _, err := opts.Set(kv[0], kv[1]); err != nil {
			return opts, err
		}
	}
	return opts, nil
}

func checkRegexps(p *config.Problems, key string, list List) {
	for i, s := range list {
		if _, err := compileAnchored(s); err != nil {
			p.Addf(fmt.Sprintf("%s[%d]", key, i), "bad regular expression %q: %v", s, err)
		}
	}
}

// compileAnchored compiles a Debezium include/exclude expression, which must
// match the whole identifier.
func compileAnchored(s string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + s + `)$`)
}

// filter matches identifiers against include/exclude expression lists.
type filter struct {
	include, exclude []*regexp.Regexp
}

func newFilter(include, exclude List) (filter, error) {
	var f filter
	for _, s := range include {
		re, err := compileAnchored(s)
		if err != nil {
			return f, err
		}
		f.include = append(f.include, re)
	}
	for _, s := range exclude {
		re, err := compileAnchored(s)
		if err != nil {
			return f, err
		}
		f.exclude = append(f.exclude, re)
	}
	return f, nil
}

// match reports whether id is captured: it matches an include expression
// (or there are none) and no exclude expression.
func (f filter) match(id string) bool {
	if len(f.include) > 0 {
		ok := false
		for _, re := range f.include {
			if re.MatchString(id) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, re := range f.exclude {
		if re.MatchString(id) {
			return false
		}
	}
	return true
}
