package mongodb

import (
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
)

// ErrNoDocumentKey is returned (wrapped) for a change event whose _id
// cannot be found: neither documentKey nor fullDocument has one.
var ErrNoDocumentKey = errors.New("change event has no document _id")

// namespace is one captured collection.
type namespace struct{ db, coll string }

func (n namespace) String() string { return n.db + "." + n.coll }

// converter turns change stream events and snapshot documents of one
// connector into Debezium MongoDB events. It is pure: no I/O, and the
// clock is a field so tests can fix it.
type converter struct {
	name       string // topic.prefix, source.name
	updateFull bool   // capture.mode change_streams_update_full
	now        func() time.Time
	schemas    map[namespace]collectionSchemas
	fields     []fieldRule // field.exclude.list
	excluded   map[namespace][]string
}

// excludedFields returns the field paths field.exclude.list removes from
// the documents of ns, nil for none.
func (c *converter) excludedFields(ns namespace) []string {
	if len(c.fields) == 0 {
		return nil
	}
	paths, ok := c.excluded[ns]
	if !ok {
		if c.excluded == nil {
			c.excluded = map[namespace][]string{}
		}
		paths = excludedFields(c.fields, ns)
		c.excluded[ns] = paths
	}
	return paths
}

func newConverter(name string, updateFull bool, now func() time.Time) *converter {
	if now == nil {
		now = time.Now
	}
	return &converter{name: name, updateFull: updateFull, now: now, schemas: map[namespace]collectionSchemas{}}
}

func (c *converter) schemasFor(ns namespace) collectionSchemas {
	s, ok := c.schemas[ns]
	if !ok {
		s = schemasFor(c.name + "." + ns.db + "." + ns.coll)
		c.schemas[ns] = s
	}
	return s
}

// changeEvent is the part of a change stream event the connector reads.
type changeEvent struct {
	OperationType string   `bson:"operationType"`
	NS            *nsField `bson:"ns"`
	DocumentKey   bson.Raw `bson:"documentKey"`
	FullDocument  bson.Raw `bson:"fullDocument"`
	FullBefore    bson.Raw `bson:"fullDocumentBeforeChange"`
	UpdateDesc    *struct {
		UpdatedFields   bson.Raw `bson:"updatedFields"`
		RemovedFields   []string `bson:"removedFields"`
		TruncatedArrays []struct {
			Field   string `bson:"field"`
			NewSize int32  `bson:"newSize"`
		} `bson:"truncatedArrays"`
	} `bson:"updateDescription"`
	ClusterTime bson.Timestamp `bson:"clusterTime"`
	WallTime    *bson.DateTime `bson:"wallTime"`
	LSID        bson.Raw       `bson:"lsid"`
	TxnNumber   *int64         `bson:"txnNumber"`
}

type nsField struct {
	DB   string `bson:"db"`
	Coll string `bson:"coll"`
}

// change converts one change stream event read from the stream of
// collection ns. ok is false for events that carry no document change
// (drop, rename, invalidate, DDL): Debezium emits nothing for them.
func (c *converter) change(raw bson.Raw, ns namespace) (ev event.Event, ok bool, err error) {
	var ce changeEvent
	if err := bson.Unmarshal(raw, &ce); err != nil {
		return ev, false, fmt.Errorf("decode change event of %s: %w", ns, err)
	}
	var op event.Op
	switch ce.OperationType {
	case "insert":
		op = event.OpCreate
	case "update", "replace":
		op = event.OpUpdate
	case "delete":
		op = event.OpDelete
	default:
		return ev, false, nil
	}
	if ce.NS != nil && ce.NS.DB != "" && ce.NS.Coll != "" {
		ns = namespace{ce.NS.DB, ce.NS.Coll}
	}
	sc := c.schemasFor(ns)

	id, err := documentID(ce.DocumentKey, ce.FullDocument)
	if err != nil {
		return ev, false, fmt.Errorf("%s event on %s at %d.%d: %w", ce.OperationType, ns, ce.ClusterTime.T, ce.ClusterTime.I, err)
	}
	key, err := idJSON(id)
	if err != nil {
		return ev, false, fmt.Errorf("key of %s event on %s: %w", ce.OperationType, ns, err)
	}

	if drop := c.excludedFields(ns); drop != nil {
		if err := ce.prune(drop); err != nil {
			return ev, false, fmt.Errorf("field.exclude.list on %s: %w", ns, err)
		}
	}
	value := event.NewStruct(sc.value)
	if len(ce.FullBefore) > 0 {
		s, err := documentJSON(ce.FullBefore)
		if err != nil {
			return ev, false, fmt.Errorf("fullDocumentBeforeChange on %s: %w", ns, err)
		}
		value.Set(event.FieldBefore, s)
	}
	// The full document: always for inserts and replaces; for updates only
	// with updateLookup (a server without it sends none, but the stand-in
	// test server sends the update operators, which must not pass for the
	// document).
	if len(ce.FullDocument) > 0 && op != event.OpDelete &&
		(ce.OperationType != "update" || c.updateFull) {
		s, err := documentJSON(ce.FullDocument)
		if err != nil {
			return ev, false, fmt.Errorf("fullDocument on %s: %w", ns, err)
		}
		value.Set(event.FieldAfter, s)
	}
	if op == event.OpUpdate && ce.UpdateDesc != nil {
		ud := event.NewStruct(updateDescriptionSchema)
		if len(ce.UpdateDesc.RemovedFields) > 0 {
			removed := make([]any, len(ce.UpdateDesc.RemovedFields))
			for i, f := range ce.UpdateDesc.RemovedFields {
				removed[i] = f
			}
			ud.Set("removedFields", removed)
		}
		if ce.UpdateDesc.UpdatedFields != nil {
			s, err := relaxedJSON(ce.UpdateDesc.UpdatedFields)
			if err != nil {
				return ev, false, fmt.Errorf("updatedFields on %s: %w", ns, err)
			}
			ud.Set("updatedFields", s)
		}
		if len(ce.UpdateDesc.TruncatedArrays) > 0 {
			arrays := make([]any, len(ce.UpdateDesc.TruncatedArrays))
			for i, t := range ce.UpdateDesc.TruncatedArrays {
				arrays[i] = event.NewStruct(truncatedArraySchema, t.Field, t.NewSize)
			}
			ud.Set("truncatedArrays", arrays)
		}
		value.Set("updateDescription", ud)
	}

	sp := sourcePos{db: ns.db, coll: ns.coll, ord: int32(ce.ClusterTime.I), ts: time.Unix(int64(ce.ClusterTime.T), 0)}
	if ce.WallTime != nil {
		sp.wallTimeMs = int64(*ce.WallTime)
		sp.ts = time.UnixMilli(sp.wallTimeMs)
	}
	if len(ce.LSID) > 0 && ce.TxnNumber != nil {
		if sp.lsid, err = documentJSON(ce.LSID); err != nil {
			return ev, false, fmt.Errorf("lsid on %s: %w", ns, err)
		}
		sp.txnNumber = *ce.TxnNumber
	}
	return c.finish(sc, op, key, value, sp), true, nil
}

