package mysql

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// DecimalMode is decimal.handling.mode.
type DecimalMode uint8

// Decimal handling modes.
const (
	DecimalPrecise DecimalMode = iota // Connect Decimal (bytes)
	DecimalDouble                     // float64
	DecimalString                     // plain string
)

// TimePrecisionMode is time.precision.mode.
type TimePrecisionMode uint8

// Time precision modes Debezium's MySQL connector supports.
const (
	TimeAdaptiveMicros TimePrecisionMode = iota // adaptive_time_microseconds (default)
	TimeConnect                                 // Kafka Connect's Date, Time, Timestamp (milliseconds)
)

// BinaryMode is binary.handling.mode.
type BinaryMode uint8

// Binary handling modes.
const (
	BinaryBytes BinaryMode = iota
	BinaryBase64
	BinaryBase64URL
	BinaryHex
)

// TypeOptions are the value-conversion settings.
type TypeOptions struct {
	Decimal       DecimalMode
	Time          TimePrecisionMode
	Binary        BinaryMode
	BigintPrecise bool // bigint.unsigned.handling.mode=precise
}

// Debezium logical schema names used by the MySQL connector.
const (
	NameBits           = "io.debezium.data.Bits"
	NameEnum           = "io.debezium.data.Enum"
	NameEnumSet        = "io.debezium.data.EnumSet"
	NameJSON           = "io.debezium.data.Json"
	NameDate           = "io.debezium.time.Date"
	NameYear           = "io.debezium.time.Year"
	NameMicroTime      = "io.debezium.time.MicroTime"
	NameTimestamp      = "io.debezium.time.Timestamp"
	NameMicroTimestamp = "io.debezium.time.MicroTimestamp"
	NameZonedTimestamp = "io.debezium.time.ZonedTimestamp"

	// PrecisionParam is the parameter Debezium adds to Decimal schemas.
	PrecisionParam = "connect.decimal.precision"
)

// ErrUnsupportedType is returned (wrapped) for a column type Sluice cannot map.
var ErrUnsupportedType = errors.New("unsupported column type")

// Column describes one table column as information_schema.COLUMNS gives it.
type Column struct {
	Name       string `json:"name"`
	DataType   string `json:"dataType"`   // DATA_TYPE, lower case: int, varchar, datetime, ...
	ColumnType string `json:"columnType"` // COLUMN_TYPE: int(10) unsigned, enum('a','b'), ...
	Nullable   bool   `json:"nullable"`
	Precision  int    `json:"precision,omitempty"` // NUMERIC_PRECISION (decimal), or the bit length for bit
	Scale      int    `json:"scale,omitempty"`     // NUMERIC_SCALE
	FSP        int    `json:"fsp,omitempty"`       // DATETIME_PRECISION: fractional seconds digits
	Charset    string `json:"charset,omitempty"`

	// Metadata carried only into schema change events (tableChanges), not
	// into value conversion.
	AutoIncrement bool    `json:"autoIncrement,omitempty"` // AUTO_INCREMENT, or ON UPDATE (Debezium marks both)
	Generated     bool    `json:"generated,omitempty"`     // a generated (virtual or stored) column
	Comment       string  `json:"comment,omitempty"`
	Default       *string `json:"default,omitempty"` // the DEFAULT expression, nil without one
}

// Unsigned reports whether the column is an unsigned number.
func (c Column) Unsigned() bool { return strings.Contains(strings.ToLower(c.ColumnType), "unsigned") }

// ConvertFunc turns a column value into its Connect value. It accepts both
// forms a value arrives in: go-mysql's decoded binlog values (int8..int64,
// float32/64, string, []byte; ENUM and SET as their int64 index or bit set,
// BIT as int64) and text-protocol values from the snapshot (int64, uint64,
// float64, []byte). nil stays nil.
type ConvertFunc func(v any) (any, error)

// Mapping is how one column becomes a Connect field.
type Mapping struct {
	Schema  *event.Schema // field schema, optional when the column is nullable
	Convert ConvertFunc
}

