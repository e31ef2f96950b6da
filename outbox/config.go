package outbox

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sluice-cdc/sluice/config"
)

// Debezium's class names for the router, accepted wherever a Connect-style
// transforms list names a transform's type.
const (
	EventRouterClass      = "io.debezium.transforms.outbox.EventRouter"
	MongoEventRouterClass = "io.debezium.connector.mongodb.transforms.outbox.MongoEventRouter"
)

// Defaults of the EventRouter keys (EventRouterConfigDefinition).
const (
	DefaultFieldEventID          = "id"
	DefaultFieldEventKey         = "aggregateid"
	DefaultFieldEventType        = "type"
	DefaultFieldEventPayload     = "payload"
	DefaultRouteByField          = "aggregatetype"
	DefaultRouteTopicRegex       = "(?<routedByValue>.*)"
	DefaultRouteTopicReplacement = "outbox.event.${routedByValue}"
	// DefaultMessagePrefix is the logical decoding message prefix the
	// writer library emits with and Sluice routes when message.prefix is
	// not set.
	DefaultMessagePrefix = "outbox"
)

// Behaviours for table.op.invalid.behavior (an update of an outbox row).
const (
	InvalidWarn  = "warn"
	InvalidError = "error"
	InvalidFatal = "fatal"
)

// Behaviours for table.json.payload.null.behavior and
// table.json.payload.empty.array.behavior.
const (
	NullIgnore        = "ignore"
	NullOptionalBytes = "optional_bytes"

	EmptyArrayIgnore         = "ignore"
	EmptyArrayOptionalString = "optional_string"
)

// Placements of table.fields.additional.placement.
const (
	PlaceHeader    = "header"
	PlaceEnvelope  = "envelope"
	PlacePartition = "partition"
)

// Config holds Debezium's Outbox Event Router keys, spelled as in Debezium,
// plus the two Sluice keys that say which events are outbox events: table
// and message.prefix. It lives in the outbox: block of a source in
// sluice.yaml. Empty strings mean the Debezium default, so a block decoded
// from its zero value is a valid default configuration.
type Config struct {
	// Table is the outbox table, schema.table (database.table for MySQL).
	// Its change events are routed instead of being published as CDC
	// events. Empty routes no table.
	Table string `yaml:"table" json:"table"`
	// MessagePrefix is the prefix of the logical decoding messages
	// (pg_logical_emit_message) routed as outbox events; messages with any
	// other prefix stay ordinary op=m events. Empty means "outbox"; "-"
	// routes no messages.
	MessagePrefix string `yaml:"message.prefix" json:"message.prefix"`

	FieldEventID        string `yaml:"table.field.event.id" json:"table.field.event.id"`
	FieldEventKey       string `yaml:"table.field.event.key" json:"table.field.event.key"`
	FieldEventType      string `yaml:"table.field.event.type" json:"table.field.event.type"`
	FieldEventPayload   string `yaml:"table.field.event.payload" json:"table.field.event.payload"`
	FieldEventTimestamp string `yaml:"table.field.event.timestamp" json:"table.field.event.timestamp"`
	// FieldSchemaVersion names an int32 column whose value becomes the
	// version of the value schema (envelope placement only).
	FieldSchemaVersion string `yaml:"table.field.event.schema.version" json:"table.field.event.schema.version"`
	// FieldsAdditionalPlacement is a comma-separated list of
	// column:header|envelope|partition[:alias].
	FieldsAdditionalPlacement string `yaml:"table.fields.additional.placement" json:"table.fields.additional.placement"`
	// FieldAdditionalMissing is error (default) or ignore: what to do when
	// an additional column is missing from a row.
	FieldAdditionalMissing string `yaml:"table.field.additional.missing" json:"table.field.additional.missing"`

	RouteByField                 string `yaml:"route.by.field" json:"route.by.field"`
	RouteTopicRegex              string `yaml:"route.topic.regex" json:"route.topic.regex"`
	RouteTopicReplacement        string `yaml:"route.topic.replacement" json:"route.topic.replacement"`
	RouteTombstoneOnEmptyPayload bool   `yaml:"route.tombstone.on.empty.payload" json:"route.tombstone.on.empty.payload"`

	ExpandJSONPayload             bool   `yaml:"table.expand.json.payload" json:"table.expand.json.payload"`
	JSONPayloadNullBehavior       string `yaml:"table.json.payload.null.behavior" json:"table.json.payload.null.behavior"`
	JSONPayloadEmptyArrayBehavior string `yaml:"table.json.payload.empty.array.behavior" json:"table.json.payload.empty.array.behavior"`

	// OpInvalidBehavior is warn (default), error or fatal: what an update
	// of an outbox row does. Debezium's older name
	// debezium.op.invalid.behavior is read when this one is empty.
	OpInvalidBehavior         string `yaml:"table.op.invalid.behavior" json:"table.op.invalid.behavior"`
	DebeziumOpInvalidBehavior string `yaml:"debezium.op.invalid.behavior" json:"debezium.op.invalid.behavior"`

	// MongoEventRouter spells the table.* keys collection.*; on a MongoDB
	// source either spelling works, and a collection.* key wins over its
	// table.* twin.
	CollectionFieldEventID              string `yaml:"collection.field.event.id" json:"collection.field.event.id,omitempty"`
	CollectionFieldEventKey             string `yaml:"collection.field.event.key" json:"collection.field.event.key,omitempty"`
	CollectionFieldEventType            string `yaml:"collection.field.event.type" json:"collection.field.event.type,omitempty"`
	CollectionFieldEventPayload         string `yaml:"collection.field.event.payload" json:"collection.field.event.payload,omitempty"`
	CollectionFieldEventTimestamp       string `yaml:"collection.field.event.timestamp" json:"collection.field.event.timestamp,omitempty"`
	CollectionFieldSchemaVersion        string `yaml:"collection.field.event.schema.version" json:"collection.field.event.schema.version,omitempty"`
	CollectionFieldsAdditionalPlacement string `yaml:"collection.fields.additional.placement" json:"collection.fields.additional.placement,omitempty"`
	CollectionExpandJSONPayload         bool   `yaml:"collection.expand.json.payload" json:"collection.expand.json.payload,omitempty"`
	CollectionOpInvalidBehavior         string `yaml:"collection.op.invalid.behavior" json:"collection.op.invalid.behavior,omitempty"`
}

