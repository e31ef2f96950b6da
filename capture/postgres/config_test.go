package postgres

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/config"
)

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"slot name", func(c *Config) { c.SlotName = "Bad-Name" }, []string{`slot.name: "Bad-Name" is not a valid slot name (lower-case letters, digits and underscores, at most 63)`}},
		{"publication mode", func(c *Config) { c.PublicationAutocreate = "some" }, []string{`publication.autocreate.mode: unknown mode "some" (want all_tables, filtered or disabled)`}},
		{"regexp", func(c *Config) { c.TableIncludeList = List{"public.a", "("} }, []string{"table.include.list[1]: bad regular expression \"(\": error parsing regexp: missing closing ): `^(?:()$`"}},
		{"include and exclude", func(c *Config) { c.ColumnIncludeList = List{"a"}; c.ColumnExcludeList = List{"b"} }, []string{"column.exclude.list: cannot be used together with column.include.list"}},
		{"snapshot never", func(c *Config) { c.SnapshotMode = "never" }, []string{`snapshot.mode: "never" was renamed "no_data" in Debezium 2.x; use no_data`}},
		{"sizes", func(c *Config) { c.SnapshotFetchSize = 0; c.MaxBatchSize = 10; c.MaxQueueSize = 10 }, []string{
			"snapshot.fetch.size: must be positive, got 0",
			"max.queue.size: must be larger than max.batch.size (10), got 10",
		}},
		{"type modes", func(c *Config) { c.DecimalHandlingMode = "exact"; c.MoneyFractionDigits = -1 }, []string{
			`decimal.handling.mode: invalid value "exact"`,
			`money.fraction.digits: invalid value "-1"`,
		}},
		{"proto", func(c *Config) { c.ProtoVersion = 3 }, []string{"proto.version: must be 1 or 2, got 3"}},
		{"heartbeat query", func(c *Config) { c.HeartbeatActionQuery = "select 1" }, []string{"heartbeat.action.query: has no effect while heartbeat.interval.ms is 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			var got []string
			for _, fe := range config.Flatten(c.Validate()) {
				got = append(got, fe.Error())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Validate():\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestListYAML(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"l: public.a, public.b ,", "public.a|public.b"},
		{"l: [public.a, 'x,y']", "public.a|x,y"},
		{"l:", ""},
	} {
		var v struct {
			L List `yaml:"l"`
		}
		if err := yaml.Unmarshal([]byte(tt.in), &v); err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		if got := strings.Join(v.L, "|"); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFilter(t *testing.T) {
	f, err := newFilter(List{`public\..*`, `inv.orders`}, List{`public\.skip.*`})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{
		"public.a": true, "public.skipme": false, "inv.orders": true, "inv.orders2": false, "xpublic.a": false,
	} {
		if got := f.match(id); got != want {
			t.Errorf("match(%q) = %v, want %v", id, got, want)
		}
	}
}
