package elasticsearch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// chaosProxy stands between the sink and the node: it answers a share of
// bulk requests 429 (or all of them while down), and in the responses of the
// others rewrites a share of successful items to 429 rejections — items the
// node did write, which the sink must send again and then see as version
// conflicts.
type chaosProxy struct {
	rejectShare, itemShare float64
	down                   atomic.Bool
	hang                   atomic.Bool // bulk requests get no answer until the client gives up
	rejected, rewritten    atomic.Int64
	bulks                  atomic.Int64
	mu                     sync.Mutex
	rng                    *rand.Rand
}

func (p *chaosProxy) roll(share float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < share
}

// newChaosProxy starts a proxy to target; it is closed at the end of the test.
func newChaosProxy(t testing.TB, target string, rejectShare, itemShare float64) (*chaosProxy, string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &chaosProxy{rejectShare: rejectShare, itemShare: itemShare, rng: rand.New(rand.NewPCG(1, 2))}
	release := make(chan struct{})
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/_bulk") || resp.StatusCode != 200 {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var r map[string]any
		if err := json.Unmarshal(body, &r); err != nil {
			return err
		}
		items, _ := r["items"].([]any)
		for _, it := range items {
			for op, res := range it.(map[string]any) {
				st, _ := res.(map[string]any)["status"].(float64)
				if st < 300 && p.roll(p.itemShare) {
					p.rewritten.Add(1)
					it.(map[string]any)[op] = map[string]any{"_index": res.(map[string]any)["_index"], "_id": res.(map[string]any)["_id"], "status": 429,
						"error": map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution (chaos proxy)"}}
					r["errors"] = true
				}
			}
		}
		out, err := json.Marshal(r)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(out))
		resp.ContentLength = int64(len(out))
		resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			p.bulks.Add(1)
			if p.hang.Load() {
				// Read the request, so that the server notices the client
				// hanging up (it watches the connection once the body is read).
				io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			if p.down.Load() || p.roll(p.rejectShare) {
				p.rejected.Add(1)
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"error":{"root_cause":[],"type":"es_rejected_execution_exception","reason":"rejected execution of bulk (chaos proxy)"},"status":429}`)
				return
			}
		}
		// Plain responses, which ModifyResponse can read.
		r.Header.Del("Accept-Encoding")
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first
	return p, srv.URL
}

// TestBackPressure writes 3000 documents and their updates through a proxy
// answering 429 to a third of the bulk requests and rejecting a tenth of
// the items it lets through: every document arrives in its last version.
func TestBackPressure(t *testing.T) {
	url := esURL(t)
	index := uniqueIndex(t, url, "backpressure")
	p, proxyURL := newChaosProxy(t, url, 0.33, 0.1)
	s := newTestSink(t, map[string]string{"connection.url": proxyURL, "batch.size": "100", "max.in.flight.requests": "4",
		"max.retries": "40", "retry.backoff.ms": "2"})
	want := map[string]string{}
	off := int64(0)
	for round := range 3 {
		var recs []sink.Record
		for id := range int32(1000) {
			off++
			label := fmt.Sprintf("r%d-%d", round, id)
			if round == 2 && id%7 == 0 {
				recs = append(recs, rec(index, off, idKey(id), nil))
				delete(want, strconv.Itoa(int(id)))
				continue
			}
			recs = append(recs, rec(index, off, idKey(id), row(id, label)))
			want[strconv.Itoa(int(id))] = fmt.Sprintf(`{"id":%d,"label":%q,"price":12.50,"at":1700000000123}`, id, label)
		}
		putFlush(t, s, recs...)
	}
	got := allDocs(t, url, index)
	if !maps.Equal(got, want) {
		n := 0
		for k, v := range want {
			if got[k] != v && n < 5 {
				t.Errorf("doc %s = %q, want %q", k, got[k], v)
				n++
			}
		}
		t.Errorf("%d documents, want %d", len(got), len(want))
	}
	if p.rejected.Load() == 0 || p.rewritten.Load() == 0 {
		t.Errorf("the proxy rejected %d requests and %d items: no back-pressure exercised", p.rejected.Load(), p.rewritten.Load())
	}
	t.Logf("%d bulk requests, %d rejected whole, %d items rejected", p.bulks.Load(), p.rejected.Load(), p.rewritten.Load())
}

// TestFlushKeepsBuffer: while every bulk request is refused, Flush fails
// with a retriable error after max.retries and keeps its buffer; once the
// node accepts again, the next Flush writes it all.
func TestFlushKeepsBuffer(t *testing.T) {
	url := esURL(t)
	index := uniqueIndex(t, url, "keep")
	p, proxyURL := newChaosProxy(t, url, 0, 0)
	s := newTestSink(t, map[string]string{"connection.url": proxyURL, "max.retries": "2", "retry.backoff.ms": "1",
		"max.in.flight.requests": "1"})
	p.down.Store(true)
	if err := s.Put(t.Context(), []sink.Record{rec(index, 1, idKey(1), row(1, "one")), rec(index, 2, idKey(2), row(2, "two"))}); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(t.Context())
	var se *StatusError
	if err == nil || !isRetriable(err) || !errors.As(err, &se) || se.Status != 429 {
		t.Fatalf("flush while down = %v, want a retriable 429", err)
	}
	if p.rejected.Load() != 3 || s.Buffered() != 2 {
		t.Errorf("%d requests rejected (want 3: one and 2 retries), %d buffered (want 2)", p.rejected.Load(), s.Buffered())
	}
	p.down.Store(false)
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"1": `{"id":1,"label":"one","price":12.50,"at":1700000000123}`,
		"2": `{"id":2,"label":"two","price":12.50,"at":1700000000123}`,
	}
	if got := allDocs(t, url, index); !maps.Equal(got, want) {
		t.Errorf("documents %v, want %v", got, want)
	}
}

// TestFlushTimeout: while the node does not answer bulk requests, Flush
// gives up after flush.timeout.ms with a retriable error and keeps its
// buffer; each request is cut after read.timeout.ms and retried.
func TestFlushTimeout(t *testing.T) {
	url := esURL(t)
	index := uniqueIndex(t, url, "timeout")
	p, proxyURL := newChaosProxy(t, url, 0, 0)
	s := newTestSink(t, map[string]string{"connection.url": proxyURL, "flush.timeout.ms": "1500", "read.timeout.ms": "200", "schema.ignore": "true",
		"max.retries": "100", "retry.backoff.ms": "1", "max.in.flight.requests": "1"})
	p.hang.Store(true)
	if err := s.Put(t.Context(), []sink.Record{rec(index, 1, idKey(1), row(1, "one"))}); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(t.Context())
	if err == nil || !isRetriable(err) || !strings.Contains(err.Error(), "timed out after 1.5s (flush.timeout.ms)") {
		t.Fatalf("flush while the node hangs = %v, want a retriable flush timeout", err)
	}
	if p.bulks.Load() < 2 || s.Buffered() != 1 {
		t.Errorf("%d bulk requests (want several: read.timeout.ms cuts them), %d buffered (want 1)", p.bulks.Load(), s.Buffered())
	}
	p.hang.Store(false)
	if err := s.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"1": `{"id":1,"label":"one","price":12.50,"at":1700000000123}`}
	if got := allDocs(t, url, index); !maps.Equal(got, want) {
		t.Errorf("documents %v, want %v", got, want)
	}
}
