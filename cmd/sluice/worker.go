package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// cmdWorker runs a distributed worker (worker.yaml) until SIGINT or
// SIGTERM: exit code 0 after a clean shutdown, 1 when the worker failed.
func cmdWorker(file string, stderr io.Writer) int {
	cfg, err := runtime.LoadWorkerConfig(file)
	if err != nil {
		printLoadError(stderr, err)
		return exitUsage
	}
	log, err := obs.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return exitUsage
	}
	lvl, _ := obs.ParseLevel(cfg.Log.Level)
	w, err := runtime.NewWorker(cfg, runtime.WorkerOptions{Version: versionString(),
		Loggers: runtime.NewLoggers(log.Handler(), lvl)})
	if err != nil {
		log.Error("sluice worker failed", obs.KeyError, err)
		return exitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.RESTListen)
	if err != nil {
		log.Error("sluice worker failed", obs.KeyError, fmt.Errorf("rest.listen: %w", err))
		return exitFailure
	}
	srv := &http.Server{Handler: w.Forward(rest.New(w, rest.Config{}, log)), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("rest server", obs.KeyError, err)
			stop()
		}
	}()
	log.Info("sluice worker starting", "version", versionString(), "config", file,
		"group", cfg.GroupID, "rest", ln.Addr().String(), "url", w.URL())
	runErr := w.Run(ctx)
	stop()
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	if runErr != nil {
		log.Error("sluice worker failed", obs.KeyError, runErr)
		return exitFailure
	}
	log.Info("sluice worker stopped")
	return exitOK
}
