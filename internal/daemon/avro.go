package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/avroconv"
)

// The Avro path: a side (key or value) whose converter type is avro is
// encoded by Confluent's AvroConverter (schema/avroconv) against a schema
// registry, the embedded one (registry.go) or an external one. JSON sides
// keep the arena path of convert.go.

// avroSides holds the Avro converter of each side whose type is avro (nil
// for a json side). The converters are shared by every source and every
// restart: they are safe for concurrent use, and their caches (schema ids)
// outlive a pipeline restart.
type avroSides struct {
	key, value avroSide
}

// only returns the sides whose converter c still says is avro: a source
// whose override turns a side to JSON encodes that side as JSON. A nil
// receiver stays nil.
func (a *avroSides) only(c ConvertersConfig) *avroSides {
	if a == nil {
		return nil
	}
	out := *a
	if c.Key.Type != "avro" {
		out.key = avroSide{}
	}
	if c.Value.Type != "avro" {
		out.value = avroSide{}
	}
	return &out
}

type avroSide struct {
	conv     *avroconv.Converter
	reg      avroconv.Registry
	strategy avroconv.Strategy
}

// newAvroSides builds the Avro converters cfg asks for; embeddedURL is the
// embedded registry's base URL for schema.registry.url: embedded. It returns
// nil when neither side is avro.
func newAvroSides(cfg Config, embeddedURL string) (*avroSides, error) {
	var a avroSides
	for _, s := range []struct {
		name string
		cc   ConverterConfig
		dst  *avroSide
	}{{"key", cfg.Converters.Key, &a.key}, {"value", cfg.Converters.Value, &a.value}} {
		if s.cc.Type != "avro" {
			continue
		}
		ac := s.cc.Config
		if ac.SchemaRegistryURL == avroconv.Embedded {
			if embeddedURL == "" {
				return nil, fmt.Errorf("%s converter: schema.registry.url is embedded but the embedded registry is not running", s.name)
			}
			ac.SchemaRegistryURL = embeddedURL
		}
		client, err := avroconv.NewClient(ac)
		if err != nil {
			return nil, fmt.Errorf("%s converter: registry client: %w", s.name, err)
		}
		conv, err := avroconv.New(ac, client)
		if err != nil {
			return nil, fmt.Errorf("%s converter: %w", s.name, err)
		}
		strategy, err := avroconv.ParseStrategy(ac.SubjectNameStrategy)
		if err != nil {
			return nil, fmt.Errorf("%s converter: %w", s.name, err)
		}
		*s.dst = avroSide{conv: conv, reg: client, strategy: strategy}
	}
	if a.key.conv == nil && a.value.conv == nil {
		return nil, nil
	}
	return &a, nil
}

// encode serializes one side of ev's record: st is ev.Key (isKey) or the
// record value. Avro sides go to their converter, JSON sides to the arena.
func (c *converter) encode(ctx context.Context, ev *event.Event, isKey bool, st *event.Struct) ([]byte, error) {
	var side avroSide
	if c.avro != nil {
		side = c.avro.value
		if isKey {
			side = c.avro.key
		}
	}
	if side.conv == nil {
		if isKey {
			return c.buf.encode(c.key, st)
		}
		return c.buf.encode(c.value, st)
	}
	out, err := side.conv.Encode(ctx, ev.Topic, isKey, st)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, avroconv.ErrIncompatibleSchema):
		return nil, side.incompatible(ctx, ev, isKey, st, err)
	case ctx.Err() == nil && registryUnavailable(err):
		// The registry was unreachable or failing (the client has
		// retried already): a restart may succeed, so the pipeline is
		// restarted with backoff rather than stopped.
		return nil, retriable{err}
	}
	return nil, err
}

