package transform

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// javaFormat is a java.text.SimpleDateFormat pattern in UTC, as
// TimestampConverter uses it: format and (lenient) parse.
type javaFormat struct {
	pattern string
	toks    []fmtTok
}

// fmtTok is a literal (letter 0) or a pattern letter repeated n times.
type fmtTok struct {
	letter byte
	n      int
	lit    string
}

// javaLetters are the pattern letters SimpleDateFormat defines; those Sluice
// does not implement (week numbers) are rejected.
const (
	javaLetters = "GyYMLwWDdFEuaHkKhmsSzZX"
	unsupported = "wWF"
)

func parseJavaFormat(p string) (*javaFormat, error) {
	f := &javaFormat{pattern: p}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.toks = append(f.toks, fmtTok{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				lit.WriteByte('\'')
				i += 2
				continue
			}
			end := i + 1
			for {
				if end >= len(p) {
					return nil, fmt.Errorf("unterminated quote in pattern %q", p)
				}
				if p[end] == '\'' {
					if end+1 < len(p) && p[end+1] == '\'' {
						lit.WriteByte('\'')
						end += 2
						continue
					}
					break
				}
				lit.WriteByte(p[end])
				end++
			}
			i = end + 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			if !strings.ContainsRune(javaLetters, rune(c)) {
				return nil, fmt.Errorf("illegal pattern character '%c' in %q", c, p)
			}
			if strings.ContainsRune(unsupported, rune(c)) {
				return nil, fmt.Errorf("pattern character '%c' (week numbers) is not supported in %q", c, p)
			}
			n := 1
			for i+n < len(p) && p[i+n] == c {
				n++
			}
			flush()
			f.toks = append(f.toks, fmtTok{letter: c, n: n})
			i += n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return f, nil
}

func pad(v, n int) string {
	s := strconv.Itoa(v)
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// Format renders t (taken in UTC).
func (f *javaFormat) Format(t time.Time) string {
	t = t.UTC()
	var b strings.Builder
	for _, tk := range f.toks {
		n := tk.n
		switch tk.letter {
		case 0:
			b.WriteString(tk.lit)
		case 'G':
			if t.Year() <= 0 {
				b.WriteString("BC")
			} else {
				b.WriteString("AD")
			}
		case 'y', 'Y':
			y := t.Year()
			if y <= 0 {
				y = 1 - y
			}
			if n == 2 {
				b.WriteString(pad(y%100, 2))
			} else {
				b.WriteString(pad(y, n))
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(pad(int(t.Month()), n))
			}
		case 'd':
			b.WriteString(pad(t.Day(), n))
		case 'D':
			b.WriteString(pad(t.YearDay(), n))
		case 'E':
			if n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'u':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(pad(wd, n))
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'H':
			b.WriteString(pad(t.Hour(), n))
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b.WriteString(pad(h, n))
		case 'K':
			b.WriteString(pad(t.Hour()%12, n))
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(pad(h, n))
		case 'm':
			b.WriteString(pad(t.Minute(), n))
		case 's':
			b.WriteString(pad(t.Second(), n))
		case 'S':
			b.WriteString(pad(t.Nanosecond()/1e6, n))
		case 'z':
			if n >= 4 {
				b.WriteString("Coordinated Universal Time")
			} else {
				b.WriteString("UTC")
			}
		case 'Z':
			b.WriteString("+0000")
		case 'X':
			b.WriteString("Z")
		}
	}
	return b.String()
}

var (
	monthNames = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	dayNames   = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
)

// matchName matches a full or three-letter name at the start of s,
// case-insensitively, returning its index and length.
func matchName(s string, names []string) (int, int) {
	low := strings.ToLower(s)
	for i, nm := range names {
		if strings.HasPrefix(low, nm) {
			return i, len(nm)
		}
	}
	for i, nm := range names {
		if strings.HasPrefix(low, nm[:3]) {
			return i, 3
		}
	}
	return -1, 0
}

func isNumericTok(tk fmtTok) bool {
	switch tk.letter {
	case 'y', 'Y', 'd', 'D', 'u', 'H', 'k', 'K', 'h', 'm', 's', 'S':
		return true
	case 'M', 'L':
		return tk.n < 3
	}
	return false
}

// Parse reads s as SimpleDateFormat.parse does with its default leniency:
// out-of-range fields roll over, text after the pattern is ignored, a
// two-digit yy year lands within 80 years before and 20 after now.
func (f *javaFormat) Parse(s string, now time.Time) (time.Time, error) {
	year, month, day, yday := 1970, 1, 1, 0
	hour, minute, sec, milli := 0, 0, 0, 0
	pm, hasAmPm, bc := false, false, false
	twelve := -1
	offset := 0
	pos := 0
	fail := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("could not parse timestamp: value (%s) does not match pattern (%s)", s, f.pattern)
	}
	for i, tk := range f.toks {
		rest := s[pos:]
		if tk.letter == 0 {
			if !strings.HasPrefix(rest, tk.lit) {
				return fail()
			}
			pos += len(tk.lit)
			continue
		}
		if isNumericTok(tk) {
			width := len(rest)
			if i+1 < len(f.toks) && isNumericTok(f.toks[i+1]) {
				width = tk.n // abutting numeric fields take their width
			}
			j := 0
			if j < len(rest) && (rest[j] == '-' || rest[j] == '+') && (tk.letter == 'y' || tk.letter == 'Y') {
				j++
			}
			start := j
			for j < len(rest) && j < width && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			if j == start {
				return fail()
			}
			v, err := strconv.Atoi(rest[:j])
			if err != nil {
				return fail()
			}
			pos += j
			switch tk.letter {
			case 'y', 'Y':
				year = v
				if tk.n <= 2 && j == 2 {
					// Java's default century: now-80y ... now+20y.
					base := now.Year() - 80
					year = base/100*100 + v
					if year < base {
						year += 100
					}
				}
			case 'M', 'L':
				month = v
			case 'd':
				day = v
			case 'D':
				yday = v
			case 'H', 'k':
				hour = v
				if tk.letter == 'k' && v == 24 {
					hour = 0
				}
			case 'K', 'h':
				twelve = v % 12
				if tk.letter == 'K' {
					twelve = v
				}
			case 'm':
				minute = v
			case 's':
				sec = v
			case 'S':
				milli = v
			}
			continue
		}
		switch tk.letter {
		case 'M', 'L':
			m, n := matchName(rest, monthNames)
			if m < 0 {
				return fail()
			}
			month = m + 1
			pos += n
		case 'E':
			d, n := matchName(rest, dayNames)
			if d < 0 {
				return fail()
			}
			pos += n
		case 'a':
			switch {
			case strings.HasPrefix(strings.ToUpper(rest), "AM"):
			case strings.HasPrefix(strings.ToUpper(rest), "PM"):
				pm = true
			default:
				return fail()
			}
			hasAmPm = true
			pos += 2
		case 'G':
			switch {
			case strings.HasPrefix(strings.ToUpper(rest), "AD"):
			case strings.HasPrefix(strings.ToUpper(rest), "BC"):
				bc = true
			default:
				return fail()
			}
			pos += 2
		case 'z', 'Z', 'X':
			off, n, ok := parseZone(rest)
			if !ok {
				return fail()
			}
			offset = off
			pos += n
		}
	}
	if twelve >= 0 {
		hour = twelve
		if hasAmPm && pm {
			hour += 12
		}
	} else if hasAmPm && pm && hour < 12 {
		hour += 12
	}
	if bc {
		year = 1 - year
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if yday > 0 {
		t = time.Date(year, 1, yday, hour, minute, sec, 0, time.UTC)
	}
	t = t.Add(time.Duration(milli) * time.Millisecond)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

// parseZone reads a zone at the start of s: Z, UTC, GMT, UT, an offset
// ±hh, ±hhmm, ±hh:mm, optionally after GMT. It returns the offset in
// seconds east of UTC and the bytes read.
func parseZone(s string) (int, int, bool) {
	n := 0
	switch {
	case strings.HasPrefix(s, "Z"):
		return 0, 1, true
	case strings.HasPrefix(s, "UTC"):
		n = 3
	case strings.HasPrefix(s, "GMT"):
		n = 3
	case strings.HasPrefix(s, "UT"):
		n = 2
	}
	rest := s[n:]
	if len(rest) == 0 || (rest[0] != '+' && rest[0] != '-') {
		return 0, n, n > 0
	}
	sign := 1
	if rest[0] == '-' {
		sign = -1
	}
	digits := func(str string, k int) (int, bool) {
		if len(str) < k {
			return 0, false
		}
		v, err := strconv.Atoi(str[:k])
		return v, err == nil && !strings.ContainsAny(str[:k], "+-")
	}
	hh, ok := digits(rest[1:], 2)
	if !ok {
		return 0, 0, false
	}
	used := 3
	mm := 0
	if len(rest) > 3 && rest[3] == ':' {
		if mm, ok = digits(rest[4:], 2); !ok {
			return 0, 0, false
		}
		used = 6
	} else if v, ok := digits(rest[3:], 2); ok {
		mm, used = v, 5
	}
	return sign * (hh*3600 + mm*60), n + used, true
}
