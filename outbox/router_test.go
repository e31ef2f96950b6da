package outbox

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

// Schemas as the Postgres source builds them for migrations/001_outbox.
var (
	uuidSchema = event.String().WithName("io.debezium.data.Uuid").WithVersion(1)
	jsonSchema = event.String().Optional().WithName(NameJSON).WithVersion(1)
	rowSchema  = event.StructOf("srv.public.outbox.Value",
		event.NewField("id", uuidSchema),
		event.NewField("aggregatetype", event.String()),
		event.NewField("aggregateid", event.String()),
		event.NewField("type", event.String()),
		event.NewField("payload", jsonSchema),
		event.NewField("timestamp", event.Int64().WithName(NameMicroTimestamp).WithVersion(1)),
		event.NewField("tracingspancontext", event.String().Optional()),
	)
	srcSchema = event.StructOf("io.debezium.connector.postgresql.Source",
		event.NewField("db", event.String()),
		event.NewField("schema", event.String()),
		event.NewField("table", event.String()),
	)
)

const evID = "0190f0a4-9c1e-7000-8000-000000000001"

func outboxEvent(op event.Op, table, aggType string, payload any) event.Event {
	row := event.NewStruct(rowSchema, evID, aggType, "order-7", "OrderCreated", payload, int64(1_700_000_000_123_456), "trace-1")
	ev := event.Event{Op: op, Topic: "srv.public." + table, TsMs: 1_700_000_001_000,
		Source: event.NewStruct(srcSchema, "shop", "public", table), Position: event.Position("pos")}
	switch op {
	case event.OpDelete:
		ev.Before = row
	case event.OpUpdate:
		ev.Before, ev.After = row, row
	default:
		ev.After = row
	}
	return ev
}

func messageEvent(prefix, content string) event.Event {
	return event.Event{Op: event.OpMessage, Topic: "srv.message", TsMs: 1_700_000_002_000,
		Message: &event.Message{Prefix: prefix, Content: []byte(content)}, Position: event.Position("m")}
}

// want describes a routed record; headers are key=value with %v values.
type want struct {
	topic     string
	keySchema string
	key       any
	valSchema string // "" for a tombstone
	valName   string
	value     any    // compared with event.ValueEqual unless a *Struct
	valueText string // the value's String() when it is a struct
	headers   []string
	timestamp int64
}

