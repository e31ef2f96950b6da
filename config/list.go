package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// List is a list of strings that YAML may give either as a sequence or, as
// in a Debezium or Kafka Connect properties file, as one comma-separated
// string ("a, b" is the list [a b]).
type List []string

// UnmarshalYAML accepts a sequence of strings or a comma-separated scalar.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			*l = nil
			return nil
		}
		var out List
		for _, s := range strings.Split(n.Value, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		*l = out
		return nil
	case yaml.SequenceNode:
		var ss []string
		if err := n.Decode(&ss); err != nil {
			return err
		}
		*l = ss
		return nil
	default:
		return fmt.Errorf("want a list or a comma-separated string")
	}
}
