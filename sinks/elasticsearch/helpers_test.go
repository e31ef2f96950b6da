package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

var testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

var indexSeq atomic.Int64

// uniqueIndex returns an index name no other test (of this or another
// package, run in parallel) uses; it is deleted at the end of the test.
func uniqueIndex(t testing.TB, url, prefix string) string {
	name := fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), indexSeq.Add(1))
	t.Cleanup(func() { esDo(t, url, http.MethodDelete, "/"+name, nil) })
	return name
}

// esURL returns the test node's URL.
func esURL(t testing.TB) string {
	return strings.TrimSuffix(testenv.Require(t, "SLUICE_ES_URL"), "/")
}

// esDo sends a request to the node and returns the status and body.
func esDo(t testing.TB, url, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// allDocs refreshes index and returns every document's _source by _id,
// read with a scroll.
func allDocs(t testing.TB, url, index string) map[string]string {
	t.Helper()
	if st, body := esDo(t, url, http.MethodPost, "/"+index+"/_refresh", nil); st != 200 {
		t.Fatalf("refresh %s: %d %s", index, st, body)
	}
	out := map[string]string{}
	st, body := esDo(t, url, http.MethodPost, "/"+index+"/_search?scroll=1m", `{"size":500,"sort":["_doc"]}`)
	for {
		if st != 200 {
			t.Fatalf("search %s: %d %s", index, st, body)
		}
		var r struct {
			ScrollID string `json:"_scroll_id"`
			Hits     struct {
				Hits []struct {
					ID     string          `json:"_id"`
					Source json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		for _, h := range r.Hits.Hits {
			out[h.ID] = string(h.Source)
		}
		if len(r.Hits.Hits) == 0 {
			esDo(t, url, http.MethodDelete, "/_search/scroll", map[string]any{"scroll_id": r.ScrollID})
			return out
		}
		st, body = esDo(t, url, http.MethodPost, "/_search/scroll", map[string]any{"scroll": "1m", "scroll_id": r.ScrollID})
	}
}

// sortedKeys returns m's keys in order, for messages.
func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
