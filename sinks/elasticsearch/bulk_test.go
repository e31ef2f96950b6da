package elasticsearch

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "record testdata/bulk_*.json from the node at SLUICE_ES_URL")

// recordedBulk is a bulk request sent to a real node and its response, kept
// in testdata so that classification is tested without a node.
type recordedBulk struct {
	Engine   string          `json:"engine"`
	Request  []string        `json:"request"`  // NDJSON lines
	Response json.RawMessage `json:"response"` // as the node answered
}

// bulkCase is one action of the recorded request and what the sink must
// make of its result.
type bulkCase struct {
	what      string
	lines     []string
	op        string
	versioned bool
	want      outcome
}

// bulkCases run against an index with a strict mapping (id, n integers)
// holding document 1 at external version 10.
func bulkCases(index string) []bulkCase {
	meta := func(op, id, extra string) string {
		return `{"` + op + `":{"_index":"` + index + `","_id":"` + id + `"` + extra + `}}`
	}
	return []bulkCase{
		{"new document", []string{meta("index", "2", `,"version":3,"version_type":"external"`), `{"id":2,"n":2}`}, opIndex, true, outcomeOK},
		{"older version", []string{meta("index", "1", `,"version":5,"version_type":"external"`), `{"id":1,"n":5}`}, opIndex, true, outcomeOK},
		{"same version", []string{meta("index", "1", `,"version":10,"version_type":"external"`), `{"id":1,"n":10}`}, opIndex, true, outcomeOK},
		{"text for an integer", []string{meta("index", "3", `,"version":3,"version_type":"external"`), `{"id":3,"n":"not a number"}`}, opIndex, true, outcomeMalformed},
		{"unknown field", []string{meta("index", "4", `,"version":3,"version_type":"external"`), `{"id":4,"other":1}`}, opIndex, true, outcomeMalformed},
		{"delete missing", []string{meta("delete", "5", `,"version":3,"version_type":"external"`)}, opDelete, true, outcomeOK},
		{"delete older", []string{meta("delete", "1", `,"version":4,"version_type":"external"`)}, opDelete, true, outcomeOK},
		{"upsert", []string{meta("update", "6", `,"retry_on_conflict":3`), `{"doc":{"id":6,"n":6},"doc_as_upsert":true}`}, opUpdate, false, outcomeOK},
		{"upsert malformed", []string{meta("update", "7", `,"retry_on_conflict":3`), `{"doc":{"id":7,"n":"x"},"doc_as_upsert":true}`}, opUpdate, false, outcomeMalformed},
		{"delete without index", []string{`{"delete":{"_index":"` + index + `-missing","_id":"1","version":3,"version_type":"external"}}`}, opDelete, true, outcomeOK},
		{"closed index", []string{`{"index":{"_index":"` + index + `-closed","_id":"1","version":3,"version_type":"external"}}`, `{"id":1}`}, opIndex, true, outcomeFatal},
		{"write block", []string{`{"index":{"_index":"` + index + `-blocked","_id":"1","version":3,"version_type":"external"}}`, `{"id":1}`}, opIndex, true, outcomeFatal},
	}
}

const recordedIndex = "sluice-bulk-recording"

// TestRecordedBulkResponses classifies the items of a bulk response a real
// node gave (testdata/bulk_recorded.json; go test -update -run
// TestRecordedBulkResponses records it again from SLUICE_ES_URL).
func TestRecordedBulkResponses(t *testing.T) {
	path := filepath.Join("testdata", "bulk_recorded.json")
	cases := bulkCases(recordedIndex)
	if *update {
		record(t, path, cases)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec recordedBulk
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	items, err := parseBulkResponse(rec.Response, len(cases))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got := classify(c.op, c.versioned, items[i]); got != c.want {
			t.Errorf("%s: status %d %v classified %d, want %d", c.what, items[i].Status, items[i].Error, got, c.want)
		}
	}
	// A whole-request rejection as the engines write it.
	se := newStatusError("POST", "/_bulk", 429, []byte(`{"error":{"root_cause":[],"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}`))
	if !se.Retriable() || se.Type != "es_rejected_execution_exception" {
		t.Errorf("429 response: %+v retriable=%v", se, se.Retriable())
	}
	if se := newStatusError("POST", "/_bulk", 413, []byte("<html>too large</html>")); se.Retriable() || se.Body == "" {
		t.Errorf("413 response: %+v", se)
	}
}

func record(t *testing.T, path string, cases []bulkCase) {
	url := esURL(t)
	// The delete in a missing index creates that index.
	all := "/" + recordedIndex + "," + recordedIndex + "-missing," + recordedIndex + "-closed," + recordedIndex + "-blocked"
	esDo(t, url, http.MethodDelete, all+"?ignore_unavailable=true", nil)
	t.Cleanup(func() { esDo(t, url, http.MethodDelete, all, nil) })
	for _, q := range []struct{ method, path, body string }{
		{http.MethodPut, "/" + recordedIndex + "-closed", ""},
		{http.MethodPost, "/" + recordedIndex + "-closed/_close", ""},
		{http.MethodPut, "/" + recordedIndex + "-blocked", ""},
		{http.MethodPut, "/" + recordedIndex + "-blocked/_settings", `{"index.blocks.write":true}`},
	} {
		var body any
		if q.body != "" {
			body = q.body
		}
		if st, resp := esDo(t, url, q.method, q.path, body); st != 200 {
			t.Fatalf("%s %s: %d %s", q.method, q.path, st, resp)
		}
	}
	if st, body := esDo(t, url, http.MethodPut, "/"+recordedIndex, `{"mappings":{"dynamic":"strict","properties":{"id":{"type":"integer"},"n":{"type":"integer"}}}}`); st != 200 {
		t.Fatalf("create: %d %s", st, body)
	}
	if st, body := esDo(t, url, http.MethodPut, "/"+recordedIndex+"/_doc/1?version=10&version_type=external&refresh=true", `{"id":1,"n":1}`); st != 201 {
		t.Fatalf("seed: %d %s", st, body)
	}
	var lines []string
	for _, c := range cases {
		lines = append(lines, c.lines...)
	}
	req, err := http.NewRequest(http.MethodPost, url+"/_bulk", strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	_, info := esDo(t, url, http.MethodGet, "/", nil)
	var v struct {
		Version struct{ Number, Distribution string } `json:"version"`
	}
	json.Unmarshal(info, &v)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body.Bytes(), "", "  "); err != nil {
		t.Fatalf("response %s: %v", body.Bytes(), err)
	}
	out, err := json.MarshalIndent(recordedBulk{Engine: v.Version.Distribution + " " + v.Version.Number, Request: lines, Response: pretty.Bytes()}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseBulkResponse: any body either fails to parse or gives n items
// that classify without panicking.
func FuzzParseBulkResponse(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "bulk_recorded.json")); err == nil {
		var rec recordedBulk
		if json.Unmarshal(data, &rec) == nil {
			f.Add([]byte(rec.Response), len(rec.Request))
		}
	}
	f.Add([]byte(`{"errors":false,"items":[{"index":{"status":201}}]}`), 1)
	f.Add([]byte(`{"items":[{"delete":{"status":404,"error":{"type":"index_not_found_exception","caused_by":{"type":"x"}}}}]}`), 1)
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		items, err := parseBulkResponse(body, n)
		if err != nil {
			return
		}
		if len(items) != n {
			t.Fatalf("%d items for %d", len(items), n)
		}
		for _, it := range items {
			for _, op := range []string{opIndex, opDelete, opUpdate} {
				_ = classify(op, true, it)
				_ = it.Error.String()
			}
		}
	})
}
