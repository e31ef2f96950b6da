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

// cmdRun loads the configuration and runs the daemon until SIGINT or
// SIGTERM: exit code 0 after a clean shutdown, 1 when the daemon failed.
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

	log.Info("sluice starting", "version", versionString(), "config", file, "sources", len(cfg.Sources))
	d, err := daemon.New(cfg, daemon.WithLogger(log), daemon.WithMetrics(obs.NewMetrics()))
	if err != nil {
		log.Error("sluice failed", obs.KeyError, err)
		return exitFailure
	}
	if err := d.Run(ctx); err != nil {
		log.Error("sluice failed", obs.KeyError, err)
		return exitFailure
	}
	log.Info("sluice stopped")
	return exitOK
}
