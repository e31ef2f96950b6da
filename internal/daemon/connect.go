package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/outbox"
)

// This file maps a source between sluice.yaml's form (SourceConfig) and
// Kafka Connect's flat form: the {"connector.class": …} map of string values
// a Debezium connector is configured with, so that a Debezium connector JSON
// works unchanged where Sluice supports its keys. The connector-specific
// keys already carry Debezium's names in sluice.yaml (the postgres: and
// mysql: blocks) and keep them; the rest maps as:
//
//	topic.prefix                         topic.prefix
//	url                                  database.hostname, database.port, database.user,
//	                                     database.password, database.dbname, database.sslmode
//	                                     (database.url, Sluice's, takes a whole URL instead)
//	tables                               tables (Sluice's exact table list)
//	outbox.<key>                         transforms=<alias>, transforms.<alias>.type=…EventRouter,
//	                                     transforms.<alias>.<key>
//	errors.*                             errors.*
//	converters, tombstones.on.delete     key.converter, value.converter (+ .schemas.enable),
//	                                     tombstones.on.delete: per connector

// Connect key types, as Kafka Connect's ConfigDef names them.
const (
	ConnectString   = "STRING"
	ConnectInt      = "INT"
	ConnectBoolean  = "BOOLEAN"
	ConnectList     = "LIST"
	ConnectPassword = "PASSWORD"
)

// Debezium connector classes, by connector kind.
var connectorClasses = map[string]string{
	Postgres: "io.debezium.connector.postgresql.PostgresConnector",
	MySQL:    "io.debezium.connector.mysql.MySqlConnector",
	MongoDB:  "io.debezium.connector.mongodb.MongoDbConnector",
}

// ConnectorClass returns the Debezium connector class of a connector kind.
func ConnectorClass(kind string) string { return connectorClasses[kind] }

// ConnectKey describes one key of a connector's flat configuration.
type ConnectKey struct {
	Name     string
	Type     string  // one of the Connect* types
	Default  *string // nil: no default
	Required bool
	Doc      string
}

// Connect keys that are not in a connector block.
const (
	keyTopicPrefix  = "topic.prefix"
	keyTables       = "tables"
	keyHost         = "database.hostname"
	keyPort         = "database.port"
	keyUser         = "database.user"
	keyPassword     = "database.password"
	keyDBName       = "database.dbname"
	keySSLMode      = "database.sslmode"
	keyURL          = "database.url"
	keyMongoURL     = "mongodb.connection.string"
	keyTombstones   = "tombstones.on.delete"
	keyTransforms   = "transforms"
	keyKeyConv      = "key.converter"
	keyValueConv    = "value.converter"
	keyConnClass    = "connector.class"
	jsonConvClass   = "org.apache.kafka.connect.json.JsonConverter"
	avroConvClass   = "io.confluent.connect.avro.AvroConverter"
	errorsKeyPrefix = "errors."
)

var defaultPorts = map[string]string{Postgres: "5432", MySQL: "3306"}

// blockOf returns the connector block of kind in sc (nil for none).
func blockOf(sc *SourceConfig, kind string) any {
	switch kind {
	case Postgres:
		return &sc.Postgres
	case MySQL:
		return &sc.MySQL
	case MongoDB:
		return &sc.MongoDB
	}
	return nil
}

// blockKeys returns the YAML keys of a connector block with their default
// values, in field order.
func blockKeys(kind string) []ConnectKey {
	def := DefaultSourceConfig()
	b := blockOf(&def, kind)
	if b == nil {
		return nil
	}
	v := reflect.ValueOf(b).Elem()
	var out []ConnectKey
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		k := ConnectKey{Name: name, Type: connectType(f.Type), Doc: "Debezium's " + name + "."}
		if s, ok := scalarText(v.Field(i)); ok {
			k.Default = &s
		}
		out = append(out, k)
	}
	return out
}

func connectType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return ConnectBoolean
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint16:
		return ConnectInt
	case reflect.Slice:
		return ConnectList
	}
	return ConnectString
}

// scalarText renders a block field's value as a flat configuration value.
func scalarText(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.String:
		return v.String(), true
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), true
	case reflect.Int, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true
	case reflect.Uint32, reflect.Uint16:
		return strconv.FormatUint(v.Uint(), 10), true
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			parts := make([]string, v.Len())
			for i := range parts {
				parts[i] = v.Index(i).String()
			}
			return strings.Join(parts, ","), true
		}
	}
	return "", false
}

