package outbox

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

// mongoEvent builds a MongoDB change event as capture/mongodb emits it:
// the envelope in Raw, the document as extended JSON in after.
func mongoEvent(op event.Op, db, coll, after string) *event.Event {
	src := event.StructOf("io.debezium.connector.mongo.Source",
		event.NewField("db", event.String()), event.NewField("collection", event.String()))
	env := event.StructOf("srv."+db+"."+coll+".Envelope",
		event.NewField(event.FieldAfter, event.String().Optional()),
		event.NewField(event.FieldSource, src),
		event.NewField(event.FieldOp, event.String()))
	v := event.NewStruct(env)
	if after != "" {
		v.Set(event.FieldAfter, after)
	}
	v.Set(event.FieldSource, event.NewStruct(src, db, coll))
	v.Set(event.FieldOp, op.String())
	return &event.Event{Op: op, Topic: "srv." + db + "." + coll, Raw: v, Position: event.Position("p"), TsMs: 42}
}

// The document of Debezium's MongoDB outbox example, as the connector's
// strict extended JSON.
const mongoOrder = `{"_id": {"$oid": "596e275826f08b2730779e1f"}, "aggregateid": "b2730779e1f596e275826f08", "aggregatetype": "Order", "type": "OrderCreated", ` +
	`"ts": {"$date": 1556890294484}, "n": {"$numberLong": "7"}, ` +
	`"payload": {"id": {"$oid": "da8d6de63b7745ff8f4457db"}, "lineItems": [{"id": 1, "item": "Debezium in Action", "quantity": 2}], "customerId": 123}}`

func TestJavaSpacing(t *testing.T) {
	for in, want := range map[string]string{
		`{"a":1,"b":[1,2],"c":{"d":"x:y, \"q\", z"}}`: `{"a": 1, "b": [1, 2], "c": {"d": "x:y, \"q\", z"}}`,
		`"a,b"`:        `"a,b"`,
		`[]`:           `[]`,
		`{"\\\\":","}`: `{"\\\\": ","}`,
	} {
		if got := javaSpacing(in); got != want {
			t.Errorf("javaSpacing(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestRouteMongo(t *testing.T) {
	tests := []struct {
		name              string
		cfg               Config
		event             *event.Event
		handled, routed   bool
		topic, key, value string
		headers           string
		tsMs              int64
	}{
		{name: "insert, payload as JSON text", cfg: Config{Table: "shop.outbox"},
			event: mongoEvent(event.OpCreate, "shop", "outbox", mongoOrder), handled: true, routed: true,
			topic: "outbox.event.Order", key: "b2730779e1f596e275826f08",
			value:   `{"id": {"$oid": "da8d6de63b7745ff8f4457db"}, "lineItems": [{"id": 1, "item": "Debezium in Action", "quantity": 2}], "customerId": 123}`,
			headers: "id=596e275826f08b2730779e1f", tsMs: 42},
		{name: "collection keys, timestamp, header", cfg: Config{Table: "shop.outbox", CollectionFieldEventTimestamp: "ts",
			CollectionFieldsAdditionalPlacement: "type:header:eventType,n:header"},
			event: mongoEvent(event.OpRead, "shop", "outbox", mongoOrder), handled: true, routed: true,
			topic: "outbox.event.Order", key: "b2730779e1f596e275826f08",
			value:   `{"id": {"$oid": "da8d6de63b7745ff8f4457db"}, "lineItems": [{"id": 1, "item": "Debezium in Action", "quantity": 2}], "customerId": 123}`,
			headers: "id=596e275826f08b2730779e1f,eventType=OrderCreated,n=7", tsMs: 1556890294484},
		{name: "update dropped", cfg: Config{Table: "shop.outbox"}, event: mongoEvent(event.OpUpdate, "shop", "outbox", mongoOrder), handled: true},
		{name: "delete dropped", cfg: Config{Table: "shop.outbox"}, event: mongoEvent(event.OpDelete, "shop", "outbox", ""), handled: true},
		{name: "other collection", cfg: Config{Table: "shop.outbox"}, event: mongoEvent(event.OpCreate, "shop", "orders", mongoOrder)},
		{name: "table event", cfg: Config{Table: "shop.outbox"}, event: &event.Event{Op: event.OpCreate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRouter(tt.cfg, Options{Mongo: true})
			if err != nil {
				t.Fatal(err)
			}
			rec, handled, err := r.Route(tt.event)
			if err != nil || handled != tt.handled || (rec != nil) != tt.routed {
				t.Fatalf("Route = %+v, %v, %v; want handled %v routed %v", rec, handled, err, tt.handled, tt.routed)
			}
			if rec == nil {
				return
			}
			if rec.Topic != tt.topic || rec.Key != tt.key || rec.Value != tt.value || rec.TimestampMs != tt.tsMs {
				t.Errorf("record %s key %v value %v ts %d, want %s %s %s %d", rec.Topic, rec.Key, rec.Value, rec.TimestampMs, tt.topic, tt.key, tt.value, tt.tsMs)
			}
			if rec.ValueSchema.Name() != NameJSON {
				t.Errorf("value schema %s, want %s", rec.ValueSchema.Name(), NameJSON)
			}
			var hs string
			for i, h := range rec.Headers {
				if i > 0 {
					hs += ","
				}
				hs += h.Key + "=" + fmt.Sprint(h.Value)
			}
			if hs != tt.headers {
				t.Errorf("headers %s, want %s", hs, tt.headers)
			}
		})
	}

	// Expanded payload: the sub-document becomes a struct.
	r, err := NewRouter(Config{Table: "shop.outbox", CollectionExpandJSONPayload: true}, Options{Mongo: true})
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := r.Route(mongoEvent(event.OpCreate, "shop", "outbox", mongoOrder))
	if err != nil {
		t.Fatal(err)
	}
	st, ok := rec.Value.(*event.Struct)
	if !ok || fmt.Sprint(st.Get("customerId")) != "123" || st.Schema().Field(0).Name != "id" {
		t.Errorf("expanded value %#v", rec.Value)
	}

	// Fatal on update; a document that is no extended JSON is an error.
	r, _ = NewRouter(Config{Table: "shop.outbox", CollectionOpInvalidBehavior: InvalidFatal}, Options{Mongo: true})
	if _, _, err := r.Route(mongoEvent(event.OpUpdate, "shop", "outbox", mongoOrder)); !errors.Is(err, ErrInvalidOperation) {
		t.Errorf("update with fatal: %v", err)
	}
	if _, _, err := r.Route(mongoEvent(event.OpCreate, "shop", "outbox", `{"_id": `)); err == nil {
		t.Error("a broken document was routed")
	}
}
