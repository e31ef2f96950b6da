package runtime

import (
	"maps"
	"strings"
)

// Hidden replaces secret configuration values in what the Herder returns.
const Hidden = "[hidden]"

// Secret reports whether a configuration key names secret material: a
// segment (split on '.', '_', '-') password, passwd, pwd, secret, token,
// credentials or jaas, or a last segment "key" (api.key, ssl.key, private.key;
// not key.converter).
func Secret(key string) bool {
	segs := strings.FieldsFunc(strings.ToLower(key), func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for _, s := range segs {
		switch s {
		case "password", "passwd", "pwd", "secret", "token", "credentials", "credential", "jaas", "apikey":
			return true
		}
	}
	return len(segs) > 1 && segs[len(segs)-1] == "key"
}

// masked returns a copy of cfg with secret values replaced by Hidden.
func masked(cfg map[string]string) map[string]string {
	out := maps.Clone(cfg)
	for k := range out {
		if Secret(k) {
			out[k] = Hidden
		}
	}
	return out
}

// unmask replaces Hidden values of secret keys in next by the value stored in
// prev, so that a configuration read back masked and written again keeps its
// secrets.
func unmask(next, prev map[string]string) {
	for k, v := range next {
		if v == Hidden && Secret(k) {
			if old, ok := prev[k]; ok {
				next[k] = old
			}
		}
	}
}