// ConnectKeys returns the keys a connector of kind accepts in the flat form,
// besides Kafka Connect's common keys (name, connector.class, tasks.max) and
// the transforms.<alias>.* keys of an outbox router (see
// [AcceptsConnectKey]). base gives the defaults of the daemon-wide keys.
func ConnectKeys(kind string, base Config) []ConnectKey {
	s := func(v string) *string { return &v }
	keys := []ConnectKey{
		{Name: keyTopicPrefix, Type: ConnectString, Required: true,
			Doc: "Topic prefix: events go to <topic.prefix>.<schema>.<table>."},
		{Name: keyHost, Type: ConnectString, Doc: "Resolvable hostname or IP address of the database server."},
		{Name: keyPort, Type: ConnectInt, Default: s(defaultPorts[kind]), Doc: "Port of the database server."},
		{Name: keyUser, Type: ConnectString, Doc: "Name of the database user to connect as."},
		{Name: keyPassword, Type: ConnectPassword, Doc: "Password of the database user."},
		{Name: keyDBName, Type: ConnectString, Doc: "Name of the database to capture."},
		{Name: keyURL, Type: ConnectPassword, Doc: "Sluice: the whole connection URL, instead of the database.* keys."},
		{Name: keyTables, Type: ConnectList, Default: s(""), Doc: "Sluice: the exact tables to capture (schema.table), each must exist; empty: every table the include/exclude lists allow."},
		{Name: keyTombstones, Type: ConnectBoolean, Default: s(strconv.FormatBool(base.TombstonesOnDelete)),
			Doc: "Whether a delete event is followed by a tombstone (null value) record."},
		{Name: "errors.tolerance", Type: ConnectString, Default: s(ToleranceNone),
			Doc: "none: an event that cannot be converted fails the task; all: it goes to the dead letter queue topic."},
		{Name: "errors.deadletterqueue.topic.name", Type: ConnectString, Default: s(""), Doc: "Dead letter queue topic (errors.tolerance all)."},
		{Name: "errors.deadletterqueue.context.headers.enable", Type: ConnectBoolean, Default: s("false"), Doc: "Add __connect.errors.* headers to dead letter records."},
		{Name: "errors.log.enable", Type: ConnectBoolean, Default: s("false"), Doc: "Log each tolerated error."},
		{Name: keyTransforms, Type: ConnectList, Default: s(""),
			Doc: "At most one transform: Debezium's outbox EventRouter (transforms.<alias>.type=" + outbox.EventRouterClass + ")."},
	}
	switch kind {
	case Postgres:
		keys = append(keys, ConnectKey{Name: keySSLMode, Type: ConnectString, Doc: "SSL mode of the connection (disable, require, verify-ca, verify-full)."})
	case MongoDB:
		keys = slices.DeleteFunc(keys, func(k ConnectKey) bool { return strings.HasPrefix(k.Name, "database.") })
		keys = append(keys, ConnectKey{Name: keyMongoURL, Type: ConnectPassword, Required: true,
			Doc: "The MongoDB connection string (mongodb:// or mongodb+srv://)."})
	}
	return append(keys, blockKeys(kind)...)
}

// AcceptsConnectKey reports whether key, absent from [ConnectKeys], is one
// the flat form still uses: transforms.<alias>.* and converter settings.
func AcceptsConnectKey(key string) bool {
	return strings.HasPrefix(key, keyTransforms+".") ||
		strings.HasPrefix(key, keyKeyConv+".") || strings.HasPrefix(key, keyValueConv+".")
}

// ConnectProblems are the problems of a flat configuration, by the key they
// concern ("" for the configuration as a whole).
type ConnectProblems map[string][]string

func (p ConnectProblems) add(key, format string, args ...any) {
	p[key] = append(p[key], fmt.Sprintf(format, args...))
}

