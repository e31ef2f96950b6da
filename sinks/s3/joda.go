package s3

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// jodaFormat is a compiled Joda-Time DateTimeFormat pattern (what
// Confluent's path.format is): letters are fields, a run of the same letter
// sets the width, text in single quotes is literal (” is a quote), other
// characters are literal.
type jodaFormat struct {
	parts []jodaPart
	names *localeNames
}

type jodaPart struct {
	lit    string // literal text when letter is 0
	letter byte
	n      int // run length
}

// localeNames holds the text a pattern's month, weekday and half-day
// fields print.
type localeNames struct {
	months, shortMonths []string
	days, shortDays     []string // Sunday first, as time.Weekday
	ampm                [2]string
	eras                [2]string
}

var english = &localeNames{
	months: []string{"January", "February", "March", "April", "May", "June", "July", "August",
		"September", "October", "November", "December"},
	shortMonths: []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	days:        []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
	shortDays:   []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"},
	ampm:        [2]string{"AM", "PM"},
	eras:        [2]string{"BC", "AD"},
}

// compileJoda parses pattern; locale matters only to text fields, which
// Sluice prints in English (a Java locale en, en_US, en-GB, …) and refuses
// for other locales rather than print them wrongly.
func compileJoda(pattern, locale string) (*jodaFormat, error) {
	f := &jodaFormat{}
	var text bool
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case c == '\'':
			// Quoted literal; '' inside or outside quotes is one quote.
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(pattern) {
					return nil, fmt.Errorf("path.format: unterminated quote in %q", pattern)
				}
				if pattern[j] == '\'' {
					if j+1 < len(pattern) && pattern[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(pattern[j])
				j++
			}
			if j == i+1 {
				b.WriteByte('\'') // '' outside quotes
			}
			f.parts = append(f.parts, jodaPart{lit: b.String()})
			i = j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			n := j - i
			if !strings.ContainsRune("GCYxwewEyDMdaKhHkmsSzZ", rune(c)) {
				return nil, fmt.Errorf("path.format: illegal pattern component %q in %q", pattern[i:j], pattern)
			}
			if c == 'E' || c == 'a' || c == 'G' || (c == 'M' && n >= 3) {
				text = true
			}
			f.parts = append(f.parts, jodaPart{letter: c, n: n})
			i = j
		default:
			j := i
			for j < len(pattern) && pattern[j] != '\'' && !(pattern[j] >= 'a' && pattern[j] <= 'z' || pattern[j] >= 'A' && pattern[j] <= 'Z') {
				j++
			}
			f.parts = append(f.parts, jodaPart{lit: pattern[i:j]})
			i = j
		}
	}
	lang := strings.ToLower(strings.SplitN(strings.ReplaceAll(locale, "-", "_"), "_", 2)[0])
	switch {
	case lang == "en" || lang == "":
		f.names = english
	case text:
		return nil, fmt.Errorf("locale: %q: only English month and day names are supported (path.format %q prints text)", locale, pattern)
	default:
		f.names = english // numbers only: the locale changes nothing
	}
	return f, nil
}

// format prints t (already in the wanted zone).
func (f *jodaFormat) format(t time.Time) string {
	var b strings.Builder
	num := func(v, n int) {
		s := strconv.Itoa(v)
		if v < 0 {
			s = strconv.Itoa(-v)
			b.WriteByte('-')
		}
		for i := len(s); i < n; i++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	for _, p := range f.parts {
		if p.letter == 0 {
			b.WriteString(p.lit)
			continue
		}
		n := p.n
		switch p.letter {
		case 'G':
			era := 1
			if t.Year() <= 0 {
				era = 0
			}
			b.WriteString(f.names.eras[era])
		case 'C':
			num(t.Year()/100, n)
		case 'y', 'Y', 'x':
			y := t.Year()
			if p.letter == 'x' {
				y, _ = t.ISOWeek()
			}
			if p.letter == 'Y' && y <= 0 {
				y = 1 - y // year of era
			}
			if n == 2 {
				num(((y%100)+100)%100, 2)
			} else {
				num(y, n)
			}
		case 'w':
			_, w := t.ISOWeek()
			num(w, n)
		case 'e':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7 // ISO: Monday 1 … Sunday 7
			}
			num(wd, n)
		case 'E':
			if n >= 4 {
				b.WriteString(f.names.days[t.Weekday()])
			} else {
				b.WriteString(f.names.shortDays[t.Weekday()])
			}
		case 'D':
			num(t.YearDay(), n)
		case 'M':
			switch {
			case n >= 4:
				b.WriteString(f.names.months[t.Month()-1])
			case n == 3:
				b.WriteString(f.names.shortMonths[t.Month()-1])
			default:
				num(int(t.Month()), n)
			}
		case 'd':
			num(t.Day(), n)
		case 'a':
			b.WriteString(f.names.ampm[t.Hour()/12])
		case 'K':
			num(t.Hour()%12, n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			num(h, n)
		case 'H':
			num(t.Hour(), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			num(h, n)
		case 'm':
			num(t.Minute(), n)
		case 's':
			num(t.Second(), n)
		case 'S':
			// Fraction of second: the first n digits of the milliseconds
			// (Joda keeps millisecond precision), padded with zeros.
			ms := fmt.Sprintf("%03d", t.Nanosecond()/1e6)
			for len(ms) < n {
				ms += "0"
			}
			b.WriteString(ms[:n])
		case 'z':
			b.WriteString(t.Format("MST"))
		case 'Z':
			switch n {
			case 1:
				b.WriteString(t.Format("-0700"))
			case 2:
				b.WriteString(t.Format("-07:00"))
			default:
				b.WriteString(t.Location().String())
			}
		}
	}
	return b.String()
}
