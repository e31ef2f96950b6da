package transform

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// cast is Kafka's Cast: fields (or the whole primitive key or value) cast
// to int8…float64, boolean or string.
type cast struct {
	side        side
	replaceNull bool
	whole       event.Type // the whole-value cast, 0 when casting fields
	casts       map[string]event.Type
	// schemas caches struct output schemas; a field's cast default is
	// part of its schema, so a failing default cast is not cached.
	schemas schemaCache[*event.Schema]
}

var castTypes = map[string]event.Type{
	"int8": event.TypeInt8, "int16": event.TypeInt16, "int32": event.TypeInt32, "int64": event.TypeInt64,
	"float32": event.TypeFloat32, "float64": event.TypeFloat64, "boolean": event.TypeBoolean, "string": event.TypeString,
}

func newCast(c *conf, s side) (Transform, error) {
	t := &cast{side: s, casts: map[string]event.Type{}}
	var err error
	if t.replaceNull, err = c.boolean(replaceNullKey, true); err != nil {
		return nil, err
	}
	spec := c.list("spec")
	if len(spec) == 0 {
		return nil, c.errf("spec", "must specify at least one field to cast")
	}
	for _, item := range spec {
		field, typ, hasField := strings.Cut(item, ":")
		if !hasField {
			typ = field
		}
		tt, ok := castTypes[strings.TrimSpace(typ)]
		if !ok {
			return nil, c.errf("spec", "invalid type found in casting spec: %s", strings.TrimSpace(typ))
		}
		if !hasField {
			if len(spec) > 1 {
				return nil, c.errf("spec", "a cast of the entire value may only specify a single cast in the spec")
			}
			t.whole = tt
			continue
		}
		t.casts[strings.TrimSpace(field)] = tt
	}
	return t, nil
}

