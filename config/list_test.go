package config

import (
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestList(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want List
		err  bool
	}{
		{doc: "l: [a, b]", want: List{"a", "b"}},
		{doc: "l: a, b ,,c", want: List{"a", "b", "c"}},
		{doc: "l: single", want: List{"single"}},
		{doc: "l: ~", want: nil},
		{doc: "l: {a: 1}", err: true},
	} {
		var v struct {
			L List `yaml:"l"`
		}
		err := yaml.Unmarshal([]byte(tc.doc), &v)
		if (err != nil) != tc.err || !reflect.DeepEqual(v.L, tc.want) {
			t.Errorf("%s: got %q, %v; want %q (error %v)", tc.doc, v.L, err, tc.want, tc.err)
		}
	}
}