// MapColumn returns the Connect schema and converter for c, following
// Debezium's MySQL type-mapping table.
func MapColumn(c Column, o TypeOptions) (Mapping, error) {
	s, conv, err := mapType(c, o)
	if err != nil {
		return Mapping{}, fmt.Errorf("column %s (%s): %w", c.Name, c.ColumnType, err)
	}
	if c.Nullable {
		s = s.Optional()
	} else if fb := zeroFallback(c.DataType); fb != nil {
		// A zero date in a NOT NULL column cannot be null: Debezium emits
		// its converters' fallback, the epoch.
		inner := conv
		conv = func(v any) (any, error) {
			out, err := inner(v)
			if err == nil && out == nil && v != nil {
				return fb, nil
			}
			return out, err
		}
	}
	return Mapping{Schema: s, Convert: conv}, nil
}

// zeroFallback is what a zero date becomes in a NOT NULL column.
func zeroFallback(dataType string) any {
	switch dataType {
	case "date":
		return int32(0)
	case "datetime":
		return int64(0)
	case "timestamp":
		return "1970-01-01T00:00:00Z"
	}
	return nil
}

func mapType(c Column, o TypeOptions) (*event.Schema, ConvertFunc, error) {
	unsigned := c.Unsigned()
	switch c.DataType {
	case "tinyint":
		// Debezium maps TINYINT, TINYINT(1) and BOOLEAN read back from the
		// catalog as INT16.
		return event.Int16(), intConv(8, unsigned, func(n int64) any { return int16(n) }), nil
	case "smallint":
		if unsigned {
			return event.Int32(), intConv(16, true, func(n int64) any { return int32(n) }), nil
		}
		return event.Int16(), intConv(16, false, func(n int64) any { return int16(n) }), nil
	case "mediumint":
		return event.Int32(), intConv(24, unsigned, func(n int64) any { return int32(n) }), nil
	case "int", "integer":
		if unsigned {
			return event.Int64(), intConv(32, true, func(n int64) any { return n }), nil
		}
		return event.Int32(), intConv(32, false, func(n int64) any { return int32(n) }), nil
	case "bigint":
		if unsigned && o.BigintPrecise {
			return event.Decimal(0).WithParam(PrecisionParam, "20"), convUnsignedBigDecimal, nil
		}
		return event.Int64(), intConv(64, unsigned, func(n int64) any { return n }), nil
	case "float":
		return event.Float32(), convFloat32, nil
	case "double", "real", "double precision":
		return event.Float64(), convFloat64, nil
	case "decimal", "numeric", "fixed", "dec":
		switch o.Decimal {
		case DecimalDouble:
			return event.Float64(), convDecimalDouble, nil
		case DecimalString:
			return event.String(), convDecimalString, nil
		}
		return event.Decimal(c.Scale).WithParam(PrecisionParam, strconv.Itoa(c.Precision)), decimalConv(c.Scale), nil
	case "bit":
		n := bitLength(c)
		if n == 1 {
			return event.Boolean(), convBool, nil
		}
		return event.Bytes().WithName(NameBits).WithVersion(1).WithParam("length", strconv.Itoa(n)), bitsConv(n), nil
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		if c.Charset == "binary" {
			return binarySchema(o), binaryConv(o, 0), nil
		}
		return event.String(), convString, nil
	case "binary":
		// The binlog drops a BINARY(n) value's trailing 0x00 bytes; the
		// snapshot reads them. Debezium pads both to n (DBZ-254).
		return binarySchema(o), binaryConv(o, typeLength(c.ColumnType)), nil
	case "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return binarySchema(o), binaryConv(o, 0), nil
	case "json":
		return event.String().WithName(NameJSON).WithVersion(1), convString, nil
	case "enum":
		vals := enumValues(c.ColumnType)
		return event.String().WithName(NameEnum).WithVersion(1).WithParam("allowed", strings.Join(vals, ",")), enumConv(vals), nil
	case "set":
		vals := enumValues(c.ColumnType)
		return event.String().WithName(NameEnumSet).WithVersion(1).WithParam("allowed", strings.Join(vals, ",")), setConv(vals), nil
	case "year":
		return event.Int32().WithName(NameYear).WithVersion(1), convYear, nil
	case "date":
		if o.Time == TimeConnect {
			return event.Date(), convDate, nil
		}
		return event.Int32().WithName(NameDate).WithVersion(1), convDate, nil
	case "time":
		if o.Time == TimeConnect {
			return event.Time(), convTimeMillis, nil
		}
		return event.Int64().WithName(NameMicroTime).WithVersion(1), convTimeMicros, nil
	case "datetime":
		if o.Time == TimeConnect {
			return event.Timestamp(), convDatetimeMillis, nil
		}
		if c.FSP <= 3 {
			return event.Int64().WithName(NameTimestamp).WithVersion(1), convDatetimeMillis, nil
		}
		return event.Int64().WithName(NameMicroTimestamp).WithVersion(1), convDatetimeMicros, nil
	case "timestamp":
		return event.String().WithName(NameZonedTimestamp).WithVersion(1), zonedConv(c.FSP), nil
	}
	return nil, nil, ErrUnsupportedType
}

