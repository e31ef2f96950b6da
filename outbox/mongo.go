package outbox

import (
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
)

// The MongoDB variant is Debezium's MongoEventRouter
// (io.debezium.connector.mongodb.transforms.outbox.MongoEventRouter): the
// outbox is a collection (Config.Table names it as db.collection), and its
// change events carry the document as an extended JSON string in "after".
// The router parses that document into a row, one field per top-level key,
// and routes the row as the EventRouter does. Differences from a table:
// the event id defaults to the _id field (an ObjectId becomes its hex
// string, so the id header reads as Debezium's), and a payload that is a
// sub-document or array becomes its relaxed extended JSON text (an
// io.debezium.data.Json string) laid out as the Java driver's toJson() does
// ({"id": {"$oid": "…"}, "n": 1}), which table.expand.json.payload (or
// Debezium's collection.expand.json.payload) expands.

// DefaultMongoFieldEventID is the event id field of an outbox collection.
const DefaultMongoFieldEventID = "_id"

// mongoCollection returns db.collection of a MongoDB change event's source
// block, "" for other events.
func mongoCollection(ev *event.Event) (string, *event.Struct) {
	if ev.Raw == nil || ev.Raw.Schema().FieldIndex(event.FieldSource) < 0 {
		return "", nil
	}
	src, _ := ev.Raw.Get(event.FieldSource).(*event.Struct)
	if src == nil || src.Schema().FieldIndex("collection") < 0 || src.Schema().FieldIndex("db") < 0 {
		return "", nil
	}
	db, _ := src.Get("db").(string)
	coll, _ := src.Get("collection").(string)
	return db + "." + coll, src
}

// routeMongo is MongoEventRouter.apply for a change event of the outbox
// collection.
func (r *Router) routeMongo(ev *event.Event) (*Record, error) {
	switch ev.Op {
	case event.OpCreate, event.OpRead:
	case event.OpUpdate:
		return nil, r.invalidOp(ev)
	default:
		r.log.Debug("outbox change ignored", "collection", r.cfg.Table, "op", ev.Op.String())
		return nil, nil
	}
	after, _ := ev.Raw.Get(event.FieldAfter).(string)
	if after == "" {
		return nil, fmt.Errorf("outbox collection %s: %s event without a document", r.cfg.Table, ev.Op)
	}
	row, err := r.mongoRow(ev.Topic, after)
	if err != nil {
		return nil, fmt.Errorf("outbox collection %s: %w", r.cfg.Table, err)
	}
	rec, err := r.routeRow(ev, row)
	if err != nil {
		return nil, fmt.Errorf("outbox collection %s: %w", r.cfg.Table, err)
	}
	return rec, nil
}

// mongoRow turns an outbox document into a row: strings and ObjectIds as
// strings, 32- and 64-bit integers, doubles, booleans, dates as
// Connect Timestamps (milliseconds), null as an optional string, and
// sub-documents and arrays as relaxed extended JSON text.
func (r *Router) mongoRow(topic, after string) (*event.Struct, error) {
	var doc bson.D
	if err := bson.UnmarshalExtJSON([]byte(after), false, &doc); err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	fields := make([]event.Field, 0, len(doc))
	vals := make([]any, 0, len(doc))
	var sig strings.Builder
	for _, e := range doc {
		var s *event.Schema
		var v any
		switch x := e.Value.(type) {
		case string:
			s, v = event.String().Optional(), x
		case bson.ObjectID:
			s, v = event.String().Optional(), x.Hex()
		case int32:
			s, v = event.Int32().Optional(), x
		case int64:
			s, v = event.Int64().Optional(), x
		case float64:
			s, v = event.Float64().Optional(), x
		case bool:
			s, v = event.Boolean().Optional(), x
		case bson.DateTime:
			s, v = event.Int64().Optional().WithName(event.LogicalTimestamp).WithVersion(1), int64(x)
		case nil, bson.Null:
			s = event.String().Optional()
		default: // documents, arrays and the other BSON types
			b, err := bson.MarshalExtJSON(bson.D{{Key: "v", Value: x}}, false, false)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", e.Key, err)
			}
			text := strings.TrimSuffix(strings.TrimPrefix(string(b), `{"v":`), "}")
			s, v = event.String().Optional().WithName(NameJSON).WithVersion(1), javaSpacing(text)
		}
		fields = append(fields, event.NewField(e.Key, s))
		vals = append(vals, v)
		sig.WriteString(fmt.Sprintf("%q:%s,", e.Key, signature(s)))
	}
	r.mu.Lock()
	rs, ok := r.msgRows[sig.String()]
	if !ok {
		rs = event.StructOf(topic+".Value", fields...)
		if len(r.msgRows) >= maxInterned {
			clear(r.msgRows)
		}
		r.msgRows[sig.String()] = rs
	}
	r.mu.Unlock()
	return event.NewStruct(rs, vals...), nil
}

// javaSpacing lays out compact JSON as the Java driver's JsonWriter does: a
// space after every ':' and ',' outside strings.
func javaSpacing(compact string) string {
	var b strings.Builder
	b.Grow(len(compact) + len(compact)/8)
	inString, escaped := false, false
	for i := 0; i < len(compact); i++ {
		c := compact[i]
		b.WriteByte(c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ':' || c == ','):
			b.WriteByte(' ')
		}
	}
	return b.String()
}
