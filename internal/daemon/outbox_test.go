package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/outbox"
)

func TestConvertOutbox(t *testing.T) {
	rowSchema := event.StructOf("srv.public.outbox.Value",
		event.NewField("id", event.String().WithName("io.debezium.data.Uuid").WithVersion(1)),
		event.NewField("aggregatetype", event.String()),
		event.NewField("aggregateid", event.String()),
		event.NewField("type", event.String()),
		event.NewField("payload", event.String().Optional().WithName("io.debezium.data.Json").WithVersion(1)),
	)
	src := event.StructOf("src", event.NewField("schema", event.String()), event.NewField("table", event.String()))
	row := event.NewStruct(rowSchema, "0190f0a4-9c1e-7000-8000-000000000001", "Order", "order-7", "OrderCreated", `{"total": 12}`)
	insert := event.Event{Op: event.OpCreate, Topic: "srv.public.outbox", After: row,
		Source: event.NewStruct(src, "public", "outbox"), Position: event.Position("p1")}
	del := insert
	del.Op, del.After, del.Before, del.Position = event.OpDelete, nil, row, event.Position("p2")

	tests := []struct {
		name       string
		schemas    bool
		expand     bool
		key, value string
	}{
		{"schemaless", false, false, `"order-7"`, `"{\"total\": 12}"`},
		{"with schemas", true, false, `{"schema":{"type":"string","optional":false},"payload":"order-7"}`,
			`{"schema":{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1},"payload":"{\"total\": 12}"}`},
		{"expanded", false, true, `"order-7"`, `{"total":12}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Converters.Key.SchemasEnable = tt.schemas
			cfg.Converters.Value.SchemasEnable = tt.schemas
			c, err := newConverter(cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.outbox, err = outbox.NewRouter(outbox.Config{Table: "public.outbox", ExpandJSONPayload: tt.expand}, outbox.Options{})
			if err != nil {
				t.Fatal(err)
			}
			segs, err := c.convert(context.Background(), event.Batch{insert, del})
			if err != nil {
				t.Fatal(err)
			}
			// The insert is one record; the delete is dropped (no tombstone)
			// and leaves its position as a mark.
			if len(segs) != 2 || len(segs[0].records) != 1 || string(segs[0].mark) != "p2" || len(segs[1].records) != 0 {
				t.Fatalf("segments = %+v", segs)
			}
			r := segs[0].records[0]
			if r.Topic != "outbox.event.Order" || string(r.Key) != tt.key || string(r.Value) != tt.value {
				t.Errorf("record %s key %s value %s, want outbox.event.Order key %s value %s", r.Topic, r.Key, r.Value, tt.key, tt.value)
			}
			if len(r.Headers) != 1 || r.Headers[0].Key != "id" || string(r.Headers[0].Value) != "0190f0a4-9c1e-7000-8000-000000000001" {
				t.Errorf("headers = %+v", r.Headers)
			}
			if string(r.Position.(event.Position)) != "p1" {
				t.Errorf("position = %v", r.Position)
			}
		})
	}
}

func TestValidateOutbox(t *testing.T) {
	s := DefaultSourceConfig()
	s.Name, s.Connector, s.TopicPrefix, s.URL = "pg", "postgres", "srv", "postgres://localhost/db"
	s.Tables = []string{"public.orders"}
	s.Outbox = &outbox.Config{Table: "public.outbox", OpInvalidBehavior: "explode"}
	err := s.Validate()
	if err == nil {
		t.Fatal("no problem reported")
	}
	for _, want := range []string{"outbox.table", "outbox.table.op.invalid.behavior"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want a problem at %s", err, want)
		}
	}
	s.Tables = append(s.Tables, "public.outbox")
	s.Outbox.OpInvalidBehavior = ""
	if err := s.Validate(); err != nil {
		t.Errorf("valid outbox block: %v", err)
	}
}

// TestConvertOutboxMySQL routes a row of migrations/002_outbox.mysql.sql as
// the MySQL source gives it: the source block has db and table (no
// schema), the CHAR(36) id and the payload are strings, the DATETIME(6)
// timestamp is a MicroTimestamp.
func TestConvertOutboxMySQL(t *testing.T) {
	rowSchema := event.StructOf("srv.shop.outbox.Value",
		event.NewField("id", event.String()),
		event.NewField("aggregatetype", event.String()),
		event.NewField("aggregateid", event.String()),
		event.NewField("type", event.String()),
		event.NewField("payload", event.String().Optional()),
		event.NewField("timestamp", event.Int64().WithName("io.debezium.time.MicroTimestamp").WithVersion(1)),
		event.NewField("tracingspancontext", event.String().Optional()),
	)
	src := event.StructOf("io.debezium.connector.mysql.Source", event.NewField("db", event.String()), event.NewField("table", event.String()))
	row := event.NewStruct(rowSchema, "0190f0a4-9c1e-7000-8000-000000000002", "Order", "order-7", "OrderCreated", `{"total":12,"sku":"A"}`, int64(1_700_000_000_123_456), nil)
	insert := event.Event{Op: event.OpCreate, Topic: "srv.shop.outbox", After: row,
		Source: event.NewStruct(src, "shop", "outbox"), Position: event.Position("p1"), TsMs: 5}
	del := insert
	del.Op, del.After, del.Before, del.Position = event.OpDelete, nil, row, event.Position("p2")

	cfg := DefaultConfig()
	cfg.Converters.Key.SchemasEnable = false
	cfg.Converters.Value.SchemasEnable = false
	c, err := newConverter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := DefaultSourceConfig()
	sc.Name, sc.Connector, sc.TopicPrefix, sc.URL = "my", "mysql", "srv", "mysql://localhost/shop"
	sc.Outbox = &outbox.Config{Table: "shop.outbox", ExpandJSONPayload: true, FieldEventTimestamp: "timestamp",
		FieldsAdditionalPlacement: "type:header:eventType"}
	if c.outbox, err = newOutboxRouter(sc, nil); err != nil {
		t.Fatal(err)
	}
	rec, handled, err := c.outbox.Route(&insert)
	if err != nil || !handled || rec.TimestampMs != 1_700_000_000_123 {
		t.Fatalf("Route = %+v, %v, %v; want timestamp 1700000000123", rec, handled, err)
	}
	segs, err := c.convert(context.Background(), event.Batch{insert, del})
	if err != nil {
		t.Fatal(err)
	}
	// The insert is routed, the delete dropped (its position a mark).
	if len(segs) != 2 || len(segs[0].records) != 1 || string(segs[0].mark) != "p2" || len(segs[1].records) != 0 {
		t.Fatalf("segments = %+v", segs)
	}
	r := segs[0].records[0]
	if r.Topic != "outbox.event.Order" || string(r.Key) != `"order-7"` || string(r.Value) != `{"total":12,"sku":"A"}` {
		t.Errorf("record %s key %s value %s", r.Topic, r.Key, r.Value)
	}
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Key+"="+string(h.Value))
	}
	if got := strings.Join(hs, ","); got != "id=0190f0a4-9c1e-7000-8000-000000000002,eventType=OrderCreated" {
		t.Errorf("headers %s", got)
	}
}

func TestValidateOutboxMySQL(t *testing.T) {
	s := DefaultSourceConfig()
	s.Name, s.Connector, s.TopicPrefix, s.URL = "my", "mysql", "srv", "mysql://localhost/shop"
	s.Tables = []string{"shop.orders", "shop.outbox"}
	s.Outbox = &outbox.Config{MessagePrefix: "outbox"}
	err := s.Validate()
	if err == nil {
		t.Fatal("no problem reported")
	}
	for _, want := range []string{"outbox.table: required for a mysql source", "outbox.message.prefix: logical decoding messages exist on Postgres only"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want %q", err, want)
		}
	}
	s.Outbox = &outbox.Config{Table: "shop.outbox"}
	if err := s.Validate(); err != nil {
		t.Errorf("valid outbox block: %v", err)
	}
}

// TestConvertOutboxMongo routes an insert into an outbox collection as the
// MongoDB source gives it (the envelope in Raw, the document as extended
// JSON in after): MongoEventRouter semantics, the _id as the id header.
func TestConvertOutboxMongo(t *testing.T) {
	src := event.StructOf("io.debezium.connector.mongo.Source",
		event.NewField("db", event.String()), event.NewField("collection", event.String()))
	env := event.StructOf("srv.shop.outbox.Envelope",
		event.NewField("after", event.String().Optional()), event.NewField("source", src), event.NewField("op", event.String()))
	raw := event.NewStruct(env, `{"_id": {"$oid": "596e275826f08b2730779e1f"}, "aggregateid": "c-1", "aggregatetype": "Order", "type": "OrderCreated", "payload": {"total": 12}}`,
		event.NewStruct(src, "shop", "outbox"), "c")
	insert := event.Event{Op: event.OpCreate, Topic: "srv.shop.outbox", Raw: raw, Position: event.Position("p1")}

	cfg := DefaultConfig()
	cfg.Converters.Key.SchemasEnable = false
	cfg.Converters.Value.SchemasEnable = false
	c, err := newConverter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sc := DefaultSourceConfig()
	sc.Name, sc.Connector, sc.TopicPrefix, sc.URL = "mg", "mongodb", "srv", "mongodb://localhost"
	for _, expand := range []bool{false, true} {
		sc.Outbox = &outbox.Config{Table: "shop.outbox", CollectionExpandJSONPayload: expand}
		if c.outbox, err = newOutboxRouter(sc, nil); err != nil {
			t.Fatal(err)
		}
		segs, err := c.convert(context.Background(), event.Batch{insert})
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != 1 || len(segs[0].records) != 1 {
			t.Fatalf("segments = %+v", segs)
		}
		r := segs[0].records[0]
		want := `"{\"total\": 12}"` // the Java driver's layout
		if expand {
			want = `{"total":12}`
		}
		if r.Topic != "outbox.event.Order" || string(r.Key) != `"c-1"` || string(r.Value) != want {
			t.Errorf("expand %v: record %s key %s value %s, want value %s", expand, r.Topic, r.Key, r.Value, want)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "id" || string(r.Headers[0].Value) != "596e275826f08b2730779e1f" {
			t.Errorf("headers = %+v", r.Headers)
		}
	}
}

func TestValidateOutboxMongo(t *testing.T) {
	s := DefaultSourceConfig()
	s.Name, s.Connector, s.TopicPrefix, s.URL = "mg", "mongodb", "srv", "mongodb://localhost"
	s.Outbox = &outbox.Config{MessagePrefix: "outbox"}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "outbox.table: required for a mongodb source") || !strings.Contains(err.Error(), "outbox.message.prefix") {
		t.Fatalf("problems: %v", err)
	}
	s.Outbox = &outbox.Config{Table: "shop.outbox"}
	if err := s.Validate(); err != nil {
		t.Errorf("valid outbox block: %v", err)
	}
}