// typeLength is n of a column type such as binary(n), 0 without one.
func typeLength(colType string) int {
	i := strings.IndexByte(colType, '(')
	j := strings.IndexByte(colType, ')')
	if i < 0 || j < i {
		return 0
	}
	n, err := strconv.Atoi(colType[i+1 : j])
	if err != nil {
		return 0
	}
	return n
}

// bitLength is M of BIT(M), from NUMERIC_PRECISION or the column type.
func bitLength(c Column) int {
	if c.Precision > 0 {
		return c.Precision
	}
	if i := strings.IndexByte(c.ColumnType, '('); i >= 0 {
		if n, err := strconv.Atoi(strings.TrimSuffix(c.ColumnType[i+1:], ")")); err == nil {
			return n
		}
	}
	return 1
}

// enumValues parses the values of enum(...) or set(...), where a quote
// inside a value is doubled.
func enumValues(colType string) []string {
	i := strings.IndexByte(colType, '(')
	j := strings.LastIndexByte(colType, ')')
	if i < 0 || j < i {
		return nil
	}
	s := colType[i+1 : j]
	var out []string
	for len(s) > 0 {
		if s[0] != '\'' {
			s = s[1:]
			continue
		}
		var b strings.Builder
		k := 1
		for k < len(s) {
			if s[k] == '\'' {
				if k+1 < len(s) && s[k+1] == '\'' {
					b.WriteByte('\'')
					k += 2
					continue
				}
				break
			}
			if s[k] == '\\' && k+1 < len(s) {
				b.WriteByte(s[k+1])
				k += 2
				continue
			}
			b.WriteByte(s[k])
			k++
		}
		out = append(out, b.String())
		s = s[min(k+1, len(s)):]
	}
	return out
}

func badValue(v any, want string) error {
	return fmt.Errorf("value %v (%T) is not %s", v, v, want)
}

// intConv reads any integer form; bits and unsigned say how a signed binlog
// value must be reinterpreted (go-mysql decodes every integer as signed).
func intConv(bits int, unsigned bool, box func(int64) any) ConvertFunc {
	return func(v any) (any, error) {
		var n int64
		switch x := v.(type) {
		case nil:
			return nil, nil
		case int8:
			n = int64(x)
		case int16:
			n = int64(x)
		case int32:
			n = int64(x)
		case int64:
			n = x
		case int:
			n = int64(x)
		case uint64:
			return box(int64(x)), nil
		case []byte:
			return parseIntText(string(x), unsigned, box)
		case string:
			return parseIntText(x, unsigned, box)
		default:
			return nil, badValue(v, "an integer")
		}
		if unsigned && n < 0 && bits < 64 {
			n &= (1 << bits) - 1
		}
		return box(n), nil
	}
}

func parseIntText(s string, unsigned bool, box func(int64) any) (any, error) {
	if unsigned {
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, err
		}
		return box(int64(u)), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, err
	}
	return box(n), nil
}

func convUnsignedBigDecimal(v any) (any, error) {
	var u uint64
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		u = uint64(x)
	case uint64:
		u = x
	case []byte, string:
		var err error
		if u, err = strconv.ParseUint(textOf(x), 10, 64); err != nil {
			return nil, err
		}
	default:
		return nil, badValue(v, "an unsigned bigint")
	}
	return event.DecimalBytes(new(big.Int).SetUint64(u)), nil
}

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func convFloat32(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case float32:
		return x, nil
	case float64:
		return float32(x), nil
	case []byte, string:
		f, err := strconv.ParseFloat(textOf(x), 32)
		return float32(f), err
	}
	return nil, badValue(v, "a float")
}