func (t *cast) Apply(r sink.Record) (sink.Record, bool, error) {
	const purpose = "cast types"
	sc, v := t.side.get(&r)
	if v == nil {
		return r, true, nil
	}
	if t.whole != 0 {
		if sc != nil && !sc.Type().IsPrimitive() {
			return r, false, fmt.Errorf("cast of the whole %s requires a primitive, found schema %v", t.side, sc)
		}
		nv, err := castValue(sc, v, t.whole)
		if err != nil {
			return r, false, err
		}
		var ns *event.Schema
		if sc != nil {
			ns = castWholeSchema(sc, t.whole)
			if d := sc.Default(); d != nil {
				cd, err := castValue(sc, d, t.whole)
				if err != nil {
					return r, false, fmt.Errorf("default: %w", err)
				}
				ns = ns.WithDefault(cd)
			}
		}
		t.side.set(&r, ns, nv)
		return r, true, nil
	}
	if sc == nil {
		m, err := requireMap(v, purpose)
		if err != nil {
			return r, false, err
		}
		out := copyMap(m, 0)
		for i, e := range out {
			k, _ := e.Key.(string)
			if tt, ok := t.casts[k]; ok && e.Value != nil {
				if out[i].Value, err = castValue(nil, e.Value, tt); err != nil {
					return r, false, fmt.Errorf("field %s: %w", k, err)
				}
			}
		}
		t.side.set(&r, nil, out)
		return r, true, nil
	}
	st, err := requireStruct(v, purpose)
	if err != nil {
		return r, false, err
	}
	ss := st.Schema()
	ns, err := t.schemas.get(ss, func() (*event.Schema, error) { return t.structSchema(ss) })
	if err != nil {
		return r, false, err
	}
	vals := make([]any, ss.NumFields())
	for i := range vals {
		vals[i] = fieldValue(st, i, t.replaceNull)
		f := ss.Field(i)
		if tt, ok := t.casts[f.Name]; ok && vals[i] != nil {
			if vals[i], err = castValue(f.Schema, vals[i], tt); err != nil {
				return r, false, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
	}
	t.side.set(&r, ns, event.NewStruct(ns, vals...))
	return r, true, nil
}

// structSchema builds the output schema of a struct cast: cast fields get
// the new type (optional if they were, default cast too).
func (t *cast) structSchema(ss *event.Schema) (*event.Schema, error) {
	fields := ss.Fields()
	for i, f := range fields {
		tt, ok := t.casts[f.Name]
		if !ok {
			continue
		}
		if !f.Schema.Type().IsPrimitive() {
			return nil, fmt.Errorf("field %s: cannot cast a %s", f.Name, f.Schema.Type())
		}
		fs := withOptional(event.Primitive(tt), f.Schema.IsOptional())
		if d := f.Schema.Default(); d != nil {
			cd, err := castValue(f.Schema, d, tt)
			if err != nil {
				return nil, fmt.Errorf("field %s default: %w", f.Name, err)
			}
			fs = fs.WithDefault(cd)
		}
		fields[i] = event.NewField(f.Name, fs)
	}
	ns, err := structLike(ss, fields)
	if err != nil {
		return nil, err
	}
	return withOptional(ns, ss.IsOptional()), nil // Cast, unlike most, keeps it
}

// castSource is a value as Cast sees it: an integer, a float, a decimal,
// a boolean, a string, bytes, or a date (a Connect Date, Time or Timestamp:
// epoch millis, and the logical type's integer that numeric casts use).
type castSource struct {
	kind byte // 'i' int, 'f' float, 'd' decimal, 'b' bool, 's' string, 'y' bytes, 't' date
	i    int64
	f    float64
	dec  *big.Rat
	dstr string // the decimal as BigDecimal.toString
	b    bool
	s    string
	y    []byte
	raw  int64 // a 't' in its logical type's integer (days, millis)
	f32  bool
}

func classify(s *event.Schema, v any) (castSource, error) {
	name := ""
	if s != nil {
		name = s.Name()
	}
	switch x := v.(type) {
	case int8:
		return castSource{kind: 'i', i: int64(x)}, nil
	case int16:
		return castSource{kind: 'i', i: int64(x)}, nil
	case int32:
		switch name {
		case event.LogicalDate:
			return castSource{kind: 't', i: int64(x) * msPerDay, raw: int64(x)}, nil
		case event.LogicalTime:
			return castSource{kind: 't', i: int64(x), raw: int64(x)}, nil
		}
		return castSource{kind: 'i', i: int64(x)}, nil
	case int64:
		if name == event.LogicalTimestamp {
			return castSource{kind: 't', i: x, raw: x}, nil
		}
		return castSource{kind: 'i', i: x}, nil
	case float32:
		return castSource{kind: 'f', f: float64(x), f32: true}, nil
	case float64:
		return castSource{kind: 'f', f: x}, nil
	case bool:
		return castSource{kind: 'b', b: x}, nil
	case string:
		return castSource{kind: 's', s: x}, nil
	case *big.Int, []byte:
		if name == event.LogicalDecimal {
			var unscaled *big.Int
			if b, ok := x.([]byte); ok {
				unscaled = event.DecimalUnscaled(b)
			} else {
				unscaled = x.(*big.Int)
			}
			p, _ := s.Param(event.DecimalScaleParam)
			scale, err := strconv.Atoi(p)
			if err != nil {
				return castSource{}, fmt.Errorf("decimal schema has invalid scale %q", p)
			}
			return castSource{kind: 'd', dec: decimalRat(unscaled, scale), dstr: javaBigDecimal(unscaled, scale)}, nil
		}
		if b, ok := x.([]byte); ok {
			return castSource{kind: 'y', y: b}, nil
		}
	}
	return castSource{}, fmt.Errorf("unexpected type in Cast transformation: %s", javaClass(v))
}

func decimalRat(unscaled *big.Int, scale int) *big.Rat {
	r := new(big.Rat).SetInt(unscaled)
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(scale))), nil)
	if scale >= 0 {
		return r.Quo(r, new(big.Rat).SetInt(p))
	}
	return r.Mul(r, new(big.Rat).SetInt(p))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// castValue casts v (of schema s, nil when schemaless) to type tt with
// Java's conversions: narrowing wraps, decimals and floats truncate toward
// zero, strings parse, booleans are 1 or 0.
func castValue(s *event.Schema, v any, tt event.Type) (any, error) {
	src, err := classify(s, v)
	if err != nil {
		return nil, err
	}
	switch tt {
	case event.TypeString:
		return src.toString(), nil
	case event.TypeBoolean:
		switch src.kind {
		case 'b':
			return src.b, nil
		case 's':
			return strings.EqualFold(src.s, "true"), nil
		case 'y', 't':
			return nil, fmt.Errorf("unexpected type in Cast transformation: %s", javaClass(v))
		}
		n, _ := src.toInt64()
		return n != 0, nil
	case event.TypeFloat32, event.TypeFloat64:
		var f float64
		switch src.kind {
		case 'f':
			f = src.f
		case 'i':
			f = float64(src.i)
		case 't':
			f = float64(src.raw)
		case 'd':
			f, _ = src.dec.Float64()
		case 'b':
			if src.b {
				f = 1
			}
		case 's':
			bits := 64
			if tt == event.TypeFloat32 {
				bits = 32
			}
			p, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimRight(src.s, "fFdD")), bits)
			if err != nil {
				return nil, fmt.Errorf("value (%s) was out of range for requested data type", src.s)
			}
			f = p
		default:
			return nil, fmt.Errorf("unexpected type in Cast transformation: %s", javaClass(v))
		}
		if tt == event.TypeFloat32 {
			return float32(f), nil
		}
		return f, nil
	}
	// Integer targets.
	bits := map[event.Type]int{event.TypeInt8: 8, event.TypeInt16: 16, event.TypeInt32: 32, event.TypeInt64: 64}[tt]
	var n int64
	if src.kind == 's' {
		p, err := strconv.ParseInt(src.s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("value (%s) was out of range for requested data type", src.s)
		}
		n = p
	} else {
		var ok bool
		if n, ok = src.toInt64(); !ok {
			return nil, fmt.Errorf("unexpected type in Cast transformation: %s", javaClass(v))
		}
	}
	switch tt {
	case event.TypeInt8:
		return int8(n), nil
	case event.TypeInt16:
		return int16(n), nil
	case event.TypeInt32:
		return int32(n), nil
	}
	return n, nil
}

