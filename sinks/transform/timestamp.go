package transform

import (
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// Timestamp representations of TimestampConverter's target.type.
const (
	tsString    = "string"
	tsUnix      = "unix"
	tsDate      = "Date"
	tsTime      = "Time"
	tsTimestamp = "Timestamp"
)

const msPerDay = 86400000

// timestampConverter is Kafka's TimestampConverter: a field (or the whole
// key or value) converted between a formatted string, Unix time, and
// Connect's Date, Time and Timestamp logical types. Connect passes through
// java.util.Date (millisecond precision); so does this.
type timestampConverter struct {
	side        side
	field       string
	target      string
	format      *javaFormat
	precision   string
	replaceNull bool
	now         func() time.Time // for two-digit years
	schemas     schemaCache[*event.Schema]
}

func newTimestampConverter(c *conf, s side) (Transform, error) {
	t := &timestampConverter{side: s, field: c.str("field", ""), now: time.Now}
	var err error
	if t.replaceNull, err = c.boolean(replaceNullKey, true); err != nil {
		return nil, err
	}
	if t.target, err = c.required("target.type"); err != nil {
		return nil, err
	}
	switch t.target {
	case tsString, tsUnix, tsDate, tsTime, tsTimestamp:
	default:
		return nil, c.errf("target.type", "unknown type %q (want string, unix, Date, Time or Timestamp)", t.target)
	}
	p := c.str("format", "")
	if t.target == tsString && isBlank(p) {
		return nil, c.errf("format", "required when target.type is string")
	}
	if !isBlank(p) {
		if t.format, err = parseJavaFormat(p); err != nil {
			return nil, c.errf("format", "%v", err)
		}
	}
	switch t.precision = c.str("unix.precision", "milliseconds"); t.precision {
	case "seconds", "milliseconds", "microseconds", "nanoseconds":
	default:
		return nil, c.errf("unix.precision", "unknown precision %q (want seconds, milliseconds, microseconds or nanoseconds)", t.precision)
	}
	return t, nil
}

func isBlank(s string) bool {
	for _, r := range s {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

func (t *timestampConverter) typeSchema(optional bool) *event.Schema {
	var s *event.Schema
	switch t.target {
	case tsString:
		s = event.String()
	case tsUnix:
		s = event.Int64()
	case tsDate:
		s = event.Date()
	case tsTime:
		s = event.Time()
	default:
		s = event.Timestamp()
	}
	return withOptional(s, optional)
}

func typeFromSchema(s *event.Schema) (string, error) {
	switch {
	case s.Name() == event.LogicalTimestamp:
		return tsTimestamp, nil
	case s.Name() == event.LogicalDate:
		return tsDate, nil
	case s.Name() == event.LogicalTime:
		return tsTime, nil
	case s.Type() == event.TypeString:
		return tsString, nil
	case s.Type() == event.TypeInt64:
		return tsUnix, nil
	}
	return "", fmt.Errorf("schema %v does not correspond to a known timestamp type format", s)
}

func typeFromValue(v any) (string, error) {
	switch v.(type) {
	case time.Time:
		return tsTimestamp, nil
	case int64:
		return tsUnix, nil
	case string:
		return tsString, nil
	}
	return "", fmt.Errorf("TimestampConverter does not support %s objects as timestamps", javaClass(v))
}

// toMillis converts v of representation typ to epoch milliseconds.
func (t *timestampConverter) toMillis(v any, typ string) (int64, error) {
	switch typ {
	case tsString:
		s, ok := v.(string)
		if !ok {
			return 0, fmt.Errorf("expected string timestamp to be a String, but found %s", javaClass(v))
		}
		if t.format == nil {
			return 0, fmt.Errorf("a format is required to parse string timestamp %q", s)
		}
		tm, err := t.format.Parse(s, t.now())
		if err != nil {
			return 0, err
		}
		return tm.UnixMilli(), nil
	case tsUnix:
		n, ok := v.(int64)
		if !ok {
			return 0, fmt.Errorf("expected Unix timestamp to be a Long, but found %s", javaClass(v))
		}
		switch t.precision {
		case "seconds":
			return n * 1000, nil
		case "microseconds":
			return n / 1000, nil
		case "nanoseconds":
			return n / 1000000, nil
		}
		return n, nil
	case tsDate:
		if tm, ok := v.(time.Time); ok {
			return tm.UnixMilli(), nil
		}
		d, ok := v.(int32)
		if !ok {
			return 0, fmt.Errorf("expected Date to be int32 days, but found %s", javaClass(v))
		}
		return int64(d) * msPerDay, nil
	case tsTime:
		if tm, ok := v.(time.Time); ok {
			return tm.UnixMilli(), nil
		}
		d, ok := v.(int32)
		if !ok {
			return 0, fmt.Errorf("expected Time to be int32 milliseconds, but found %s", javaClass(v))
		}
		return int64(d), nil
	}
	if tm, ok := v.(time.Time); ok {
		return tm.UnixMilli(), nil
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("expected Timestamp to be int64 milliseconds, but found %s", javaClass(v))
	}
	return n, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// fromMillis renders epoch milliseconds in the target representation.
func (t *timestampConverter) fromMillis(ms int64) any {
	switch t.target {
	case tsString:
		return t.format.Format(time.UnixMilli(ms))
	case tsUnix:
		switch t.precision {
		case "seconds":
			return ms / 1000
		case "microseconds":
			return ms * 1000
		case "nanoseconds":
			return ms * 1000000
		}
		return ms
	case tsDate:
		return int32(floorDiv(ms, msPerDay))
	case tsTime:
		return int32(ms - floorDiv(ms, msPerDay)*msPerDay)
	}
	return ms
}

// convert converts v of representation typ; typ "" means schemaless: the
// representation is inferred from the Go type and Date, Time and Timestamp
// results are time.Time (Connect's java.util.Date) rather than the logical
// types' integers.
func (t *timestampConverter) convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	schemaless := typ == ""
	if schemaless {
		var err error
		if typ, err = typeFromValue(v); err != nil {
			return nil, err
		}
	}
	ms, err := t.toMillis(v, typ)
	if err != nil {
		return nil, err
	}
	if schemaless && t.target != tsString && t.target != tsUnix {
		switch t.target {
		case tsDate:
			ms = floorDiv(ms, msPerDay) * msPerDay
		case tsTime:
			ms -= floorDiv(ms, msPerDay) * msPerDay
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	return t.fromMillis(ms), nil
}

func (t *timestampConverter) Apply(r sink.Record) (sink.Record, bool, error) {
	const purpose = "converting timestamp formats"
	sc, v := t.side.get(&r)
	if sc == nil {
		if v == nil || t.field == "" {
			nv, err := t.convert(v, "")
			if err != nil {
				return r, false, err
			}
			t.side.set(&r, nil, nv)
			return r, true, nil
		}
		m, err := requireMap(v, purpose)
		if err != nil {
			return r, false, err
		}
		fv, _ := mapGet(m, t.field)
		nv, err := t.convert(fv, "")
		if err != nil {
			return r, false, err
		}
		t.side.set(&r, nil, mapPut(copyMap(m, 1), t.field, nv))
		return r, true, nil
	}
	if t.field == "" {
		typ, err := typeFromSchema(sc)
		if err != nil {
			return r, false, err
		}
		nv, err := t.convert(v, typ)
		if err != nil {
			return r, false, err
		}
		t.side.set(&r, t.typeSchema(sc.IsOptional()), nv)
		return r, true, nil
	}
	if sc.Type() != event.TypeStruct {
		return r, false, fmt.Errorf("only Struct objects supported for [%s], found schema %v", purpose, sc)
	}
	fi := sc.FieldIndex(t.field)
	if fi < 0 {
		return r, false, fmt.Errorf("%s is not a valid field name", t.field)
	}
	typ, err := typeFromSchema(sc.Field(fi).Schema)
	if err != nil {
		return r, false, err
	}
	ns, err := t.schemas.get(sc, func() (*event.Schema, error) {
		fields := sc.Fields()
		fields[fi] = event.NewField(t.field, t.typeSchema(fields[fi].Schema.IsOptional()))
		ns, err := structLike(sc, fields)
		if err != nil {
			return nil, err
		}
		return withOptional(ns, sc.IsOptional()), nil
	})
	if err != nil {
		return r, false, err
	}
	if v == nil {
		t.side.set(&r, ns, nil)
		return r, true, nil
	}
	st, err := requireStruct(v, purpose)
	if err != nil {
		return r, false, err
	}
	vals := make([]any, ns.NumFields())
	for i := range vals {
		vals[i] = fieldValue(st, i, t.replaceNull)
	}
	if vals[fi], err = t.convert(vals[fi], typ); err != nil {
		return r, false, err
	}
	t.side.set(&r, ns, event.NewStruct(ns, vals...))
	return r, true, nil
}
