package jdbc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Insert modes (insert.mode).
const (
	InsertModeInsert = "insert"
	InsertModeUpsert = "upsert"
	InsertModeUpdate = "update"
)

// Primary key modes (pk.mode).
const (
	PKModeNone        = "none"
	PKModeKafka       = "kafka"
	PKModeRecordKey   = "record_key"
	PKModeRecordValue = "record_value"
)

// Config is the parsed configuration of a JDBC sink.
type Config struct {
	URL              string
	User             string
	Password         string
	InsertMode       string
	PKMode           string
	PKFields         []string
	DeleteEnabled    bool
	AutoCreate       bool
	AutoEvolve       bool
	TableNameFormat  string
	FieldsWhitelist  []string
	BatchSize        int
	DBTimezone       *time.Location
	QuoteIdentifiers bool
}

// Key describes one configuration key, for the runtime's plugin registry.
type Key struct {
	Name    string
	Type    string // string, int, boolean, list, password
	Default string // "" when none
	Doc     string
}

// ConfigKeys lists the keys New understands, in the order of Confluent's
// documentation.
func ConfigKeys() []Key {
	return []Key{
		{"connection.url", "string", "", "JDBC URL (jdbc:postgresql://host:port/db, jdbc:mysql://…, jdbc:mariadb://…, jdbc:sqlite:/path/file.db) or native DSN (postgres://…, mysql://user:pass@host:port/db, user:pass@tcp(host:port)/db, file:/path.db)"},
		{"connection.user", "string", "", "user name; overrides one in the URL"},
		{"connection.password", "password", "", "password; overrides one in the URL"},
		{"insert.mode", "string", InsertModeInsert, "insert, upsert (idempotent; needs a primary key) or update"},
		{"pk.mode", "string", PKModeNone, "none, kafka (__connect_topic, __connect_partition, __connect_offset: the record's original coordinates), record_key or record_value"},
		{"pk.fields", "list", "", "primary key columns: with record_key the key fields (all when empty) or the column name of a primitive key (default __connect_key); with record_value the value fields (all when empty); with kafka three column names"},
		{"delete.enabled", "boolean", "false", "delete rows on tombstones and Debezium op d records; needs pk.mode=record_key"},
		{"auto.create", "boolean", "false", "create missing tables from the record schemas"},
		{"auto.evolve", "boolean", "false", "add columns for new optional fields"},
		{"table.name.format", "string", "${topic}", "table name; ${topic} is replaced by the record's topic; dots written in the format (not in the topic) qualify the table with a schema"},
		{"fields.whitelist", "list", "", "value fields to write (all when empty); pk fields are always written"},
		{"fields.include", "list", "", "alias of fields.whitelist"},
		{"batch.size", "int", "3000", "maximum rows per statement"},
		{"db.timezone", "string", "UTC", "time zone of columns without time zone (wall-clock timestamps)"},
		{"quote.sql.identifiers", "string", "always", "always or never"},
	}
}

// ParseConfig parses and validates a JDBC sink configuration. Unknown keys
// are ignored (the runtime passes connector-level keys too).
func ParseConfig(m map[string]string) (Config, error) {
	c := Config{
		URL:              strings.TrimSpace(m["connection.url"]),
		User:             m["connection.user"],
		Password:         m["connection.password"],
		InsertMode:       strings.ToLower(strings.TrimSpace(get(m, "insert.mode", InsertModeInsert))),
		PKMode:           strings.ToLower(strings.TrimSpace(get(m, "pk.mode", PKModeNone))),
		PKFields:         list(m["pk.fields"]),
		TableNameFormat:  get(m, "table.name.format", "${topic}"),
		FieldsWhitelist:  list(m["fields.whitelist"]),
		BatchSize:        3000,
		DBTimezone:       time.UTC,
		QuoteIdentifiers: true,
	}
	if c.URL == "" {
		return c, errors.New("jdbc sink: connection.url is required")
	}
	if inc := list(m["fields.include"]); len(inc) > 0 {
		c.FieldsWhitelist = append(c.FieldsWhitelist, inc...)
	}
	var err error
	for _, b := range []struct {
		key string
		dst *bool
	}{{"delete.enabled", &c.DeleteEnabled}, {"auto.create", &c.AutoCreate}, {"auto.evolve", &c.AutoEvolve}} {
		if v, ok := m[b.key]; ok && strings.TrimSpace(v) != "" {
			if *b.dst, err = strconv.ParseBool(strings.TrimSpace(v)); err != nil {
				return c, fmt.Errorf("jdbc sink: %s: %q is not a boolean", b.key, v)
			}
		}
	}
	if v := strings.TrimSpace(m["batch.size"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("jdbc sink: batch.size: %q is not a positive integer", v)
		}
		c.BatchSize = n
	}
	if v := strings.TrimSpace(m["db.timezone"]); v != "" {
		loc, err := time.LoadLocation(v)
		if err != nil {
			return c, fmt.Errorf("jdbc sink: db.timezone: %w", err)
		}
		c.DBTimezone = loc
	}
	switch v := strings.ToLower(strings.TrimSpace(get(m, "quote.sql.identifiers", "always"))); v {
	case "always":
	case "never":
		c.QuoteIdentifiers = false
	default:
		return c, fmt.Errorf("jdbc sink: quote.sql.identifiers: %q is not always or never", v)
	}
	return c, c.Validate()
}

// Validate checks the combinations Confluent's sink refuses.
func (c Config) Validate() error {
	switch c.InsertMode {
	case InsertModeInsert, InsertModeUpsert, InsertModeUpdate:
	default:
		return fmt.Errorf("jdbc sink: insert.mode: %q is not insert, upsert or update", c.InsertMode)
	}
	switch c.PKMode {
	case PKModeNone, PKModeKafka, PKModeRecordKey, PKModeRecordValue:
	default:
		return fmt.Errorf("jdbc sink: pk.mode: %q is not none, kafka, record_key or record_value", c.PKMode)
	}
	if c.PKMode == PKModeNone && c.InsertMode != InsertModeInsert {
		return fmt.Errorf("jdbc sink: insert.mode %s needs a primary key (pk.mode is none)", c.InsertMode)
	}
	if c.PKMode == PKModeKafka && len(c.PKFields) != 0 && len(c.PKFields) != 3 {
		return fmt.Errorf("jdbc sink: pk.fields: pk.mode kafka needs three names (topic, partition, offset), got %d", len(c.PKFields))
	}
	if c.PKMode == PKModeNone && len(c.PKFields) != 0 {
		return errors.New("jdbc sink: pk.fields is set but pk.mode is none")
	}
	if c.DeleteEnabled && c.PKMode != PKModeRecordKey {
		return fmt.Errorf("jdbc sink: delete.enabled needs pk.mode record_key, not %s", c.PKMode)
	}
	if n := strings.Count(c.TableNameFormat, "."); n > 1 && strings.Count(strings.ReplaceAll(c.TableNameFormat, "${topic}", ""), ".") > 1 {
		return fmt.Errorf("jdbc sink: table.name.format %q: at most one qualifying dot (schema.table)", c.TableNameFormat)
	}
	if c.BatchSize < 1 {
		return errors.New("jdbc sink: batch.size must be positive")
	}
	return nil
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
