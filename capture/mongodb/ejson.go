package mongodb

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// jsonMode is the MongoDB Java driver's JsonMode that Debezium writes with.
type jsonMode uint8

const (
	// modeStrict is the legacy "strict" extended JSON Debezium uses for
	// document values (after, before, lsid): Int64 as {"$numberLong": "n"},
	// dates as {"$date": millis}, binaries as {"$binary": b64, "$type": hh}.
	modeStrict jsonMode = iota
	// modeRelaxed is relaxed extended JSON v2, used for keys and for
	// updateDescription.updatedFields: plain numbers, ISO dates.
	modeRelaxed
)

// jsonWriter renders BSON as the Java driver's JsonWriter does, so that
// Sluice's strings are byte-for-byte Debezium's. indent reproduces
// Debezium's COMPACT_JSON_SETTINGS (indent on, empty indent and newline
// characters), which drops the space after the comma between document
// fields and array elements: {"_id": 1,"a": [1,2]}. Without indent both are
// separated by ", ". testdata/ejson holds the Java driver's own output for
// the cases ejson_test.go checks.
type jsonWriter struct {
	mode   jsonMode
	indent bool
	b      []byte
}

// appendDocument writes the document doc.
func (w *jsonWriter) appendDocument(doc bson.Raw) error {
	elems, err := doc.Elements()
	if err != nil {
		return fmt.Errorf("read bson document: %w", err)
	}
	w.b = append(w.b, '{')
	for i, e := range elems {
		w.name(i > 0, e.Key())
		if err := w.appendValue(e.Value()); err != nil {
			return err
		}
	}
	w.b = append(w.b, '}')
	return nil
}

// name writes a field name with the separator before it.
func (w *jsonWriter) name(more bool, key string) {
	if more {
		w.b = append(w.b, ',')
		if !w.indent {
			w.b = append(w.b, ' ')
		}
	}
	w.b = appendJavaString(w.b, key)
	w.b = append(w.b, ':', ' ')
}

// object writes {"k1": v1, ...} for pre-rendered values, as the driver's
// converters do for the extended types ($oid, $binary, ...).
func (w *jsonWriter) object(kv ...string) {
	w.b = append(w.b, '{')
	for i := 0; i < len(kv); i += 2 {
		w.name(i > 0, kv[i])
		w.b = append(w.b, kv[i+1]...)
	}
	w.b = append(w.b, '}')
}

func quote(s string) string { return string(appendJavaString(nil, s)) }

func (w *jsonWriter) appendValue(v bson.RawValue) error {
	switch v.Type {
	case bson.TypeDouble:
		w.appendDouble(v.Double())
	case bson.TypeString:
		w.b = appendJavaString(w.b, v.StringValue())
	case bson.TypeEmbeddedDocument:
		return w.appendDocument(v.Document())
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return fmt.Errorf("read bson array: %w", err)
		}
		w.b = append(w.b, '[')
		for i, x := range vals {
			if i > 0 {
				w.b = append(w.b, ',')
				if !w.indent {
					w.b = append(w.b, ' ')
				}
			}
			if err := w.appendValue(x); err != nil {
				return err
			}
		}
		w.b = append(w.b, ']')
	case bson.TypeBinary:
		sub, data := v.Binary()
		b64 := base64.StdEncoding.EncodeToString(data)
		st := fmt.Sprintf("%02X", sub)
		if w.mode == modeStrict {
			w.object("$binary", quote(b64), "$type", quote(st))
		} else {
			inner := jsonWriter{mode: w.mode, indent: w.indent}
			inner.object("base64", quote(b64), "subType", quote(st))
			w.object("$binary", string(inner.b))
		}
	case bson.TypeUndefined:
		w.object("$undefined", "true")
	case bson.TypeObjectID:
		oid := v.ObjectID()
		w.object("$oid", quote(hex.EncodeToString(oid[:])))
	case bson.TypeBoolean:
		w.b = strconv.AppendBool(w.b, v.Boolean())
	case bson.TypeDateTime:
		ms := v.DateTime()
		switch {
		case w.mode == modeStrict:
			w.object("$date", strconv.FormatInt(ms, 10))
		case ms >= 0 && ms <= 253402300799999:
			w.object("$date", quote(isoInstant(ms)))
		default:
			inner := jsonWriter{mode: w.mode, indent: w.indent}
			inner.object("$numberLong", quote(strconv.FormatInt(ms, 10)))
			w.object("$date", string(inner.b))
		}
	case bson.TypeNull:
		w.b = append(w.b, "null"...)
	case bson.TypeRegex:
		pattern, options := v.Regex()
		if w.mode == modeStrict {
			w.object("$regex", quote(pattern), "$options", quote(options))
		} else {
			inner := jsonWriter{mode: w.mode, indent: w.indent}
			inner.object("pattern", quote(pattern), "options", quote(options))
			w.object("$regularExpression", string(inner.b))
		}
	case bson.TypeDBPointer:
		ns, oid := v.DBPointer()
		id := jsonWriter{mode: w.mode, indent: w.indent}
		id.object("$oid", quote(hex.EncodeToString(oid[:])))
		// Both modes: the driver writes no $dbPointer wrapper.
		w.object("$ref", quote(ns), "$id", string(id.b))
	case bson.TypeJavaScript:
		w.object("$code", quote(v.JavaScript()))
	case bson.TypeSymbol:
		w.object("$symbol", quote(v.Symbol()))
	case bson.TypeCodeWithScope:
		code, scope := v.CodeWithScope()
		sc := jsonWriter{mode: w.mode, indent: w.indent}
		if err := sc.appendDocument(scope); err != nil {
			return err
		}
		w.object("$code", quote(code), "$scope", string(sc.b))
	case bson.TypeInt32:
		w.b = strconv.AppendInt(w.b, int64(v.Int32()), 10)
	case bson.TypeTimestamp:
		t, i := v.Timestamp()
		inner := jsonWriter{mode: w.mode, indent: w.indent}
		inner.object("t", strconv.FormatUint(uint64(t), 10), "i", strconv.FormatUint(uint64(i), 10))
		w.object("$timestamp", string(inner.b))
	case bson.TypeInt64:
		if w.mode == modeStrict {
			w.object("$numberLong", quote(strconv.FormatInt(v.Int64(), 10)))
		} else {
			w.b = strconv.AppendInt(w.b, v.Int64(), 10)
		}
	case bson.TypeDecimal128:
		w.object("$numberDecimal", quote(v.Decimal128().String()))
	case bson.TypeMinKey:
		w.object("$minKey", "1")
	case bson.TypeMaxKey:
		w.object("$maxKey", "1")
	default:
		return fmt.Errorf("bson type %#x not supported", byte(v.Type))
	}
	return nil
}