func convFloat64(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case []byte, string:
		return strconv.ParseFloat(textOf(x), 64)
	}
	return nil, badValue(v, "a double")
}

func decimalText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	}
	return "", badValue(v, "a decimal")
}

func convDecimalDouble(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	s, err := decimalText(v)
	if err != nil {
		return nil, err
	}
	return strconv.ParseFloat(s, 64)
}

func convDecimalString(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	return decimalText(v)
}

// decimalConv returns the unscaled value of a DECIMAL(M,scale) text as
// Connect Decimal bytes.
func decimalConv(scale int) ConvertFunc {
	return func(v any) (any, error) {
		if v == nil {
			return nil, nil
		}
		s, err := decimalText(v)
		if err != nil {
			return nil, err
		}
		u, err := unscaled(s, scale)
		if err != nil {
			return nil, err
		}
		return event.DecimalBytes(u), nil
	}
}

// unscaled parses "-12.3" at scale 2 as -1230.
func unscaled(s string, scale int) (*big.Int, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	ip, fp, _ := strings.Cut(s, ".")
	if len(fp) > scale {
		return nil, fmt.Errorf("decimal %q has more than %d fraction digits", s, scale)
	}
	fp += strings.Repeat("0", scale-len(fp))
	u, ok := new(big.Int).SetString(ip+fp, 10)
	if !ok {
		return nil, fmt.Errorf("bad decimal %q", s)
	}
	if neg {
		u.Neg(u)
	}
	return u, nil
}

// bitsValue reads a BIT value: go-mysql gives an int64, the text protocol
// the raw big-endian bytes.
func bitsValue(v any) (uint64, error) {
	switch x := v.(type) {
	case int64:
		return uint64(x), nil
	case uint64:
		return x, nil
	case []byte:
		var u uint64
		for _, b := range x {
			u = u<<8 | uint64(b)
		}
		return u, nil
	case string:
		return bitsValue([]byte(x))
	}
	return 0, badValue(v, "a bit value")
}

func convBool(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	u, err := bitsValue(v)
	return u != 0, err
}

// bitsConv returns BIT(n) as Debezium's Bits: (n+7)/8 bytes, little-endian.
func bitsConv(n int) ConvertFunc {
	size := (n + 7) / 8
	return func(v any) (any, error) {
		if v == nil {
			return nil, nil
		}
		u, err := bitsValue(v)
		if err != nil {
			return nil, err
		}
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		return b, nil
	}
}

func convString(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return nil, badValue(v, "a string")
}

func binarySchema(o TypeOptions) *event.Schema {
	if o.Binary == BinaryBytes {
		return event.Bytes()
	}
	return event.String()
}

// binaryConv converts binary values, right-padded with 0x00 to pad bytes
// (BINARY(n)); pad 0 means no padding.
func binaryConv(o TypeOptions, pad int) ConvertFunc {
	return func(v any) (any, error) {
		var b []byte
		switch x := v.(type) {
		case nil:
			return nil, nil
		case []byte:
			b = x
		case string:
			b = []byte(x)
		default:
			return nil, badValue(v, "binary")
		}
		if len(b) < pad {
			b = append(append(make([]byte, 0, pad), b...), make([]byte, pad-len(b))...)
		}
		switch o.Binary {
		case BinaryBase64:
			return base64.StdEncoding.EncodeToString(b), nil
		case BinaryBase64URL:
			return base64.URLEncoding.EncodeToString(b), nil
		case BinaryHex:
			return hex.EncodeToString(b), nil
		}
		return append([]byte(nil), b...), nil
	}
}

// enumConv maps a binlog index (1-based; 0 is MySQL's empty error value) or the
// snapshot's text to the enum's value.
func enumConv(vals []string) ConvertFunc {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case int64:
			if x == 0 {
				return "", nil
			}
			if x < 0 || int(x) > len(vals) {
				return nil, fmt.Errorf("enum index %d out of range (%d values)", x, len(vals))
			}
			return vals[x-1], nil
		case string, []byte:
			return textOf(x), nil
		}
		return nil, badValue(v, "an enum value")
	}
}

