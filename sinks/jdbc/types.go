package jdbc

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// Debezium schema names the sink maps to specific SQL types.
const (
	nameJSON                 = "io.debezium.data.Json"
	nameUUID                 = "io.debezium.data.Uuid"
	nameVariableScaleDecimal = "io.debezium.data.VariableScaleDecimal"
	nameDate                 = "io.debezium.time.Date"
	nameTime                 = "io.debezium.time.Time"
	nameMicroTime            = "io.debezium.time.MicroTime"
	nameNanoTime             = "io.debezium.time.NanoTime"
	nameTimestamp            = "io.debezium.time.Timestamp"
	nameMicroTimestamp       = "io.debezium.time.MicroTimestamp"
	nameNanoTimestamp        = "io.debezium.time.NanoTimestamp"
	nameZonedTimestamp       = "io.debezium.time.ZonedTimestamp"
	nameZonedTime            = "io.debezium.time.ZonedTime"
	precisionParam           = "connect.decimal.precision"
)

// kind is how the sink treats a column: its SQL type per dialect and how a
// Connect value becomes a driver value.
type kind int

const (
	kInt8 kind = iota + 1
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kBool
	kString
	kBytes
	kDecimal   // Connect Decimal: unscaled two's complement bytes
	kVarDec    // Debezium VariableScaleDecimal struct
	kDate      // days since epoch
	kTime      // time of day, unit in colType.unit
	kTimestamp // Connect Timestamp: epoch millis, an instant
	kLocalTS   // Debezium (Micro|Nano)Timestamp: wall clock encoded as UTC
	kZonedTS   // ISO-8601 string with offset
	kZonedTime // ISO-8601 time with offset
	kJSON
	kUUID
	kComplex // struct, array or map: written as JSON text
)

// colType is a column's kind and its parameters.
type colType struct {
	kind      kind
	unit      time.Duration // kTime, kLocalTS
	scale     int           // kDecimal
	precision int           // kDecimal, 0 when unknown
}

func typeOf(s *event.Schema) (colType, error) {
	switch s.Name() {
	case event.LogicalDecimal:
		sc, _ := s.Param(event.DecimalScaleParam)
		scale, err := strconv.Atoi(sc)
		if err != nil {
			return colType{}, fmt.Errorf("decimal schema without a valid scale %q", sc)
		}
		t := colType{kind: kDecimal, scale: scale}
		if p, ok := s.Param(precisionParam); ok {
			t.precision, _ = strconv.Atoi(p)
		}
		return t, nil
	case nameVariableScaleDecimal:
		return colType{kind: kVarDec}, nil
	case event.LogicalDate, nameDate:
		return colType{kind: kDate}, nil
	case event.LogicalTime, nameTime:
		return colType{kind: kTime, unit: time.Millisecond}, nil
	case nameMicroTime:
		return colType{kind: kTime, unit: time.Microsecond}, nil
	case nameNanoTime:
		return colType{kind: kTime, unit: time.Nanosecond}, nil
	case event.LogicalTimestamp:
		return colType{kind: kTimestamp, unit: time.Millisecond}, nil
	case nameTimestamp:
		return colType{kind: kLocalTS, unit: time.Millisecond}, nil
	case nameMicroTimestamp:
		return colType{kind: kLocalTS, unit: time.Microsecond}, nil
	case nameNanoTimestamp:
		return colType{kind: kLocalTS, unit: time.Nanosecond}, nil
	case nameZonedTimestamp:
		return colType{kind: kZonedTS}, nil
	case nameZonedTime:
		return colType{kind: kZonedTime}, nil
	case nameJSON:
		return colType{kind: kJSON}, nil
	case nameUUID:
		return colType{kind: kUUID}, nil
	}
	switch s.Type() {
	case event.TypeInt8:
		return colType{kind: kInt8}, nil
	case event.TypeInt16:
		return colType{kind: kInt16}, nil
	case event.TypeInt32:
		return colType{kind: kInt32}, nil
	case event.TypeInt64:
		return colType{kind: kInt64}, nil
	case event.TypeFloat32:
		return colType{kind: kFloat32}, nil
	case event.TypeFloat64:
		return colType{kind: kFloat64}, nil
	case event.TypeBoolean:
		return colType{kind: kBool}, nil
	case event.TypeString:
		return colType{kind: kString}, nil
	case event.TypeBytes:
		return colType{kind: kBytes}, nil
	case event.TypeStruct, event.TypeArray, event.TypeMap:
		return colType{kind: kComplex}, nil
	}
	return colType{}, fmt.Errorf("unsupported schema %v", s)
}

