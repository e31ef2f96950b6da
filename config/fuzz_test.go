package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
)

// FuzzDecode checks that no input makes the loader panic or hang, and that
// every failure is a *config.Error whose problems name the file and a line
// inside it.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		"",
		"name: x\nport: ${PORT:-1}\n",
		"kafka:\n  bootstrap.servers: [a:1, ${B}]\n  overrides:\n    /x.*/: {partitions: 2}\n",
		"sources:\n  - &s {name: a, topic.prefix: p, tables: [a.b, c]}\n  - <<: *s\n",
		"a: &a [*a]\n",
		"nmae: $${x} ${",
		"- [\n",
		"port: 1\n---\nport: 2\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	lookup := env(map[string]string{"PORT": "9", "B": "b:2"})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := defaults()
		err := config.Loader{LookupEnv: lookup}.Decode("f.yaml", data, &c)
		if err == nil {
			return
		}
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %T is not *config.Error: %v", err, err)
		}
		if len(ce.Problems) == 0 {
			t.Fatalf("*config.Error without problems")
		}
		// YAML also breaks lines at a lone "\r".
		lines := strings.Count(string(data), "\n") + strings.Count(string(data), "\r") + 1
		for _, p := range ce.Problems {
			if p.File != "f.yaml" || p.Line < 0 || p.Line > lines+1 || p.Msg == "" {
				t.Fatalf("bad problem %+v for %d-line input", p, lines)
			}
		}
	})
}
