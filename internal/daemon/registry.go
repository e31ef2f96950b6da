package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/publish"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/schema/registry"
)

// The embedded schema registry (schema/registry) serves Confluent's REST API
// on its own listener, registry.listen (default :8081), whether it runs
// alone (`sluice registry`) or inside `sluice run` because a converter says
// schema.registry.url: embedded. Confluent clients take a base URL and
// append /subjects/..., so the API is served at the root of that listener
// rather than under a prefix of http.addr; consumers point their
// schema.registry.url at http://<host>:<port of registry.listen>.

// usesEmbeddedRegistry reports whether a converter asks for the embedded
// registry.
func usesEmbeddedRegistry(c Config) bool {
	for _, cc := range []ConverterConfig{c.Converters.Key, c.Converters.Value} {
		if cc.Type == "avro" && cc.SchemaRegistryURL == avroconv.Embedded {
			return true
		}
	}
	return false
}

// validateRegistry checks the registry block (always: `sluice registry`
// serves it whatever the converters say) and what it needs from the rest
// of the file.
func validateRegistry(c Config) error {
	var p config.Problems
	p.Merge("", c.Registry.Validate())
	if _, port, err := net.SplitHostPort(c.Registry.Listen); err != nil {
		p.Addf("listen", "address %q must be host:port or :port", c.Registry.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.Addf("listen", "address %q has a bad port", c.Registry.Listen)
	}
	return p.Err()
}

// Registry errors.
var (
	// ErrRegistryKafka: kafka storage needs the kafka block's brokers.
	ErrRegistryKafka = errors.New("embedded registry: kafka storage needs kafka.bootstrap.servers")
)

// embeddedRegistry is a running embedded registry: its base URL and the
// channel its goroutines report their end on.
type embeddedRegistry struct {
	url  string
	done chan error // one value, once both the store and HTTP have stopped
}

// startRegistry starts the embedded registry on cfg.Registry.Listen with
// brokers for kafka storage, and waits until its store has caught up (so
// that the ids it hands out continue the log). The registry runs until ctx
// ends; then done receives its error (nil after a clean stop).
func startRegistry(ctx context.Context, cfg Config, brokers []string, log *slog.Logger, reg prometheus.Registerer) (*embeddedRegistry, error) {
	rc := cfg.Registry
	opts := []registry.Option{registry.WithLogger(log)}
	if reg != nil {
		opts = append(opts, registry.WithRegisterer(reg))
	}
	if rc.Storage == "" || rc.Storage == registry.StorageKafka {
		if len(brokers) == 0 {
			return nil, ErrRegistryKafka
		}
		// The store's clients connect as the publishers do (client.id,
		// kafka.security), to brokers (the embedded broker's address
		// when kafka.bootstrap.servers is embedded).
		kc := cfg.Kafka
		kc.Brokers = brokers
		kopts, err := publish.ConnOptions(kc, log)
		if err != nil {
			return nil, fmt.Errorf("embedded registry: kafka: %w", err)
		}
		opts = append(opts, registry.WithKafka(brokers, kopts...))
	}
	srv, err := registry.New(ctx, rc, opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded registry: %w", err)
	}
	ln, err := net.Listen("tcp", rc.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded registry: listen on registry.listen %s: %w", rc.Listen, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}

	runCtx, stop := context.WithCancel(ctx)
	storeDone := make(chan error, 1)
	httpDone := make(chan error, 1)
	go func() { storeDone <- srv.Run(runCtx) }()
	go func() {
		err := hs.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		httpDone <- err
	}()
	er := &embeddedRegistry{url: baseURL(ln.Addr()), done: make(chan error, 1)}
	go func() {
		var storeErr, httpErr error
		select {
		case storeErr = <-storeDone:
		case httpErr = <-httpDone:
		case <-runCtx.Done():
		}
		stop()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = hs.Shutdown(sctx)
		cancel()
		if httpErr == nil {
			httpErr = <-httpDone
		}
		if storeErr == nil {
			if e := <-storeDone; !isContextErr(e) {
				storeErr = e
			}
		}
		if storeErr != nil {
			storeErr = fmt.Errorf("embedded registry store: %w", storeErr)
		}
		if httpErr != nil {
			httpErr = fmt.Errorf("embedded registry http: %w", httpErr)
		}
		er.done <- errors.Join(storeErr, httpErr)
	}()

	select {
	case <-srv.Ready():
		log.Info("embedded schema registry ready", "url", er.url, "storage", rc.Storage, "topic", rc.Topic)
		return er, nil
	case err := <-er.done:
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("embedded registry stopped before it was ready: %w", err)
	}
}

// baseURL is the URL clients in this process use to reach a listener: the
// loopback address when it listens on every interface.
func baseURL(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	host := ta.IP.String()
	if ta.IP.IsUnspecified() {
		host = "127.0.0.1"
		if ta.IP.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(ta.Port))
}

// RunRegistry runs the embedded schema registry alone (`sluice registry`)
// on registry.listen, with storage as the registry block says (Kafka from
// the kafka block), until ctx ends. It returns nil after a clean stop.
func RunRegistry(ctx context.Context, cfg Config, log *slog.Logger, metrics *obs.Metrics) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	brokers := cfg.Kafka.Brokers
	if cfg.Kafka.IsEmbedded() {
		if cfg.Registry.Storage != registry.StorageFile {
			return fmt.Errorf("embedded registry: kafka.bootstrap.servers is %q, which lives in a `sluice run` process only; give real brokers or registry.storage: file", publish.Embedded)
		}
		brokers = nil
	}
	var reg prometheus.Registerer
	if metrics != nil {
		reg = metrics.Registry()
	}
	er, err := startRegistry(ctx, cfg, brokers, log, reg)
	if err != nil {
		return err
	}
	return <-er.done
}

// startAvro builds the Avro converters the configuration asks for, first
// starting the embedded registry when a converter says embedded. The
// registry lives until ctx ends; g reports its failure. On error nothing
// started is left running.
func (d *Daemon) startAvro(ctx context.Context, g *errgroup.Group, brokers []string) error {
	if !usesEmbeddedRegistry(d.cfg) {
		sides, err := newAvroSides(d.cfg, "")
		if err != nil {
			return Permanent(err)
		}
		d.avro = sides
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	er, err := startRegistry(rctx, d.cfg, brokers, d.log.With("component", "registry"), d.metrics.Registry())
	if err != nil {
		cancel()
		return err
	}
	g.Go(func() error { defer cancel(); return <-er.done })
	sides, err := newAvroSides(d.cfg, er.url)
	if err != nil {
		cancel()
		_ = g.Wait()
		return Permanent(err)
	}
	d.avro = sides
	return nil
}
