package s3

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// partitioner encodes a record's partition: the folder between the topic
// and the file name.
type partitioner interface {
	encode(rec sink.Record) (string, error)
}

type defaultPartitioner struct{}

func (defaultPartitioner) encode(rec sink.Record) (string, error) {
	return "partition=" + strconv.Itoa(int(rec.Partition)), nil
}

// fieldPartitioner writes name=value for each field, joined by the
// directory delimiter, as Confluent's FieldPartitioner (integers, strings
// and booleans; a schemaless map too).
type fieldPartitioner struct {
	fields []string
	delim  string
}

func (p fieldPartitioner) encode(rec sink.Record) (string, error) {
	parts := make([]string, 0, len(p.fields))
	for _, f := range p.fields {
		v, ok := fieldValue(rec.Value, f)
		if !ok {
			return "", fmt.Errorf("partition.field.name: the value has no field %q", f)
		}
		var s string
		switch v := v.(type) {
		case int8, int16, int32, int64, int:
			s = fmt.Sprint(v)
		case string:
			s = v
		case bool:
			s = strconv.FormatBool(v)
		default:
			return "", fmt.Errorf("partition.field.name: field %q is a %T, not an integer, string or boolean", f, v)
		}
		parts = append(parts, f+"="+s)
	}
	return strings.Join(parts, p.delim), nil
}

// fieldValue reads a (dotted) field of a struct or schemaless map value.
func fieldValue(v any, path string) (any, bool) {
	for _, name := range strings.Split(path, ".") {
		switch x := v.(type) {
		case *event.Struct:
			if x == nil || x.Schema().FieldIndex(name) < 0 {
				return nil, false
			}
			v = x.Get(name)
		case []event.MapEntry:
			found := false
			for _, e := range x {
				if k, ok := e.Key.(string); ok && k == name {
					v, found = e.Value, true
					break
				}
			}
			if !found {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return v, true
}

// timePartitioner is Confluent's TimeBasedPartitioner: the record's time
// (from the extractor) is floored to partition.duration.ms in the time zone
// and printed with path.format.
type timePartitioner struct {
	duration time.Duration
	loc      *time.Location
	format   *jodaFormat
	ts       extractor
}

func (p timePartitioner) encode(rec sink.Record) (string, error) {
	t, err := p.ts(rec)
	if err != nil {
		return "", err
	}
	return p.format.format(floorIn(t, p.duration, p.loc)), nil
}

// floorIn floors t to a multiple of d counted from the epoch in loc's local
// time (as Joda's convertUTCToLocal, divide, convertLocalToUTC).
func floorIn(t time.Time, d time.Duration, loc *time.Location) time.Time {
	t = t.In(loc)
	_, off := t.Zone()
	local := t.UnixMilli() + int64(off)*1000
	dm := d.Milliseconds()
	floored := local / dm * dm
	if local < 0 && local%dm != 0 {
		floored -= dm
	}
	// Back to UTC with the offset in force at the floored local time.
	guess := time.UnixMilli(floored - int64(off)*1000).In(loc)
	if _, off2 := guess.Zone(); off2 != off {
		guess = time.UnixMilli(floored - int64(off2)*1000).In(loc)
	}
	return guess
}

// extractor returns a record's time.
type extractor func(rec sink.Record) (time.Time, error)

func newExtractor(c Config) extractor {
	switch c.Extractor {
	case ExtractRecord:
		return func(rec sink.Record) (time.Time, error) {
			if rec.Timestamp.IsZero() {
				return time.Time{}, errors.New("timestamp.extractor Record: the record has no timestamp")
			}
			return rec.Timestamp, nil
		}
	case ExtractRecordField:
		field := c.TimestampField
		return func(rec sink.Record) (time.Time, error) {
			v, ok := fieldValue(rec.Value, field)
			if !ok {
				return time.Time{}, fmt.Errorf("timestamp.field: the value has no field %q", field)
			}
			switch v := v.(type) {
			case int64:
				return time.UnixMilli(v), nil
			case int32:
				return time.UnixMilli(int64(v)), nil
			case time.Time:
				return v, nil
			case string:
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					return time.Time{}, fmt.Errorf("timestamp.field %q: %q is not an ISO 8601 timestamp", field, v)
				}
				return t, nil
			}
			return time.Time{}, fmt.Errorf("timestamp.field %q: a %T is not a timestamp", field, v)
		}
	}
	return func(sink.Record) (time.Time, error) { return time.Now(), nil }
}

// newPartitioner builds c's partitioner (c.PartitionerClass canonical).
func newPartitioner(c Config) (partitioner, error) {
	switch c.PartitionerClass {
	case DefaultPartitionerClass:
		return defaultPartitioner{}, nil
	case FieldPartitionerClass:
		return fieldPartitioner{fields: c.PartitionFields, delim: c.DirDelim}, nil
	}
	pattern, d := c.PathFormat, c.PartitionDuration
	switch c.PartitionerClass {
	case HourlyPartitionerClass:
		pattern = strings.Join([]string{"'year'=YYYY", "'month'=MM", "'day'=dd", "'hour'=HH"}, c.DirDelim)
		d = time.Hour
	case DailyPartitionerClass:
		pattern = strings.Join([]string{"'year'=YYYY", "'month'=MM", "'day'=dd"}, c.DirDelim)
		d = 24 * time.Hour
	}
	f, err := compileJoda(pattern, c.Locale)
	if err != nil {
		return nil, err
	}
	return timePartitioner{duration: d, loc: c.Timezone, format: f, ts: newExtractor(c)}, nil
}
