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

// cmdRegistry runs the embedded schema registry alone, as the file's
// registry block says (storage in the kafka block's cluster, or a file),
// serving Confluent's REST API on registry.listen until SIGINT or SIGTERM.
// The file's sources and converters are not used.
func cmdRegistry(file string, stderr io.Writer) int {
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

	log.Info("sluice registry starting", "version", versionString(), "config", file,
		"listen", cfg.Registry.Listen, "storage", cfg.Registry.Storage)
	if err := daemon.RunRegistry(ctx, cfg, log, obs.NewMetrics()); err != nil {
		log.Error("sluice registry failed", obs.KeyError, err)
		return exitFailure
	}
	log.Info("sluice registry stopped")
	return exitOK
}