// registryUnavailable reports whether err is a registry 5xx answer or a
// transport failure, rather than a refusal or a schema the converter cannot
// build (which a restart would only repeat).
func registryUnavailable(err error) bool {
	var re *sr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// retriable marks a conversion error a later attempt may not repeat (a
// registry outage); other conversion errors stop the pipeline for good.
type retriable struct{ err error }

func (r retriable) Error() string { return r.err.Error() }
func (r retriable) Unwrap() error { return r.err }

// isRetriableConvert reports whether a conversion error is worth a restart.
func isRetriableConvert(err error) bool {
	var r retriable
	return errors.As(err, &r)
}

// ErrSchemaChangeRefused is wrapped by the error that stops a pipeline when
// the schema registry refuses a table's new schema: the event is not
// published and the source's offset stays at the last published event, so
// that once the subject's compatibility allows the change (or the change is
// reverted) a restart publishes it.
var ErrSchemaChangeRefused = errors.New("schema change refused by the schema registry")

// incompatible explains a refused schema: the table, the columns that differ
// from the subject's latest registered schema, and the subject.
func (s avroSide) incompatible(ctx context.Context, ev *event.Event, isKey bool, st *event.Struct, regErr error) error {
	side := "value"
	if isKey {
		side = "key"
	}
	subject := s.subject(ev.Topic, isKey, st)
	what := "columns: unknown"
	if rejected, err := s.conv.Compile(st.Schema()); err == nil {
		if _, latest, lerr := s.reg.Latest(ctx, subject); lerr == nil {
			if d := diffColumns([]byte(latest), rejected); len(d) > 0 {
				what = strings.Join(d, "; ")
			} else {
				what = "no column differs from the latest version"
			}
		} else {
			what = fmt.Sprintf("columns: unknown (latest version of subject: %v)", lerr)
		}
	}
	return fmt.Errorf("%w: table %s, %s, subject %s (%s schema of topic %s); the event was not published and the offset stays before it (relax the subject's compatibility or revert the change, then restart): %w",
		ErrSchemaChangeRefused, tableOf(ev), what, subject, side, ev.Topic, regErr)
}

// subject returns the subject the converter used for st, by its settings'
// strategy (the Avro record full name is the Connect schema name).
func (s avroSide) subject(topic string, isKey bool, st *event.Struct) string {
	return s.strategy.Subject(topic, isKey, st.Schema().Name())
}

// tableOf names the event's table from its source block (schema.table for
// Postgres, db.table for MySQL), else its topic.
func tableOf(ev *event.Event) string {
	if ev.Source != nil {
		sch := ev.Source.Schema()
		get := func(name string) string {
			if sch.FieldIndex(name) < 0 {
				return ""
			}
			v, _ := ev.Source.Get(name).(string)
			return v
		}
		if t := get("table"); t != "" {
			if ns := get("schema"); ns != "" {
				return ns + "." + t
			}
			if db := get("db"); db != "" {
				return db + "." + t
			}
			return t
		}
	}
	return "of topic " + ev.Topic
}

// diffColumns compares the row record of two Avro schemas (the envelope's
// before/after record for a value, the record itself for a key) and
// describes each column added, removed or changed, in column order of the
// newer schema then the removed ones.
func diffColumns(older, newer []byte) []string {
	of, oerr := rowFields(older)
	nf, nerr := rowFields(newer)
	if oerr != nil || nerr != nil {
		return nil
	}
	oldBy := map[string]avroField{}
	for _, f := range of {
		oldBy[f.Name] = f
	}
	var out []string
	seen := map[string]bool{}
	for _, f := range nf {
		seen[f.Name] = true
		o, ok := oldBy[f.Name]
		switch {
		case !ok && f.Default == nil:
			out = append(out, fmt.Sprintf("column %s added as %s with no default", f.Name, typeText(f.Type)))
		case !ok:
			out = append(out, fmt.Sprintf("column %s added as %s with default %s", f.Name, typeText(f.Type), f.Default))
		case !jsonEqual(o.Type, f.Type):
			out = append(out, fmt.Sprintf("column %s changed from %s to %s", f.Name, typeText(o.Type), typeText(f.Type)))
		case (o.Default == nil) != (f.Default == nil) || o.Default != nil && !jsonEqual(o.Default, f.Default):
			out = append(out, fmt.Sprintf("column %s default changed from %s to %s", f.Name, orNone(o.Default), orNone(f.Default)))
		}
	}
	var removed []string
	for _, f := range of {
		if !seen[f.Name] {
			removed = append(removed, fmt.Sprintf("column %s removed (was %s)", f.Name, typeText(f.Type)))
		}
	}
	sort.Strings(removed)
	return append(out, removed...)
}

type avroField struct {
	Name    string          `json:"name"`
	Type    json.RawMessage `json:"type"`
	Default json.RawMessage `json:"default"`
}

type avroRecord struct {
	Type   string      `json:"type"`
	Fields []avroField `json:"fields"`
}

// rowFields returns the fields of the row record in an Avro schema: the
// record in the envelope's before (or after) union, else the top record.
func rowFields(schema []byte) ([]avroField, error) {
	var top avroRecord
	if err := json.Unmarshal(schema, &top); err != nil {
		return nil, err
	}
	for _, name := range []string{"before", "after"} {
		for _, f := range top.Fields {
			if f.Name != name {
				continue
			}
			var union []json.RawMessage
			if json.Unmarshal(f.Type, &union) != nil {
				continue
			}
			for _, b := range union {
				var r avroRecord
				if json.Unmarshal(b, &r) == nil && r.Type == "record" {
					return r.Fields, nil
				}
			}
		}
	}
	return top.Fields, nil
}

// typeText shortens an Avro field type for a message: ["null","int"] is
// "optional int", a type object its type or logical type.
func typeText(t json.RawMessage) string {
	var union []json.RawMessage
	if json.Unmarshal(t, &union) == nil {
		var parts []string
		optional := false
		for _, b := range union {
			if s := typeText(b); s == "null" {
				optional = true
			} else {
				parts = append(parts, s)
			}
		}
		s := strings.Join(parts, "|")
		if optional {
			return "optional " + s
		}
		return s
	}
	var name string
	if json.Unmarshal(t, &name) == nil {
		return name
	}
	var obj struct {
		Type        json.RawMessage `json:"type"`
		LogicalType string          `json:"logicalType"`
		ConnectName string          `json:"connect.name"`
	}
	if json.Unmarshal(t, &obj) == nil {
		base := typeText(obj.Type)
		switch {
		case obj.ConnectName != "":
			return base + " (" + obj.ConnectName + ")"
		case obj.LogicalType != "":
			return base + " (" + obj.LogicalType + ")"
		}
		return base
	}
	return string(t)
}

func orNone(d json.RawMessage) string {
	if d == nil {
		return "none"
	}
	return string(d)
}

// jsonEqual compares two JSON texts ignoring whitespace and key order.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
