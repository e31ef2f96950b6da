package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

func newTestSink(t testing.TB, cfg map[string]string, opts ...Option) *Sink {
	t.Helper()
	m := map[string]string{"connection.url": esURL(t)}
	maps.Copy(m, cfg)
	s, err := New(t.Context(), m, append([]Option{WithLogger(testLog)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func putFlush(t testing.TB, s *Sink, recs ...sink.Record) {
	t.Helper()
	if err := s.Put(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func rec(topic string, offset int64, key any, value any) sink.Record {
	r := sink.Record{Topic: topic, OriginalTopic: topic, Offset: offset, KeySchema: idKeySchema, Key: key, ValueSchema: rowSchema, Value: value}
	if value == nil {
		r.ValueSchema = nil
	}
	return r
}

func idKey(id int32) *event.Struct { return event.NewStruct(idKeySchema, id) }

// TestExternalVersions writes documents, deletes one, then writes older
// records of the same ids again (a replay, a late retry): the engine keeps
// the newer state and the sink counts the conflicts as success.
func TestExternalVersions(t *testing.T) {
	url := esURL(t)
	index := uniqueIndex(t, url, "versions")
	s := newTestSink(t, nil)
	if e := s.Engine(); e.Distribution == "" || e.Major == 0 {
		t.Errorf("engine = %+v", e)
	}
	putFlush(t, s,
		rec(index, 10, idKey(1), row(1, "one")),
		rec(index, 11, idKey(2), row(2, "two")),
		rec(index, 12, idKey(3), row(3, "three")),
		rec(index, 13, idKey(1), nil), // delete
		rec(index, 14, idKey(2), row(2, "TWO")),
	)
	want := map[string]string{
		"2": `{"id":2,"label":"TWO","price":12.50,"at":1700000000123}`,
		"3": `{"id":3,"label":"three","price":12.50,"at":1700000000123}`,
	}
	check := func(phase string) {
		t.Helper()
		got := allDocs(t, url, index)
		if !maps.Equal(got, want) {
			t.Errorf("%s: documents %v, want %v", phase, got, want)
		}
	}
	check("first write")
	// The same records again, out of order, and an older one of each id.
	putFlush(t, s,
		rec(index, 14, idKey(2), row(2, "TWO")),
		rec(index, 10, idKey(1), row(1, "one")), // older than its delete
		rec(index, 11, idKey(2), row(2, "two")),
		rec(index, 9, idKey(3), row(3, "old three")),
	)
	check("replay")
	// A newer record does overwrite, and a newer one brings a deleted id back.
	putFlush(t, s, rec(index, 20, idKey(3), row(3, "new three")), rec(index, 21, idKey(1), row(1, "again")))
	want["3"] = `{"id":3,"label":"new three","price":12.50,"at":1700000000123}`
	want["1"] = `{"id":1,"label":"again","price":12.50,"at":1700000000123}`
	check("newer")
}

// TestUpsert merges partial documents with write.method=upsert.
func TestUpsert(t *testing.T) {
	url := esURL(t)
	index := uniqueIndex(t, url, "upsert")
	s := newTestSink(t, map[string]string{"write.method": "upsert", "schema.ignore": "true"})
	partial := event.StructOf("p", event.NewField("id", event.Int32()), event.NewField("extra", event.String()))
	r := rec(index, 2, idKey(1), event.NewStruct(partial, int32(1), "x"))
	r.ValueSchema = partial
	putFlush(t, s, rec(index, 1, idKey(1), row(1, "one")), r, rec(index, 3, idKey(2), row(2, "two")), rec(index, 4, idKey(2), nil))
	// The engine merges the update into the stored source and writes it
	// again as its own JSON: 12.50 comes back as 12.5.
	want := map[string]string{"1": `{"id":1,"label":"one","price":12.5,"at":1700000000123,"extra":"x"}`}
	if got := allDocs(t, url, index); !maps.Equal(got, want) {
		t.Errorf("documents %v, want %v", got, want)
	}
}

// TestMalformed writes into an index with a strict mapping: documents the
// engine refuses come back from Flush one by one as *sink.RecordError in
// offset order, the others are written; with behavior.on.malformed.documents
// warn they are dropped.
func TestMalformed(t *testing.T) {
	url := esURL(t)
	for _, behavior := range []string{"fail", "warn"} {
		t.Run(behavior, func(t *testing.T) {
			index := uniqueIndex(t, url, "malformed-"+behavior)
			if st, body := esDo(t, url, http.MethodPut, "/"+index, `{"mappings":{"dynamic":"strict","properties":{"id":{"type":"integer"},"n":{"type":"integer"}}}}`); st != 200 {
				t.Fatalf("create index: %d %s", st, body)
			}
			s := newTestSink(t, map[string]string{"behavior.on.malformed.documents": behavior})
			doc := func(off int64, id int32, n string) sink.Record {
				return sink.Record{Topic: index, OriginalTopic: index, Offset: off, KeySchema: idKeySchema, Key: idKey(id),
					Value: []event.MapEntry{{Key: "id", Value: int64(id)}, {Key: "n", Value: n}}}
			}
			extra := doc(3, 3, "3")
			extra.Value = []event.MapEntry{{Key: "id", Value: int64(3)}, {Key: "unknown", Value: "x"}}
			if err := s.Put(t.Context(), []sink.Record{doc(1, 1, "1"), doc(2, 2, "not a number"), extra, doc(4, 4, "4")}); err != nil {
				t.Fatal(err)
			}
			var refused []int64
			for range 5 {
				err := s.Flush(t.Context())
				if err == nil {
					break
				}
				var re *sink.RecordError
				var de *DocumentError
				if !errors.As(err, &re) || !errors.As(err, &de) {
					t.Fatalf("flush: %v", err)
				}
				refused = append(refused, re.Record.Offset)
				t.Logf("refused: %v", err)
			}
			want := []int64{2, 3}
			if behavior == "warn" {
				want = nil
			}
			if fmt.Sprint(refused) != fmt.Sprint(want) {
				t.Errorf("refused offsets %v, want %v", refused, want)
			}
			wantDocs := map[string]string{"1": `{"id":1,"n":"1"}`, "4": `{"id":4,"n":"4"}`}
			if got := allDocs(t, url, index); !maps.Equal(got, wantDocs) {
				t.Errorf("documents %v, want %v", got, wantDocs)
			}
		})
	}
}

// TestMapping creates the index from the Connect schema.
func TestMapping(t *testing.T) {
	url := esURL(t)
	index := uniqueIndex(t, url, "mapping")
	s := newTestSink(t, nil)
	putFlush(t, s, rec(index, 1, idKey(1), row(1, "one")))
	st, body := esDo(t, url, http.MethodGet, "/"+index+"/_mapping", nil)
	if st != 200 {
		t.Fatalf("mapping: %d %s", st, body)
	}
	var m map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	want := `{"properties":{"at":{"type":"date","format":"epoch_millis||strict_date_optional_time"},"id":{"type":"integer"},"label":{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}},"price":{"type":"scaled_float","scaling_factor":100.0}}}`
	if got := string(m[index].Mappings); got != want {
		t.Errorf("mapping\n%s\nwant\n%s", got, want)
	}
	// A date query works on the Timestamp field.
	esDo(t, url, http.MethodPost, "/"+index+"/_refresh", nil)
	st, body = esDo(t, url, http.MethodPost, "/"+index+"/_count", `{"query":{"range":{"at":{"gte":"2023-11-14T22:13:20Z"}}}}`)
	if st != 200 || !json.Valid(body) || string(body[:10]) != `{"count":1` {
		t.Errorf("date range count: %d %s", st, body)
	}
}

// TestDecimalBig checks a decimal keeps its digits in the document.
func TestDecimalBig(t *testing.T) {
	url := esURL(t)
	index := uniqueIndex(t, url, "decimal")
	s := newTestSink(t, map[string]string{"decimal.mapping": "keyword"})
	v := event.NewStruct(rowSchema, int32(1), nil, new(big.Int).SetInt64(-123456789012345678), nil)
	putFlush(t, s, rec(index, 1, idKey(1), v))
	want := map[string]string{"1": `{"id":1,"label":null,"price":-1234567890123456.78,"at":null}`}
	if got := allDocs(t, url, index); !maps.Equal(got, want) {
		t.Errorf("documents %v, want %v", got, want)
	}
}

// TestConnectionRefused: New keeps trying while no node answers and fails
// when its context ends.
func TestConnectionRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := New(ctx, map[string]string{"connection.url": "http://127.0.0.1:1"})
	if err == nil || !strings.Contains(err.Error(), "GET /") {
		t.Fatalf("New against a closed port = %v, want the GET / error", err)
	}
}

// TestWaitsForNode: New started before the node answers (a proxy that is
// down answers 503 to GET /) connects once it does.
func TestWaitsForNode(t *testing.T) {
	url := esURL(t)
	var up atomic.Bool
	rp := httputil.NewSingleHostReverseProxy(mustURL(t, url))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer srv.Close()
	time.AfterFunc(700*time.Millisecond, func() { up.Store(true) })
	s, err := New(t.Context(), map[string]string{"connection.url": srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !up.Load() || s.Engine().Version == "" {
		t.Errorf("connected while the node was down? engine %+v", s.Engine())
	}
}

func mustURL(t *testing.T, s string) *neturl.URL {
	u, err := neturl.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