// sqlType returns the column type auto.create and auto.evolve use.
func sqlType(d dialectKind, t colType, key bool) string {
	switch d {
	case postgres:
		switch t.kind {
		case kInt8, kInt16:
			return "SMALLINT"
		case kInt32:
			return "INTEGER"
		case kInt64:
			return "BIGINT"
		case kFloat32:
			return "REAL"
		case kFloat64:
			return "DOUBLE PRECISION"
		case kBool:
			return "BOOLEAN"
		case kString:
			return "TEXT"
		case kBytes:
			return "BYTEA"
		case kDecimal:
			if t.precision > 0 {
				return fmt.Sprintf("NUMERIC(%d,%d)", t.precision, t.scale)
			}
			return "NUMERIC"
		case kVarDec:
			return "NUMERIC"
		case kDate:
			return "DATE"
		case kTime:
			return timePrec("TIME", t.unit)
		case kTimestamp, kZonedTS:
			return timePrec("TIMESTAMPTZ", t.unit)
		case kLocalTS:
			return timePrec("TIMESTAMP", t.unit)
		case kZonedTime:
			return "TIMETZ"
		case kJSON, kComplex:
			return "JSONB"
		case kUUID:
			return "UUID"
		}
	case mariadb:
		switch t.kind {
		case kInt8:
			return "TINYINT"
		case kInt16:
			return "SMALLINT"
		case kInt32:
			return "INT"
		case kInt64:
			return "BIGINT"
		case kFloat32:
			return "FLOAT"
		case kFloat64:
			return "DOUBLE"
		case kBool:
			return "BOOLEAN"
		case kString, kZonedTime:
			if key {
				return "VARCHAR(255)"
			}
			return "TEXT"
		case kBytes:
			if key {
				return "VARBINARY(255)"
			}
			return "LONGBLOB"
		case kDecimal:
			p := t.precision
			if p <= 0 || p > 65 {
				p = 65
			}
			if t.scale > p {
				return fmt.Sprintf("DECIMAL(65,%d)", min(t.scale, 30))
			}
			return fmt.Sprintf("DECIMAL(%d,%d)", p, min(t.scale, 30))
		case kVarDec:
			return "DECIMAL(65,30)"
		case kDate:
			return "DATE"
		case kTime:
			return timePrec("TIME", t.unit)
		case kTimestamp, kZonedTS:
			// DATETIME, not TIMESTAMP: TIMESTAMP ends in 2038 and is
			// shifted by the session time zone.
			return timePrec("DATETIME", t.unit)
		case kLocalTS:
			return timePrec("DATETIME", t.unit)
		case kJSON, kComplex:
			return "JSON"
		case kUUID:
			return "CHAR(36)"
		}
	case sqliteDB:
		switch t.kind {
		case kInt8, kInt16, kInt32, kInt64:
			return "INTEGER"
		case kFloat32, kFloat64:
			return "REAL"
		case kBool:
			return "BOOLEAN"
		case kString, kZonedTime, kUUID:
			return "TEXT"
		case kBytes:
			return "BLOB"
		case kDecimal:
			if t.precision > 0 {
				return fmt.Sprintf("NUMERIC(%d,%d)", t.precision, t.scale)
			}
			return "NUMERIC"
		case kVarDec:
			return "NUMERIC"
		case kDate:
			return "DATE"
		case kTime:
			return "TIME"
		case kTimestamp, kZonedTS, kLocalTS:
			return "TIMESTAMP"
		case kJSON, kComplex:
			return "JSON"
		}
	}
	return "TEXT"
}

func timePrec(base string, unit time.Duration) string {
	switch unit {
	case time.Millisecond:
		return base + "(3)"
	case 0:
		return base + "(6)"
	}
	return base + "(6)"
}

// family groups SQL types for the compatibility check of existing columns.
type family int

const (
	famUnknown family = iota
	famInt
	famFloat
	famDecimal
	famBool
	famText
	famBytes
	famTemporal
	famJSON
)

func (t colType) family() family {
	switch t.kind {
	case kInt8, kInt16, kInt32, kInt64:
		return famInt
	case kFloat32, kFloat64:
		return famFloat
	case kDecimal, kVarDec:
		return famDecimal
	case kBool:
		return famBool
	case kBytes:
		return famBytes
	case kDate, kTime, kTimestamp, kLocalTS, kZonedTS, kZonedTime:
		return famTemporal
	}
	return famText
}

// textBound reports whether the sink binds values of t as text for the
// server to parse (Postgres).
func (t colType) textBound() bool {
	switch t.kind {
	case kDecimal, kVarDec, kTime, kZonedTime, kJSON, kComplex, kUUID:
		return true
	}
	return false
}