// SourceFromConnect builds the source named name from a flat connector
// configuration. base supplies the daemon-wide settings a connector may
// override (converters, tombstones.on.delete). Keys it does not know are
// left to the caller (the runtime reports them as unsupported).
func SourceFromConnect(name string, cfg map[string]string, base Config) (SourceConfig, ConnectProblems) {
	problems := ConnectProblems{}
	kind := kindOfClass(cfg[keyConnClass])
	if kind == "" {
		problems.add(keyConnClass, "connector.class %q is not a source Sluice knows", cfg[keyConnClass])
		return SourceConfig{Name: name}, problems
	}
	src := map[string]any{"name": name, "connector": kind}
	known := map[string]string{} // Connect key → block key
	block := map[string]any{}
	blockTypes := map[string]string{}
	for _, k := range blockKeys(kind) {
		blockTypes[k.Name] = k.Type
	}
	for k, v := range cfg {
		if t, ok := blockTypes[k]; ok {
			block[k] = typed(t, v)
			known[k] = k
		}
	}
	if len(block) > 0 {
		src[kind] = block
	}
	if v, ok := cfg[keyTopicPrefix]; ok {
		src["topic.prefix"] = v
	}
	if v := strings.TrimSpace(cfg[keyTables]); v != "" {
		src["tables"] = splitList(v)
	}
	for _, k := range []string{"errors.tolerance", "errors.deadletterqueue.topic.name",
		"errors.deadletterqueue.context.headers.enable", "errors.log.enable"} {
		if v, ok := cfg[k]; ok {
			t := ConnectString
			if strings.HasSuffix(k, ".enable") {
				t = ConnectBoolean
			}
			src[k] = typed(t, v)
		}
	}
	if u, ok := connectURL(kind, cfg, problems); ok {
		src["url"] = u
	}
	alias := connectOutbox(cfg, src, problems)

	sc := DefaultSourceConfig()
	doc, err := yaml.Marshal(map[string]any{"sources": []any{src}})
	if err != nil {
		problems.add("", "encode configuration: %v", err)
		return sc, problems
	}
	c, derr := Decode(config.Loader{LookupEnv: func(string) (string, bool) { return "", false }}, "connector "+name, doc)
	var ce *config.Error
	switch {
	case errors.As(derr, &ce):
		for _, p := range ce.Problems {
			key := connectKeyOf(kind, p.Path, alias, cfg)
			if p.Msg == "required" || strings.HasPrefix(p.Msg, "required ") {
				problems.add(key, "Missing required configuration %q which has no default value.", key)
				continue
			}
			if v, ok := cfg[key]; ok && key != keyPassword && key != keyURL {
				problems.add(key, "Invalid value %s for configuration %s: %s", v, key, p.Msg)
			} else {
				problems.add(key, "%s: %s", key, p.Msg)
			}
		}
	case derr != nil:
		problems.add("", "%v", derr)
	}
	if len(c.Sources) == 1 {
		sc = c.Sources[0]
	}
	connectOverrides(&sc, cfg, base, problems)
	for k, v := range problems {
		if len(v) == 0 {
			delete(problems, k)
		}
	}
	return sc, problems
}

// kindOfClass returns the kind a connector.class names: a kind, a Debezium
// class name, or its last part (PostgresConnector).
func kindOfClass(class string) string {
	if k := (SourceConfig{Connector: class}).Kind(); k != "" {
		return k
	}
	for k, c := range connectorClasses {
		if class == c[strings.LastIndexByte(c, '.')+1:] {
			return k
		}
	}
	return ""
}

// typed renders a flat value as YAML of the key's type, so that the loader
// decodes it (or reports it as the wrong type); ${ stays literal.
func typed(t, v string) any {
	v = strings.ReplaceAll(v, "${", "$${")
	switch t {
	case ConnectInt:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return n
		}
	case ConnectBoolean:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b
		}
	}
	return v
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// connectURL builds the source URL from database.url or the database.*
// keys.
func connectURL(kind string, cfg map[string]string, problems ConnectProblems) (string, bool) {
	if kind == MongoDB {
		u, ok := cfg[keyMongoURL]
		if !ok {
			problems.add(keyMongoURL, "Missing required configuration %q which has no default value.", keyMongoURL)
		}
		return u, ok
	}
	if u, ok := cfg[keyURL]; ok {
		for _, k := range []string{keyHost, keyUser, keyPassword, keyDBName} {
			if _, dup := cfg[k]; dup {
				problems.add(k, "%s: set either database.url or the database.* keys, not both", k)
			}
		}
		return u, true
	}
	host := strings.TrimSpace(cfg[keyHost])
	if host == "" {
		problems.add(keyHost, "Missing required configuration %q which has no default value.", keyHost)
		return "", false
	}
	port := strings.TrimSpace(cfg[keyPort])
	if port == "" {
		port = defaultPorts[kind]
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		problems.add(keyPort, "Invalid value %s for configuration %s: must be a port number (1 to 65535)", port, keyPort)
		return "", false
	}
	u := url.URL{Scheme: schemeOf[kind][0], Host: net.JoinHostPort(host, port), Path: "/" + cfg[keyDBName]}
	if user, ok := cfg[keyUser]; ok {
		if pw, ok := cfg[keyPassword]; ok {
			u.User = url.UserPassword(user, pw)
		} else {
			u.User = url.User(user)
		}
	}
	if m := cfg[keySSLMode]; m != "" && kind == Postgres {
		u.RawQuery = url.Values{"sslmode": {m}}.Encode()
	}
	return u.String(), true
}

