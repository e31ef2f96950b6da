package postgres

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"strconv"
	"sync"

	"github.com/sluice-cdc/sluice/event"
)

// DecimalMode is Debezium's decimal.handling.mode.
type DecimalMode uint8

// Decimal handling modes.
const (
	DecimalPrecise DecimalMode = iota // Connect Decimal / io.debezium.data.VariableScaleDecimal
	DecimalDouble                     // float64
	DecimalString                     // plain string
)

// TimePrecisionMode is Debezium's time.precision.mode.
type TimePrecisionMode uint8

// Time precision modes.
const (
	TimeAdaptive                 TimePrecisionMode = iota // io.debezium.time.* by column precision
	TimeAdaptiveTimeMicroseconds                          // as adaptive, but TIME is always MicroTime
	TimeConnect                                           // org.apache.kafka.connect.data.* (millisecond precision)
)

// BinaryMode is Debezium's binary.handling.mode.
type BinaryMode uint8

// Binary handling modes.
const (
	BinaryBytes         BinaryMode = iota // bytes
	BinaryBase64                          // standard base64 string
	BinaryBase64URLSafe                   // URL-safe base64 string (padded)
	BinaryHex                             // lower-case hex string
)

// HStoreMode is Debezium's hstore.handling.mode.
type HStoreMode uint8

// HStore handling modes.
const (
	HStoreJSON HStoreMode = iota // io.debezium.data.Json string
	HStoreMap                    // map<string, optional string>
)

// IntervalMode is Debezium's interval.handling.mode.
type IntervalMode uint8

// Interval handling modes.
const (
	IntervalNumeric IntervalMode = iota // io.debezium.time.MicroDuration int64
	IntervalString                      // io.debezium.time.Interval ISO-8601 string
)

// TypeOptions are the Debezium settings that shape value conversion. The zero
// value is not Debezium's default (money.fraction.digits is 2); start from
// DefaultTypeOptions.
type TypeOptions struct {
	Decimal             DecimalMode
	TimePrecision       TimePrecisionMode
	Binary              BinaryMode
	HStore              HStoreMode
	Interval            IntervalMode
	MoneyFractionDigits int
}

// DefaultTypeOptions returns Debezium's defaults: precise decimals, adaptive
// time precision, bytes, hstore as JSON, numeric intervals, 2 money digits.
func DefaultTypeOptions() TypeOptions {
	return TypeOptions{MoneyFractionDigits: 2}
}

// Set applies one Debezium configuration key (decimal.handling.mode,
// time.precision.mode, binary.handling.mode, hstore.handling.mode,
// interval.handling.mode, money.fraction.digits). Unknown keys are ignored
// and reported with ok=false.
func (o *TypeOptions) Set(key, value string) (ok bool, err error) {
	bad := func() (bool, error) { return true, fmt.Errorf("%s: invalid value %q", key, value) }
	switch key {
	case "decimal.handling.mode":
		switch value {
		case "precise":
			o.Decimal = DecimalPrecise
		case "double":
			o.Decimal = DecimalDouble
		case "string":
			o.Decimal = DecimalString
		default:
			return bad()
		}
	case "time.precision.mode":
		switch value {
		case "adaptive":
			o.TimePrecision = TimeAdaptive
		case "adaptive_time_microseconds":
			o.TimePrecision = TimeAdaptiveTimeMicroseconds
		case "connect":
			o.TimePrecision = TimeConnect
		default:
			return bad()
		}
	case "binary.handling.mode":
		switch value {
		case "bytes":
			o.Binary = BinaryBytes
		case "base64":
			o.Binary = BinaryBase64
		case "base64-url-safe":
			o.Binary = BinaryBase64URLSafe
		case "hex":
			o.Binary = BinaryHex
		default:
			return bad()
		}
	case "hstore.handling.mode":
		switch value {
		case "json":
			o.HStore = HStoreJSON
		case "map":
			o.HStore = HStoreMap
		default:
			return bad()
		}
	case "interval.handling.mode":
		switch value {
		case "numeric":
			o.Interval = IntervalNumeric
		case "string":
			o.Interval = IntervalString
		default:
			return bad()
		}
	case "money.fraction.digits":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > 100 {
			return bad()
		}
		o.MoneyFractionDigits = n
	default:
		return false, nil
	}
	return true, nil
}

// Debezium logical schema names.
const (
	NameBits                 = "io.debezium.data.Bits"
	NameEnum                 = "io.debezium.data.Enum"
	NameJSON                 = "io.debezium.data.Json"
	NameXML                  = "io.debezium.data.Xml"
	NameUUID                 = "io.debezium.data.Uuid"
	NameLtree                = "io.debezium.data.Ltree"
	NameTsvector             = "io.debezium.data.Tsvector"
	NameVariableScaleDecimal = "io.debezium.data.VariableScaleDecimal"
	NameDate                 = "io.debezium.time.Date"
	NameTime                 = "io.debezium.time.Time"
	NameMicroTime            = "io.debezium.time.MicroTime"
	NameTimestamp            = "io.debezium.time.Timestamp"
	NameMicroTimestamp       = "io.debezium.time.MicroTimestamp"
	NameZonedTime            = "io.debezium.time.ZonedTime"
	NameZonedTimestamp       = "io.debezium.time.ZonedTimestamp"
	NameMicroDuration        = "io.debezium.time.MicroDuration"
	NameInterval             = "io.debezium.time.Interval"

	// PrecisionParam is the parameter Debezium adds to Decimal schemas.
	PrecisionParam = "connect.decimal.precision"
)

// Special values Debezium emits for Postgres infinite dates and timestamps
// (pgjdbc's PGStatement.DATE_POSITIVE_INFINITY / DATE_NEGATIVE_INFINITY read
// as epoch microseconds, and the epoch days of the LocalDate constants
// PostgresValueConverter uses, truncated to int32 as Date.toEpochDay does).
const (
	InfinityMicros    int64 = 9223372036825200000
	NegInfinityMicros int64 = -9223372036832400000
	InfinityMillis    int64 = 9223372036825200
	NegInfinityMillis int64 = -9223372036832400
)

var (
	// InfinityDays and NegInfinityDays are what 'infinity' and '-infinity'
	// dates become: (int) LocalDate.parse("-5877611-06-21").toEpochDay()
	// and the same for "-5877611-06-22".
	InfinityDays    = int32(daysFromCivil(-5877611, 6, 21))
	NegInfinityDays = int32(daysFromCivil(-5877611, 6, 22))
)