func (t colType) intBytes() int {
	switch t.kind {
	case kInt8:
		return 1
	case kInt16:
		return 2
	case kInt32:
		return 4
	}
	return 8
}

// columnFamily classifies an information_schema data_type (Postgres,
// MySQL) and returns the byte width of integer types.
func columnFamily(d dialectKind, dataType string) (family, int) {
	t := strings.ToLower(dataType)
	switch t {
	case "smallint", "int2":
		return famInt, 2
	case "integer", "int", "int4", "mediumint":
		return famInt, 4
	case "bigint", "int8":
		return famInt, 8
	case "tinyint":
		return famInt, 1
	case "real", "double precision", "float", "double", "float4", "float8":
		return famFloat, 0
	case "numeric", "decimal":
		return famDecimal, 0
	case "boolean", "bool", "bit":
		return famBool, 0
	case "bytea", "blob", "longblob", "mediumblob", "tinyblob", "binary", "varbinary":
		return famBytes, 0
	case "text", "character varying", "varchar", "char", "character", "longtext", "mediumtext", "tinytext", "uuid", "enum", "set", "xml", "citext":
		return famText, 0
	case "json", "jsonb":
		return famJSON, 0
	case "date", "time", "datetime", "timestamp", "timestamp with time zone", "timestamp without time zone", "time with time zone", "time without time zone", "year":
		return famTemporal, 0
	}
	return famUnknown, 0
}

// fits reports whether values of t may be written into a column of the
// given family (and integer width). Unknown column types are trusted.
func (t colType) fits(f family, width int) bool {
	if f == famUnknown {
		return true
	}
	want := t.family()
	switch want {
	case famInt:
		switch f {
		case famInt:
			return width >= t.intBytes() || (width == 1 && t.kind == kInt8)
		case famDecimal, famFloat:
			return true
		case famBool:
			return t.kind == kInt8
		}
		return false
	case famFloat:
		return f == famFloat || f == famDecimal
	case famDecimal:
		return f == famDecimal || f == famFloat
	case famBool:
		return f == famBool || (f == famInt)
	case famBytes:
		return f == famBytes
	case famTemporal:
		return f == famTemporal || f == famText
	case famText:
		if t.kind == kJSON || t.kind == kComplex {
			return f == famJSON || f == famText
		}
		return f == famText || f == famJSON || f == famTemporal
	}
	return true
}

// converter turns Connect values of one column into driver values.
type converter struct {
	d  dialectKind
	tz *time.Location
}

func (c converter) value(t colType, s *event.Schema, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t.kind {
	case kInt8, kInt16, kInt32, kInt64:
		switch x := v.(type) {
		case int8:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		}
	case kFloat32:
		switch x := v.(type) {
		case float32:
			return float64(x), nil
		case float64:
			return x, nil
		}
	case kFloat64:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
	case kBool:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case kString, kZonedTime, kUUID:
		if x, ok := v.(string); ok {
			return x, nil
		}
	case kJSON:
		if x, ok := v.(string); ok {
			return x, nil
		}
	case kBytes:
		if x, ok := v.([]byte); ok {
			return x, nil
		}
	case kDecimal:
		var u *big.Int
		switch x := v.(type) {
		case []byte:
			u = event.DecimalUnscaled(x)
		case *big.Int:
			u = x
		default:
			return nil, fmt.Errorf("decimal value of Go type %T", v)
		}
		return formatDecimal(u, t.scale), nil
	case kVarDec:
		st, ok := v.(*event.Struct)
		if !ok {
			break
		}
		sc, _ := st.Get("scale").(int32)
		var u *big.Int
		switch x := st.Get("value").(type) {
		case []byte:
			u = event.DecimalUnscaled(x)
		case *big.Int:
			u = x
		default:
			return nil, fmt.Errorf("variable scale decimal value of Go type %T", x)
		}
		return formatDecimal(u, int(sc)), nil
	case kDate:
		days, ok := event.AsInt64(v)
		if !ok {
			break
		}
		d := time.Unix(days*86400, 0).UTC()
		if c.d == postgres {
			return d, nil
		}
		return d.Format("2006-01-02"), nil
	case kTime:
		n, ok := event.AsInt64(v)
		if !ok {
			break
		}
		d := time.Duration(n) * t.unit
		h := d / time.Hour
		d -= h * time.Hour
		m := d / time.Minute
		d -= m * time.Minute
		sec := d / time.Second
		d -= sec * time.Second
		return fmt.Sprintf("%02d:%02d:%02d.%06d", h, m, sec, d/time.Microsecond), nil
	case kTimestamp, kLocalTS:
		n, ok := event.AsInt64(v)
		if !ok {
			break
		}
		ts := time.Unix(0, 0).Add(time.Duration(n) * t.unit).UTC()
		if t.unit == time.Millisecond || t.unit == time.Microsecond {
			// Durations overflow after 292 years: compute by parts.
			per := int64(time.Second / t.unit)
			sec, frac := n/per, n%per
			if frac < 0 {
				sec, frac = sec-1, frac+per
			}
			ts = time.Unix(sec, frac*int64(t.unit)).UTC()
		}
		if t.kind == kTimestamp {
			return c.instant(ts), nil
		}
		return c.wallClock(ts), nil
	case kZonedTS:
		x, ok := v.(string)
		if !ok {
			break
		}
		ts, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return nil, fmt.Errorf("zoned timestamp %q: %w", x, err)
		}
		return c.instant(ts), nil
	case kComplex:
		b, err := json.Marshal(jsonValue(s, v))
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
	return nil, fmt.Errorf("value of Go type %T for %v", v, s)
}

