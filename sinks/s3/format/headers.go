package format

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
)

// numericJSON writes floats as Java's Float/Double.toString; headerString
// borrows it with the two fixed schemas below only (the converter caches
// per schema pointer, and record schemas may be new for every record).
var (
	numericJSON, _ = jsonconv.New(jsonconv.Config{DecimalFormat: jsonconv.DecimalNumeric})
	float32Schema  = event.Float32()
	float64Schema  = event.Float64()
)

// javaFloat is Float.toString / Double.toString ("NaN", "Infinity" bare).
func javaFloat(f float64, bits int) string {
	s := float64Schema
	var v any = f
	if bits == 32 {
		s, v = float32Schema, float32(f)
	}
	out, _ := numericJSON.Encode(nil, s, v)
	return strings.Trim(string(out), `"`)
}

// decimalString is BigDecimal.toString of a Connect Decimal value: plain
// digits unless the exponent is positive or the adjusted exponent is below
// -6, then scientific notation (1E+3, 1.5E-7).
func decimalString(s *event.Schema, v any) (string, error) {
	scale, err := strconv.Atoi(paramOr(s, event.DecimalScaleParam, "0"))
	if err != nil {
		return "", fmt.Errorf("decimal scale: %w", err)
	}
	var unscaled *big.Int
	switch x := v.(type) {
	case []byte:
		unscaled = event.DecimalUnscaled(x)
	case *big.Int:
		unscaled = x
	default:
		return "", fmt.Errorf("%T is not a decimal", v)
	}
	coeff := new(big.Int).Abs(unscaled).String()
	adjusted := len(coeff) - 1 - scale
	var b strings.Builder
	if unscaled.Sign() < 0 {
		b.WriteByte('-')
	}
	if scale >= 0 && adjusted >= -6 {
		switch {
		case scale == 0:
			b.WriteString(coeff)
		case len(coeff) > scale:
			b.WriteString(coeff[:len(coeff)-scale] + "." + coeff[len(coeff)-scale:])
		default:
			b.WriteString("0." + strings.Repeat("0", scale-len(coeff)) + coeff)
		}
		return b.String(), nil
	}
	b.WriteByte(coeff[0])
	if len(coeff) > 1 {
		b.WriteString("." + coeff[1:])
	}
	b.WriteByte('E')
	if adjusted >= 0 {
		b.WriteByte('+')
	}
	b.WriteString(strconv.Itoa(adjusted))
	return b.String(), nil
}

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
			str, err := decimalString(s, v)
			if err != nil {
				return err
			}
			b.WriteString(str)
			return nil
		case event.LogicalDate, event.LogicalTime, event.LogicalTimestamp:
			ms, ok := event.AsInt64(v)
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
		b.WriteString(javaFloat(float64(x), 32))
	case float64:
		b.WriteString(javaFloat(x, 64))
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