// Errors returned by value converters.
var (
	// ErrSpecialNumeric: a NaN or ±Infinity numeric under
	// decimal.handling.mode=precise, which Debezium also rejects (it asks for
	// mode string or double).
	ErrSpecialNumeric = errors.New("numeric NaN/Infinity cannot be represented in precise decimal mode; set decimal.handling.mode to string or double")
	// ErrSyntax: the text is not a valid value of the column type.
	ErrSyntax = errors.New("invalid text value")
)

// ConvertFunc turns a column value in Postgres text format (as pgoutput and
// a text-format SELECT deliver it) into its Connect value. A nil slice is
// SQL NULL and yields nil. The slice is not retained.
type ConvertFunc func(text []byte) (any, error)

// Column describes a table column as the Relation message or
// pg_attribute gives it.
type Column struct {
	Name     string
	TypeOID  uint32
	TypeMod  int32 // atttypmod; -1 when none
	Optional bool  // column is nullable
}

// ColumnConverter is the precomputed mapping of one column: its Connect field
// schema and the converter for its values.
type ColumnConverter struct {
	Schema  *event.Schema
	Convert ConvertFunc
	// Unknown is true when the type has no Debezium mapping and values are
	// passed through as text.
	Unknown bool
}

// TypeMapper builds ColumnConverters for columns with Debezium's PostgreSQL
// type mapping under a fixed set of options.
type TypeMapper struct {
	cat  *TypeCatalog
	opts TypeOptions
	log  *slog.Logger

	mu     sync.Mutex
	warned map[string]struct{}
}

// NewTypeMapper returns a mapper resolving types through cat. log receives
// one warning per table column of an unsupported type; nil discards.
func NewTypeMapper(cat *TypeCatalog, opts TypeOptions, log *slog.Logger) *TypeMapper {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &TypeMapper{cat: cat, opts: opts, log: log, warned: make(map[string]struct{})}
}

// Options returns the mapper's options.
func (m *TypeMapper) Options() TypeOptions { return m.opts }

// Column builds the schema and converter for one column of table (used in
// log messages, e.g. "public.orders"). It fails only when the column's type
// cannot be looked up; a type without a mapping becomes a text column.
func (m *TypeMapper) Column(ctx context.Context, table string, col Column) (ColumnConverter, error) {
	b := builder{m: m, ctx: ctx}
	s, conv, err := b.build(col.TypeOID, col.TypeMod, 0)
	if err != nil {
		return ColumnConverter{}, fmt.Errorf("column %s.%s: %w", table, col.Name, err)
	}
	if s == nil {
		m.warnUnknown(table, col.Name, b.unknownName)
		s, conv = event.String(), convString
	}
	if col.Optional {
		s = s.Optional()
	}
	return ColumnConverter{Schema: s, Convert: conv, Unknown: b.unknown}, nil
}

func (m *TypeMapper) warnUnknown(table, column, typ string) {
	key := table + "\x00" + column + "\x00" + typ
	m.mu.Lock()
	_, seen := m.warned[key]
	if !seen {
		m.warned[key] = struct{}{}
	}
	m.mu.Unlock()
	if !seen {
		m.log.Warn("column type has no Debezium mapping; emitting its text form as an optional string",
			slog.String("table", table), slog.String("column", column), slog.String("type", typ))
	}
}

// builder resolves one column, remembering whether it met an unknown type.
type builder struct {
	m           *TypeMapper
	ctx         context.Context
	unknown     bool
	unknownName string
}

// build returns a required schema and its converter; a nil schema means the
// type (or an element of it) has no mapping.
func (b *builder) build(oid uint32, typmod int32, depth int) (*event.Schema, ConvertFunc, error) {
	t, err := b.m.cat.Lookup(b.ctx, oid)
	if err != nil {
		return nil, nil, err
	}
	// Domains map as their base type; the domain's own modifier applies when
	// the column has none (pgoutput sends -1 for domain columns).
	for t.Kind == KindDomain {
		if depth++; depth > 32 {
			return nil, nil, fmt.Errorf("type %s: domain chain too deep", t.Name)
		}
		if typmod == -1 {
			typmod = t.BaseTypmod
		}
		if t, err = b.m.cat.Lookup(b.ctx, t.BaseOID); err != nil {
			return nil, nil, err
		}
	}
	if t.IsArray() {
		return b.buildArray(t, typmod, depth)
	}
	if t.Kind == KindEnum {
		return enumSchema(t), convString, nil
	}
	s, conv := b.m.scalar(t, typmod)
	if s == nil {
		b.unknown, b.unknownName = true, t.Namespace+"."+t.Name
		return nil, nil, nil
	}
	return s, conv, nil
}

// debeziumUnsupportedArrays are array types Debezium's PostgresValueConverter
// leaves unmapped (DBZ-459); Sluice emits them as text like other unknowns.
var debeziumUnsupportedArrays = map[string]bool{
	"_money": true, "_name": true, "_interval": true, "_varbit": true, "_xml": true, "_point": true, "_refcursor": true,
}

func (b *builder) buildArray(t *TypeInfo, typmod int32, depth int) (*event.Schema, ConvertFunc, error) {
	if t.Namespace == "pg_catalog" && debeziumUnsupportedArrays[t.Name] {
		b.unknown, b.unknownName = true, t.Namespace+"."+t.Name
		return nil, nil, nil
	}
	es, econv, err := b.build(t.ElemOID, typmod, depth+1)
	if err != nil || es == nil {
		return nil, nil, err
	}
	et, err := b.m.cat.Lookup(b.ctx, t.ElemOID)
	if err != nil {
		return nil, nil, err
	}
	// Debezium builds enum array items without optional() (its
	// PostgresValueConverter.schemaBuilder); every other element is optional.
	if et.Kind != KindEnum {
		es = es.Optional()
	}
	delim := byte(',')
	if et.Name == "box" {
		delim = ';'
	}
	return event.Array(es), arrayConverter(econv, delim), nil
}

func enumSchema(t *TypeInfo) *event.Schema {
	allowed := ""
	for i, l := range t.EnumLabels {
		if i > 0 {
			allowed += ","
		}
		allowed += l
	}
	return event.String().WithName(NameEnum).WithVersion(1).WithParam("allowed", allowed)
}

