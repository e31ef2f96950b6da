package daemon

import (
	"reflect"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/schema/registry"
)

func TestDiffColumns(t *testing.T) {
	envelope := func(fields string) string {
		return `{"type":"record","name":"Envelope","namespace":"p.s.t","fields":[` +
			`{"name":"before","type":["null",{"type":"record","name":"Value","fields":[` + fields + `]}],"default":null},` +
			`{"name":"after","type":["null","Value"],"default":null},{"name":"op","type":"string"}]}`
	}
	base := `{"name":"id","type":"long"},{"name":"a","type":["null","string"],"default":null}`
	tests := []struct {
		name         string
		older, newer string
		want         []string
	}{
		{"same", envelope(base), envelope(base), nil},
		{"added required", envelope(base), envelope(base + `,{"name":"z","type":"int"}`),
			[]string{"column z added as int with no default"}},
		{"added with default", envelope(base), envelope(base + `,{"name":"c","type":{"type":"int","connect.default":7},"default":7}`),
			[]string{"column c added as int with default 7"}},
		{"added optional", envelope(base), envelope(base + `,{"name":"b","type":["null","int"],"default":null}`),
			[]string{"column b added as optional int with default null"}},
		{"made required", envelope(base), envelope(`{"name":"id","type":"long"},{"name":"a","type":"string"}`),
			[]string{"column a changed from optional string to string"}},
		{"logical type", envelope(base + `,{"name":"d","type":{"type":"int","connect.name":"io.debezium.time.Date"}}`),
			envelope(base + `,{"name":"d","type":"string"}`),
			[]string{"column d changed from int (io.debezium.time.Date) to string"}},
		{"default changed", envelope(`{"name":"c","type":"int","default":1}`), envelope(`{"name":"c","type":"int","default":2}`),
			[]string{"column c default changed from 1 to 2"}},
		{"removed", envelope(base + `,{"name":"x","type":"int"},{"name":"w","type":"int"}`), envelope(base),
			[]string{"column w removed (was int)", "column x removed (was int)"}},
		{"key record", `{"type":"record","name":"Key","fields":[{"name":"id","type":"int"}]}`,
			`{"type":"record","name":"Key","fields":[{"name":"id","type":"long"}]}`,
			[]string{"column id changed from int to long"}},
		{"not json", `{`, envelope(base), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := diffColumns([]byte(tt.older), []byte(tt.newer)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("diffColumns:\n got  %q\n want %q", got, tt.want)
			}
		})
	}
}

func TestTableOf(t *testing.T) {
	pg := event.StructOf("src", event.Field{Name: "schema", Schema: event.String()}, event.Field{Name: "table", Schema: event.String()})
	my := event.StructOf("src", event.Field{Name: "db", Schema: event.String()}, event.Field{Name: "table", Schema: event.String()})
	for _, tt := range []struct {
		ev   event.Event
		want string
	}{
		{event.Event{Topic: "t", Source: event.NewStruct(pg, "inventory", "orders")}, "inventory.orders"},
		{event.Event{Topic: "t", Source: event.NewStruct(my, "shop", "items")}, "shop.items"},
		{event.Event{Topic: "p.x.y"}, "of topic p.x.y"},
	} {
		if got := tableOf(&tt.ev); got != tt.want {
			t.Errorf("tableOf = %q, want %q", got, tt.want)
		}
	}
}

// TestAvroConverterConfig: the AvroConverter keys sit beside type under
// converters.key/value, with Confluent's defaults for the absent ones.
func TestAvroConverterConfig(t *testing.T) {
	doc := `
converters:
  key: {type: avro, schema.registry.url: embedded}
  value:
    type: avro
    schema.registry.url: "http://r1:8081,http://r2:8081"
    auto.register.schemas: false
    use.latest.version: true
    subject.name.strategy: io.confluent.kafka.serializers.subject.RecordNameStrategy
    basic.auth.user.info: "u:p"
registry:
  storage: file
  file: /tmp/schemas.jsonl
  listen: 127.0.0.1:18081
`
	c, err := Decode(config.Loader{LookupEnv: func(string) (string, bool) { return "", false }}, "c.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	wantKey := avroconv.DefaultConfig()
	wantKey.SchemaRegistryURL = avroconv.Embedded
	if c.Converters.Key.Config != wantKey {
		t.Errorf("key converter = %+v, want %+v", c.Converters.Key.Config, wantKey)
	}
	wantValue := avroconv.Config{
		SchemaRegistryURL:   "http://r1:8081,http://r2:8081",
		UseLatestVersion:    true,
		SubjectNameStrategy: "io.confluent.kafka.serializers.subject.RecordNameStrategy",
		BasicAuthUserInfo:   "u:p",
	}
	if c.Converters.Value.Config != wantValue {
		t.Errorf("value converter = %+v, want %+v", c.Converters.Value.Config, wantValue)
	}
	wantReg := registry.Config{Storage: "file", Topic: "_schemas", File: "/tmp/schemas.jsonl", Listen: "127.0.0.1:18081"}
	if c.Registry != wantReg {
		t.Errorf("registry = %+v, want %+v", c.Registry, wantReg)
	}
	if !usesEmbeddedRegistry(c) {
		t.Error("usesEmbeddedRegistry = false with key schema.registry.url embedded")
	}

	// The converters built from it: an embedded side needs the running
	// registry's URL.
	if _, err := newAvroSides(c, ""); err == nil {
		t.Error("newAvroSides without an embedded URL: no error")
	}
	sides, err := newAvroSides(c, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if sides.key.conv == nil || sides.value.conv == nil || sides.value.strategy != avroconv.RecordNameStrategy {
		t.Errorf("sides = %+v", sides)
	}
	if got, _ := newAvroSides(DefaultConfig(), ""); got != nil {
		t.Errorf("newAvroSides for json converters = %+v, want nil", got)
	}
}

func TestLoadAvroExample(t *testing.T) {
	c, err := Load("../../examples/avro.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Converters.Value.Type != "avro" || !usesEmbeddedRegistry(c) || c.Registry.Topic != "_schemas" {
		t.Errorf("examples/avro.yaml loaded as %+v / %+v", c.Converters, c.Registry)
	}
}

// TestRegistryUnavailable: an unreachable registry is worth a restart, a
// refusal or an encoding problem is not.
func TestRegistryUnavailable(t *testing.T) {
	conv, err := avroconv.New(avroconv.DefaultConfig(), mustClient(t, "http://127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	row := event.StructOf("p.s.t.Key", event.Field{Name: "id", Schema: event.Int64()})
	_, err = conv.Encode(t.Context(), "p.s.t", true, event.NewStruct(row, int64(1)))
	if err == nil || !registryUnavailable(err) {
		t.Errorf("encode against a closed port: %v, registryUnavailable = false", err)
	}
	for _, e := range []error{avroconv.ErrIncompatibleSchema, avroconv.ErrMismatch, avroconv.ErrInvalidSchema} {
		if registryUnavailable(e) {
			t.Errorf("registryUnavailable(%v) = true", e)
		}
	}
}

func mustClient(t *testing.T, url string) *avroconv.Client {
	t.Helper()
	c, err := avroconv.NewClient(avroconv.Config{SchemaRegistryURL: url})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
