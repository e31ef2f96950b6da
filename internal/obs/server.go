package obs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// DefaultShutdownTimeout is how long [Server.Run] waits for in-flight
// requests once its context ends.
const DefaultShutdownTimeout = 10 * time.Second

// Server is the daemon's HTTP endpoint: /metrics, /healthz and /readyz, plus
// whatever other packages mount with [Server.Handle] (the Kafka Connect REST
// API lives on the same address).
type Server struct {
	addr     string
	mux      *http.ServeMux
	log      *slog.Logger
	ready    func() error
	shutdown time.Duration
}

// NewServer returns a server for addr (host:port; port 0 picks a free one).
// It does not listen until Run or Serve. ready reports readiness for
// /readyz: nil means ready; a nil func means always ready.
func NewServer(addr string, m *Metrics, ready func() error, log *slog.Logger) *Server {
	s := &Server{
		addr:     addr,
		mux:      http.NewServeMux(),
		log:      log,
		ready:    ready,
		shutdown: DefaultShutdownTimeout,
	}
	s.mux.Handle("GET /metrics", m.Handler())
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ok\n")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	return s
}

// SetShutdownTimeout changes how long Run waits for in-flight requests.
func (s *Server) SetShutdownTimeout(d time.Duration) { s.shutdown = d }

// Handle mounts h on pattern (net/http ServeMux syntax, e.g.
// "GET /connectors/{name}"). It is safe to call while the server runs.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the server's routes, for tests that use httptest.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.ready != nil {
		if err := s.ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
	}
	fmt.Fprint(w, "ready\n")
}

// Run listens on the configured address and serves until ctx ends, then
// shuts down gracefully. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then stops accepting, waits up to the
// shutdown timeout for in-flight requests and closes ln. It returns nil after
// a clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("http server listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdown)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("http shutdown %s: %w", ln.Addr(), err)
	}
	s.log.Info("http server stopped", "addr", ln.Addr().String())
	return nil
}

// HandlePprof mounts Go's profiling endpoints (net/http/pprof) under
// /debug/pprof/: the index, cmdline, profile (CPU), symbol, trace and the
// named profiles (heap, allocs, goroutine, block, mutex, threadcreate).
func (s *Server) HandlePprof() {
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
