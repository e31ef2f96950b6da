package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Scrape is a parsed Prometheus text exposition: the samples of every
// series, keyed by metric name, each with its raw label string.
type Scrape map[string][]Sample

// Sample is one series' value.
type Sample struct {
	Labels string // the text between { and }, "" when none
	Value  float64
}

// ParseScrape reads the Prometheus text format (the subset client_golang
// writes: one sample per line, no timestamps needed).
func ParseScrape(r io.Reader) (Scrape, error) {
	s := Scrape{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		name, labels, rest := text, "", ""
		if i := strings.IndexByte(text, '{'); i >= 0 {
			j := strings.LastIndexByte(text, '}')
			if j < i {
				return nil, fmt.Errorf("metrics line %d: unbalanced braces", line)
			}
			name, labels, rest = text[:i], text[i+1:j], text[j+1:]
		} else if i := strings.IndexAny(text, " \t"); i >= 0 {
			name, rest = text[:i], text[i:]
		} else {
			return nil, fmt.Errorf("metrics line %d: no value", line)
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics line %d: no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: value %q: %w", line, fields[0], err)
		}
		s[name] = append(s[name], Sample{Labels: labels, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return s, nil
}

// Sum adds the values of every series of name; ok is false when there is
// none.
func (s Scrape) Sum(name string) (sum float64, ok bool) {
	for _, smp := range s[name] {
		sum += smp.Value
	}
	return sum, len(s[name]) > 0
}

// Histogram returns the cumulative buckets of histogram name (its _bucket
// series, summed across other labels), sorted by bound.
func (s Scrape) Histogram(name string) []Bucket {
	byBound := map[float64]float64{}
	for _, smp := range s[name+"_bucket"] {
		le, ok := label(smp.Labels, "le")
		if !ok {
			continue
		}
		b, err := strconv.ParseFloat(le, 64)
		if err != nil {
			continue
		}
		byBound[b] += smp.Value
	}
	out := make([]Bucket, 0, len(byBound))
	for b, c := range byBound {
		out = append(out, Bucket{UpperBound: b, Count: c})
	}
	slices.SortFunc(out, func(a, b Bucket) int {
		switch {
		case a.UpperBound < b.UpperBound:
			return -1
		case a.UpperBound > b.UpperBound:
			return 1
		}
		return 0
	})
	if len(out) > 0 && !math.IsInf(out[len(out)-1].UpperBound, 1) {
		return nil // not a well-formed histogram
	}
	return out
}

// label returns the value of key in a label string like a="x",le="0.5".
func label(labels, key string) (string, bool) {
	for labels != "" {
		eq := strings.IndexByte(labels, '=')
		if eq < 0 || eq+1 >= len(labels) || labels[eq+1] != '"' {
			return "", false
		}
		k := strings.TrimSpace(labels[:eq])
		rest := labels[eq+2:]
		var val strings.Builder
		i := 0
		for ; i < len(rest) && rest[i] != '"'; i++ {
			if rest[i] == '\\' && i+1 < len(rest) {
				i++
			}
			val.WriteByte(rest[i])
		}
		if k == key {
			return val.String(), true
		}
		if i+1 >= len(rest) {
			return "", false
		}
		labels = strings.TrimLeft(rest[i+1:], ", ")
	}
	return "", false
}
