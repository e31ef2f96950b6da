package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/sluice-cdc/sluice/internal/connectors"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// cmdRun loads the configuration and runs Sluice standalone until SIGINT or
// SIGTERM: the Connect runtime with the file's sources and connectors, the
// REST API on http.addr. Exit code 0 after a clean shutdown, 1 when a
// connector of the file failed or the daemon did.
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
	lvl, _ := obs.ParseLevel(cfg.Log.Level)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	log.Info("sluice starting", "version", versionString(), "config", file,
		"sources", len(cfg.Sources), "connectors", len(cfg.Connectors), "rest", cfg.HTTP.Addr)
	d, err := daemon.New(cfg, daemon.WithLogger(log), daemon.WithMetrics(obs.NewMetrics()),
		daemon.WithHost(standalone(cfg, log, lvl)))
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

// standalone is the host of `sluice run`: a standalone Connect runtime whose
// connectors are the file's sources (in Debezium's flat form) and
// connectors, with source offsets in data.dir's offsets file and the REST
// API beside /metrics. Connectors created through the API last until the
// process ends, as in Kafka Connect standalone. A task of a connector from
// the file that fails stops the process (exit code 1), so that the service
// manager sees it; one created through the API is only reported FAILED.
func standalone(cfg daemon.Config, log *slog.Logger, lvl slog.Level) daemon.Host {
	return func(ctx context.Context, env *daemon.Env) error {
		fromFile := map[string]bool{}
		for _, s := range cfg.Sources {
			fromFile[s.Name] = true
		}
		for _, c := range cfg.Connectors {
			fromFile[c.Name] = true
		}
		var once sync.Once
		failed := make(chan error, 1)
		plugins := append(runtime.DefaultPlugins(versionString()), connectors.Plugins(connectors.Options{
			Version: versionString(), Base: cfg, Runner: env, Legacy: env.Offsets()})...)
		// Every client of the runtime (sink consumers, dead letter
		// producers, the admin client) connects with kafka.security.
		kopts, err := env.KafkaOptions()
		if err != nil {
			return err
		}
		h, err := runtime.NewHerder(runtime.Config{
			WorkerID:     workerID(cmp.Or(env.Addr(), cfg.HTTP.Addr)),
			Brokers:      env.Brokers(),
			KafkaOptions: kopts,
			Offsets:      env.Offsets(),
			Version:      versionString(),
			Plugins:      plugins,
			Loggers:      runtime.NewLoggers(log.Handler(), lvl),
			OnTaskFailed: func(name string, id int, err error) {
				if fromFile[name] {
					once.Do(func() { failed <- fmt.Errorf("connector %s: task %d failed: %w", name, id, err) })
				}
			},
		})
		if err != nil {
			return err
		}
		defer h.Close()
		env.Handle("/", rest.New(h, rest.Config{BasicAuth: cfg.REST.BasicAuth, BearerTokens: cfg.REST.BearerTokens}, log))
		for _, s := range cfg.Sources {
			if _, err := h.CreateConnector(s.Name, daemon.SourceToConnect(s, cfg)); err != nil {
				return fmt.Errorf("source %q: %w", s.Name, err)
			}
		}
		for _, c := range cfg.Connectors {
			if _, err := h.CreateConnector(c.Name, c.Config); err != nil {
				return fmt.Errorf("connector %q: %w", c.Name, err)
			}
		}
		if len(cfg.Sources)+len(cfg.Connectors) == 0 {
			log.Warn("no sources configured", "rest", cfg.HTTP.Addr)
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-failed:
			return err
		}
	}
}

// workerID is the worker_id the REST API reports: host:port of http.addr,
// the host name when the address leaves the host out.
func workerID(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}
