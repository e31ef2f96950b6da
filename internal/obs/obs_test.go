package obs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/internal/obs"
)

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	log, err := obs.NewLogger(&buf, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", obs.KeyTable, "public.orders", obs.KeyOffset, 42)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("want exactly one JSON record, got %q: %v", buf.String(), err)
	}
	if rec["msg"] != "shown" || rec["level"] != "WARN" || rec["table"] != "public.orders" || rec["offset"] != float64(42) {
		t.Errorf("record = %v", rec)
	}

	buf.Reset()
	log, err = obs.NewLogger(&buf, "debug", "text")
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("d", obs.KeyTopic, "t1")
	if got := buf.String(); !strings.Contains(got, "level=DEBUG msg=d topic=t1\n") {
		t.Errorf("text record = %q", got)
	}
}

func TestNewLoggerErrors(t *testing.T) {
	tests := []struct{ level, format, want string }{
		{"loud", "text", `unknown log level "loud" (want debug, info, warn or error)`},
		{"info", "xml", `unknown log format "xml" (want text or json)`},
	}
	for _, tt := range tests {
		_, err := obs.NewLogger(io.Discard, tt.level, tt.format)
		if err == nil || err.Error() != tt.want {
			t.Errorf("NewLogger(%q, %q) = %v, want %q", tt.level, tt.format, err, tt.want)
		}
	}
}

func TestMetricsHandler(t *testing.T) {
	m := obs.NewMetrics()
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: obs.Namespace, Name: "test_events_total", Help: "Test."})
	if err := m.Register(c); err != nil {
		t.Fatal(err)
	}
	if err := m.Register(c); err == nil {
		t.Error("registering the same collector twice succeeded")
	}
	c.Add(3)
	srv := httptest.NewServer(obs.NewServer("", m, nil, slog.New(slog.DiscardHandler)).Handler())
	defer srv.Close()
	body := get(t, srv.URL+"/metrics", http.StatusOK)
	if !strings.Contains(body, "\nsluice_test_events_total 3\n") {
		t.Errorf("metrics lack the counter:\n%s", body)
	}
	if !strings.Contains(body, "\ngo_goroutines ") {
		t.Errorf("metrics lack the Go collector")
	}
	// A second registry is independent: no global state.
	other := httptest.NewServer(obs.NewMetrics().Handler())
	defer other.Close()
	if body2 := get(t, other.URL, http.StatusOK); strings.Contains(body2, "sluice_test_events_total") {
		t.Error("a new Metrics sees another's collectors")
	}
}

func get(t *testing.T, url string, wantStatus int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s: status %d, want %d; body %q", url, resp.StatusCode, wantStatus, b)
	}
	return string(b)
}

func TestServerServe(t *testing.T) {
	var ready atomic.Bool
	s := obs.NewServer("", obs.NewMetrics(), func() error {
		if !ready.Load() {
			return errors.New("sources starting")
		}
		return nil
	}, slog.New(slog.DiscardHandler))

	release := make(chan struct{})
	entered := make(chan struct{})
	s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	}))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	if got := get(t, base+"/healthz", http.StatusOK); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	if got := get(t, base+"/readyz", http.StatusServiceUnavailable); got != "not ready: sources starting\n" {
		t.Errorf("/readyz = %q", got)
	}
	ready.Store(true)
	if got := get(t, base+"/readyz", http.StatusOK); got != "ready\n" {
		t.Errorf("/readyz = %q", got)
	}
	// Mounting after the server started works.
	s.Handle("GET /connectors", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "[]") }))
	if got := get(t, base+"/connectors", http.StatusOK); got != "[]" {
		t.Errorf("/connectors = %q", got)
	}

	// Shutdown is graceful: an in-flight request completes.
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	<-entered
	cancel()
	close(release)
	if got := <-slow; got != "done" {
		t.Errorf("in-flight request got %q, want done", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after shutdown", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

func TestServerRunListenError(t *testing.T) {
	s := obs.NewServer("256.0.0.1:bad", obs.NewMetrics(), nil, slog.New(slog.DiscardHandler))
	err := s.Run(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "http listen 256.0.0.1:bad: ") {
		t.Errorf("Run = %v, want a listen error", err)
	}
}

func TestPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		srv := obs.NewServer("127.0.0.1:0", obs.NewMetrics(), nil, slog.New(slog.DiscardHandler))
		if on {
			srv.HandlePprof()
		}
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/heap?debug=1"} {
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			switch {
			case !on && rec.Code != http.StatusNotFound:
				t.Errorf("without HandlePprof, GET %s = %d, want 404", path, rec.Code)
			case on && rec.Code != http.StatusOK:
				t.Errorf("GET %s = %d, want 200: %s", path, rec.Code, rec.Body)
			case on && path == "/debug/pprof/goroutine?debug=1" && !strings.Contains(rec.Body.String(), "goroutine profile: total"):
				t.Errorf("GET %s body does not look like a goroutine profile: %.200s", path, rec.Body)
			case on && path == "/debug/pprof/heap?debug=1" && !strings.Contains(rec.Body.String(), "heap profile:"):
				t.Errorf("GET %s body does not look like a heap profile: %.200s", path, rec.Body)
			}
		}
	}
}