// instant renders a point in time for a column with time zone (Postgres)
// or in db.timezone for columns without (MySQL DATETIME, SQLite text).
func (c converter) instant(ts time.Time) any {
	switch c.d {
	case postgres:
		return ts
	case mariadb:
		return ts.In(c.tz).Format("2006-01-02 15:04:05.999999")
	}
	return ts.In(c.tz).Format("2006-01-02 15:04:05.999999999Z07:00")
}

// wallClock renders a Debezium local timestamp: its UTC fields are the
// source's wall clock and are written unchanged.
func (c converter) wallClock(ts time.Time) any {
	switch c.d {
	case postgres:
		return ts
	case mariadb:
		return ts.Format("2006-01-02 15:04:05.999999")
	}
	return ts.Format("2006-01-02 15:04:05.999999999")
}

// formatDecimal renders unscaled × 10^-scale exactly.
func formatDecimal(u *big.Int, scale int) string {
	if scale <= 0 {
		s := u.String()
		if scale < 0 && u.Sign() != 0 {
			s += strings.Repeat("0", -scale)
		}
		return s
	}
	neg := u.Sign() < 0
	digits := new(big.Int).Abs(u).String()
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	s := digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// jsonValue turns a Connect value into something encoding/json renders
// naturally: structs as objects in field order, bytes as base64.
func jsonValue(s *event.Schema, v any) any {
	switch x := v.(type) {
	case *event.Struct:
		fs := x.Schema().Fields()
		obj := make(orderedObject, 0, len(fs))
		for i, f := range fs {
			obj = append(obj, kv{f.Name, jsonValue(f.Schema, x.At(i))})
		}
		return obj
	case []any:
		var items *event.Schema
		if s != nil {
			items = s.Items()
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(items, e)
		}
		return out
	case []event.MapEntry:
		var vals *event.Schema
		if s != nil {
			vals = s.Values()
		}
		obj := make(orderedObject, 0, len(x))
		for _, e := range x {
			obj = append(obj, kv{fmt.Sprint(e.Key), jsonValue(vals, e.Value)})
		}
		return obj
	case map[string]any:
		out := make(map[string]any, len(x))
		var vals *event.Schema
		if s != nil {
			vals = s.Values()
		}
		for k, e := range x {
			out[k] = jsonValue(vals, e)
		}
		return out
	case []byte:
		if s != nil && s.Name() == event.LogicalDecimal {
			sc, _ := s.Param(event.DecimalScaleParam)
			n, _ := strconv.Atoi(sc)
			return json.Number(formatDecimal(event.DecimalUnscaled(x), n))
		}
		return base64.StdEncoding.EncodeToString(x)
	}
	return v
}

type kv struct {
	k string
	v any
}

type orderedObject []kv

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// defaultLiteral renders a schema default as SQL for simple types; ok is
// false when there is none or it cannot be rendered.
func defaultLiteral(t colType, s *event.Schema) (string, bool) {
	v := s.Default()
	if v == nil {
		return "", false
	}
	switch t.kind {
	case kInt8, kInt16, kInt32, kInt64:
		if n, ok := event.AsInt64(v); ok {
			return strconv.FormatInt(n, 10), true
		}
	case kFloat32, kFloat64:
		switch x := v.(type) {
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), true
		case float32:
			return strconv.FormatFloat(float64(x), 'g', -1, 32), true
		}
	case kBool:
		if x, ok := v.(bool); ok {
			if x {
				return "TRUE", true
			}
			return "FALSE", true
		}
	case kString:
		if x, ok := v.(string); ok {
			return "'" + strings.ReplaceAll(x, "'", "''") + "'", true
		}
	}
	return "", false
}
