package config

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LineOf returns the line of the YAML node that path names under root, or of
// its nearest ancestor present in the document when the key is absent. It
// returns 0 when root is nil.
//
// Keys may contain dots ("bootstrap.servers", "topic.prefix") and mapping
// keys are arbitrary ("/orders.*/"), so the path is matched key by key
// against the mapping actually in the document, preferring the longest key
// that is followed by ".", "[" or the end of the path. List indexes are
// written "[N]".
func LineOf(root *yaml.Node, path string) int {
	if root == nil {
		return 0
	}
	n, line := root, root.Line
	rest := path
	for steps := 0; rest != "" && steps < 10_000; steps++ {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch {
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			if end < 0 || n.Kind != yaml.SequenceNode {
				return line
			}
			idx, err := strconv.Atoi(rest[1:end])
			if err != nil || idx < 0 || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
			rest = strings.TrimPrefix(rest[end+1:], ".")
		case n.Kind == yaml.MappingNode:
			k, v := matchKey(n, rest)
			if k == nil {
				return line
			}
			line = k.Line
			rest = strings.TrimPrefix(rest[len(k.Value):], ".")
			n = v
		default:
			return line
		}
	}
	return line
}

// matchKey finds the longest key of mapping n that starts path and ends at a
// segment boundary, and returns it with its value.
func matchKey(n *yaml.Node, path string) (key, value *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !strings.HasPrefix(path, k.Value) || k.Value == "" {
			continue
		}
		if len(path) > len(k.Value) && path[len(k.Value)] != '.' && path[len(k.Value)] != '[' {
			continue
		}
		if key == nil || len(k.Value) > len(key.Value) {
			key, value = k, n.Content[i+1]
		}
	}
	return key, value
}
