package runtime

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	sinktask "github.com/sluice-cdc/sluice/sinks/task"
)

// Type is a configuration value type, named as Kafka's ConfigDef.Type.
type Type string

// The configuration types the runtime's definitions use.
const (
	TypeString   Type = "STRING"
	TypeShort    Type = "SHORT"
	TypeInt      Type = "INT"
	TypeLong     Type = "LONG"
	TypeBoolean  Type = "BOOLEAN"
	TypeList     Type = "LIST"
	TypeClass    Type = "CLASS"
	TypePassword Type = "PASSWORD"
)

// Importance is a configuration key's importance (HIGH, MEDIUM, LOW).
type Importance string

// Importances.
const (
	High   Importance = "HIGH"
	Medium Importance = "MEDIUM"
	Low    Importance = "LOW"
)

// ConfigKey defines one connector configuration key. Its JSON form is Kafka
// Connect's ConfigKeyInfo (GET /connector-plugins/{plugin}/config).
type ConfigKey struct {
	Name          string
	Type          Type
	Default       *string // nil: no default
	Required      bool    // no default and must be given
	Importance    Importance
	Documentation string
	Group         string // "" is JSON null
	Width         string // NONE, SHORT, MEDIUM, LONG
	DisplayName   string
	Order         int
	// Check returns the problems of the key's value (nil when the value is
	// absent or could not be parsed as Type) in the whole configuration.
	Check func(value *string, cfg map[string]string) []string
}

type configKeyInfo struct {
	Name          string   `json:"name"`
	Type          Type     `json:"type"`
	Required      bool     `json:"required"`
	DefaultValue  *string  `json:"default_value"`
	Importance    string   `json:"importance"`
	Documentation string   `json:"documentation"`
	Group         *string  `json:"group"`
	Width         string   `json:"width"`
	DisplayName   string   `json:"display_name"`
	Dependents    []string `json:"dependents"`
	Order         int      `json:"order"`
}

// MarshalJSON writes Kafka Connect's ConfigKeyInfo.
func (k ConfigKey) MarshalJSON() ([]byte, error) {
	info := configKeyInfo{
		Name: k.Name, Type: k.Type, Required: k.Required, DefaultValue: k.Default,
		Importance: string(k.Importance), Documentation: k.Documentation,
		Width: k.Width, DisplayName: k.DisplayName, Dependents: []string{}, Order: k.Order,
	}
	if info.Width == "" {
		info.Width = "NONE"
	}
	if info.DisplayName == "" {
		info.DisplayName = k.Name
	}
	if k.Group != "" {
		g := k.Group
		info.Group = &g
	}
	return json.Marshal(info)
}

// ConfigValue is the validation result of one key (Kafka's ConfigValueInfo).
type ConfigValue struct {
	Name              string   `json:"name"`
	Value             *string  `json:"value"`
	RecommendedValues []string `json:"recommended_values"`
	Errors            []string `json:"errors"`
	Visible           bool     `json:"visible"`
}

// ConfigInfo pairs a definition with the validated value.
type ConfigInfo struct {
	Definition ConfigKey   `json:"definition"`
	Value      ConfigValue `json:"value"`
}

// ConfigInfos is the answer of PUT /connector-plugins/{plugin}/config/validate.
type ConfigInfos struct {
	Name       string       `json:"name"`
	ErrorCount int          `json:"error_count"`
	Groups     []string     `json:"groups"`
	Configs    []ConfigInfo `json:"configs"`
}

// Errors lists every error message, in definition order.
func (c ConfigInfos) Errors() []string {
	var out []string
	for _, ci := range c.Configs {
		out = append(out, ci.Value.Errors...)
	}
	return out
}

// UnsupportedGroup is the group of the keys a configuration sets that Sluice
// does not know: validation lists them (never silently ignores them) without
// counting them as errors, since Kafka Connect accepts unknown keys.
const UnsupportedGroup = "Unsupported by Sluice (ignored)"

func str(s string) *string { return &s }

// Common key names.
const (
	KeyName           = "name"
	KeyConnectorClass = "connector.class"
	KeyTasksMax       = "tasks.max"
	KeyTopics         = "topics"
	KeyTopicsRegex    = "topics.regex"
	KeyKeyConverter   = "key.converter"
	KeyValueConverter = "value.converter"
	KeyHeaderConv     = "header.converter"
	KeyTaskClass      = "task.class"
)