// connectOutbox maps an EventRouter transform to the outbox block and
// returns its alias.
func connectOutbox(cfg map[string]string, src map[string]any, problems ConnectProblems) string {
	aliases := splitList(cfg[keyTransforms])
	if len(aliases) == 0 {
		for k := range cfg {
			if strings.HasPrefix(k, keyTransforms+".") {
				problems.add(k, "%s: no transform alias %q is listed in transforms", k, strings.SplitN(k, ".", 3)[1])
			}
		}
		return ""
	}
	if len(aliases) > 1 {
		problems.add(keyTransforms, "Invalid value %s for configuration transforms: Sluice supports one transform on a source, the outbox EventRouter", cfg[keyTransforms])
		return ""
	}
	alias := aliases[0]
	prefix := keyTransforms + "." + alias + "."
	typ := cfg[prefix+"type"]
	if typ != outbox.EventRouterClass && typ != outbox.MongoEventRouterClass {
		problems.add(prefix+"type", "Invalid value %s for configuration %stype: Sluice supports only %s (and %s on a MongoDB source)", typ, prefix, outbox.EventRouterClass, outbox.MongoEventRouterClass)
		return alias
	}
	ob := map[string]any{}
	boolKeys := map[string]bool{"route.tombstone.on.empty.payload": true, "table.expand.json.payload": true,
		"collection.expand.json.payload": true}
	for k, v := range cfg {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != "type" {
			if boolKeys[rest] {
				ob[rest] = typed(ConnectBoolean, v)
			} else {
				ob[rest] = strings.ReplaceAll(v, "${", "$${")
			}
		} else if strings.HasPrefix(k, keyTransforms+".") && !strings.HasPrefix(k, prefix) {
			problems.add(k, "%s: no transform alias %q is listed in transforms", k, strings.SplitN(k, ".", 3)[1])
		}
	}
	src["outbox"] = ob
	return alias
}

// connectOverrides applies the per-connector converters and tombstones.
func connectOverrides(sc *SourceConfig, cfg map[string]string, base Config, problems ConnectProblems) {
	if v, ok := cfg[keyTombstones]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			problems.add(keyTombstones, "Invalid value %s for configuration %s: Expected value to be either true or false", v, keyTombstones)
		} else {
			sc.TombstonesOnDelete = &b
		}
	}
	conv := base.Converters
	changed := false
	for _, side := range []struct {
		key string
		c   *ConverterConfig
		def ConverterConfig
	}{{keyKeyConv, &conv.Key, base.Converters.Key}, {keyValueConv, &conv.Value, base.Converters.Value}} {
		class, set := cfg[side.key]
		if !set || class == "" {
			continue
		}
		switch class {
		case jsonConvClass, "json", "JsonConverter":
			if side.c.Type != "json" {
				*side.c = DefaultConfig().Converters.Value
				changed = true
			}
			if v, ok := cfg[side.key+".schemas.enable"]; ok {
				b, err := strconv.ParseBool(strings.TrimSpace(v))
				if err != nil {
					problems.add(side.key+".schemas.enable", "Invalid value %s for configuration %s.schemas.enable: Expected value to be either true or false", v, side.key)
				} else if b != side.c.SchemasEnable {
					side.c.SchemasEnable, changed = b, true
				}
			}
		case avroConvClass, "avro", "AvroConverter":
			if side.def.Type != "avro" {
				problems.add(side.key, "Invalid value %s for configuration %s: the AvroConverter is configured for the whole process (converters.%s in sluice.yaml, or the worker's %s); it is %s there",
					class, side.key, strings.TrimSuffix(side.key, ".converter"), side.key, side.def.Type)
				continue
			}
			if u, ok := cfg[side.key+".schema.registry.url"]; ok && u != side.def.SchemaRegistryURL {
				problems.add(side.key+".schema.registry.url", "%s.schema.registry.url: must match the process-wide schema.registry.url (%s)", side.key, side.def.SchemaRegistryURL)
			}
		default:
			problems.add(side.key, "Invalid value %s for configuration %s: Debezium change events need %s or %s", class, side.key, jsonConvClass, avroConvClass)
		}
	}
	if changed {
		sc.Converters = &conv
	}
}

