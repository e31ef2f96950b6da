package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// expand interpolates environment variables in the scalar n in place. It
// reports false, after recording the problem, when a variable is unset and
// has no default or the syntax is wrong.
//
// A plain (unquoted) scalar that changed is re-resolved, so that
// "port: ${PORT:-8083}" decodes into an int; a quoted scalar stays a string.
func (w *walker) expand(n *yaml.Node, path string) bool {
	if w.expanded[n] {
		return !w.bad[n]
	}
	w.expanded[n] = true
	if !strings.Contains(n.Value, "${") {
		return true
	}
	out, msgs := interpolate(n.Value, w.lookup)
	if len(msgs) > 0 {
		for _, m := range msgs {
			w.addf(n.Line, path, "%s", m)
		}
		w.bad[n] = true
		w.badPaths = append(w.badPaths, path)
		return false
	}
	if out != n.Value {
		n.Value = out
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 && n.Tag == "!!str" {
			n.Tag = ""
		}
	}
	return true
}

// interpolate replaces ${NAME} and ${NAME:-default} in s; "$${" stands for a
// literal "${". An unset NAME takes the default; so does a NAME set to the
// empty string when a default is given, as in the shell. It returns one
// message per problem.
func interpolate(s string, lookup func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var msgs []string
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				msgs = append(msgs, `unterminated "${" (write "$${" for a literal "${")`)
				return s, msgs
			}
			expr := s[i+2 : i+2+end]
			i += 2 + end + 1
			name, def, hasDef := strings.Cut(expr, ":-")
			if !validEnvName(name) {
				msgs = append(msgs, "invalid environment variable name "+quote(name)+" in "+quote("${"+expr+"}"))
				continue
			}
			v, ok := lookup(name)
			switch {
			case hasDef && (!ok || v == ""):
				b.WriteString(def)
			case ok:
				b.WriteString(v)
			default:
				msgs = append(msgs, "environment variable "+quote(name)+" is not set and has no default (write ${"+name+":-default})")
			}
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	if len(msgs) > 0 {
		return s, msgs
	}
	return b.String(), nil
}

func quote(s string) string { return `"` + s + `"` }

// validEnvName accepts POSIX shell variable names.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