// commonKeys are the keys every connector accepts, after its own keys.
// taskLayer is set for sink plugins run by sinks/task (Plugin.NewSink):
// they take transforms, errors.tolerance all, retries and the dead letter
// queue, and Avro converters; other plugins keep the runtime's own loop.
func commonKeys(t PluginType, classDoc string, taskLayer bool) []ConfigKey {
	keys := []ConfigKey{
		{Name: KeyName, Type: TypeString, Required: true, Importance: High, Group: "Common", Width: "MEDIUM",
			DisplayName: "Connector name", Order: 1, Documentation: "Globally unique name to use for this connector.",
			Check: func(v *string, _ map[string]string) []string {
				if v != nil && strings.TrimSpace(*v) == "" {
					return []string{"Invalid value  for configuration name: String may not be empty"}
				}
				return nil
			}},
		{Name: KeyConnectorClass, Type: TypeString, Required: true, Importance: High, Group: "Common", Width: "LONG",
			DisplayName: "Connector class", Order: 2, Documentation: classDoc},
		{Name: KeyTasksMax, Type: TypeInt, Default: str("1"), Importance: High, Group: "Common", Width: "SHORT",
			DisplayName: "Tasks max", Order: 3, Documentation: "Maximum number of tasks to use for this connector.",
			Check: func(v *string, _ map[string]string) []string {
				if v == nil {
					return []string{"Invalid value null for configuration tasks.max: Value must be non-null"}
				}
				if n, _ := strconv.Atoi(strings.TrimSpace(*v)); n < 1 {
					return []string{fmt.Sprintf("Invalid value %s for configuration tasks.max: Value must be at least 1", strings.TrimSpace(*v))}
				}
				return nil
			}},
		{Name: KeyKeyConverter, Type: TypeClass, Importance: Low, Group: "Common", Width: "SHORT", DisplayName: "Key converter class", Order: 5,
			Documentation: "Converter class for the keys of this connector's records (JsonConverter, StringConverter, ByteArrayConverter or json, string, bytes); the worker's default when unset.",
			Check:         checkConverter(KeyKeyConverter)},
		{Name: KeyValueConverter, Type: TypeClass, Importance: Low, Group: "Common", Width: "SHORT", DisplayName: "Value converter class", Order: 6,
			Documentation: "Converter class for the values of this connector's records; the worker's default when unset.",
			Check:         checkConverter(KeyValueConverter)},
		{Name: KeyHeaderConv, Type: TypeClass, Importance: Low, Group: "Common", Width: "SHORT", DisplayName: "Header converter class", Order: 7,
			Documentation: "Converter class for headers; accepted for compatibility, headers are not converted yet.",
			Check:         checkConverter(KeyHeaderConv)},
	}
	if t == SinkType && taskLayer {
		for i := range keys {
			switch keys[i].Name {
			case KeyKeyConverter, KeyValueConverter, KeyHeaderConv:
				keys[i].Check = checkTaskConverter(keys[i].Name)
			}
		}
		return append(keys, sinkKeys()...)
	}
	keys = append(keys,
		ConfigKey{Name: "transforms", Type: TypeList, Default: str(""), Importance: Low, Group: "Transforms", Width: "LONG", DisplayName: "Transforms", Order: 1,
			Documentation: "Aliases for the transformations to apply to records. Sluice does not support single message transforms on sources yet.",
			Check:         checkEmpty("transforms", "Sluice does not support single message transforms yet")},
		ConfigKey{Name: "predicates", Type: TypeList, Default: str(""), Importance: Low, Group: "Predicates", Width: "LONG", DisplayName: "Predicates", Order: 1,
			Documentation: "Aliases for the predicates used by transformations. Sluice does not support predicates on sources yet.",
			Check:         checkEmpty("predicates", "Sluice does not support predicates yet")},
		ConfigKey{Name: "errors.tolerance", Type: TypeString, Default: str("none"), Importance: Medium, Group: "Error Handling", Width: "SHORT", DisplayName: "Error Tolerance", Order: 3,
			Documentation: "Behavior for tolerating errors during connector operation. Sluice supports 'none' only for sources: an error fails the task.",
			Check: func(v *string, _ map[string]string) []string {
				if v != nil && *v != "none" {
					return []string{fmt.Sprintf("Invalid value %s for configuration errors.tolerance: Sluice supports only 'none'", *v)}
				}
				return nil
			}},
	)
	if t == SinkType {
		keys = append(keys,
			ConfigKey{Name: KeyTopics, Type: TypeList, Default: str(""), Importance: High, Group: "Common", Width: "LONG", DisplayName: "Topics", Order: 4,
				Documentation: "List of topics to consume, separated by commas", Check: checkTopics},
			ConfigKey{Name: KeyTopicsRegex, Type: TypeString, Default: str(""), Importance: High, Group: "Common", Width: "LONG", DisplayName: "Topics regex", Order: 4,
				Documentation: "Regular expression giving topics to consume.", Check: checkTopics},
			ConfigKey{Name: "errors.deadletterqueue.topic.name", Type: TypeString, Default: str(""), Importance: Medium, Group: "Error Handling", Width: "MEDIUM",
				DisplayName: "Dead Letter Queue Topic Name", Order: 6,
				Documentation: "The name of the topic to be used as the dead letter queue. This connector does not support a dead letter queue.",
				Check:         checkEmpty("errors.deadletterqueue.topic.name", "Sluice does not support a dead letter queue yet")},
		)
	}
	return keys
}