// typmod helpers, as pgjdbc's TypeInfoCache computes precision and scale
// (Debezium takes column length and scale from there).
func timePrecision(typmod int32) int {
	if typmod < 0 {
		return 6
	}
	return int(typmod)
}

func numericPrecisionScale(typmod int32) (precision, scale int, variable bool) {
	if typmod < 4 {
		return 0, 0, true
	}
	t := typmod - 4
	return int(t>>16) & 0xffff, int(t) & 0xffff, false
}

var (
	vsdSchema = event.StructOf(NameVariableScaleDecimal,
		event.NewField("scale", event.Int32()),
		event.NewField("value", event.Bytes()),
	).WithVersion(1).WithDoc("Variable scaled decimal")
	hstoreMapSchema = event.Map(event.String(), event.String().Optional())
)

// scalar maps a non-array, non-enum, non-domain type. It returns a nil schema
// for types Debezium does not map.
func (m *TypeMapper) scalar(t *TypeInfo, typmod int32) (*event.Schema, ConvertFunc) {
	o := m.opts
	if t.Namespace != "pg_catalog" {
		// Extension types Debezium recognises by name, in any schema.
		switch t.Name {
		case "citext", "isbn":
			return event.String(), convString
		case "ltree":
			return event.String().WithName(NameLtree).WithVersion(1), convString
		case "hstore":
			if o.HStore == HStoreMap {
				return hstoreMapSchema, convHStoreMap
			}
			return jsonSchema(), convHStoreJSON
		}
		return nil, nil
	}
	switch t.Name {
	case "bool":
		return event.Boolean(), convBool
	case "int2":
		return event.Int16(), convInt16
	case "int4":
		return event.Int32(), convInt32
	case "int8", "oid":
		return event.Int64(), convInt64
	case "float4":
		return event.Float32(), convFloat32
	case "float8":
		return event.Float64(), convFloat64
	case "numeric":
		return numericMapping(o.Decimal, typmod)
	case "money":
		return moneyMapping(o.Decimal, o.MoneyFractionDigits)
	case "text", "varchar", "bpchar", "char", "name",
		"inet", "cidr", "macaddr", "macaddr8",
		"int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange":
		return event.String(), convString
	case "json", "jsonb":
		return jsonSchema(), convString
	case "xml":
		return event.String().WithName(NameXML).WithVersion(1), convString
	case "uuid":
		return event.String().WithName(NameUUID).WithVersion(1), convString
	case "tsvector":
		return event.String().WithName(NameTsvector).WithVersion(1), convString
	case "bytea":
		return binaryMapping(o.Binary)
	case "bit", "varbit":
		n := int(typmod)
		if typmod < 0 {
			if t.Name == "bit" {
				n = 1
			} else {
				n = 2147483647 // pgjdbc's unknown length for unbounded varbit
			}
		}
		if n == 1 {
			return event.Boolean(), convBit1
		}
		return event.Bytes().WithName(NameBits).WithVersion(1).WithParam("length", strconv.Itoa(n)), convBits
	case "date":
		if o.TimePrecision == TimeConnect {
			return event.Date(), convDate
		}
		return event.Int32().WithName(NameDate).WithVersion(1), convDate
	case "time":
		p := timePrecision(typmod)
		switch {
		case o.TimePrecision == TimeConnect:
			return event.Time(), convTimeMillis
		case o.TimePrecision == TimeAdaptive && p <= 3:
			return event.Int32().WithName(NameTime).WithVersion(1), convTimeMillis
		}
		return event.Int64().WithName(NameMicroTime).WithVersion(1), convTimeMicros
	case "timetz":
		return event.String().WithName(NameZonedTime).WithVersion(1), convTimeTZ
	case "timestamp":
		p := timePrecision(typmod)
		switch {
		case o.TimePrecision == TimeConnect:
			return event.Timestamp(), convTimestampMillis
		case p <= 3:
			return event.Int64().WithName(NameTimestamp).WithVersion(1), convTimestampMillis
		}
		return event.Int64().WithName(NameMicroTimestamp).WithVersion(1), convTimestampMicros
	case "timestamptz":
		return event.String().WithName(NameZonedTimestamp).WithVersion(1), timestampTZConverter(timePrecision(typmod))
	case "interval":
		if o.Interval == IntervalString {
			return event.String().WithName(NameInterval).WithVersion(1), convIntervalISO
		}
		return event.Int64().WithName(NameMicroDuration).WithVersion(1), convIntervalMicros
	}
	return nil, nil
}

func jsonSchema() *event.Schema { return event.String().WithName(NameJSON).WithVersion(1) }

func numericMapping(mode DecimalMode, typmod int32) (*event.Schema, ConvertFunc) {
	precision, scale, variable := numericPrecisionScale(typmod)
	switch mode {
	case DecimalDouble:
		return event.Float64(), convNumericDouble
	case DecimalString:
		return event.String(), convNumericString
	}
	if variable {
		return vsdSchema, func(text []byte) (any, error) { return convVariableScale(vsdSchema, text) }
	}
	s := event.Decimal(scale).WithParam(PrecisionParam, strconv.Itoa(precision))
	return s, func(text []byte) (any, error) { return convDecimal(text, scale) }
}

func moneyMapping(mode DecimalMode, digits int) (*event.Schema, ConvertFunc) {
	switch mode {
	case DecimalDouble:
		return event.Float64(), convMoneyDouble
	case DecimalString:
		return event.String(), convMoneyString
	}
	return event.Decimal(digits), func(text []byte) (any, error) { return convMoneyDecimal(text, digits) }
}

func binaryMapping(mode BinaryMode) (*event.Schema, ConvertFunc) {
	switch mode {
	case BinaryBase64:
		return event.String(), convByteaBase64
	case BinaryBase64URLSafe:
		return event.String(), convByteaBase64URL
	case BinaryHex:
		return event.String(), convByteaHex
	}
	return event.Bytes(), convBytea
}

func syntaxErr(kind string, text []byte) error {
	if len(text) > 64 {
		text = append(text[:64:64], "..."...)
	}
	return fmt.Errorf("%w for %s: %q", ErrSyntax, kind, text)
}

// ---- scalar converters ----

