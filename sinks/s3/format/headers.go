package format

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// numericJSON writes Decimal as BigDecimal.toString and floats as Java's
// Float/Double.toString; headerString borrows both.
var numericJSON, _ = jsonconv.New(jsonconv.Config{DecimalFormat: jsonconv.DecimalNumeric})

const millisPerDay = 24 * 60 * 60 * 1000

// headerString is Connect's Values.convertToString(schema, value), which
// HeaderRecordView applies to every header value. A null value is an error
// (the header struct's value field is a required string, so Connect fails
// too).
func headerString(s *event.Schema, v any) (string, error) {
	if v == nil {
		return "", errors.New("null header value cannot be stored (Connect: invalid value null for required field \"value\")")
	}
	var b strings.Builder
	if err := appendJavaValue(&b, s, v, false); err != nil {
		return "", err
	}
	return b.String(), nil
}

// appendJavaValue is Values.append: strings as is at the top level and
// quoted (backslash and quote escaped) inside lists, maps and structs;
// bytes as base64; numbers and booleans as Java prints them; logical dates
// as java.util.Date is formatted by Values.dateFormatFor.
func appendJavaValue(b *strings.Builder, s *event.Schema, v any, embedded bool) error {
	if v == nil {
		b.WriteString("null")
		return nil
	}
	if s != nil {
		switch s.Name() {
		case event.LogicalDecimal:
			out, err := numericJSON.Encode(nil, s.Required(), v)
			if err != nil {
				return err
			}
			b.Write(out)
			return nil
		case event.LogicalDate, event.LogicalTime, event.LogicalTimestamp:
			ms, ok := asInt64(v)
			if !ok {
				return fmt.Errorf("%T is not a %s", v, s.Name())
			}
			if s.Name() == event.LogicalDate {
				ms *= millisPerDay
			}
			b.WriteString(javaDateString(ms))
			return nil
		}
	}
	switch x := v.(type) {
	case string:
		if embedded {
			b.WriteByte('"')
			b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(x))
			b.WriteByte('"')
		} else {
			b.WriteString(x)
		}
	case []byte:
		enc := base64.StdEncoding.EncodeToString(x)
		if embedded {
			b.WriteString(`"` + enc + `"`)
		} else {
			b.WriteString(enc)
		}
	case bool:
		fmt.Fprint(b, x)
	case int8, int16, int32, int64, int:
		fmt.Fprint(b, x)
	case *big.Int:
		b.WriteString(x.String())
	case float32:
		out, _ := numericJSON.Encode(nil, event.Float32(), x)
		b.WriteString(strings.Trim(string(out), `"`))
	case float64:
		out, _ := numericJSON.Encode(nil, event.Float64(), x)
		b.WriteString(strings.Trim(string(out), `"`))
	case []any:
		var items *event.Schema
		if s != nil {
			items = s.Items()
		}
		b.WriteByte('[')
		for i, it := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendJavaValue(b, items, it, true); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case []event.MapEntry:
		var ks, vs *event.Schema
		if s != nil {
			ks, vs = s.Keys(), s.Values()
		}
		b.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := appendJavaValue(b, ks, e.Key, true); err != nil {
				return err
			}
			b.WriteByte(':')
			if err := appendJavaValue(b, vs, e.Value, true); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case *event.Struct:
		st := x.Schema()
		b.WriteByte('{')
		for i := 0; i < st.NumFields(); i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			f := st.Field(i)
			_ = appendJavaValue(b, nil, f.Name, true)
			b.WriteByte(':')
			if err := appendJavaValue(b, f.Schema, x.At(i), true); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("header value of type %T cannot be converted to a string", v)
	}
	return nil
}

// javaDateString is Values.dateFormatFor: a time of day below one day of
// millis, a date at midnight, else an ISO-8601 timestamp, all in UTC.
func javaDateString(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	switch {
	case ms < millisPerDay:
		return t.Format("15:04:05.000Z")
	case ms%millisPerDay == 0:
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

func asInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	}
	return 0, false
}