// sinkKeys are the keys of sink connectors after the common ones: topics,
// transforms and predicates (their sub-keys are the transform package's),
// and Kafka Connect's error handling, all run by sinks/task.
func sinkKeys() []ConfigKey {
	return []ConfigKey{
		{Name: "transforms", Type: TypeList, Default: str(""), Importance: Low, Group: "Transforms", Width: "LONG", DisplayName: "Transforms", Order: 1,
			Documentation: "Aliases for the transformations to apply to records, in order; each is configured by transforms.<alias>.type and its transforms.<alias>.* keys."},
		{Name: "predicates", Type: TypeList, Default: str(""), Importance: Low, Group: "Predicates", Width: "LONG", DisplayName: "Predicates", Order: 1,
			Documentation: "Aliases for the predicates used by transformations; each is configured by predicates.<alias>.type and its predicates.<alias>.* keys."},
		{Name: KeyTopics, Type: TypeList, Default: str(""), Importance: High, Group: "Common", Width: "LONG", DisplayName: "Topics", Order: 4,
			Documentation: "List of topics to consume, separated by commas", Check: checkTopics},
		{Name: KeyTopicsRegex, Type: TypeString, Default: str(""), Importance: High, Group: "Common", Width: "LONG", DisplayName: "Topics regex", Order: 4,
			Documentation: "Regular expression giving topics to consume (matched against the whole topic name).", Check: checkTopics},
		{Name: "errors.retry.timeout", Type: TypeLong, Default: str("0"), Importance: Medium, Group: "Error Handling", Width: "MEDIUM", DisplayName: "Retry Timeout for Errors", Order: 1,
			Documentation: "Milliseconds during which a retriable failure of conversion, transformation or put is retried; 0 never retries, -1 retries forever."},
		{Name: "errors.retry.delay.max.ms", Type: TypeLong, Default: str("60000"), Importance: Medium, Group: "Error Handling", Width: "MEDIUM", DisplayName: "Maximum Delay Between Retries for Errors", Order: 2,
			Documentation: "The cap of the exponential backoff between retries of a retriable failure, in milliseconds."},
		{Name: "errors.tolerance", Type: TypeString, Default: str("none"), Importance: Medium, Group: "Error Handling", Width: "SHORT", DisplayName: "Error Tolerance", Order: 3,
			Documentation: "'none' fails the task on a record it cannot convert, transform or write, naming the record's topic, partition and offset; 'all' skips such records (to the dead letter queue when one is configured).",
			Check: func(v *string, _ map[string]string) []string {
				if v != nil && *v != "none" && *v != "all" {
					return []string{fmt.Sprintf("Invalid value %s for configuration errors.tolerance: String must be one of: none, all", *v)}
				}
				return nil
			}},
		{Name: "errors.log.enable", Type: TypeBoolean, Default: str("false"), Importance: Medium, Group: "Error Handling", Width: "SHORT", DisplayName: "Log Errors", Order: 4,
			Documentation: "Log each failed record's stage, class and coordinates at error level."},
		{Name: "errors.log.include.messages", Type: TypeBoolean, Default: str("false"), Importance: Medium, Group: "Error Handling", Width: "SHORT", DisplayName: "Log Error Details", Order: 5,
			Documentation: "Include the failed record's key, value and timestamp in the error log."},
		{Name: "errors.deadletterqueue.topic.name", Type: TypeString, Default: str(""), Importance: Medium, Group: "Error Handling", Width: "MEDIUM", DisplayName: "Dead Letter Queue Topic Name", Order: 6,
			Documentation: "The topic records that failed under errors.tolerance all are written to, with their original key, value and headers; empty disables the dead letter queue."},
		{Name: "errors.deadletterqueue.topic.replication.factor", Type: TypeShort, Default: str("3"), Importance: Medium, Group: "Error Handling", Width: "MEDIUM", DisplayName: "Dead Letter Queue Topic Replication Factor", Order: 7,
			Documentation: "Replication factor of the dead letter queue topic when the task creates it.",
			Check: func(v *string, _ map[string]string) []string {
				if v != nil {
					if n, err := strconv.Atoi(strings.TrimSpace(*v)); err == nil && n < 1 && n != -1 {
						return []string{fmt.Sprintf("Invalid value %s for configuration errors.deadletterqueue.topic.replication.factor: Value must be positive or -1", *v)}
					}
				}
				return nil
			}},
		{Name: "errors.deadletterqueue.context.headers.enable", Type: TypeBoolean, Default: str("false"), Importance: Medium, Group: "Error Handling", Width: "MEDIUM", DisplayName: "Enable Error Context Headers", Order: 8,
			Documentation: "Add __connect.errors.* headers (topic, partition, offset, connector, task, stage, class, exception) to dead letter queue records."},
	}
}