func convString(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	return string(text), nil
}

func convBool(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	switch string(text) {
	case "t", "true":
		return true, nil
	case "f", "false":
		return false, nil
	}
	return nil, syntaxErr("boolean", text)
}

// parseInt parses a decimal integer of the given bit size without allocating.
func parseInt(text []byte, bits uint) (int64, bool) {
	i, neg := 0, false
	if len(text) > 0 && (text[0] == '-' || text[0] == '+') {
		neg, i = text[0] == '-', 1
	}
	if i == len(text) || len(text)-i > 19 {
		return 0, false
	}
	var u uint64
	for ; i < len(text); i++ {
		c := text[i] - '0'
		if c > 9 {
			return 0, false
		}
		u = u*10 + uint64(c)
	}
	limit := uint64(1) << (bits - 1)
	if neg {
		if u > limit {
			return 0, false
		}
		return -int64(u), true
	}
	if u >= limit {
		return 0, false
	}
	return int64(u), true
}

func convInt16(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	v, ok := parseInt(text, 16)
	if !ok {
		return nil, syntaxErr("int2", text)
	}
	return int16(v), nil
}

func convInt32(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	v, ok := parseInt(text, 32)
	if !ok {
		return nil, syntaxErr("int4", text)
	}
	return int32(v), nil
}

func convInt64(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	v, ok := parseInt(text, 64)
	if !ok {
		return nil, syntaxErr("int8", text)
	}
	return v, nil
}

func convFloat32(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(text), 32)
	if err != nil {
		return nil, syntaxErr("float4", text)
	}
	return float32(f), nil
}

func convFloat64(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return nil, syntaxErr("float8", text)
	}
	return f, nil
}

// ---- numeric and money ----

// Special numeric values.
const (
	numFinite byte = iota
	numNaN
	numPosInf
	numNegInf
)

// parseDecimal splits numeric text ("-12.340") into sign, the digits
// without the point ("12340", leading zeros dropped) and the scale (3). The
// digits are appended to buf.
func parseDecimal(text, buf []byte) (neg bool, digits []byte, scale int, special byte, ok bool) {
	switch string(text) {
	case "NaN":
		return false, nil, 0, numNaN, true
	case "Infinity":
		return false, nil, 0, numPosInf, true
	case "-Infinity":
		return false, nil, 0, numNegInf, true
	}
	i := 0
	if len(text) > 0 && (text[0] == '-' || text[0] == '+') {
		neg, i = text[0] == '-', 1
	}
	digits = buf[:0]
	seenDigit, seenPoint := false, false
	for ; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= '0' && c <= '9':
			seenDigit = true
			if c != '0' || len(digits) > 0 {
				digits = append(digits, c)
			}
			if seenPoint {
				scale++
			}
		case c == '.' && !seenPoint:
			seenPoint = true
		default:
			return false, nil, 0, 0, false
		}
	}
	if !seenDigit {
		return false, nil, 0, 0, false
	}
	// Keep digits aligned with scale: zeros after the point that preceded
	// the first significant digit are implied by scale.
	return neg, digits, scale, numFinite, true
}

// rescale adjusts digits from scale from to scale to, rounding half up as
// BigDecimal.setScale(to, HALF_UP) does.
func rescale(digits []byte, from, to int) []byte {
	if from <= to {
		for ; from < to; from++ {
			if len(digits) > 0 {
				digits = append(digits, '0')
			}
		}
		return digits
	}
	drop := from - to
	if drop > len(digits) {
		return digits[:0]
	}
	roundUp := digits[len(digits)-drop] >= '5'
	digits = digits[:len(digits)-drop]
	if roundUp {
		i := len(digits) - 1
		for ; i >= 0 && digits[i] == '9'; i-- {
			digits[i] = '0'
		}
		if i >= 0 {
			digits[i]++
		} else {
			digits = append(digits[:0:0], append([]byte{'1'}, digits...)...)
		}
	}
	return digits
}

// unscaledBytes encodes the integer digits (with sign) as Connect's Decimal
// does: minimal big-endian two's complement (BigInteger.toByteArray).
func unscaledBytes(neg bool, digits []byte) []byte {
	if len(digits) <= 18 {
		var v int64
		for _, c := range digits {
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		return int64Bytes(v)
	}
	n, _ := new(big.Int).SetString(string(digits), 10)
	if neg {
		n.Neg(n)
	}
	return event.DecimalBytes(n)
}

func int64Bytes(v int64) []byte {
	n := 8
	for n > 1 {
		hi := byte(v >> (8 * (n - 1)))
		next := byte(v >> (8 * (n - 2)))
		if (hi == 0 && next&0x80 == 0) || (hi == 0xff && next&0x80 != 0) {
			n--
			continue
		}
		break
	}
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(v >> (8 * (n - 1 - i)))
	}
	return out
}

func convDecimal(text []byte, scale int) (any, error) {
	if text == nil {
		return nil, nil
	}
	var buf [40]byte
	neg, digits, s, special, ok := parseDecimal(text, buf[:])
	if !ok {
		return nil, syntaxErr("numeric", text)
	}
	if special != numFinite {
		return nil, ErrSpecialNumeric
	}
	return unscaledBytes(neg, rescale(digits, s, scale)), nil
}

func convVariableScale(schema *event.Schema, text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	var buf [40]byte
	neg, digits, scale, special, ok := parseDecimal(text, buf[:])
	if !ok {
		return nil, syntaxErr("numeric", text)
	}
	if special != numFinite {
		return nil, ErrSpecialNumeric
	}
	// BigDecimal.stripTrailingZeros, then scale raised back to 0 if negative.
	for scale > 0 && len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
		scale--
	}
	if len(digits) == 0 {
		scale = 0
	}
	return event.NewStruct(schema, int32(scale), unscaledBytes(neg, digits)), nil
}

func convNumericDouble(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return nil, syntaxErr("numeric", text)
	}
	return f, nil
}

func convNumericString(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	// SpecialValueDecimal.toString prints the enum constant name.
	switch string(text) {
	case "NaN":
		return "NAN", nil
	case "Infinity":
		return "POSITIVE_INFINITY", nil
	case "-Infinity":
		return "NEGATIVE_INFINITY", nil
	}
	return string(text), nil
}

