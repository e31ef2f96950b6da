package elasticsearch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// bulkRecorder is an HTTP server that accepts every bulk action (status 201)
// and keeps each request's action lines, to check how a flush splits its
// actions into requests.
type bulkRecorder struct {
	mu       sync.Mutex
	requests [][]string // action lines ({"index":…}) per request
	sizes    []int
}

func (b *bulkRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/" {
		fmt.Fprint(w, `{"version":{"distribution":"opensearch","number":"2.19.6"}}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var actions []string
	var items []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Text()
		var m map[string]json.RawMessage
		json.Unmarshal([]byte(line), &m)
		if _, ok := m["index"]; ok {
			actions = append(actions, line)
			items = append(items, `{"index":{"status":201,"result":"created"}}`)
		}
	}
	b.mu.Lock()
	b.requests = append(b.requests, actions)
	b.sizes = append(b.sizes, len(body))
	b.mu.Unlock()
	fmt.Fprintf(w, `{"errors":false,"items":[%s]}`, strings.Join(items, ","))
}

// TestRequestSplitting checks that a flush's requests hold at most
// batch.size actions and bulk.size.bytes bytes (a larger action alone),
// never the same id twice, and that the writes of an id keep their order
// across requests.
func TestRequestSplitting(t *testing.T) {
	rec := &bulkRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	s, err := New(t.Context(), map[string]string{"connection.url": srv.URL, "schema.ignore": "true",
		"batch.size": "7", "bulk.size.bytes": "1500", "max.in.flight.requests": "3"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var recs []sink.Record
	for i := range 200 {
		id := int32(i % 23)
		label := "x"
		if i == 50 {
			label = strings.Repeat("y", 3000) // larger than bulk.size.bytes
		}
		recs = append(recs, splitRec(i, id, label))
	}
	if err := s.Put(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	seen := map[string][]int64{} // id -> versions in the order requests were sent (per lane)
	total := 0
	for i, req := range rec.requests {
		if len(req) > 7 {
			t.Errorf("request %d: %d actions, batch.size 7", i, len(req))
		}
		if rec.sizes[i] > 1500 && len(req) > 1 {
			t.Errorf("request %d: %d bytes in %d actions, bulk.size.bytes 1500", i, rec.sizes[i], len(req))
		}
		ids := map[string]bool{}
		for _, line := range req {
			var m struct {
				Index struct {
					ID      string `json:"_id"`
					Version int64  `json:"version"`
				} `json:"index"`
			}
			json.Unmarshal([]byte(line), &m)
			if ids[m.Index.ID] {
				t.Errorf("request %d holds id %s twice", i, m.Index.ID)
			}
			ids[m.Index.ID] = true
			seen[m.Index.ID] = append(seen[m.Index.ID], m.Index.Version)
			total++
		}
	}
	if total != 200 {
		t.Errorf("%d actions sent, want 200", total)
	}
	for id, vs := range seen {
		if !slices.IsSorted(vs) {
			t.Errorf("id %s written in order %v", id, vs)
		}
	}
}

func splitRec(off int, id int32, label string) sink.Record {
	return rec("split", int64(off), idKey(id), row(id, label))
}

// TestDropInvalidMessage: with drop.invalid.message a record without key is
// dropped and the rest written; without it Put refuses the record and
// buffers nothing of the batch.
func TestDropInvalidMessage(t *testing.T) {
	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprint("drop=", drop), func(t *testing.T) {
			rec := &bulkRecorder{}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			s, err := New(t.Context(), map[string]string{"connection.url": srv.URL, "schema.ignore": "true",
				"drop.invalid.message": fmt.Sprint(drop)}, WithLogger(testLog))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			recs := []sink.Record{splitRec(1, 1, "a"), splitRec(2, 2, "b"), splitRec(3, 3, "c")}
			recs[1].Key, recs[1].KeySchema = nil, nil
			err = s.Put(t.Context(), recs)
			var re *sink.RecordError
			if drop {
				if err != nil || s.Buffered() != 2 {
					t.Fatalf("put = %v with %d buffered, want nil with 2", err, s.Buffered())
				}
			} else if !errors.As(err, &re) || re.Record.Offset != 2 || !errors.Is(err, ErrInvalidRecord) || s.Buffered() != 0 {
				t.Fatalf("put = %v with %d buffered, want offset 2 refused and nothing buffered", err, s.Buffered())
			}
		})
	}
}
