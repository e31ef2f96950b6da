package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/internal/connectors"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/publish"
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
	if err := workerSecurity(cfg).Validate(); err != nil {
		fmt.Fprintf(stderr, "sluice: %s: security (security.protocol, sasl.*, ssl.*): %v\n", file, err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.RESTListen)
	if err != nil {
		log.Error("sluice worker failed", obs.KeyError, fmt.Errorf("rest.listen: %w", err))
		return exitFailure
	}
	defer ln.Close()

	// The capture connectors run through the daemon's pipeline, with the
	// process-wide settings of a daemon built for the worker: its brokers,
	// JSON converters (a connector may set its own), no HTTP server of its
	// own (the REST API below) and offsets in the offsets topic.
	dcfg := daemon.DefaultConfig()
	dcfg.Kafka.Brokers = cfg.Brokers()
	dcfg.Kafka.Security = workerSecurity(cfg)
	d, err := daemon.New(dcfg, daemon.WithLogger(log), daemon.WithMetrics(obs.NewMetrics()), daemon.WithoutHTTP(),
		daemon.WithoutMemoryLimit(), daemon.WithOffsetStore(noOffsets{}), daemon.WithHost(distributed(cfg, dcfg, ln, log)))
	if err != nil {
		log.Error("sluice worker failed", obs.KeyError, err)
		return exitFailure
	}
	log.Info("sluice worker starting", "version", versionString(), "config", file,
		"group", cfg.GroupID, "rest", ln.Addr().String())
	if err := d.Run(ctx); err != nil {
		log.Error("sluice worker failed", obs.KeyError, err)
		return exitFailure
	}
	log.Info("sluice worker stopped")
	return exitOK
}

// distributed is the host of `sluice worker`: a distributed Connect worker
// with the file and capture plugins, its REST API on ln.
func distributed(cfg runtime.WorkerConfig, dcfg daemon.Config, ln net.Listener, log *slog.Logger) daemon.Host {
	return func(ctx context.Context, env *daemon.Env) error {
		lvl, _ := obs.ParseLevel(cfg.Log.Level)
		plugins := append(runtime.DefaultPlugins(versionString()), connectors.Plugins(connectors.Options{
			Version: versionString(), Base: dcfg, Runner: env})...)
		// The worker's group, internal topics, sink consumers and dead
		// letter producers connect as its capture connectors publish
		// (dcfg.Kafka's client.id and security).
		kopts, err := env.KafkaOptions()
		if err != nil {
			return err
		}
		w, err := runtime.NewWorker(cfg, runtime.WorkerOptions{Version: versionString(), Plugins: plugins,
			Loggers: runtime.NewLoggers(log.Handler(), lvl), KafkaOptions: kopts})
		if err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		srv := &http.Server{Handler: w.Forward(rest.New(w, rest.Config{BasicAuth: cfg.RESTBasicAuth, BearerTokens: cfg.RESTBearerTokens}, log)), ReadHeaderTimeout: 10 * time.Second}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("rest server", obs.KeyError, err)
				cancel()
			}
		}()
		log.Info("sluice worker REST API", "rest", ln.Addr().String(), "url", w.URL())
		runErr := w.Run(ctx)
		cancel()
		shut, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		_ = srv.Shutdown(shut)
		wg.Wait()
		return runErr
	}
}

// noOffsets is the daemon's own offset store in a worker, which keeps every
// position in the offsets topic instead: it holds nothing.
type noOffsets struct{}

func (noOffsets) Load(string) ([]byte, error) { return nil, nil }
func (noOffsets) Save(string, []byte) error   { return nil }

// workerSecurity is worker.yaml's TLS and SASL settings as the daemon's
// kafka.security, which every Kafka client of the worker applies.
func workerSecurity(cfg runtime.WorkerConfig) publish.SecurityConfig {
	protocol := cfg.SecurityProtocol
	if protocol == "" {
		protocol = "PLAINTEXT"
	}
	return publish.SecurityConfig{
		Protocol:           protocol,
		SASLMechanism:      cfg.SASLMechanism,
		SASLUsername:       cfg.SASLUsername,
		SASLPassword:       cfg.SASLPassword,
		CAFile:             cfg.SSLCALocation,
		CertFile:           cfg.SSLCertLocation,
		KeyFile:            cfg.SSLKeyLocation,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
	}
}
