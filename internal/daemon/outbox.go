package daemon

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-cdc/sluice/capture/postgres"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/outbox"
	"github.com/sluice-cdc/sluice/publish"
)

// The transactional outbox: a source with an outbox: block routes the
// change events of its outbox table (collection, on MongoDB), and the
// logical decoding messages with the outbox prefix (Postgres), through
// outbox.Router (Debezium's EventRouter, or MongoEventRouter) instead of
// publishing them as change events. The routed record is encoded by the
// same key, value and header converters as every other record; dropped
// outbox events (deletes, updates, truncates) still advance the position.

// validateOutbox checks a source's outbox block: the router keys, that the
// outbox table is captured, and, on MySQL and MongoDB (which have no
// logical decoding messages), that a table (collection) is named and no
// message prefix is.
func validateOutbox(s SourceConfig) error {
	if s.Outbox == nil {
		return nil
	}
	var p config.Problems
	p.Merge("", s.Outbox.Validate())
	if t := s.Outbox.Table; t != "" && len(s.Tables) > 0 && !contains(s.Tables, t) {
		p.Addf("table", "outbox table %q is not captured: add it to tables", t)
	}
	switch kind := s.Kind(); kind {
	case MySQL, MongoDB:
		if s.Outbox.Table == "" {
			what := "the outbox table as database.table (migrations/002_outbox.mysql.sql)"
			if kind == MongoDB {
				what = "the outbox collection as db.collection"
			}
			p.Addf("table", "required for a %s source: %s", kind, what)
		}
		if mp := s.Outbox.MessagePrefix; mp != "" && mp != "-" {
			p.Addf("message.prefix", "logical decoding messages exist on Postgres only; remove it for a %s source", kind)
		}
	}
	return p.Err()
}

// newOutboxRouter returns the router of a source, nil when it has no
// outbox block.
func newOutboxRouter(sc SourceConfig, log *slog.Logger) (*outbox.Router, error) {
	if sc.Outbox == nil {
		return nil, nil
	}
	// A MongoDB source gets Debezium's MongoEventRouter: its outbox is a
	// collection whose events carry the document as extended JSON.
	opts := outbox.Options{Logger: log, Mongo: sc.Kind() == MongoDB}
	if sc.Kind() == Postgres {
		to, err := sc.Postgres.TypeOptions()
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		opts.MessageContent = messageContent(to.Binary)
	}
	r, err := outbox.NewRouter(*sc.Outbox, opts)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", sc.Name, err)
	}
	return r, nil
}

// messageContent undoes binary.handling.mode on a logical decoding
// message's content.
func messageContent(mode postgres.BinaryMode) func(any) ([]byte, error) {
	return func(c any) ([]byte, error) {
		switch v := c.(type) {
		case []byte:
			return v, nil
		case string:
			switch mode {
			case postgres.BinaryBase64:
				return base64.StdEncoding.DecodeString(v)
			case postgres.BinaryBase64URLSafe:
				return base64.URLEncoding.DecodeString(v)
			case postgres.BinaryHex:
				return hex.DecodeString(v)
			}
			return []byte(v), nil
		}
		return nil, fmt.Errorf("message content of type %T", c)
	}
}

// routeOutbox routes ev if it is an outbox event, appending its record (or,
// for a dropped event, its position as a mark) to segs. routed is false
// when ev is no outbox event.
func (c *converter) routeOutbox(ctx context.Context, segs []segment, ev *event.Event) (_ []segment, routed bool, _ error) {
	rec, routed, err := c.outbox.Route(ev)
	if err != nil || !routed {
		return segs, routed, err
	}
	cur := &segs[len(segs)-1]
	if rec == nil {
		if len(ev.Position) > 0 {
			cur.mark = ev.Position
			segs = append(segs, segment{})
		}
		return segs, true, nil
	}
	out, err := c.outboxRecord(ctx, rec)
	if err != nil {
		return segs, true, err
	}
	cur.records = append(cur.records, out)
	return segs, true, nil
}

// outboxRecord serializes a routed record. Its key and value need not be
// structs: the key is the aggregate id column, the value the payload.
func (c *converter) outboxRecord(ctx context.Context, rec *outbox.Record) (publish.Record, error) {
	key, err := c.encodeAny(ctx, rec.Topic, true, rec.KeySchema, rec.Key)
	if err != nil {
		return publish.Record{}, fmt.Errorf("outbox: encode key for topic %q: %w", rec.Topic, err)
	}
	var value []byte
	if rec.ValueSchema != nil {
		if value, err = c.encodeAny(ctx, rec.Topic, false, rec.ValueSchema, rec.Value); err != nil {
			return publish.Record{}, fmt.Errorf("outbox: encode value for topic %q: %w", rec.Topic, err)
		}
	}
	out := publish.Record{Topic: rec.Topic, Key: key, Value: value, Position: position(rec.Position),
		Partition: rec.Partition, ExplicitPartition: rec.ExplicitPartition}
	if rec.TimestampMs != 0 {
		// Debezium's EventRouter sets the record timestamp:
		// table.field.event.timestamp, else the event's ts_ms.
		out.Timestamp = time.UnixMilli(rec.TimestampMs)
	}
	for _, h := range rec.Headers {
		b, err := c.encodeHeader(h)
		if err != nil {
			return publish.Record{}, fmt.Errorf("outbox: encode header %q for topic %q: %w", h.Key, rec.Topic, err)
		}
		out.Headers = append(out.Headers, publish.Header{Key: h.Key, Value: b})
	}
	return out, nil
}

// encodeAny encodes one side of a routed record, which need not be a
// struct: the Avro converter writes a string key or payload as
// AvroConverter does (a primitive schema, a union with null when optional).
func (c *converter) encodeAny(ctx context.Context, topic string, isKey bool, s *event.Schema, v any) ([]byte, error) {
	var side avroSide
	if c.avro != nil {
		side = c.avro.value
		if isKey {
			side = c.avro.key
		}
	}
	if side.conv == nil {
		conv := c.value
		if isKey {
			conv = c.key
		}
		return conv.Encode(nil, s, v)
	}
	out, err := side.conv.EncodeValue(ctx, topic, isKey, s, v)
	if err != nil && ctx.Err() == nil && registryUnavailable(err) {
		return nil, retriable{err}
	}
	return out, err
}
