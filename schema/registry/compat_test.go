package registry

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type compatPair struct {
	Name string          `json:"name"`
	Old  json.RawMessage `json:"old"`
	New  json.RawMessage `json:"new"`
}

func mustParse(t *testing.T, s string) parsed {
	t.Helper()
	p, err := parseSchema(s)
	if err != nil {
		t.Fatalf("parse %s: %v", s, err)
	}
	return p
}

// TestCheckReadableMatchesJava runs every pair of testdata/compat_pairs.json
// in both directions and compares type, location and message of each
// incompatibility with what Apache Avro's Java SchemaCompatibility reported
// (testdata/compat_java.golden, made by testdata/javacompat/gen.sh).
func TestCheckReadableMatchesJava(t *testing.T) {
	raw, err := os.ReadFile("testdata/compat_pairs.json")
	if err != nil {
		t.Fatal(err)
	}
	var pairs []compatPair
	if err := json.Unmarshal(raw, &pairs); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/compat_java.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	java := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, verdict, _ := strings.Cut(sc.Text(), "\t")
		java[name] = verdict
	}
	if len(java) != 2*len(pairs) {
		t.Fatalf("golden has %d verdicts for %d pairs; rerun testdata/javacompat/gen.sh", len(java), len(pairs))
	}
	for _, p := range pairs {
		oldS, newS := mustParse(t, string(p.Old)), mustParse(t, string(p.New))
		for _, dir := range []struct {
			name           string
			reader, writer parsed
		}{{"backward", newS, oldS}, {"forward", oldS, newS}} {
			name := p.Name + "/" + dir.name
			want, ok := java[name]
			if !ok {
				t.Errorf("%s: no Java verdict", name)
				continue
			}
			var got []string
			for _, in := range CheckReadable(dir.reader.schema, dir.writer.schema) {
				got = append(got, string(in.Type)+"@"+in.Location+"@"+in.Message)
			}
			if g := strings.Join(got, ";"); g != want {
				t.Errorf("%s:\n got %q\nwant %q (Java)", name, g, want)
			}
		}
	}
}

// TestCheckLevel covers every level against a subject history where v2
// added an optional field and v3 removed a field without default from the
// reader's point of view.
func TestCheckLevel(t *testing.T) {
	v1 := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`
	v2 := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":["null","int"],"default":null}]}`
	// addReq adds a required field: old readers fine, new reader needs it.
	addReq := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":["null","int"],"default":null},{"name":"c","type":"int"}]}`
	// dropA removes a (required in v1 and v2): v1/v2 readers cannot read it.
	dropA := `{"type":"record","name":"R","fields":[{"name":"b","type":["null","int"],"default":null}]}`
	// narrowB changes b's union to just null: readable by v2, and v2 data
	// (b an int) is unreadable by it; v1 lacks b so v1 is unaffected.
	narrowB := `{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"null","default":null}]}`
	prev := []previous{
		{version: 1, text: v1, schema: mustParse(t, v1).schema},
		{version: 2, text: v2, schema: mustParse(t, v2).schema},
	}
	cases := []struct {
		level Level
		next  string
		ok    bool
	}{
		{None, addReq, true},
		{None, dropA, true},
		{Backward, addReq, false},
		{Backward, dropA, true},
		{Backward, narrowB, false},
		{BackwardTransitive, dropA, true},
		{Forward, addReq, true},
		{Forward, dropA, false},
		{Forward, narrowB, true},
		{ForwardTransitive, addReq, true},
		{ForwardTransitive, narrowB, true},
		{Full, v2, true},
		{Full, addReq, false},
		{Full, dropA, false},
		{FullTransitive, narrowB, false},
	}
	for _, c := range cases {
		msgs := checkLevel(c.level, mustParse(t, c.next).schema, prev)
		if (len(msgs) == 0) != c.ok {
			t.Errorf("%s %s: got %v, want ok=%v", c.level, c.next, msgs, c.ok)
		}
	}
	// Transitive levels reach versions the plain ones skip: a schema
	// readable by v2 but not by v1.
	onlyV2 := `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"b","type":["null","int"],"default":null}]}`
	_ = onlyV2
	hist := []previous{
		{version: 1, text: v2, schema: mustParse(t, v2).schema},
		{version: 2, text: dropA, schema: mustParse(t, dropA).schema},
	}
	// next drops b: fine for dropA as writer? next reads dropA data: a has
	// no default → incompatible with version 2 only when reading it.
	next := `{"type":"record","name":"R","fields":[{"name":"b","type":["null","int"],"default":null},{"name":"z","type":"int","default":0}]}`
	if m := checkLevel(Forward, mustParse(t, next).schema, hist); len(m) != 0 {
		t.Errorf("forward against latest: %v", m)
	}
	if m := checkLevel(ForwardTransitive, mustParse(t, next).schema, hist); len(m) == 0 || !strings.Contains(m[len(m)-3], "oldSchemaVersion: 1") {
		t.Errorf("forward transitive must fail against version 1: %v", m)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]Level{"full": Full, " Backward_Transitive ": BackwardTransitive, "NONE": None} {
		if got, ok := ParseLevel(in); !ok || got != want {
			t.Errorf("ParseLevel(%q) = %q %v", in, got, ok)
		}
	}
	if _, ok := ParseLevel("sideways"); ok {
		t.Error("ParseLevel accepted sideways")
	}
}

func TestIdentity(t *testing.T) {
	a := mustParse(t, `{"type":"int"}`)
	b := mustParse(t, ` "int" `)
	if a.ident != b.ident {
		t.Errorf("int forms differ: %s vs %s", a.ident, b.ident)
	}
	c := mustParse(t, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}],"connect.name":"R"}`)
	d := mustParse(t, `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`)
	if c.ident == d.ident {
		t.Error("connect.name property ignored by identity")
	}
	if c.text != `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}],"connect.name":"R"}` {
		t.Errorf("stored text %s", c.text)
	}
}