// setConv maps a binlog bit set or the snapshot's text to the set's
// comma-separated members in definition order.
func setConv(vals []string) ConvertFunc {
	return func(v any) (any, error) {
		switch x := v.(type) {
		case nil:
			return nil, nil
		case int64:
			var parts []string
			for i, s := range vals {
				if x&(1<<i) != 0 {
					parts = append(parts, s)
				}
			}
			return strings.Join(parts, ","), nil
		case string, []byte:
			return textOf(x), nil
		}
		return nil, badValue(v, "a set value")
	}
}

func convYear(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int:
		return int32(x), nil
	case int64:
		return int32(x), nil
	case uint64:
		return int32(x), nil
	case []byte, string:
		n, err := strconv.Atoi(textOf(x))
		return int32(n), err
	}
	return nil, badValue(v, "a year")
}

// parseDate reads YYYY-MM-DD; ok is false for MySQL's zero dates
// (0000-00-00, or a zero month or day), which Debezium emits as null.
func parseDate(s string) (y, m, d int, ok bool, err error) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false, fmt.Errorf("bad date %q", s)
	}
	y, err1 := strconv.Atoi(s[0:4])
	m, err2 := strconv.Atoi(s[5:7])
	d, err3 := strconv.Atoi(s[8:10])
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, 0, false, fmt.Errorf("bad date %q", s)
	}
	if m == 0 || d == 0 {
		return y, m, d, false, nil
	}
	return y, m, d, true, nil
}

// daysFromCivil returns days since 1970-01-01 in the proleptic Gregorian
// calendar.
func daysFromCivil(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func convDate(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	y, m, d, ok, err := parseDate(textOf(v))
	if err != nil || !ok {
		return nil, err
	}
	return int32(daysFromCivil(y, m, d)), nil
}

// parseClock reads [-]H+:MM:SS[.ffffff] as microseconds.
func parseClock(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	hms, frac, _ := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("bad time %q", s)
	}
	var f [3]int64
	for i, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad time %q", s)
		}
		f[i] = n
	}
	us := ((f[0]*60+f[1])*60 + f[2]) * 1_000_000
	if frac != "" {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad time %q", s)
		}
		us += n
	}
	if neg {
		us = -us
	}
	return us, nil
}

func convTimeMicros(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	return parseClock(textOf(v))
}

func convTimeMillis(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	us, err := parseClock(textOf(v))
	return int32(us / 1000), err
}

// datetimeMicros reads "YYYY-MM-DD HH:MM:SS[.ffffff]" as epoch microseconds
// (a DATETIME has no zone; Debezium reads it as UTC). ok is false for zero
// dates.
func datetimeMicros(s string) (int64, bool, error) {
	y, m, d, ok, err := parseDate(s)
	if err != nil || !ok {
		return 0, false, err
	}
	var clock int64
	if len(s) > 10 {
		if clock, err = parseClock(strings.TrimSpace(s[10:])); err != nil {
			return 0, false, err
		}
	}
	return daysFromCivil(y, m, d)*86_400_000_000 + clock, true, nil
}

func convDatetimeMicros(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	us, ok, err := datetimeMicros(textOf(v))
	if err != nil || !ok {
		return nil, err
	}
	return us, nil
}

func convDatetimeMillis(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	us, ok, err := datetimeMicros(textOf(v))
	if err != nil || !ok {
		return nil, err
	}
	return floorDiv(us, 1000), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// zonedConv renders a TIMESTAMP(fsp) (given in UTC: the binlog syncer and
// the snapshot session both use UTC) as Debezium's ZonedTimestamp: ISO-8601
// with a Z, the fraction padded to the column's fsp digits.
func zonedConv(fsp int) ConvertFunc {
	return func(v any) (any, error) {
		if v == nil {
			return nil, nil
		}
		s := textOf(v)
		us, ok, err := datetimeMicros(s)
		if err != nil || !ok {
			return nil, err
		}
		t := time.UnixMicro(us).UTC()
		b := t.AppendFormat(make([]byte, 0, 32), "2006-01-02T15:04:05")
		if fsp > 0 {
			frac := fmt.Sprintf("%06d", t.Nanosecond()/1000)
			b = append(b, '.')
			b = append(b, frac[:fsp]...)
		}
		return string(append(b, 'Z')), nil
	}
}