// sinkSubkey reports keys that configure the transforms and predicates of
// a sink run by sinks/task (transforms.<alias>.type, ...): the transform
// chain validates them.
func sinkSubkey(p *Plugin, key string) bool {
	return p.Type == SinkType && p.NewSink != nil && (strings.HasPrefix(key, "transforms.") || strings.HasPrefix(key, "predicates."))
}

// checkTaskConverter accepts the converters sinks/task reads with
// (JsonConverter, StringConverter, ByteArrayConverter, AvroConverter,
// SimpleHeaderConverter).
func checkTaskConverter(key string) func(*string, map[string]string) []string {
	return func(v *string, _ map[string]string) []string {
		if v == nil || *v == "" {
			return nil
		}
		if _, ok := sinktask.CanonicalConverter(*v); !ok {
			return []string{fmt.Sprintf("Invalid value %s for configuration %s: Class %s could not be found.", *v, key, *v)}
		}
		return nil
	}
}

func checkEmpty(key, why string) func(*string, map[string]string) []string {
	return func(v *string, _ map[string]string) []string {
		if v != nil && strings.TrimSpace(*v) != "" {
			return []string{fmt.Sprintf("Invalid value %s for configuration %s: %s", *v, key, why)}
		}
		return nil
	}
}

func checkConverter(key string) func(*string, map[string]string) []string {
	return func(v *string, _ map[string]string) []string {
		if v == nil || *v == "" {
			return nil
		}
		if _, ok := lookupConverter(*v); !ok {
			return []string{fmt.Sprintf("Invalid value %s for configuration %s: Class %s could not be found.", *v, key, *v)}
		}
		return nil
	}
}

func checkTopics(_ *string, cfg map[string]string) []string {
	topics, regex := strings.TrimSpace(cfg[KeyTopics]), strings.TrimSpace(cfg[KeyTopicsRegex])
	switch {
	case topics == "" && regex == "":
		return []string{"Must configure one of topics or topics.regex"}
	case topics != "" && regex != "":
		return []string{"topics and topics.regex are mutually exclusive options, but both are set."}
	}
	return nil
}