// toInt64 is Number.longValue (floats saturate and truncate, NaN is 0).
func (c castSource) toInt64() (int64, bool) {
	switch c.kind {
	case 'i':
		return c.i, true
	case 't':
		return c.raw, true
	case 'b':
		if c.b {
			return 1, true
		}
		return 0, true
	case 'f':
		switch {
		case math.IsNaN(c.f):
			return 0, true
		case c.f >= math.MaxInt64:
			return math.MaxInt64, true
		case c.f <= math.MinInt64:
			return math.MinInt64, true
		}
		return int64(c.f), true
	case 'd':
		q := new(big.Int).Quo(c.dec.Num(), c.dec.Denom())
		return q.Int64(), true // BigInteger.longValue keeps the low 64 bits
	}
	return 0, false
}

func (c castSource) toString() string {
	switch c.kind {
	case 'i':
		return strconv.FormatInt(c.i, 10)
	case 'f':
		if c.f32 {
			return javaDouble(c.f, 32)
		}
		return javaDouble(c.f, 64)
	case 'd':
		return c.dstr
	case 'b':
		return strconv.FormatBool(c.b)
	case 'y':
		return base64.StdEncoding.EncodeToString(c.y)
	case 't':
		// Connect's Values.dateFormatFor picks the format from the value,
		// not the schema: under a day is a time, a whole day a date.
		tm := time.UnixMilli(c.i).UTC()
		switch {
		case c.i < msPerDay:
			return tm.Format("15:04:05.000Z")
		case c.i%msPerDay == 0:
			return tm.Format("2006-01-02")
		}
		return tm.Format("2006-01-02T15:04:05.000Z")
	}
	return c.s
}

// javaDouble formats f as Java's Double.toString (bits 64) or
// Float.toString (bits 32): the shortest digits that round-trip, plain
// between 10^-3 and 10^7 with at least one fraction digit, otherwise
// computerized scientific notation (1.0E10, 1.5E-5).
func javaDouble(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, bits) // e.g. 1E+10, 1.5E-05
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// javaBigDecimal renders an unscaled value and scale as BigDecimal.toString.
func javaBigDecimal(unscaled *big.Int, scale int) string {
	digits := new(big.Int).Abs(unscaled).String()
	neg := unscaled.Sign() < 0
	adjusted := -scale + len(digits) - 1
	var out string
	if scale >= 0 && adjusted >= -6 {
		if scale == 0 {
			out = digits
		} else if len(digits) > scale {
			out = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
		} else {
			out = "0." + strings.Repeat("0", scale-len(digits)) + digits
		}
	} else {
		out = digits[:1]
		if len(digits) > 1 {
			out += "." + digits[1:]
		}
		out += "E"
		if adjusted >= 0 {
			out += "+"
		}
		out += strconv.Itoa(adjusted)
	}
	if neg {
		out = "-" + out
	}
	return out
}

// castWholeSchema is the schema of a whole-value cast: Connect copies the
// name, version, doc and parameters of the source schema onto the new
// type; Sluice drops the logical type names (Decimal, Date, Time,
// Timestamp), which would misdescribe the new type to converters.
func castWholeSchema(sc *event.Schema, tt event.Type) *event.Schema {
	ns := event.Primitive(tt)
	switch sc.Name() {
	case event.LogicalDecimal, event.LogicalDate, event.LogicalTime, event.LogicalTimestamp:
		return withOptional(ns, sc.IsOptional())
	}
	ns = ns.WithName(sc.Name())
	if v, ok := sc.Version(); ok {
		ns = ns.WithVersion(v)
	}
	if d, ok := sc.Doc(); ok {
		ns = ns.WithDoc(d)
	}
	for i := 0; i < sc.NumParams(); i++ {
		p := sc.ParamAt(i)
		ns = ns.WithParam(p.Key, p.Value)
	}
	return withOptional(ns, sc.IsOptional())
}
