package mysql

import "testing"

func TestSchemaHistoryKeysValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		want string // "" for valid
	}{
		{"kafka topic", func(c *Config) { c.SchemaHistoryKafkaTopic = "schema-changes.shop" }, ""},
		{"kafka topic and brokers", func(c *Config) {
			c.SchemaHistoryKafkaTopic = "schema-changes.shop"
			c.SchemaHistoryKafkaBrokers = List{"k1:9092", "k2:9092"}
		}, ""},
		{"file and topic", func(c *Config) {
			c.SchemaHistoryKafkaTopic = "schema-changes.shop"
			c.SchemaHistoryFile = "/var/lib/sluice/history.jsonl"
		}, "schema.history.internal.kafka.topic: cannot be used together with schema.history.internal.file.filename"},
		{"brokers without topic", func(c *Config) { c.SchemaHistoryKafkaBrokers = List{"k1:9092"} },
			"schema.history.internal.kafka.bootstrap.servers: needs schema.history.internal.kafka.topic"},
		{"broker without port", func(c *Config) {
			c.SchemaHistoryKafkaTopic = "h"
			c.SchemaHistoryKafkaBrokers = List{"k1:9092", "k2"}
		}, `schema.history.internal.kafka.bootstrap.servers[1]: want host:port, got "k2"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.set(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.want == "" && got != "" || tc.want != "" && !contains(got, tc.want) {
				t.Fatalf("Validate() = %q, want %q", got, tc.want)
			}
		})
	}
}