// appendDouble writes d as Java's Double.toString does; relaxed mode writes
// the non-finite values as {"$numberDouble": ...} as the driver does.
func (w *jsonWriter) appendDouble(d float64) {
	if w.mode == modeRelaxed && (math.IsNaN(d) || math.IsInf(d, 0)) {
		w.object("$numberDouble", quote(javaDouble(d)))
		return
	}
	w.b = append(w.b, javaDouble(d)...)
}

// javaDouble formats d like java.lang.Double.toString (JDK 19+, shortest
// digits): plain notation with at least one fraction digit for
// 1e-3 <= |d| < 1e7, otherwise computerized scientific notation ("1.0E7",
// "1.5E-4").
func javaDouble(d float64) string {
	switch {
	case math.IsNaN(d):
		return "NaN"
	case math.IsInf(d, 1):
		return "Infinity"
	case math.IsInf(d, -1):
		return "-Infinity"
	case d == 0:
		if math.Signbit(d) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(d)
	if abs >= 1e-3 && abs < 1e7 {
		s := strconv.FormatFloat(d, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(d, 'e', -1, 64) // e.g. 1.5e-04, 1e+07
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// isoInstant formats epoch milliseconds as java.time's ISO_INSTANT does:
// seconds always, fraction only when non-zero, in groups of three digits.
func isoInstant(ms int64) string {
	t := time.UnixMilli(ms).UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// appendJavaString writes s as a JSON string the way the Java driver's
// StrictCharacterStreamJsonWriter does: the usual short escapes, and \uXXXX
// (lower-case hex) for every UTF-16 unit whose Unicode category is not a
// letter, number, separator, punctuation or symbol, which includes control
// characters, combining marks and both halves of a surrogate pair (so an
// emoji becomes two escapes).
func appendJavaString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '"':
			b = append(b, '\\', '"')
			continue
		case '\\':
			b = append(b, '\\', '\\')
			continue
		case '\b':
			b = append(b, '\\', 'b')
			continue
		case '\f':
			b = append(b, '\\', 'f')
			continue
		case '\n':
			b = append(b, '\\', 'n')
			continue
		case '\r':
			b = append(b, '\\', 'r')
			continue
		case '\t':
			b = append(b, '\\', 't')
			continue
		}
		if r >= utf8.RuneSelf && r > 0xFFFF {
			hi, lo := utf16.EncodeRune(r)
			b = appendUnicodeEscape(b, hi)
			b = appendUnicodeEscape(b, lo)
			continue
		}
		if r == utf8.RuneError && size == 1 {
			// Invalid UTF-8: Java would have decoded U+FFFD (a symbol).
			b = append(b, "\uFFFD"...)
			continue
		}
		if javaPrintable(r) {
			b = utf8.AppendRune(b, r)
		} else {
			b = appendUnicodeEscape(b, r)
		}
	}
	return append(b, '"')
}

var javaPrintableTables = []*unicode.RangeTable{
	unicode.Lu, unicode.Ll, unicode.Lt, unicode.Lo,
	unicode.Nd, unicode.Nl, unicode.No,
	unicode.Zs,
	unicode.Pc, unicode.Pd, unicode.Ps, unicode.Pe, unicode.Pi, unicode.Pf, unicode.Po,
	unicode.Sm, unicode.Sc, unicode.Sk, unicode.So,
}

func javaPrintable(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 0x20 && r < 0x7f
	}
	return unicode.IsOneOf(javaPrintableTables, r)
}

func appendUnicodeEscape(b []byte, r rune) []byte {
	const digits = "0123456789abcdef"
	return append(b, '\\', 'u', digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf])
}

// documentJSON renders a document as Debezium's after/before strings.
func documentJSON(doc bson.Raw) (string, error) {
	w := jsonWriter{mode: modeStrict, indent: true}
	if err := w.appendDocument(doc); err != nil {
		return "", err
	}
	return string(w.b), nil
}

// relaxedJSON renders a document as Debezium's updatedFields string
// (BsonDocument.toJson(): relaxed, no indent).
func relaxedJSON(doc bson.Raw) (string, error) {
	w := jsonWriter{mode: modeRelaxed}
	if err := w.appendDocument(doc); err != nil {
		return "", err
	}
	return string(w.b), nil
}

// idJSON renders a document _id as Debezium's key id: relaxed extended JSON
// of the value alone ("1004", "\"abc\"", {"$oid": "..."}).
func idJSON(id bson.RawValue) (string, error) {
	w := jsonWriter{mode: modeRelaxed, indent: true}
	if err := w.appendValue(id); err != nil {
		return "", err
	}
	return string(w.b), nil
}