// converterSubkey reports keys that configure a converter (value.converter.schemas.enable):
// they belong to the converter, not to the connector.
func converterSubkey(key string) bool {
	for _, p := range []string{KeyKeyConverter + ".", KeyValueConverter + ".", KeyHeaderConv + "."} {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// validate checks cfg against the plugin's and the common definitions.
func validate(p *Plugin, defs []ConfigKey, cfg map[string]string) ConfigInfos {
	out := ConfigInfos{Name: p.Class, Groups: []string{}, Configs: make([]ConfigInfo, 0, len(defs))}
	known := make(map[string]bool, len(defs))
	for _, k := range defs {
		known[k.Name] = true
		if k.Group != "" && !slices.Contains(out.Groups, k.Group) {
			out.Groups = append(out.Groups, k.Group)
		}
		v := validateKey(k, cfg)
		out.ErrorCount += len(v.Errors)
		out.Configs = append(out.Configs, ConfigInfo{Definition: k, Value: v})
	}
	if p.Validate != nil {
		addPluginProblems(&out, p.Validate(cfg))
		for _, ci := range out.Configs {
			known[ci.Definition.Name] = true
		}
	}
	var unknown []string
	for _, key := range slices.Sorted(maps.Keys(cfg)) {
		if !known[key] && !converterSubkey(key) && !sinkSubkey(p, key) && key != KeyTaskClass && (p.Accepts == nil || !p.Accepts(key)) {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		out.Groups = append(out.Groups, UnsupportedGroup)
	}
	for i, key := range unknown {
		k := ConfigKey{Name: key, Type: TypeString, Importance: Low, Group: UnsupportedGroup, Order: i + 1,
			Documentation: "Sluice does not know this key; it is stored but has no effect."}
		v := cfg[key]
		if Secret(key) {
			v = Hidden
		}
		out.Configs = append(out.Configs, ConfigInfo{Definition: k,
			Value: ConfigValue{Name: key, Value: &v, RecommendedValues: []string{}, Errors: []string{}, Visible: true}})
	}
	return out
}

// addPluginProblems adds a plugin's whole-configuration problems to the
// values of the keys they concern; a key without a definition gets one
// (problems about the configuration as a whole go to connector.class).
func addPluginProblems(out *ConfigInfos, problems map[string][]string) {
	for _, key := range slices.Sorted(maps.Keys(problems)) {
		msgs := problems[key]
		if len(msgs) == 0 {
			continue
		}
		if key == "" {
			key = KeyConnectorClass
		}
		i := slices.IndexFunc(out.Configs, func(ci ConfigInfo) bool { return ci.Definition.Name == key })
		if i < 0 {
			out.Configs = append(out.Configs, ConfigInfo{Definition: ConfigKey{Name: key, Type: TypeString, Importance: Low},
				Value: ConfigValue{Name: key, RecommendedValues: []string{}, Errors: []string{}, Visible: true}})
			i = len(out.Configs) - 1
		}
		for _, m := range msgs {
			if !slices.Contains(out.Configs[i].Value.Errors, m) {
				out.Configs[i].Value.Errors = append(out.Configs[i].Value.Errors, m)
				out.ErrorCount++
			}
		}
	}
}

func validateKey(k ConfigKey, cfg map[string]string) ConfigValue {
	cv := ConfigValue{Name: k.Name, RecommendedValues: []string{}, Errors: []string{}, Visible: true}
	raw, present := cfg[k.Name]
	if !present && k.Default != nil {
		raw, present = *k.Default, true
	}
	if !present {
		if k.Required {
			cv.Errors = append(cv.Errors, fmt.Sprintf("Missing required configuration %q which has no default value.", k.Name))
		}
	} else {
		cv.Value = &raw
		switch k.Type {
		case TypeShort, TypeInt, TypeLong:
			bits := map[Type]int{TypeShort: 16, TypeInt: 32, TypeLong: 64}[k.Type]
			if _, err := strconv.ParseInt(strings.TrimSpace(raw), 10, bits); err != nil {
				cv.Errors = append(cv.Errors, fmt.Sprintf("Invalid value %s for configuration %s: Not a number of type %s", raw, k.Name, k.Type))
				cv.Value = nil
			}
		case TypeBoolean:
			if b := strings.ToLower(strings.TrimSpace(raw)); b != "true" && b != "false" {
				cv.Errors = append(cv.Errors, fmt.Sprintf("Invalid value %s for configuration %s: Expected value to be either true or false", raw, k.Name))
				cv.Value = nil
			}
		}
	}
	if k.Check != nil {
		for _, e := range k.Check(cv.Value, cfg) {
			if !slices.Contains(cv.Errors, e) {
				cv.Errors = append(cv.Errors, e)
			}
		}
	}
	if cv.Value != nil && (k.Type == TypePassword || Secret(k.Name)) {
		cv.Value = str(Hidden)
	}
	return cv
}

// invalidConfigMessage is Kafka Connect's summary of a failed validation.
func invalidConfigMessage(errs []string) string {
	return fmt.Sprintf("Connector configuration is invalid and contains the following %d error(s):\n%s\n"+
		"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
		len(errs), strings.Join(errs, "\n"))
}

// javaMap renders a configuration as Java's Map.toString, sorted by key.
func javaMap(cfg map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(cfg)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + "=" + cfg[k])
	}
	b.WriteByte('}')
	return b.String()
}