// parseMoney reads money text ("$1,234.56", "-$1,234.56", "($1.00)") as
// Debezium's PostgresMoney does: sign, currency symbol and group
// separators dropped.
func parseMoney(text, buf []byte) (neg bool, digits []byte, scale int, ok bool) {
	digits = buf[:0]
	seenPoint, seenDigit := false, false
	for _, c := range text {
		switch {
		case c >= '0' && c <= '9':
			seenDigit = true
			if c != '0' || len(digits) > 0 {
				digits = append(digits, c)
			}
			if seenPoint {
				scale++
			}
		case c == '.' && !seenPoint:
			seenPoint = true
		case c == '-' || c == '(':
			if seenDigit {
				return false, nil, 0, false
			}
			neg = true
		default:
			// currency symbol, group separators, parentheses, spaces
		}
	}
	return neg, digits, scale, seenDigit
}

func convMoneyDecimal(text []byte, fraction int) (any, error) {
	if text == nil {
		return nil, nil
	}
	var buf [40]byte
	neg, digits, scale, ok := parseMoney(text, buf[:])
	if !ok {
		return nil, syntaxErr("money", text)
	}
	return unscaledBytes(neg, rescale(digits, scale, fraction)), nil
}

func plainDecimal(neg bool, digits []byte, scale int) string {
	out := make([]byte, 0, len(digits)+4)
	if neg && len(digits) > 0 {
		out = append(out, '-')
	}
	if len(digits) <= scale {
		out = append(out, '0')
		if scale > 0 {
			out = append(out, '.')
			for i := len(digits); i < scale; i++ {
				out = append(out, '0')
			}
		}
		return string(append(out, digits...))
	}
	out = append(out, digits[:len(digits)-scale]...)
	if scale > 0 {
		out = append(out, '.')
		out = append(out, digits[len(digits)-scale:]...)
	}
	return string(out)
}

func convMoneyString(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	var buf [40]byte
	neg, digits, scale, ok := parseMoney(text, buf[:])
	if !ok {
		return nil, syntaxErr("money", text)
	}
	return plainDecimal(neg, digits, scale), nil
}

func convMoneyDouble(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	var buf [40]byte
	neg, digits, scale, ok := parseMoney(text, buf[:])
	if !ok {
		return nil, syntaxErr("money", text)
	}
	f, err := strconv.ParseFloat(plainDecimal(neg, digits, scale), 64)
	if err != nil {
		return nil, syntaxErr("money", text)
	}
	return f, nil
}

// ---- binary and bits ----

// decodeBytea decodes bytea text output, hex ("\x0102") or escape format.
func decodeBytea(text []byte) ([]byte, bool) {
	if len(text) >= 2 && text[0] == '\\' && text[1] == 'x' {
		out := make([]byte, (len(text)-2)/2)
		if _, err := hex.Decode(out, text[2:]); err != nil {
			return nil, false
		}
		return out, true
	}
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 < len(text) && text[i+1] == '\\' {
			out = append(out, '\\')
			i++
			continue
		}
		if i+3 >= len(text) {
			return nil, false
		}
		var v byte
		for _, d := range text[i+1 : i+4] {
			if d < '0' || d > '7' {
				return nil, false
			}
			v = v<<3 | (d - '0')
		}
		out = append(out, v)
		i += 3
	}
	return out, true
}

func convBytea(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	b, ok := decodeBytea(text)
	if !ok {
		return nil, syntaxErr("bytea", text)
	}
	return b, nil
}

