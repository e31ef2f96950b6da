package daemon_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/daemon"
)

// TestConnectRoundTrip checks that a sluice.yaml source survives the trip
// through Kafka Connect's flat form unchanged.
func TestConnectRoundTrip(t *testing.T) {
	docs := map[string]string{
		"example": "", // examples/sluice.yaml, below
		"full": `
sources:
  - name: shop
    connector: io.debezium.connector.postgresql.PostgresConnector
    topic.prefix: shop
    url: "postgres://app:p%40ss@db.example:6543/shop?sslmode=require"
    tables: [public.orders, public.outbox]
    errors.tolerance: all
    errors.deadletterqueue.topic.name: shop-dlq
    errors.log.enable: true
    outbox:
      table: public.outbox
      route.by.field: kind
      table.expand.json.payload: true
    postgres:
      slot.name: shop_slot
      snapshot.mode: no_data
      heartbeat.interval.ms: 5000
      decimal.handling.mode: string
      provide.transaction.metadata: true
      column.exclude.list: [public.orders.secret, public.orders.notes]
      heartbeat.action.query: "UPDATE hb SET ts = now() -- $${literal}"
`,
		"mongodb": `
sources:
  - {name: mg, connector: mongodb, topic.prefix: mg, url: "mongodb://u:p@127.0.0.1:27017/?replicaSet=rs0", tables: [shop.orders], mongodb: {poll.interval.ms: 250}}
`,
		"url kept whole": `
sources:
  - {name: m, connector: mysql, topic.prefix: m, url: "mysql://u:p@127.0.0.1:3306/db?tls=skip-verify", mysql: {database.server.id: 77}}
`,
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			var cfg daemon.Config
			var err error
			if doc == "" {
				cfg, err = daemon.Load("../../examples/sluice.yaml")
			} else {
				cfg, err = daemon.Decode(config.Loader{}, name+".yaml", []byte(doc))
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range cfg.Sources {
				flat := daemon.SourceToConnect(sc, cfg)
				back, problems := daemon.SourceFromConnect(sc.Name, flat, cfg)
				if len(problems) > 0 {
					t.Fatalf("flat form %v has problems %v", flat, problems)
				}
				if back.Kind() == sc.Kind() {
					back.Connector = sc.Connector // a kind or its class name
				}
				if !reflect.DeepEqual(back, sc) {
					t.Errorf("round trip of %s through\n%v\ngave %+v\nwant %+v", sc.Name, flat, back, sc)
				}
			}
		})
	}
}

// TestSourceFromDebeziumJSON reads a Debezium PostgresConnector
// configuration as its users write it.
func TestSourceFromDebeziumJSON(t *testing.T) {
	base := daemon.DefaultConfig()
	cfg := map[string]string{
		"name":                             "inventory-connector",
		"connector.class":                  "io.debezium.connector.postgresql.PostgresConnector",
		"tasks.max":                        "1",
		"database.hostname":                "postgres",
		"database.port":                    "5432",
		"database.user":                    "postgres",
		"database.password":                "s3cr/et",
		"database.dbname":                  "postgres",
		"topic.prefix":                     "dbserver1",
		"table.include.list":               "inventory.orders,inventory.customers",
		"slot.name":                        "dbz",
		"snapshot.mode":                    "initial",
		"tombstones.on.delete":             "false",
		"value.converter":                  "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable":   "false",
		"transforms":                       "outbox",
		"transforms.outbox.type":           "io.debezium.transforms.outbox.EventRouter",
		"transforms.outbox.table":          "inventory.outbox",
		"transforms.outbox.route.by.field": "aggregatetype",
	}
	sc, problems := daemon.SourceFromConnect("inventory-connector", cfg, base)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if sc.URL != "postgres://postgres:s3cr%2Fet@postgres:5432/postgres" || sc.TopicPrefix != "dbserver1" || sc.Kind() != daemon.Postgres {
		t.Errorf("url %q prefix %q kind %q", sc.URL, sc.TopicPrefix, sc.Kind())
	}
	if !slices.Equal(sc.Postgres.TableIncludeList, []string{"inventory.orders", "inventory.customers"}) || sc.Postgres.SlotName != "dbz" {
		t.Errorf("postgres block %+v", sc.Postgres)
	}
	if sc.TombstonesOnDelete == nil || *sc.TombstonesOnDelete {
		t.Errorf("tombstones.on.delete override = %v, want false", sc.TombstonesOnDelete)
	}
	if sc.Converters == nil || sc.Converters.Value.SchemasEnable || !sc.Converters.Key.SchemasEnable {
		t.Errorf("converters override = %+v, want value schemas off, key on", sc.Converters)
	}
	if sc.Outbox == nil || sc.Outbox.Table != "inventory.outbox" || sc.Outbox.RouteByField != "aggregatetype" {
		t.Errorf("outbox = %+v", sc.Outbox)
	}
}

// TestSourceFromConnectProblems checks that each problem names its key.
func TestSourceFromConnectProblems(t *testing.T) {
	base := daemon.DefaultConfig()
	good := map[string]string{
		"connector.class":   "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname": "127.0.0.1", "database.user": "u", "database.dbname": "d", "topic.prefix": "p",
	}
	cases := []struct {
		name string
		set  map[string]string
		del  string
		key  string
		want string
	}{
		{"missing prefix", nil, "topic.prefix", "topic.prefix", "topic.prefix"},
		{"missing host", nil, "database.hostname", "database.hostname", `Missing required configuration "database.hostname"`},
		{"bad port", map[string]string{"database.port": "70000"}, "", "database.port", "Invalid value 70000 for configuration database.port"},
		{"bad int", map[string]string{"heartbeat.interval.ms": "soon"}, "", "heartbeat.interval.ms", "heartbeat.interval.ms"},
		{"bad mode", map[string]string{"snapshot.mode": "sometimes"}, "", "snapshot.mode", "Invalid value sometimes for configuration snapshot.mode"},
		{"bad converter", map[string]string{"value.converter": "org.apache.kafka.connect.storage.StringConverter"}, "", "value.converter", "JsonConverter"},
		{"avro without registry", map[string]string{"value.converter": "io.confluent.connect.avro.AvroConverter"}, "", "value.converter", "converters.value"},
		{"two transforms", map[string]string{"transforms": "a,b"}, "", "transforms", "one transform"},
		{"other transform", map[string]string{"transforms": "u", "transforms.u.type": "io.debezium.transforms.ExtractNewRecordState"}, "", "transforms.u.type", "EventRouter"},
		{"stray transform key", map[string]string{"transforms.x.type": "y"}, "", "transforms.x.type", "no transform alias"},
		{"bad tolerance", map[string]string{"errors.tolerance": "some"}, "", "errors.tolerance", "some"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := map[string]string{}
			for k, v := range good {
				if k != c.del {
					cfg[k] = v
				}
			}
			for k, v := range c.set {
				cfg[k] = v
			}
			_, problems := daemon.SourceFromConnect("c", cfg, base)
			msgs := problems[c.key]
			if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, c.want) }) {
				t.Errorf("problems = %v, want one on %s containing %q", problems, c.key, c.want)
			}
		})
	}
	if _, problems := daemon.SourceFromConnect("c", good, base); len(problems) > 0 {
		t.Errorf("good config: %v", problems)
	}
}
