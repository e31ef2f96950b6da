package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/obs"
)

// cmdRun loads the configuration and serves until SIGINT or SIGTERM.
// Sources are not started yet; the wiring lands in internal/daemon.
func cmdRun(file string, stderr io.Writer) int {
	cfg, err := daemon.Load(file)
	if err != nil {
		printLoadError(stderr, err)
		return exitUsage
	}
	log, err := obs.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Info("sluice starting", "version", versionString(), "config", file)
	srv := obs.NewServer(cfg.HTTP.Addr, obs.NewMetrics(), nil, log)
	log.Warn("no sources run yet", "configured", len(cfg.Sources))
	if err := srv.Run(ctx); err != nil {
		log.Error("sluice failed", obs.KeyError, err)
		return exitFailure
	}
	log.Info("sluice stopped")
	return exitOK
}