func convByteaBase64(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	b, ok := decodeBytea(text)
	if !ok {
		return nil, syntaxErr("bytea", text)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func convByteaBase64URL(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	b, ok := decodeBytea(text)
	if !ok {
		return nil, syntaxErr("bytea", text)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

func convByteaHex(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	b, ok := decodeBytea(text)
	if !ok {
		return nil, syntaxErr("bytea", text)
	}
	return hex.EncodeToString(b), nil
}

func convBit1(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	v := false
	for _, c := range text {
		switch c {
		case '1':
			v = true
		case '0':
		default:
			return nil, syntaxErr("bit", text)
		}
	}
	return v, nil
}

// convBits converts a bit string to Debezium's io.debezium.data.Bits value:
// the string read as a binary number (first character most significant),
// stored as a little-endian byte array just long enough for the highest set
// bit (BitSet.toByteArray), so all-zero bits give an empty array.
func convBits(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	first := -1
	for i, c := range text {
		switch c {
		case '1':
			if first < 0 {
				first = i
			}
		case '0':
		default:
			return nil, syntaxErr("bit", text)
		}
	}
	if first < 0 {
		return []byte{}, nil
	}
	n := len(text)
	nbits := n - first
	out := make([]byte, (nbits+7)/8)
	for i := 0; i < nbits; i++ {
		if text[n-1-i] == '1' {
			out[i/8] |= 1 << (i % 8)
		}
	}
	return out, nil
}

// ---- dates and times ----

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// with astronomical year numbering (1 BC is year 0), as java.time does.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

const (
	microsPerSecond = 1_000_000
	microsPerDay    = 86_400 * microsPerSecond
)

// readDigits reads an unsigned decimal number starting at i.
func readDigits(text []byte, i int) (v int64, next int, ok bool) {
	start := i
	for i < len(text) && text[i] >= '0' && text[i] <= '9' && i-start < 18 {
		v = v*10 + int64(text[i]-'0')
		i++
	}
	return v, i, i > start
}

// parseDateAt parses "Y-MM-DD" (ISO DateStyle, year of any width) at the start
// of text, returning the astronomical year, month, day and the next offset.
func parseDateAt(text []byte) (y, m, d int64, next int, ok bool) {
	y, i, ok1 := readDigits(text, 0)
	if !ok1 || i >= len(text) || text[i] != '-' {
		return 0, 0, 0, 0, false
	}
	m, i, ok1 = readDigits(text, i+1)
	if !ok1 || i-0 >= len(text) || text[i] != '-' || m < 1 || m > 12 {
		return 0, 0, 0, 0, false
	}
	d, i, ok1 = readDigits(text, i+1)
	if !ok1 || d < 1 || d > 31 {
		return 0, 0, 0, 0, false
	}
	return y, m, d, i, true
}

// hasBC reports whether text ends with the " BC" era suffix and returns the
// text without it.
func hasBC(text []byte) ([]byte, bool) {
	if n := len(text); n > 3 && string(text[n-3:]) == " BC" {
		return text[:n-3], true
	}
	return text, false
}

// parseTimeAt parses "HH:MM:SS[.ffffff]" at text[i:], returning micros of day.
func parseTimeAt(text []byte, i int) (micros int64, next int, ok bool) {
	h, i, ok1 := readDigits(text, i)
	if !ok1 || i >= len(text) || text[i] != ':' {
		return 0, 0, false
	}
	mi, i, ok1 := readDigits(text, i+1)
	if !ok1 || i >= len(text) || text[i] != ':' || mi > 59 {
		return 0, 0, false
	}
	s, i, ok1 := readDigits(text, i+1)
	if !ok1 || s > 60 {
		return 0, 0, false
	}
	frac, i := readFraction(text, i)
	return ((h*60+mi)*60+s)*microsPerSecond + frac, i, true
}

// readFraction reads ".ffffff" at text[i:] as microseconds (more than six
// digits are truncated).
func readFraction(text []byte, i int) (micros int64, next int) {
	if i >= len(text) || text[i] != '.' {
		return 0, i
	}
	i++
	n := 0
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		if n < 6 {
			micros = micros*10 + int64(text[i]-'0')
			n++
		}
		i++
	}
	for ; n < 6; n++ {
		micros *= 10
	}
	return micros, i
}

// parseOffsetAt parses a UTC offset "+HH[:MM[:SS]]" at text[i:], in seconds.
func parseOffsetAt(text []byte, i int) (secs int64, next int, ok bool) {
	if i >= len(text) || (text[i] != '+' && text[i] != '-') {
		return 0, 0, false
	}
	neg := text[i] == '-'
	h, i, ok1 := readDigits(text, i+1)
	if !ok1 {
		return 0, 0, false
	}
	secs = h * 3600
	if i < len(text) && text[i] == ':' {
		var m int64
		if m, i, ok1 = readDigits(text, i+1); !ok1 {
			return 0, 0, false
		}
		secs += m * 60
		if i < len(text) && text[i] == ':' {
			var s int64
			if s, i, ok1 = readDigits(text, i+1); !ok1 {
				return 0, 0, false
			}
			secs += s
		}
	}
	if neg {
		secs = -secs
	}
	return secs, i, true
}

func parseDate(text []byte) (days int64, ok bool) {
	body, bc := hasBC(text)
	y, m, d, next, ok := parseDateAt(body)
	if !ok || next != len(body) {
		return 0, false
	}
	if bc {
		y = 1 - y
	}
	return daysFromCivil(y, m, d), true
}

func convDate(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	switch string(text) {
	case "infinity":
		return InfinityDays, nil
	case "-infinity":
		return NegInfinityDays, nil
	}
	days, ok := parseDate(text)
	if !ok {
		return nil, syntaxErr("date", text)
	}
	return int32(days), nil
}

func parseTime(text []byte) (int64, bool) {
	micros, next, ok := parseTimeAt(text, 0)
	if !ok || next != len(text) || micros > microsPerDay {
		return 0, false
	}
	return micros, true
}

func convTimeMicros(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	v, ok := parseTime(text)
	if !ok {
		return nil, syntaxErr("time", text)
	}
	return v, nil
}

func convTimeMillis(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	v, ok := parseTime(text)
	if !ok {
		return nil, syntaxErr("time", text)
	}
	return int32(v / 1000), nil
}

// appendClock appends "HH:MM:SS" and the fraction as java.time's
// ISO_LOCAL_TIME prints it: digits up to the last non-zero one, none for a
// whole second.
func appendClock(b []byte, micros int64) []byte {
	secs := micros / microsPerSecond
	frac := micros % microsPerSecond
	b = append2(b, secs/3600)
	b = append(b, ':')
	b = append2(b, secs/60%60)
	b = append(b, ':')
	b = append2(b, secs%60)
	if frac != 0 {
		var f [6]byte
		for i := 5; i >= 0; i-- {
			f[i] = byte('0' + frac%10)
			frac /= 10
		}
		n := 6
		for f[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, f[:n]...)
	}
	return b
}

func append2(b []byte, v int64) []byte { return append(b, byte('0'+v/10%10), byte('0'+v%10)) }

// convTimeTZ converts timetz text to io.debezium.time.ZonedTime: the time
// shifted to UTC, ISO_OFFSET_TIME formatted ("11:51:30.123Z"). 24:00:00 at
// UTC stays "24:00:00Z" (Debezium's PostgresTimeBoundary).
func convTimeTZ(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	micros, i, ok := parseTimeAt(text, 0)
	if !ok || micros > microsPerDay {
		return nil, syntaxErr("timetz", text)
	}
	off, i, ok := parseOffsetAt(text, i)
	if !ok || i != len(text) {
		return nil, syntaxErr("timetz", text)
	}
	if micros == microsPerDay && off == 0 {
		return "24:00:00Z", nil
	}
	utc := (micros - off*microsPerSecond) % microsPerDay
	if utc < 0 {
		utc += microsPerDay
	}
	var buf [24]byte
	return string(append(appendClock(buf[:0], utc), 'Z')), nil
}

// parseTimestamp parses timestamp or timestamptz text (ISO DateStyle) into
// epoch seconds and the microsecond fraction [0, 1e6). inf is +1/-1 for
// 'infinity'/'-infinity'.
func parseTimestamp(text []byte, withZone bool) (secs, frac int64, inf int, ok bool) {
	switch string(text) {
	case "infinity":
		return 0, 0, 1, true
	case "-infinity":
		return 0, 0, -1, true
	}
	body, bc := hasBC(text)
	y, m, d, i, ok := parseDateAt(body)
	if !ok || i >= len(body) || (body[i] != ' ' && body[i] != 'T') {
		return 0, 0, 0, false
	}
	tod, i, ok := parseTimeAt(body, i+1)
	if !ok || tod > microsPerDay {
		return 0, 0, 0, false
	}
	var off int64
	if withZone {
		if off, i, ok = parseOffsetAt(body, i); !ok {
			return 0, 0, 0, false
		}
	}
	if i != len(body) {
		return 0, 0, 0, false
	}
	if bc {
		y = 1 - y
	}
	secs = daysFromCivil(y, m, d)*86400 + tod/microsPerSecond - off
	return secs, tod % microsPerSecond, 0, true
}

// epochMicros mirrors Debezium's Conversions.toEpochMicros: seconds are
// converted with TimeUnit (saturating), then the fraction added.
func epochMicros(secs, frac int64) int64 {
	switch {
	case secs > math.MaxInt64/microsPerSecond:
		return math.MaxInt64 + frac // wraps like Java long addition
	case secs < math.MinInt64/microsPerSecond:
		return math.MinInt64 + frac
	}
	return secs*microsPerSecond + frac
}

func convTimestampMicros(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	secs, frac, inf, ok := parseTimestamp(text, false)
	switch {
	case !ok:
		return nil, syntaxErr("timestamp", text)
	case inf > 0:
		return InfinityMicros, nil
	case inf < 0:
		return NegInfinityMicros, nil
	}
	return epochMicros(secs, frac), nil
}

func convTimestampMillis(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	secs, frac, inf, ok := parseTimestamp(text, false)
	switch {
	case !ok:
		return nil, syntaxErr("timestamp", text)
	case inf > 0:
		return InfinityMillis, nil
	case inf < 0:
		return NegInfinityMillis, nil
	}
	return secs*1000 + frac/1000, nil
}

// appendISOYear appends a year as java.time's ISO_LOCAL_DATE does: at least
// four digits, '+' above 9999, '-' below zero.
func appendISOYear(b []byte, y int64) []byte {
	if y > 9999 {
		b = append(b, '+')
	} else if y < 0 {
		b = append(b, '-')
		y = -y
	}
	var d [20]byte
	i := len(d)
	for y > 0 || i > len(d)-4 {
		i--
		d[i] = byte('0' + y%10)
		y /= 10
	}
	return append(b, d[i:]...)
}

// timestampTZConverter returns the io.debezium.time.ZonedTimestamp converter
// for a column of the given fractional precision: UTC, "Z", and exactly
// precision fraction digits (ZonedTimestamp.toIsoString with the column
// scale), or java's ISO_OFFSET_DATE_TIME trimming for precision 0.
func timestampTZConverter(precision int) ConvertFunc {
	return func(text []byte) (any, error) {
		if text == nil {
			return nil, nil
		}
		secs, frac, inf, ok := parseTimestamp(text, true)
		switch {
		case !ok:
			return nil, syntaxErr("timestamptz", text)
		case inf > 0:
			return "infinity", nil
		case inf < 0:
			return "-infinity", nil
		}
		return formatZonedTimestamp(secs, frac, precision), nil
	}
}

func formatZonedTimestamp(secs, frac int64, precision int) string {
	days := secs / 86400
	sod := secs % 86400
	if sod < 0 {
		sod += 86400
		days--
	}
	y, m, d := civilFromDays(days)
	var buf [48]byte
	b := appendISOYear(buf[:0], y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	if precision <= 0 || precision > 9 {
		b = appendClock(b, sod*microsPerSecond+frac)
	} else {
		b = appendClock(b, sod*microsPerSecond)
		var f [9]byte
		n := frac * 1000 // nanos
		for i := 8; i >= 0; i-- {
			f[i] = byte('0' + n%10)
			n /= 10
		}
		b = append(b, '.')
		b = append(b, f[:precision]...)
	}
	return string(append(b, 'Z'))
}

// ---- interval ----

// pgInterval holds an interval's fields as pgjdbc's PGInterval does.
type pgInterval struct {
	years, months, days, hours, minutes int64
	wholeSeconds, micros                int64 // same sign
}

func (iv pgInterval) seconds() float64 {
	return float64(iv.wholeSeconds) + float64(iv.micros)/1e6
}

// parseInterval parses interval text in the default IntervalStyle postgres
// ("1 year 2 mons 3 days 04:05:06.78", "-1 days +02:00:00").
func parseInterval(text []byte) (iv pgInterval, ok bool) {
	i := 0
	seen := false
	for i < len(text) {
		for i < len(text) && text[i] == ' ' {
			i++
		}
		if i >= len(text) {
			break
		}
		neg := false
		if text[i] == '-' || text[i] == '+' {
			neg = text[i] == '-'
			i++
		}
		v, j, ok1 := readDigits(text, i)
		if !ok1 {
			return iv, false
		}
		if j < len(text) && text[j] == ':' {
			micros, k, ok2 := parseDurationClock(text, i)
			if !ok2 {
				return iv, false
			}
			h := micros / (3600 * microsPerSecond)
			mi := micros / (60 * microsPerSecond) % 60
			s := micros / microsPerSecond % 60
			f := micros % microsPerSecond
			if neg {
				h, mi, s, f = -h, -mi, -s, -f
			}
			iv.hours, iv.minutes, iv.wholeSeconds, iv.micros = h, mi, s, f
			i, seen = k, true
			continue
		}
		if neg {
			v = -v
		}
		if j >= len(text) || text[j] != ' ' {
			return iv, false
		}
		j++
		k := j
		for k < len(text) && text[k] != ' ' {
			k++
		}
		switch string(text[j:k]) {
		case "year", "years":
			iv.years = v
		case "mon", "mons":
			iv.months = v
		case "day", "days":
			iv.days = v
		default:
			return iv, false
		}
		i, seen = k, true
	}
	return iv, seen
}

// parseDurationClock parses "H+:MM:SS[.f]" (hours unbounded) as micros.
func parseDurationClock(text []byte, i int) (int64, int, bool) {
	h, i, ok := readDigits(text, i)
	if !ok || i >= len(text) || text[i] != ':' {
		return 0, 0, false
	}
	m, i, ok := readDigits(text, i+1)
	if !ok || i >= len(text) || text[i] != ':' {
		return 0, 0, false
	}
	s, i, ok := readDigits(text, i+1)
	if !ok {
		return 0, 0, false
	}
	frac, i := readFraction(text, i)
	return ((h*60+m)*60+s)*microsPerSecond + frac, i, true
}

// daysPerMonthAvg is MicroDuration.DAYS_PER_MONTH_AVG.
const daysPerMonthAvg = 365.25 / 12.0

// microDuration mirrors MicroDuration.durationMicros step by step in float64;
// the explicit conversions stop the compiler fusing operations so results
// match Java's doubles bit for bit.
func microDuration(iv pgInterval) int64 {
	numberOfDays := float64(float64(iv.years*12+iv.months)*daysPerMonthAvg) + float64(iv.days)
	numberOfSeconds := float64(float64(float64(float64(float64(numberOfDays*24)+float64(iv.hours))*60)+float64(iv.minutes))*60) + iv.seconds()
	f := float64(numberOfSeconds * 1e6)
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

func convIntervalMicros(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	iv, ok := parseInterval(text)
	if !ok {
		return nil, syntaxErr("interval", text)
	}
	return microDuration(iv), nil
}

// convIntervalISO formats Interval.toIsoString:
// P<y>Y<m>M<d>DT<h>H<m>M<s>S with seconds as a plain decimal without
// trailing zeros.
func convIntervalISO(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	iv, ok := parseInterval(text)
	if !ok {
		return nil, syntaxErr("interval", text)
	}
	b := make([]byte, 0, 40)
	b = append(b, 'P')
	b = strconv.AppendInt(b, iv.years, 10)
	b = append(b, 'Y')
	b = strconv.AppendInt(b, iv.months, 10)
	b = append(b, 'M')
	b = strconv.AppendInt(b, iv.days, 10)
	b = append(b, 'D', 'T')
	b = strconv.AppendInt(b, iv.hours, 10)
	b = append(b, 'H')
	b = strconv.AppendInt(b, iv.minutes, 10)
	b = append(b, 'M')
	b = strconv.AppendFloat(b, iv.seconds(), 'f', -1, 64)
	b = append(b, 'S')
	return string(b), nil
}

// ---- hstore ----

// parseHStore parses hstore text output: "k"=>"v", "k2"=>NULL.
func parseHStore(text []byte, fn func(k string, v *string)) bool {
	i := 0
	skip := func() {
		for i < len(text) && (text[i] == ' ' || text[i] == ',') {
			i++
		}
	}
	quoted := func() (string, bool) {
		if i >= len(text) || text[i] != '"' {
			return "", false
		}
		i++
		var b []byte
		for i < len(text) {
			c := text[i]
			switch c {
			case '\\':
				if i+1 >= len(text) {
					return "", false
				}
				b = append(b, text[i+1])
				i += 2
				continue
			case '"':
				i++
				return string(b), true
			}
			b = append(b, c)
			i++
		}
		return "", false
	}
	for skip(); i < len(text); skip() {
		k, ok := quoted()
		if !ok || i+2 > len(text) || text[i] != '=' || text[i+1] != '>' {
			return false
		}
		i += 2
		if i+4 <= len(text) && string(text[i:i+4]) == "NULL" {
			i += 4
			fn(k, nil)
			continue
		}
		v, ok := quoted()
		if !ok {
			return false
		}
		fn(k, &v)
	}
	return true
}

func convHStoreMap(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	m := make(map[string]any)
	if !parseHStore(text, func(k string, v *string) {
		if v == nil {
			m[k] = nil
		} else {
			m[k] = *v
		}
	}) {
		return nil, syntaxErr("hstore", text)
	}
	return m, nil
}

func convHStoreJSON(text []byte) (any, error) {
	if text == nil {
		return nil, nil
	}
	b := []byte{'{'}
	first := true
	if !parseHStore(text, func(k string, v *string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, k)
		b = append(b, ':')
		if v == nil {
			b = append(b, "null"...)
		} else {
			b = appendJSONString(b, *v)
		}
	}) {
		return nil, syntaxErr("hstore", text)
	}
	return string(append(b, '}')), nil
}

// appendJSONString quotes s as Jackson's writeString does (control
// characters as \uXXXX, except the short escapes).
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// ---- arrays ----

// errMultiDim reports a multi-dimensional array value, which Debezium's
// one-level array schemas cannot carry.
var errMultiDim = fmt.Errorf("%w: multi-dimensional arrays are not supported", ErrSyntax)

// parseArray splits one-dimensional array text ("{1,NULL,\"a b\"}", with an
// optional "[lo:hi]=" bounds prefix) into elements, calling fn with each
// element's unescaped text or nil for NULL.
func parseArray(text []byte, delim byte, fn func(elem []byte) error) error {
	i := 0
	if len(text) > 0 && text[0] == '[' {
		for i < len(text) && text[i] != '=' {
			i++
		}
		i++
	}
	if i >= len(text) || text[i] != '{' || text[len(text)-1] != '}' {
		return syntaxErr("array", text)
	}
	body := text[i+1 : len(text)-1]
	if len(body) == 0 {
		return nil
	}
	i = 0
	for {
		for i < len(body) && body[i] == ' ' {
			i++
		}
		if i >= len(body) {
			return syntaxErr("array", text)
		}
		var elem []byte
		switch body[i] {
		case '{':
			return errMultiDim
		case '"':
			i++
			start := i
			var esc []byte // allocated only when the element has escapes
			for i < len(body) && body[i] != '"' {
				if body[i] == '\\' {
					if esc == nil {
						esc = append(make([]byte, 0, len(body)-start), body[start:i]...)
					}
					i++
					if i >= len(body) {
						return syntaxErr("array", text)
					}
				}
				if esc != nil {
					esc = append(esc, body[i])
				}
				i++
			}
			if i >= len(body) {
				return syntaxErr("array", text)
			}
			if esc != nil {
				elem = esc
			} else {
				elem = body[start:i:i]
			}
			i++
		default:
			start := i
			for i < len(body) && body[i] != delim {
				i++
			}
			end := i
			for end > start && body[end-1] == ' ' {
				end--
			}
			elem = body[start:end:end]
			if len(elem) == 4 && (elem[0]|0x20) == 'n' && (elem[1]|0x20) == 'u' && (elem[2]|0x20) == 'l' && (elem[3]|0x20) == 'l' {
				elem = nil
			}
		}
		if err := fn(elem); err != nil {
			return err
		}
		for i < len(body) && body[i] == ' ' {
			i++
		}
		if i >= len(body) {
			return nil
		}
		if body[i] != delim {
			return syntaxErr("array", text)
		}
		i++
	}
}

func arrayConverter(elem ConvertFunc, delim byte) ConvertFunc {
	return func(text []byte) (any, error) {
		if text == nil {
			return nil, nil
		}
		out := make([]any, 0, 8)
		err := parseArray(text, delim, func(e []byte) error {
			v, err := elem(e)
			if err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}