// connectKeyOf maps a sluice.yaml problem path of the single source to the
// flat key it concerns.
func connectKeyOf(kind, path, alias string, cfg map[string]string) string {
	path = strings.TrimPrefix(path, "sources[0]")
	path = strings.TrimPrefix(path, ".")
	switch {
	case path == "" || path == "name":
		return ""
	case path == "connector":
		return keyConnClass
	case path == "url":
		if kind == MongoDB {
			return keyMongoURL
		}
		if _, ok := cfg[keyURL]; ok {
			return keyURL
		}
		return keyHost
	case strings.HasPrefix(path, "tables"):
		return keyTables
	case strings.HasPrefix(path, kind+"."):
		return strings.TrimPrefix(path, kind+".")
	case path == "outbox" || strings.HasPrefix(path, "outbox."):
		return strings.TrimSuffix(keyTransforms+"."+alias+"."+strings.TrimPrefix(strings.TrimPrefix(path, "outbox"), "."), ".")
	}
	return path
}

// SourceToConnect returns the flat form of a sluice.yaml source: the keys
// whose values differ from the defaults, and the ones Kafka Connect needs.
func SourceToConnect(sc SourceConfig, base Config) map[string]string {
	kind := sc.Kind()
	out := map[string]string{"name": sc.Name, keyConnClass: connectorClasses[kind], keyTopicPrefix: sc.TopicPrefix}
	urlToConnect(kind, sc.URL, out)
	if len(sc.Tables) > 0 {
		out[keyTables] = strings.Join(sc.Tables, ",")
	}
	def := DefaultSourceConfig()
	if b, d := blockOf(&sc, kind), blockOf(&def, kind); b != nil {
		bv, dv := reflect.ValueOf(b).Elem(), reflect.ValueOf(d).Elem()
		for i := range bv.NumField() {
			f := bv.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" || reflect.DeepEqual(bv.Field(i).Interface(), dv.Field(i).Interface()) {
				continue
			}
			if s, ok := scalarText(bv.Field(i)); ok {
				out[name] = s
			}
		}
	}
	if sc.ErrorsTolerance != "" && sc.ErrorsTolerance != ToleranceNone {
		out["errors.tolerance"] = sc.ErrorsTolerance
	}
	if sc.ErrorsDeadLetterQueueTopic != "" {
		out["errors.deadletterqueue.topic.name"] = sc.ErrorsDeadLetterQueueTopic
	}
	if sc.ErrorsContextHeaders {
		out["errors.deadletterqueue.context.headers.enable"] = "true"
	}
	if sc.ErrorsLogEnable {
		out["errors.log.enable"] = "true"
	}
	if sc.Outbox != nil {
		out[keyTransforms] = "outbox"
		out["transforms.outbox.type"] = outbox.EventRouterClass
		b, _ := json.Marshal(sc.Outbox)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		defOut, _ := json.Marshal(outbox.Config{})
		var dm map[string]any
		_ = json.Unmarshal(defOut, &dm)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if reflect.DeepEqual(m[k], dm[k]) {
				continue
			}
			switch v := m[k].(type) {
			case string:
				out["transforms.outbox."+k] = v
			case bool:
				out["transforms.outbox."+k] = strconv.FormatBool(v)
			case float64:
				out["transforms.outbox."+k] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	if sc.TombstonesOnDelete != nil && *sc.TombstonesOnDelete != base.TombstonesOnDelete {
		out[keyTombstones] = strconv.FormatBool(*sc.TombstonesOnDelete)
	}
	return out
}

// urlToConnect splits a source URL into the database.* keys, or keeps it
// whole as database.url when it carries more than they can say.
func urlToConnect(kind, raw string, out map[string]string) {
	u, err := url.Parse(raw)
	if kind == MongoDB {
		out[keyMongoURL] = raw
		return
	}
	q := url.Values{}
	if err == nil {
		q = u.Query()
	}
	sslmode := q.Get("sslmode")
	q.Del("sslmode")
	if err != nil || len(q) > 0 || u.Host == "" || kind == MongoDB || (sslmode != "" && kind != Postgres) ||
		strings.Contains(strings.Trim(u.Path, "/"), "/") {
		out[keyURL] = raw
		return
	}
	out[keyHost] = u.Hostname()
	if p := u.Port(); p != "" {
		out[keyPort] = p
	} else {
		out[keyPort] = defaultPorts[kind]
	}
	if u.User != nil {
		out[keyUser] = u.User.Username()
		if pw, ok := u.User.Password(); ok {
			out[keyPassword] = pw
		}
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		out[keyDBName] = db
	}
	if sslmode != "" {
		out[keySSLMode] = sslmode
	}
}
