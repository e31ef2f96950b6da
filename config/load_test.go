package config_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// testConfig mimics the shape of Sluice's configs: dotted keys, nested
// structs, lists of structs and maps with free-form keys.
type testConfig struct {
	Name    string        `yaml:"name"`
	Port    int           `yaml:"port"`
	Enabled bool          `yaml:"enabled"`
	Wait    time.Duration `yaml:"wait"`
	Kafka   testKafka     `yaml:"kafka"`
	Sources []testSource  `yaml:"sources"`
	Extra   any           `yaml:"extra"`
}

type testKafka struct {
	Brokers   []string            `yaml:"bootstrap.servers"`
	Linger    int                 `yaml:"linger.ms"`
	Overrides map[string]testSpec `yaml:"overrides"`
}

type testSpec struct {
	Partitions int16 `yaml:"partitions"`
}

type testSource struct {
	Name   string   `yaml:"name"`
	Prefix string   `yaml:"topic.prefix"`
	Tables []string `yaml:"tables"`
}

func defaults() testConfig {
	return testConfig{Name: "sluice", Port: 8083, Kafka: testKafka{Brokers: []string{"localhost:9092"}, Linger: 5}}
}

// Validate reports a fixed set of rules so the tests can check path mapping.
func (c testConfig) Validate() error {
	var p config.Problems
	if c.Port <= 0 {
		p.Addf("port", "must be positive, got %d", c.Port)
	}
	for i, b := range c.Kafka.Brokers {
		if !strings.Contains(b, ":") {
			p.Addf(fmt.Sprintf("kafka.bootstrap.servers[%d]", i), "broker %q must be host:port", b)
		}
	}
	for name, spec := range c.Kafka.Overrides {
		if spec.Partitions < 0 {
			p.Addf("kafka.overrides."+name+".partitions", "must not be negative")
		}
	}
	for i, s := range c.Sources {
		var sp config.Problems
		if s.Prefix == "" {
			sp.Addf("topic.prefix", "required")
		}
		for j, t := range s.Tables {
			if strings.Count(t, ".") != 1 {
				sp.Addf(fmt.Sprintf("tables[%d]", j), "table name must be schema.table")
			}
		}
		p.Merge(fmt.Sprintf("sources[%d]", i), sp.Err())
	}
	return p.Err()
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDecodeValues(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want func(*testConfig)
	}{
		{"empty file keeps defaults", "", nil, func(*testConfig) {}},
		{"comment only", "# nothing\n", nil, func(*testConfig) {}},
		{"empty section keeps defaults", "kafka:\n  # linger.ms: 1\nname: ~\nsources: ~\n", nil, func(c *testConfig) {}},
		{"null list clears", "kafka:\n  bootstrap.servers: ~\n", nil, func(c *testConfig) { c.Kafka.Brokers = nil }},
		{"overlay", "name: x\nkafka:\n  linger.ms: 7\n", nil, func(c *testConfig) {
			c.Name = "x"
			c.Kafka.Linger = 7
		}},
		{"list replaces", "kafka:\n  bootstrap.servers: [a:1, b:2]\n", nil, func(c *testConfig) {
			c.Kafka.Brokers = []string{"a:1", "b:2"}
		}},
		{"env plain into int", "port: ${PORT}\n", map[string]string{"PORT": "9000"}, func(c *testConfig) { c.Port = 9000 }},
		{"env default used", "port: ${PORT:-9001}\n", nil, func(c *testConfig) { c.Port = 9001 }},
		{"env empty takes default", "name: ${N:-dflt}\n", map[string]string{"N": ""}, func(c *testConfig) { c.Name = "dflt" }},
		{"env empty without default", "name: a${N}b\n", map[string]string{"N": ""}, func(c *testConfig) { c.Name = "ab" }},
		{"env in quoted stays string", "name: \"${V}\"\n", map[string]string{"V": "123"}, func(c *testConfig) { c.Name = "123" }},
		{"env bool", "enabled: ${ON}\n", map[string]string{"ON": "true"}, func(c *testConfig) { c.Enabled = true }},
		{"env several", "name: ${A}-${B:-b}-$${C}\n", map[string]string{"A": "a"}, func(c *testConfig) { c.Name = "a-b-${C}" }},
		{"escape only", "name: $${HOME} and $5\n", nil, func(c *testConfig) { c.Name = "${HOME} and $5" }},
		{"env in list", "sources:\n  - name: s\n    topic.prefix: p\n    tables: [\"${T}\"]\n", map[string]string{"T": "public.t"}, func(c *testConfig) {
			c.Sources = []testSource{{Name: "s", Prefix: "p", Tables: []string{"public.t"}}}
		}},
		{"duration", "wait: 1m30s\n", nil, func(c *testConfig) { c.Wait = 90 * time.Second }},
		{"map merges", "kafka:\n  overrides:\n    /a.*/: {partitions: 3}\n", nil, func(c *testConfig) {
			c.Kafka.Overrides = map[string]testSpec{"/a.*/": {Partitions: 3}}
		}},
		{"anchors and merge keys", "sources:\n  - &s\n    name: a\n    topic.prefix: p\n  - <<: *s\n    name: b\n", nil, func(c *testConfig) {
			c.Sources = []testSource{{Name: "a", Prefix: "p"}, {Name: "b", Prefix: "p"}}
		}},
		{"free-form any", "extra:\n  x:\n    - 1\n    - ${V}\n", map[string]string{"V": "2"}, func(c *testConfig) {
			c.Extra = map[string]any{"x": []any{1, 2}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaults()
			err := config.Loader{LookupEnv: env(tt.env)}.Decode("t.yaml", []byte(tt.yaml), &got)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("want an error, got none")
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string
	}{
		{"syntax", "name: [a\n", nil, []string{
			"t.yaml:1: did not find expected ',' or ']'",
		}},
		{"tab indentation", "kafka:\n\tlinger.ms: 1\n", nil, []string{
			"t.yaml:2: found character that cannot start any token",
		}},
		{"second document", "name: a\n---\nname: b\n", nil, []string{
			`t.yaml:2: a second YAML document is not supported (remove the "---")`,
		}},
		{"unknown top-level key with suggestion", "nmae: x\n", nil, []string{
			`t.yaml:1: unknown field "nmae" (did you mean "name"?)`,
		}},
		{"unknown nested key, dotted suggestion", "kafka:\n  bootstrap_servers: [a:1]\n", nil, []string{
			`t.yaml:2: kafka: unknown field "bootstrap_servers" (did you mean "bootstrap.servers"?)`,
		}},
		{"unknown key without suggestion", "kafka:\n  linger.ms: 1\n  wholly.different: 2\n", nil, []string{
			`t.yaml:3: kafka: unknown field "wholly.different"`,
		}},
		{"unknown key in list item", "sources:\n  - name: a\n    topic.prefix: p\n    tabels: [a.b]\n", nil, []string{
			`t.yaml:4: sources[0]: unknown field "tabels" (did you mean "tables"?)`,
		}},
		{"duplicate key", "name: a\nport: 1\nname: b\n", nil, []string{
			`t.yaml:3: name: duplicate key "name" (first at line 1)`,
		}},
		{"type int", "port: eighty\n", nil, []string{
			`t.yaml:1: port: want an integer, got "eighty"`,
		}},
		{"type int16 overflow", "kafka:\n  overrides:\n    t1: {partitions: 70000}\n", nil, []string{
			`t.yaml:3: kafka.overrides.t1.partitions: want an integer that fits in int16, got "70000"`,
		}},
		{"type bool", "enabled: maybe\n", nil, []string{
			`t.yaml:1: enabled: want true or false, got "maybe"`,
		}},
		{"type duration", "wait: soon\n", nil, []string{
			`t.yaml:1: wait: want a duration (such as 30s or 5m), got "soon"`,
		}},
		{"mapping for scalar", "name:\n  first: a\n", nil, []string{
			`t.yaml:2: name: want a string, got a mapping`,
		}},
		{"scalar for list", "kafka:\n  bootstrap.servers: a:1\n", nil, []string{
			`t.yaml:2: kafka.bootstrap.servers: want a list, got "a:1"`,
		}},
		{"list for struct", "kafka: [a]\n", nil, []string{
			`t.yaml:1: kafka: want a mapping, got a list`,
		}},
		{"root is a list", "- a\n", nil, []string{
			`t.yaml:1: want a mapping, got a list`,
		}},
		{"type error keeps default so validate is quiet", "port: -x\n", nil, []string{
			`t.yaml:1: port: want an integer, got "-x"`,
		}},
		{"recursive alias", "extra: &a\n  - *a\n", nil, []string{
			`t.yaml:2: extra[0]: alias *a refers to a value that contains it`,
		}},
		{"nested too deep", "extra: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n", nil, []string{
			`t.yaml:1: extra` + strings.Repeat("[0]", 199) + `: nested more than 200 levels deep`,
		}},
		{"env unset", "name: ok\nport: ${PORT}\n", nil, []string{
			`t.yaml:2: port: environment variable "PORT" is not set and has no default (write ${PORT:-default})`,
		}},
		{"env unset in list item", "kafka:\n  bootstrap.servers:\n    - a:1\n    - ${BROKER}\n", nil, []string{
			`t.yaml:4: kafka.bootstrap.servers[1]: environment variable "BROKER" is not set and has no default (write ${BROKER:-default})`,
		}},
		{"env bad name", "name: ${1X}\n", nil, []string{
			`t.yaml:1: name: invalid environment variable name "1X" in "${1X}"`,
		}},
		{"env unterminated", "name: ${X\n", nil, []string{
			`t.yaml:1: name: unterminated "${" (write "$${" for a literal "${")`,
		}},
		{"env value of wrong type", "port: ${PORT}\n", map[string]string{"PORT": "http"}, []string{
			`t.yaml:1: port: want an integer, got "http"`,
		}},
		{"validate maps dotted keys", "kafka:\n  linger.ms: 1\n  bootstrap.servers:\n    - a:1\n    - nocolon\n", nil, []string{
			`t.yaml:5: kafka.bootstrap.servers[1]: broker "nocolon" must be host:port`,
		}},
		{"validate default value points at ancestor", "kafka:\n  linger.ms: 1\n", nil, nil},
		{"validate missing key points at list item", "name: x\nsources:\n  - name: a\n    tables:\n      - public.a\n      - nodot\n", nil, []string{
			`t.yaml:3: sources[0].topic.prefix: required`,
			`t.yaml:6: sources[0].tables[1]: table name must be schema.table`,
		}},
		{"validate map key with dots", "kafka:\n  overrides:\n    /orders.*/:\n      partitions: -1\n", nil, []string{
			`t.yaml:4: kafka.overrides./orders.*/.partitions: must not be negative`,
		}},
		{"validate absent key points at root", "port: 0\n", nil, []string{
			`t.yaml:1: port: must be positive, got 0`,
		}},
		{"every problem in line order", "nmae: x\nport: ${P}\nsources:\n  - name: a\n    tables: [x]\nkafka:\n  bootstrap.servers: [b]\n", nil, []string{
			`t.yaml:1: unknown field "nmae" (did you mean "name"?)`,
			`t.yaml:2: port: environment variable "P" is not set and has no default (write ${P:-default})`,
			`t.yaml:4: sources[0].topic.prefix: required`,
			`t.yaml:5: sources[0].tables[0]: table name must be schema.table`,
			`t.yaml:7: kafka.bootstrap.servers[0]: broker "b" must be host:port`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := defaults()
			err := config.Loader{LookupEnv: env(tt.env)}.Decode("t.yaml", []byte(tt.yaml), &c)
			var got []string
			if err != nil {
				var ce *config.Error
				if !errors.As(err, &ce) {
					t.Fatalf("error is %T, want *config.Error: %v", err, err)
				}
				for _, p := range ce.Problems {
					got = append(got, p.String())
				}
				if err.Error() != strings.Join(got, "\n") {
					t.Errorf("Error() = %q, want the problems joined by newlines", err.Error())
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeDestination(t *testing.T) {
	var c testConfig
	if err := config.Decode("t.yaml", nil, c); err == nil || !strings.Contains(err.Error(), "non-nil pointer") {
		t.Errorf("Decode(non-pointer) = %v, want a pointer error", err)
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("SLUICE_TEST_PORT", "1234")
	c := defaults()
	if err := config.Load("testdata/load.yaml", &c); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Port != 1234 || c.Name != "from-file" {
		t.Errorf("got port %d name %q, want 1234 from-file", c.Port, c.Name)
	}
	err := config.Load("testdata/missing.yaml", &c)
	if err == nil || !strings.HasPrefix(err.Error(), "read config: ") {
		t.Errorf("Load(missing) = %v, want read config error", err)
	}
}

func TestLineOf(t *testing.T) {
	// LineOf is exercised through Decode above; a nil root has no lines.
	if got := config.LineOf(nil, "a"); got != 0 {
		t.Errorf("LineOf(nil) = %d, want 0", got)
	}
}