// AdditionalField is one entry of table.fields.additional.placement.
type AdditionalField struct {
	Column, Placement, Alias string
}

// withDefaults returns c with every empty key set to Debezium's default.
func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if strings.TrimSpace(*s) == "" {
			*s = v
		}
	}
	for _, a := range []struct{ coll, table *string }{
		{&c.CollectionFieldEventID, &c.FieldEventID},
		{&c.CollectionFieldEventKey, &c.FieldEventKey},
		{&c.CollectionFieldEventType, &c.FieldEventType},
		{&c.CollectionFieldEventPayload, &c.FieldEventPayload},
		{&c.CollectionFieldEventTimestamp, &c.FieldEventTimestamp},
		{&c.CollectionFieldSchemaVersion, &c.FieldSchemaVersion},
		{&c.CollectionFieldsAdditionalPlacement, &c.FieldsAdditionalPlacement},
		{&c.CollectionOpInvalidBehavior, &c.OpInvalidBehavior},
	} {
		if strings.TrimSpace(*a.coll) != "" {
			*a.table = *a.coll
		}
	}
	c.ExpandJSONPayload = c.ExpandJSONPayload || c.CollectionExpandJSONPayload
	def(&c.MessagePrefix, DefaultMessagePrefix)
	def(&c.FieldEventID, DefaultFieldEventID)
	def(&c.FieldEventKey, DefaultFieldEventKey)
	def(&c.FieldEventType, DefaultFieldEventType)
	def(&c.FieldEventPayload, DefaultFieldEventPayload)
	def(&c.FieldAdditionalMissing, "error")
	def(&c.RouteByField, DefaultRouteByField)
	def(&c.RouteTopicRegex, DefaultRouteTopicRegex)
	def(&c.RouteTopicReplacement, DefaultRouteTopicReplacement)
	def(&c.JSONPayloadNullBehavior, NullIgnore)
	def(&c.JSONPayloadEmptyArrayBehavior, EmptyArrayIgnore)
	def(&c.OpInvalidBehavior, c.DebeziumOpInvalidBehavior)
	def(&c.OpInvalidBehavior, InvalidWarn)
	return c
}

// ParseAdditionalFields parses table.fields.additional.placement.
func ParseAdditionalFields(s string) ([]AdditionalField, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []AdditionalField
	for _, item := range strings.Split(s, ",") {
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("additional field %q: want column:placement[:alias]", strings.TrimSpace(item))
		}
		f := AdditionalField{Column: strings.TrimSpace(parts[0]), Placement: strings.ToLower(strings.TrimSpace(parts[1]))}
		f.Alias = f.Column
		if len(parts) == 3 {
			f.Alias = strings.TrimSpace(parts[2])
		}
		switch {
		case f.Column == "" || f.Alias == "":
			return nil, fmt.Errorf("additional field %q: empty column or alias", strings.TrimSpace(item))
		case f.Placement != PlaceHeader && f.Placement != PlaceEnvelope && f.Placement != PlacePartition:
			return nil, fmt.Errorf("additional field %q: placement %q (want header, envelope or partition)", f.Column, f.Placement)
		}
		out = append(out, f)
	}
	return out, nil
}

// Validate reports every problem of c: unknown enum values, a bad regex or
// placement list; paths are the Debezium keys.
func (c Config) Validate() error {
	var p config.Problems
	d := c.withDefaults()
	if c.Table != "" {
		if s, t, ok := strings.Cut(c.Table, "."); !ok || s == "" || t == "" || strings.ContainsAny(c.Table, " \t\"'`") {
			p.Addf("table", "%q must be schema.table", c.Table)
		}
	}
	if _, err := compileRoute(d.RouteTopicRegex); err != nil {
		p.Addf("route.topic.regex", "%v", err)
	}
	if _, err := ParseAdditionalFields(d.FieldsAdditionalPlacement); err != nil {
		p.Addf("table.fields.additional.placement", "%v", err)
	}
	for _, e := range []struct {
		key, v string
		ok     []string
	}{
		{"table.op.invalid.behavior", d.OpInvalidBehavior, []string{InvalidWarn, InvalidError, InvalidFatal}},
		{"table.json.payload.null.behavior", d.JSONPayloadNullBehavior, []string{NullIgnore, NullOptionalBytes}},
		{"table.json.payload.empty.array.behavior", d.JSONPayloadEmptyArrayBehavior, []string{EmptyArrayIgnore, EmptyArrayOptionalString}},
		{"table.field.additional.missing", d.FieldAdditionalMissing, []string{"error", "ignore"}},
	} {
		if !oneOf(strings.ToLower(e.v), e.ok) {
			p.Addf(e.key, "unknown value %q (want %s)", e.v, strings.Join(e.ok, ", "))
		}
	}
	return p.Err()
}

func oneOf(s string, list []string) bool {
	for _, v := range list {
		if s == v {
			return true
		}
	}
	return false
}

// compileRoute compiles route.topic.regex as Kafka's RegexRouter uses it:
// the whole routed value must match.
func compileRoute(expr string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + expr + `)$`)
}