// prune removes the excluded field paths from the documents of ce; the
// _id was taken before.
func (ce *changeEvent) prune(paths []string) error {
	var err error
	if ce.FullDocument, err = pruneDocument(ce.FullDocument, paths); err != nil {
		return err
	}
	if ce.FullBefore, err = pruneDocument(ce.FullBefore, paths); err != nil {
		return err
	}
	if u := ce.UpdateDesc; u != nil {
		if u.UpdatedFields, u.RemovedFields, err = pruneUpdate(u.UpdatedFields, u.RemovedFields, paths); err != nil {
			return err
		}
	}
	return nil
}

// read converts one document read by the snapshot. Like Debezium, the
// source block carries the read time as ts_ms and wallTime and the ordinal
// of the cluster time the stream will start from.
func (c *converter) read(doc bson.Raw, ns namespace, snapshot string, ord int32) (event.Event, error) {
	sc := c.schemasFor(ns)
	id, err := documentID(doc, nil)
	if err != nil {
		return event.Event{}, fmt.Errorf("snapshot of %s: %w", ns, err)
	}
	key, err := idJSON(id)
	if err != nil {
		return event.Event{}, fmt.Errorf("snapshot of %s: key: %w", ns, err)
	}
	if doc, err = pruneDocument(doc, c.excludedFields(ns)); err != nil {
		return event.Event{}, fmt.Errorf("snapshot of %s: field.exclude.list: %w", ns, err)
	}
	after, err := documentJSON(doc)
	if err != nil {
		return event.Event{}, fmt.Errorf("snapshot of %s: %w", ns, err)
	}
	value := event.NewStruct(sc.value)
	value.Set(event.FieldAfter, after)
	now := c.now()
	sp := sourcePos{ts: now, snapshot: snapshot, db: ns.db, coll: ns.coll, ord: ord, wallTimeMs: now.UnixMilli()}
	return c.finish(sc, event.OpRead, key, value, sp), nil
}

func (c *converter) finish(sc collectionSchemas, op event.Op, key string, value *event.Struct, sp sourcePos) event.Event {
	value.Set(event.FieldSource, sourceBlock(c.name, sp))
	value.Set(event.FieldOp, op.String())
	now := c.now()
	value.Set(event.FieldTsMs, now.UnixMilli())
	ev := event.Event{
		Op:          op,
		Topic:       sc.topic,
		Key:         event.NewStruct(sc.key, key),
		ValueSchema: sc.value,
		Raw:         value,
	}
	ev.TsMs = now.UnixMilli()
	return ev
}

// documentID returns the _id of documentKey, else of fullDocument.
func documentID(documentKey, fullDocument bson.Raw) (bson.RawValue, error) {
	for _, d := range []bson.Raw{documentKey, fullDocument} {
		if len(d) == 0 {
			continue
		}
		if v, err := d.LookupErr("_id"); err == nil {
			return v, nil
		}
	}
	return bson.RawValue{}, ErrNoDocumentKey
}