func TestRoute(t *testing.T) {
	idHeader := "id=" + evID
	tests := []struct {
		name    string
		cfg     Config
		ev      event.Event
		handled bool
		want    *want
		err     error
	}{
		{
			name: "insert routed by aggregatetype", cfg: Config{Table: "public.outbox"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{"total": 12}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{"total": 12}`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "snapshot read routed like an insert", cfg: Config{Table: "public.outbox"},
			ev: outboxEvent(event.OpRead, "outbox", "Customer", `{}`), handled: true,
			want: &want{topic: "outbox.event.Customer", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{}`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{name: "delete ignored", cfg: Config{Table: "public.outbox"}, ev: outboxEvent(event.OpDelete, "outbox", "Order", `{}`), handled: true},
		{name: "truncate ignored", cfg: Config{Table: "public.outbox"}, ev: event.Event{Op: event.OpTruncate, Topic: "t",
			Source: event.NewStruct(srcSchema, "shop", "public", "outbox")}, handled: true},
		{name: "update warns", cfg: Config{Table: "public.outbox"}, ev: outboxEvent(event.OpUpdate, "outbox", "Order", `{}`), handled: true},
		{name: "update fatal", cfg: Config{Table: "public.outbox", OpInvalidBehavior: "fatal"},
			ev: outboxEvent(event.OpUpdate, "outbox", "Order", `{}`), handled: true, err: ErrInvalidOperation},
		{name: "deprecated op key", cfg: Config{Table: "public.outbox", DebeziumOpInvalidBehavior: "fatal"},
			ev: outboxEvent(event.OpUpdate, "outbox", "Order", `{}`), handled: true, err: ErrInvalidOperation},
		{name: "other table passes", cfg: Config{Table: "public.outbox"}, ev: outboxEvent(event.OpCreate, "orders", "Order", `{}`)},
		{name: "no table configured passes", cfg: Config{}, ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`)},
		{
			name: "named group replacement", cfg: Config{Table: "public.outbox", RouteTopicReplacement: "${routedByValue}.events"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`), handled: true,
			want: &want{topic: "Order.events", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{}`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "numbered group replacement", cfg: Config{Table: "public.outbox", RouteTopicRegex: "(Ord)(er)", RouteTopicReplacement: "shop.$2$1"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`), handled: true,
			want: &want{topic: "shop.erOrd", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{}`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "regex must match in full", cfg: Config{Table: "public.outbox", RouteTopicRegex: "Ord", RouteTopicReplacement: "x"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`), handled: true,
			want: &want{topic: "Order", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{}`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "route by type, key by id", cfg: Config{Table: "public.outbox", RouteByField: "type", FieldEventKey: "id"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`), handled: true,
			want: &want{topic: "outbox.event.OrderCreated", keySchema: "string(io.debezium.data.Uuid)", key: evID, valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{}`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "additional header with alias", cfg: Config{Table: "public.outbox", FieldsAdditionalPlacement: "type:header:eventType, tracingspancontext:header"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{}`, headers: []string{idHeader, "eventType=OrderCreated", "tracingspancontext=trace-1"}, timestamp: 1_700_000_001_000},
		},
		{
			name: "additional envelope field", cfg: Config{Table: "public.outbox", FieldsAdditionalPlacement: "type:envelope:eventType"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{"a": 1}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", valSchema: "struct(srv.public.outbox.Order.Value)<payload:string(io.debezium.data.Json)?,eventType:string>",
				valName: "srv.public.outbox.Order.Value", valueText: `{"a": 1}|OrderCreated`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "missing additional column is an error", cfg: Config{Table: "public.outbox", FieldsAdditionalPlacement: "nope:header"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`), handled: true, err: ErrMissingField,
		},
		{
			name: "missing additional column ignored", cfg: Config{Table: "public.outbox", FieldsAdditionalPlacement: "nope:header", FieldAdditionalMissing: "ignore"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{}`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "null payload without tombstones", cfg: Config{Table: "public.outbox"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", nil), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "null payload tombstone", cfg: Config{Table: "public.outbox", RouteTombstoneOnEmptyPayload: true},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", nil), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "blank payload tombstone", cfg: Config{Table: "public.outbox", RouteTombstoneOnEmptyPayload: true},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", " \n"), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "timestamp column in micros", cfg: Config{Table: "public.outbox", FieldEventTimestamp: "timestamp"},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{}`, headers: []string{idHeader}, timestamp: 1_700_000_000_123},
		},
		{
			name: "expanded JSON payload", cfg: Config{Table: "public.outbox", ExpandJSONPayload: true},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `{"n": 1, "big": 5000000000, "f": 1.5, "s": "x", "ok": true, "nil": null, "e": [], "tags": ["a", "b"], "lines": [{"sku": "A"}, {"qty": 2}], "o": {"k": 1}}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7",
				valSchema: "struct(payload)<n:int32?,big:int64?,f:float64?,s:string?,ok:boolean?,tags:array<string?>?,lines:array<struct(payload.lines)<sku:string?,qty:int32?>?>?,o:struct(payload.o)<k:int32?>?>?",
				valName:   "payload", valueText: "1|5000000000|1.5|x|true|[a b]|[sku=A qty=<nil> sku=<nil> qty=2]|k=1",
				headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "expansion keeps empty arrays and nulls when asked",
			cfg:  Config{Table: "public.outbox", ExpandJSONPayload: true, JSONPayloadNullBehavior: "optional_bytes", JSONPayloadEmptyArrayBehavior: "optional_string"},
			ev:   outboxEvent(event.OpCreate, "outbox", "Order", `{"nil": null, "e": []}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", valSchema: "struct(payload)<nil:bytes?,e:array<string?>?>?",
				valName: "payload", valueText: "<nil>|[]", headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "payload that is not a JSON object stays a string", cfg: Config{Table: "public.outbox", ExpandJSONPayload: true},
			ev: outboxEvent(event.OpCreate, "outbox", "Order", `[1, 2]`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string", key: "order-7", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `[1, 2]`, headers: []string{idHeader}, timestamp: 1_700_000_001_000},
		},
		{
			name: "logical message", cfg: Config{},
			ev: messageEvent("outbox", `{"id":"`+evID+`","aggregatetype":"Order","aggregateid":"order-9","type":"OrderPaid","payload":{"paid":true}}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string?", key: "order-9", valSchema: "string(io.debezium.data.Json)?", valName: NameJSON,
				value: `{"paid":true}`, headers: []string{idHeader}, timestamp: 1_700_000_002_000},
		},
		{
			name: "logical message with string payload and timestamp",
			cfg:  Config{MessagePrefix: "events", FieldEventTimestamp: "ts"},
			ev:   messageEvent("events", `{"id":"`+evID+`","aggregatetype":"Order","aggregateid":"order-9","type":"t","payload":"raw <text>","ts":1700000000999}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string?", key: "order-9", valSchema: "string?",
				value: `raw <text>`, headers: []string{idHeader}, timestamp: 1_700_000_000_999},
		},
		{
			name: "logical message expanded", cfg: Config{ExpandJSONPayload: true},
			ev: messageEvent("outbox", `{"id":"`+evID+`","aggregatetype":"Order","aggregateid":"order-9","type":"t","payload":{"paid":true,"lines":[1,2]}}`), handled: true,
			want: &want{topic: "outbox.event.Order", keySchema: "string?", key: "order-9", valSchema: "struct(payload)<paid:boolean?,lines:array<int32?>?>?",
				valName: "payload", valueText: "true|[1 2]", headers: []string{idHeader}, timestamp: 1_700_000_002_000},
		},
		{name: "message with another prefix passes", cfg: Config{}, ev: messageEvent("audit", `{}`)},
		{name: "messages off", cfg: Config{MessagePrefix: "-"}, ev: messageEvent("outbox", `{}`)},
		{name: "message that is not JSON", cfg: Config{}, ev: messageEvent("outbox", `nope`), handled: true, err: ErrBadMessage},
		{name: "message without aggregate type", cfg: Config{}, ev: messageEvent("outbox", `{"id":"x","aggregateid":"a","payload":{}}`), handled: true, err: ErrMissingField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRouter(tt.cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			rec, handled, err := r.Route(&tt.ev)
			if handled != tt.handled {
				t.Fatalf("handled = %v, want %v", handled, tt.handled)
			}
			if tt.err != nil || err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if tt.want == nil {
				if rec != nil {
					t.Fatalf("routed %+v, want nothing", rec)
				}
				return
			}
			checkRecord(t, rec, tt.want)
			if string(rec.Position) != string(tt.ev.Position) {
				t.Errorf("position = %q, want %q", rec.Position, tt.ev.Position)
			}
		})
	}
}

func checkRecord(t *testing.T, rec *Record, w *want) {
	t.Helper()
	if rec == nil {
		t.Fatal("nothing routed")
	}
	if rec.Topic != w.topic {
		t.Errorf("topic = %q, want %q", rec.Topic, w.topic)
	}
	if got := rec.KeySchema.String(); got != w.keySchema {
		t.Errorf("key schema = %s, want %s", got, w.keySchema)
	}
	if !event.ValueEqual(rec.Key, w.key) {
		t.Errorf("key = %v, want %v", rec.Key, w.key)
	}
	switch {
	case w.valSchema == "":
		if rec.ValueSchema != nil || rec.Value != nil {
			t.Errorf("value = %v (%v), want a tombstone", rec.Value, rec.ValueSchema)
		}
	case rec.ValueSchema == nil:
		t.Errorf("tombstone, want value schema %s", w.valSchema)
	default:
		if got := rec.ValueSchema.String(); got != w.valSchema {
			t.Errorf("value schema = %s, want %s", got, w.valSchema)
		}
		if got := rec.ValueSchema.Name(); got != w.valName {
			t.Errorf("value schema name = %q, want %q", got, w.valName)
		}
		if err := event.ValidateValue(rec.ValueSchema, rec.Value); err != nil {
			t.Errorf("value does not fit its schema: %v", err)
		}
		if st, ok := rec.Value.(*event.Struct); ok {
			if got := flatten(st); got != w.valueText {
				t.Errorf("value = %s, want %s", got, w.valueText)
			}
		} else if !event.ValueEqual(rec.Value, w.value) {
			t.Errorf("value = %#v, want %#v", rec.Value, w.value)
		}
	}
	var hs []string
	for _, h := range rec.Headers {
		hs = append(hs, h.Key+"="+anyString(h.Value))
	}
	if strings.Join(hs, ",") != strings.Join(w.headers, ",") {
		t.Errorf("headers = %v, want %v", hs, w.headers)
	}
	if rec.TimestampMs != w.timestamp {
		t.Errorf("timestamp = %d, want %d", rec.TimestampMs, w.timestamp)
	}
}

// flatten renders a struct's field values joined by '|' (nested structs as
// name=value lists), enough to tell values and Go types apart in a table.
func flatten(st *event.Struct) string {
	var parts []string
	for i := range st.Schema().NumFields() {
		parts = append(parts, anyString(st.At(i)))
	}
	return strings.Join(parts, "|")
}

func anyString(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return x
	case *event.Struct:
		var parts []string
		for i, f := range x.Schema().Fields() {
			parts = append(parts, f.Name+"="+anyString(x.At(i)))
		}
		return strings.Join(parts, " ")
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, anyString(e))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case int32:
		return itoa(int64(x))
	case int64:
		return itoa(x)
	case float64:
		return strconvF(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return "?"
}

func itoa(v int64) string       { return strconv.FormatInt(v, 10) }
func strconvF(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
