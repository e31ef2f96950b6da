package jsonconv

import (
	"encoding/base64"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

const hexUpper = "0123456789ABCDEF"

// plainASCII marks the bytes appendString copies as they are: printable
// ASCII but for the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString appends s as a JSON string escaped the way Jackson's
// UTF8JsonGenerator does by default.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainASCII[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendBase64 appends b as a JSON string of standard padded base64, as
// Jackson writes binary nodes (Base64Variants.MIME_NO_LINEFEEDS).
func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendFloat appends f as Jackson writes a double (bits=64) or float
// (bits=32): Java's Double.toString / Float.toString, non-finite values as
// strings.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	return append(dst, javaFloatString(f, bits)...)
}

// javaFloatString renders a finite float as JDK 19+ Double.toString
// (bits=64) or Float.toString (bits=32).
func javaFloatString(f float64, bits int) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	neg := f < 0
	if neg {
		f = -f
	}
	digits, exp := shortestDigits(f, bits)
	// Java's rule: when one digit suffices, the closest decimal of length
	// two that still rounds to f wins (e.g. 4.9E-324 rather than 5E-324).
	if len(digits) == 1 {
		s2 := strconv.FormatFloat(f, 'e', 1, bits)
		if back, err := strconv.ParseFloat(s2, bits); err == nil && back == f {
			d2, e2 := splitE(s2)
			if d2[1] != '0' {
				digits, exp = d2, e2
			}
		}
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	// value = digits[0].digits[1:] x 10^exp
	switch {
	case exp >= 0 && exp < 7:
		if len(digits) <= exp+1 {
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", exp+1-len(digits)))
			b.WriteString(".0")
		} else {
			b.WriteString(digits[:exp+1])
			b.WriteByte('.')
			b.WriteString(digits[exp+1:])
		}
	case exp < 0 && exp >= -3:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -exp-1))
		b.WriteString(digits)
	default:
		b.WriteByte(digits[0])
		b.WriteByte('.')
		if len(digits) > 1 {
			b.WriteString(digits[1:])
		} else {
			b.WriteByte('0')
		}
		b.WriteByte('E')
		b.WriteString(strconv.Itoa(exp))
	}
	return b.String()
}

func shortestDigits(f float64, bits int) (string, int) {
	return splitE(strconv.FormatFloat(f, 'e', -1, bits))
}

// splitE splits "d.ddde±xx" into "dddd" and the exponent.
func splitE(s string) (string, int) {
	e := strings.IndexByte(s, 'e')
	mant, exps := s[:e], s[e+1:]
	exp, _ := strconv.Atoi(exps)
	return strings.Replace(mant, ".", "", 1), exp
}

// bigDecimalString renders unscaled x 10^-scale as Java's BigDecimal.toString.
func bigDecimalString(unscaled *big.Int, scale int) string {
	coeff := new(big.Int).Abs(unscaled).String()
	adjusted := -scale + (len(coeff) - 1)
	var b strings.Builder
	if unscaled.Sign() < 0 {
		b.WriteByte('-')
	}
	if scale >= 0 && adjusted >= -6 {
		switch {
		case scale == 0:
			b.WriteString(coeff)
		case len(coeff) > scale:
			b.WriteString(coeff[:len(coeff)-scale])
			b.WriteByte('.')
			b.WriteString(coeff[len(coeff)-scale:])
		default:
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", scale-len(coeff)))
			b.WriteString(coeff)
		}
		return b.String()
	}
	b.WriteByte(coeff[0])
	if len(coeff) > 1 {
		b.WriteByte('.')
		b.WriteString(coeff[1:])
	}
	b.WriteByte('E')
	if adjusted >= 0 {
		b.WriteByte('+')
	}
	b.WriteString(strconv.Itoa(adjusted))
	return b.String()
}
