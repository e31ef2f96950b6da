package mongodb

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestJSONMatchesJavaDriver renders every document of testdata/ejson/inputs.txt
// and compares with testdata/ejson/java.txt, the output of the MongoDB Java
// driver's org.bson 5.5.1 (the version Debezium 3.4 ships) with Debezium's
// settings, made by testdata/ejson/JavaJSON.java.
func TestJSONMatchesJavaDriver(t *testing.T) {
	inputs := readLines(t, "testdata/ejson/inputs.txt")
	java := readLines(t, "testdata/ejson/java.txt")
	if len(java) != 4*len(inputs) {
		t.Fatalf("java.txt has %d lines for %d inputs; regenerate it", len(java), len(inputs))
	}
	for i, in := range inputs {
		var d bson.D
		if err := bson.UnmarshalExtJSON([]byte(in), true, &d); err != nil {
			t.Fatalf("input %d: %v", i+1, err)
		}
		raw, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		value, err := documentJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		key, err := idJSON(bson.Raw(raw).Lookup("_id"))
		if err != nil {
			t.Fatal(err)
		}
		updated, err := relaxedJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ what, got, want string }{
			{"value (strict, compact)", value, java[4*i]},
			{"key id (relaxed, compact)", key, java[4*i+1]},
			{"updatedFields (relaxed)", updated, java[4*i+2]},
		} {
			if c.got != c.want {
				t.Errorf("input %d %s:\n got %s\nwant %s", i+1, c.what, c.got, c.want)
			}
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			out = append(out, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestJavaDouble(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{1, "1.0"}, {-2.5, "-2.5"}, {1e7, "1.0E7"}, {1.5e-4, "1.5E-4"}, {0.001, "0.001"},
		{123456789.125, "1.23456789125E8"}, {1e-300, "1.0E-300"}, {9999999, "9999999.0"},
	} {
		if got := javaDouble(c.in); got != c.want {
			t.Errorf("javaDouble(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}
