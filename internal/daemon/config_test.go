package daemon_test

import (
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/capture/postgres"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/publish"
)

func noEnv(string) (string, bool) { return "", false }

func TestDefaultConfigValid(t *testing.T) {
	if err := daemon.DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestExampleConfig(t *testing.T) {
	got, err := load(config.Loader{LookupEnv: noEnv}, "../../examples/sluice.yaml")
	if err != nil {
		t.Fatalf("examples/sluice.yaml: %v", err)
	}
	want := daemon.DefaultConfig()
	want.Kafka.Topics.Defaults.Configs = map[string]string{"cleanup.policy": "compact"}
	want.Kafka.Topics.Overrides = map[string]publish.TopicSpec{
		"dbserver1.inventory.orders":       {Partitions: 6},
		`/dbserver1\.inventory\.audit_.*/`: {Partitions: 3, Configs: map[string]string{"retention.ms": "604800000"}},
	}
	want.Sources = []daemon.SourceConfig{{
		Name:        "inventory",
		Connector:   "postgres",
		TopicPrefix: "dbserver1",
		URL:         "postgres://postgres:postgres@127.0.0.1:5432/inventory",
		Tables:      []string{"inventory.orders", "inventory.customers"},
		Postgres:    postgres.DefaultConfig(),
		MySQL:       mysql.DefaultConfig(),
		// errors.tolerance defaults to none, as in Kafka Connect.
		ErrorsTolerance: daemon.ToleranceNone,
	}}
	want.Connectors = []daemon.ConnectorConfig{}
	want.REST = daemon.RESTConfig{BasicAuth: map[string]string{}, BearerTokens: []string{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("examples/sluice.yaml decoded to\n%+v\nwant\n%+v", got, want)
	}

	// The secrets and addresses follow the environment.
	env := map[string]string{"KAFKA_BROKERS": "k1:9093", "PG_URL": "postgresql://u@db/x", "SLUICE_HTTP_ADDR": "127.0.0.1:9000"}
	l := config.Loader{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	got, err = load(l, "../../examples/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got.Kafka.Brokers[0] != "k1:9093" || got.Sources[0].URL != "postgresql://u@db/x" || got.HTTP.Addr != "127.0.0.1:9000" {
		t.Errorf("environment not applied: %+v %+v %+v", got.Kafka.Brokers, got.Sources[0].URL, got.HTTP)
	}
}

func TestConfigProblems(t *testing.T) {
	const source = "sources:\n  - name: inv\n    connector: postgres\n    topic.prefix: db1\n    url: postgres://h/db\n"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"minimal source", source, nil},
		{"debezium class name", "sources:\n  - name: m\n    connector: io.debezium.connector.mongodb.MongoDbConnector\n    topic.prefix: m\n    url: mongodb+srv://c/x\n    tables: [shop.orders.2024]\n", nil},
		{"log", "log:\n  level: loud\n  format: xml\n", []string{
			`c.yaml:2: log.level: unknown log level "loud" (want debug, info, warn or error)`,
			`c.yaml:3: log.format: unknown log format "xml" (want text or json)`,
		}},
		{"http addr", "http:\n  addr: localhost\n", []string{
			`c.yaml:2: http.addr: address "localhost" must be host:port or :port`,
		}},
		{"converters", "converters:\n  key: {type: avro}\n  value: {type: protobuf}\n", []string{
			`c.yaml:2: converters.key.schema.registry.url: is required ("embedded" or http(s)://host:port)`,
			`c.yaml:3: converters.value.type: unknown converter "protobuf" (want json or avro)`,
		}},
		{"avro converter", "converters:\n  key: {type: json, schema.registry.url: embedded}\n  value:\n    type: avro\n    schema.registry.url: ftp://x\n    subject.name.strategy: Nope\n    basic.auth.user.info: alice\n", []string{
			`c.yaml:2: converters.key.schema.registry.url: only applies to type avro (type is json)`,
			`c.yaml:5: converters.value.schema.registry.url: "ftp://x" is not an http(s) URL`,
			`c.yaml:6: converters.value.subject.name.strategy: "Nope" is not TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy`,
			`c.yaml:7: converters.value.basic.auth.user.info: must be user:password`,
		}},
		{"registry", "registry:\n  storage: s3\n  listen: nowhere\n", []string{
			`c.yaml:2: registry.storage: "s3" is not kafka or file`,
			`c.yaml:3: registry.listen: address "nowhere" must be host:port or :port`,
		}},
		{"registry file", "registry:\n  storage: file\n", []string{
			`c.yaml:1: registry.file: must be set for file storage`,
		}},
		{"kafka paths", "kafka:\n  bootstrap.servers: [a:1, b]\n  compression.type: brotli\n", []string{
			`c.yaml:2: kafka.bootstrap.servers[1]: broker "b" must be host:port`,
			`c.yaml:3: kafka.compression.type: unknown compression "brotli" (want none, gzip, snappy, lz4 or zstd)`,
		}},
		{"source required fields", "sources:\n  - tables: []\n", []string{
			`c.yaml:2: sources[0].name: required`,
			`c.yaml:2: sources[0].connector: required (postgres, mysql or mongodb)`,
			`c.yaml:2: sources[0].topic.prefix: required`,
			`c.yaml:2: sources[0].url: required`,
		}},
		{"source bad values", "sources:\n  - name: a b\n    connector: oracle\n    topic.prefix: db/1\n    url: x\n", []string{
			`c.yaml:2: sources[0].name: name "a b" may only contain letters, digits, '.', '_' and '-'`,
			`c.yaml:3: sources[0].connector: unknown connector "oracle" (want postgres, mysql or mongodb)`,
			`c.yaml:4: sources[0].topic.prefix: topic prefix "db/1" may only contain letters, digits, '.', '_' and '-'`,
		}},
		{"url scheme without echoing it", "sources:\n  - name: a\n    connector: mysql\n    topic.prefix: p\n    url: postgres://u:secret@h/db\n", []string{
			`c.yaml:5: sources[0].url: must be a mysql:// URL for connector mysql`,
		}},
		{"tables", source + "    tables:\n      - public.orders\n      - orders\n      - a.b.c\n      - .x\n      - public.orders\n", []string{
			`c.yaml:8: sources[0].tables[1]: table name must be schema.table`,
			`c.yaml:9: sources[0].tables[2]: table name must be schema.table`,
			`c.yaml:10: sources[0].tables[3]: table name must be schema.table`,
			`c.yaml:11: sources[0].tables[4]: duplicate table "public.orders"`,
		}},
		{"mysql and mongodb rules", "sources:\n  - name: a\n    connector: mysql\n    topic.prefix: p\n    url: mysql://h/db\n    tables: [shop]\n  - name: b\n    connector: mongo\n    topic.prefix: q\n    url: mongodb://h\n    tables: [orders]\n", []string{
			`c.yaml:6: sources[0].tables[0]: table name must be database.table`,
			`c.yaml:11: sources[1].tables[0]: collection name must be db.collection`,
		}},
		{"errors tolerance all", source + "    errors.tolerance: all\n    errors.deadletterqueue.topic.name: dlq.inv\n    errors.deadletterqueue.context.headers.enable: true\n    errors.log.enable: true\n", nil},
		{"errors tolerance needs a topic", source + "    errors.tolerance: all\n", []string{
			`c.yaml:2: sources[0].errors.deadletterqueue.topic.name: required when errors.tolerance is all`,
		}},
		{"errors bad values", source + "    errors.tolerance: some\n    errors.deadletterqueue.topic.name: dlq/x\n", []string{
			`c.yaml:6: sources[0].errors.tolerance: unknown tolerance "some" (want none or all)`,
			`c.yaml:7: sources[0].errors.deadletterqueue.topic.name: topic "dlq/x" must be 1 to 249 letters, digits, '.', '_' and '-'`,
		}},
		{"duplicate names", source + "  - name: inv\n    connector: postgres\n    topic.prefix: db2\n    url: postgres://h/db\n", []string{
			`c.yaml:6: sources[1].name: duplicate source name "inv" (also sources[0])`,
		}},
		{"unknown source key", source + "    slot.name: x\n", []string{
			`c.yaml:6: sources[0]: unknown field "slot.name"`,
		}},
		{"postgres block", source + "    postgres:\n      slot.name: Bad-Slot\n      snapshot.mod: x\n      max.queue.size: 10\n", []string{
			`c.yaml:7: sources[0].postgres.slot.name: "Bad-Slot" is not a valid slot name (lower-case letters, digits and underscores, at most 63)`,
			`c.yaml:8: sources[0].postgres: unknown field "snapshot.mod" (did you mean "snapshot.mode"?)`,
			`c.yaml:9: sources[0].postgres.max.queue.size: must be larger than max.batch.size (2048), got 10`,
		}},
		{"postgres block ignored for mysql", "sources:\n  - name: m\n    connector: mysql\n    topic.prefix: m\n    url: mysql://h/db\n    postgres: {slot.name: Bad}\n", nil},
		{"data dir", "data.dir: \"\"\n", []string{`c.yaml:1: data.dir: required (a directory for offsets.json)`}},
		{"unset env in source keeps defaults quiet", "sources:\n  - name: inv\n    connector: postgres\n    topic.prefix: db1\n    url: ${NOPE_UNSET}\n", []string{
			`c.yaml:5: sources[0].url: environment variable "NOPE_UNSET" is not set and has no default (write ${NOPE_UNSET:-default})`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := daemon.Decode(config.Loader{LookupEnv: noEnv}, "c.yaml", []byte(tt.yaml))
			var got []string
			if err != nil {
				var ce *config.Error
				if !errors.As(err, &ce) {
					t.Fatalf("error %T: %v", err, err)
				}
				for _, p := range ce.Problems {
					got = append(got, p.String())
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

func load(l config.Loader, path string) (daemon.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return daemon.Config{}, err
	}
	return daemon.Decode(l, path, data)
}

// TestSourceDefaults checks that every source entry starts from the
// connector defaults, key by key, whatever the entry sets.
func TestSourceDefaults(t *testing.T) {
	const doc = `sources:
  - name: a
    connector: postgres
    topic.prefix: a
    url: postgres://h/a
  - name: b
    connector: postgres
    topic.prefix: b
    url: postgres://h/b
    postgres:
      slot.name: slot_b
      snapshot.mode: no_data
  - name: c
    connector: postgres
    topic.prefix: c
    url: postgres://h/c
    postgres:
`
	c, err := daemon.Decode(config.Loader{LookupEnv: noEnv}, "c.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	wantB := postgres.DefaultConfig()
	wantB.SlotName, wantB.SnapshotMode = "slot_b", "no_data"
	for i, want := range []postgres.Config{postgres.DefaultConfig(), wantB, postgres.DefaultConfig()} {
		if !reflect.DeepEqual(c.Sources[i].Postgres, want) {
			t.Errorf("sources[%d].postgres =\n%+v\nwant\n%+v", i, c.Sources[i].Postgres, want)
		}
	}
}

func TestSourceKind(t *testing.T) {
	for in, want := range map[string]string{
		"postgres": "postgres", "PostgreSQL": "postgres", "mysql": "mysql", "mongodb": "mongodb", "mongo": "mongodb",
		"io.debezium.connector.postgresql.PostgresConnector": "postgres",
		"io.debezium.connector.mysql.MySqlConnector":         "mysql",
		"io.debezium.connector.mongodb.MongoDbConnector":     "mongodb",
		"io.debezium.connector.oracle.OracleConnector":       "",
		"": "",
	} {
		if got := (daemon.SourceConfig{Connector: in}).Kind(); got != want {
			t.Errorf("Kind(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Setenv("PG_URL", "postgres://from-env/db")
	c, err := daemon.Load("../../examples/sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Sources[0].URL != "postgres://from-env/db" {
		t.Errorf("URL = %q", c.Sources[0].URL)
	}
}

func BenchmarkLoadExample(b *testing.B) {
	l := config.Loader{LookupEnv: noEnv}
	for b.Loop() {
		if _, err := load(l, "../../examples/sluice.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMemoryAndPprofConfig(t *testing.T) {
	got, err := daemon.Decode(config.Loader{LookupEnv: noEnv}, "c.yaml", []byte("http:\n  pprof: true\nmemory:\n  limit: 268435456\noffset.flush.interval.ms: 250\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.HTTP.Pprof || got.Memory.Limit != 256<<20 || got.HTTP.Addr != ":8083" || got.OffsetFlushIntervalMs != 250 {
		t.Errorf("decoded http %+v, memory %+v, offset.flush.interval.ms %d", got.HTTP, got.Memory, got.OffsetFlushIntervalMs)
	}
	if def := daemon.DefaultConfig().OffsetFlushIntervalMs; def != 0 {
		t.Errorf("offset.flush.interval.ms defaults to %d, want 0 (every advance)", def)
	}
	def := daemon.DefaultConfig()
	if def.HTTP.Pprof || def.Memory.Limit != daemon.DefaultMemoryLimit || def.Kafka.MaxBufferedBytes != 16<<20 {
		t.Errorf("defaults: pprof %v, memory.limit %d, kafka.buffer.memory %d; want false, %d, %d",
			def.HTTP.Pprof, def.Memory.Limit, def.Kafka.MaxBufferedBytes, daemon.DefaultMemoryLimit, 16<<20)
	}
	_, err = daemon.Decode(config.Loader{LookupEnv: noEnv}, "c.yaml", []byte("memory:\n  limit: -1\n"))
	if err == nil || err.Error() != "c.yaml:2: memory.limit: memory limit -1 must be 0 (none) or a number of bytes" {
		t.Errorf("negative limit: %v", err)
	}
}
