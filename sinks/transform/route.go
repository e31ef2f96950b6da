package transform

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// compileFull compiles a Java regular expression for Matcher.matches(): the
// whole input must match. Go's RE2 syntax covers the patterns topic routing
// uses; lookaround and backreferences are reported as errors.
func compileFull(c *conf, key, pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, c.errf(key, "invalid regular expression %q: %v", pattern, err)
	}
	return re, nil
}

// regexRouter is Kafka's RegexRouter: a topic matching regex as a whole is
// renamed to replacement, with Java's $n / ${name} group references.
type regexRouter struct {
	re   *regexp.Regexp
	repl []replPart
}

func newRegexRouter(c *conf) (Transform, error) {
	pattern, err := c.required("regex")
	if err != nil {
		return nil, err
	}
	re, err := compileFull(c, "regex", pattern)
	if err != nil {
		return nil, err
	}
	repl, err := c.required("replacement")
	if err != nil {
		return nil, err
	}
	parts, err := parseReplacement(re, repl)
	if err != nil {
		return nil, c.errf("replacement", "%v", err)
	}
	return &regexRouter{re: re, repl: parts}, nil
}

func (t *regexRouter) Apply(r sink.Record) (sink.Record, bool, error) {
	m := t.re.FindStringSubmatchIndex(r.Topic)
	if m == nil {
		return r, true, nil
	}
	var b strings.Builder
	for _, p := range t.repl {
		if p.group < 0 {
			b.WriteString(p.lit)
		} else if s, e := m[2*p.group], m[2*p.group+1]; s >= 0 {
			b.WriteString(r.Topic[s:e])
		}
	}
	r.Topic = b.String()
	return r, true, nil
}

// replPart is a literal (group -1) or a group reference of a replacement.
type replPart struct {
	lit   string
	group int
}

// parseReplacement parses Java's Matcher replacement syntax: $n takes as
// many digits as still name a group, ${name} a named group, a backslash
// quotes the next character.
func parseReplacement(re *regexp.Regexp, s string) ([]replPart, error) {
	var parts []replPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	// compileFull wraps the pattern in a non-capturing group: group numbers
	// are the user's.
	groups := re.NumSubexp()
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			i++
			if i >= len(s) {
				return nil, fmt.Errorf("character to be escaped is missing")
			}
			lit.WriteByte(s[i])
		case '$':
			i++
			if i >= len(s) {
				return nil, fmt.Errorf("illegal group reference: group index is missing")
			}
			if s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("named capturing group is missing trailing '}'")
				}
				name := s[i+1 : i+end]
				idx := re.SubexpIndex(name)
				if idx < 0 {
					return nil, fmt.Errorf("no group with name {%s}", name)
				}
				flush()
				parts = append(parts, replPart{group: idx})
				i += end
				continue
			}
			if s[i] < '0' || s[i] > '9' {
				return nil, fmt.Errorf("illegal group reference")
			}
			n := int(s[i] - '0')
			if n > groups {
				return nil, fmt.Errorf("no group %d", n)
			}
			for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
				next := n*10 + int(s[i+1]-'0')
				if next > groups {
					break
				}
				n = next
				i++
			}
			flush()
			parts = append(parts, replPart{group: n})
		default:
			lit.WriteByte(ch)
		}
	}
	flush()
	return parts, nil
}

// filter is Kafka's Filter: it drops every record it is applied to (used
// with a predicate).
type filter struct{}

func (filter) Apply(sink.Record) (sink.Record, bool, error) { return sink.Record{}, false, nil }

type predicateBuild func(c *conf) (Predicate, error)

var predicateClasses = map[string]predicateBuild{
	kafkaPredPkg + "TopicNameMatches": func(c *conf) (Predicate, error) {
		p, err := c.required("pattern")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(p) == "" {
			return nil, c.errf("pattern", "must not be empty")
		}
		re, err := compileFull(c, "pattern", p)
		if err != nil {
			return nil, err
		}
		return topicMatches{re}, nil
	},
	kafkaPredPkg + "RecordIsTombstone": func(*conf) (Predicate, error) { return isTombstone{}, nil },
	kafkaPredPkg + "HasHeaderKey": func(c *conf) (Predicate, error) {
		name, err := c.required("name")
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, c.errf("name", "must not be empty")
		}
		return hasHeader{name}, nil
	},
}

type topicMatches struct{ re *regexp.Regexp }

func (p topicMatches) Test(r sink.Record) bool { return p.re.MatchString(r.Topic) }

type isTombstone struct{}

func (isTombstone) Test(r sink.Record) bool { return r.Value == nil }

type hasHeader struct{ name string }

func (p hasHeader) Test(r sink.Record) bool {
	for _, h := range r.Headers {
		if h.Key == p.name {
			return true
		}
	}
	return false
}
