package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/internal/offsets"
	"github.com/sluice-cdc/sluice/publish"
)

// Defaults for the supervisor.
const (
	DefaultMinBackoff      = time.Second
	DefaultMaxBackoff      = time.Minute
	DefaultShutdownTimeout = 30 * time.Second
)

// Daemon runs every configured source, each into its own publisher, and the
// HTTP server, under one supervisor.
type Daemon struct {
	cfg      Config
	log      *slog.Logger
	metrics  *obs.Metrics
	ctors    Constructors
	store    OffsetStore
	pubOpts  []publish.Option
	minBack  time.Duration
	maxBack  time.Duration
	shutdown time.Duration
	noHTTP   bool
	noMemLim bool
	host     Host

	restarts *prometheus.CounterVec
	// avro holds the Avro converters, built by Run (see registry.go).
	avro *avroSides

	mu      sync.Mutex
	running map[string]bool // source name → pipeline up
}

// Option configures a Daemon.
type Option func(*Daemon)

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) Option { return func(d *Daemon) { d.log = l } }

// WithMetrics sets the metrics registry served at /metrics; the default is a
// new one.
func WithMetrics(m *obs.Metrics) Option { return func(d *Daemon) { d.metrics = m } }

// WithConstructors replaces the connector constructors (tests, plugins).
func WithConstructors(cs Constructors) Option { return func(d *Daemon) { d.ctors = cs } }

// WithOffsetStore replaces the offset file named by data.dir.
func WithOffsetStore(s OffsetStore) Option { return func(d *Daemon) { d.store = s } }

// WithPublishOptions adds options to every publisher.
func WithPublishOptions(opts ...publish.Option) Option {
	return func(d *Daemon) { d.pubOpts = append(d.pubOpts, opts...) }
}

// WithBackoff sets the first and the largest delay between restarts of a
// failed source; the delay doubles from min up to max.
func WithBackoff(min, max time.Duration) Option {
	return func(d *Daemon) { d.minBack, d.maxBack = min, max }
}

// WithShutdownTimeout bounds how long a stopping source waits for Kafka to
// acknowledge what it was given.
func WithShutdownTimeout(t time.Duration) Option { return func(d *Daemon) { d.shutdown = t } }

// WithoutHTTP does not start the HTTP server (tests, embedding).
func WithoutHTTP() Option { return func(d *Daemon) { d.noHTTP = true } }

// WithoutMemoryLimit leaves the process's soft memory limit alone (see
// MemoryConfig): for programs that embed the daemon and manage it
// themselves, or whose heap holds more than the daemon's.
func WithoutMemoryLimit() Option { return func(d *Daemon) { d.noMemLim = true } }

// WithHost hands the running of sources to host (the Connect runtime of
// `sluice run` and `sluice worker`) instead of supervising each configured
// source (see [Host]).
func WithHost(host Host) Option { return func(d *Daemon) { d.host = host } }

// New validates cfg and returns a Daemon. It starts nothing and does no I/O.
func New(cfg Config, opts ...Option) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	d := &Daemon{
		cfg:      cfg,
		ctors:    DefaultConstructors(),
		minBack:  DefaultMinBackoff,
		maxBack:  DefaultMaxBackoff,
		shutdown: DefaultShutdownTimeout,
		running:  map[string]bool{},
	}
	for _, o := range opts {
		o(d)
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.metrics == nil {
		d.metrics = obs.NewMetrics()
	}
	d.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: obs.Namespace,
		Name:      "source_restarts_total",
		Help:      "Times a source pipeline failed and was restarted.",
	}, []string{obs.KeyConnector})
	if err := d.metrics.Register(d.restarts); err != nil {
		return nil, fmt.Errorf("register daemon metrics: %w", err)
	}
	return d, nil
}

// Ready reports nil once every source pipeline is running (for /readyz).
func (d *Daemon) Ready() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.cfg.Sources {
		if !d.running[s.Name] {
			return fmt.Errorf("source %q not running", s.Name)
		}
	}
	return nil
}

func (d *Daemon) setRunning(name string, up bool) {
	d.mu.Lock()
	d.running[name] = up
	d.mu.Unlock()
}

// Run runs every source and the HTTP server until ctx ends, then stops the
// sources, flushes their publishers (bounded by the shutdown timeout) and
// saves their final positions. It returns nil after a clean shutdown, or the
// first error that stopped the daemon: a permanent source error or an HTTP
// server failure. Sources failing otherwise are restarted with backoff.
//
// Unless WithoutMemoryLimit was given, Run sets the process's soft memory
// limit from memory.limit while it runs.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.noMemLim {
		defer setMemoryLimit(d.cfg, d.log)()
	}
	if d.store == nil {
		f, err := offsets.Open(d.cfg.OffsetsFile())
		if err != nil {
			return err
		}
		d.store = f
	}
	kcfg := d.cfg.Kafka
	if kcfg.IsEmbedded() {
		// One in-process broker for every source and every restart, so
		// that records survive a pipeline restart (not a process restart).
		e, err := publish.StartEmbedded()
		if err != nil {
			return err
		}
		defer e.Close()
		kcfg.Brokers = e.Addrs()
		d.log.Warn("using the embedded in-memory Kafka broker: records are not durable", "brokers", kcfg.Brokers)
	}

	g, gctx := errgroup.WithContext(ctx)
	if err := d.startAvro(gctx, g, kcfg.Brokers); err != nil {
		return err
	}
	var srv *obs.Server
	httpAddr := ""
	if !d.noHTTP {
		srv = obs.NewServer(d.cfg.HTTP.Addr, d.metrics, d.Ready, d.log)
		if d.cfg.HTTP.Pprof {
			srv.HandlePprof()
			d.log.Warn("serving Go profiles at /debug/pprof/ (http.pprof: true)")
		}
		// Listen before anything starts, so that the host knows the
		// address (port 0 picks one).
		var lc net.ListenConfig
		ln, err := lc.Listen(gctx, "tcp", d.cfg.HTTP.Addr)
		if err != nil {
			// Through the group, so that what started stops.
			g.Go(func() error { return fmt.Errorf("http listen %s: %w", d.cfg.HTTP.Addr, err) })
			return g.Wait()
		}
		httpAddr = ln.Addr().String()
		g.Go(func() error { return srv.Serve(gctx, ln) })
	}
	if d.host != nil {
		env := &Env{d: d, kafka: kcfg, srv: srv, addr: httpAddr}
		g.Go(func() error { return d.host(gctx, env) })
		return g.Wait()
	}
	if len(d.cfg.Sources) == 0 {
		d.log.Warn("no sources configured")
	}
	for _, sc := range d.cfg.Sources {
		g.Go(func() error { return d.supervise(gctx, sc, kcfg, d.store, nil) })
	}
	return g.Wait()
}

// supervise runs one source's pipeline, restarting it with capped
// exponential backoff until ctx ends or it fails permanently.
func (d *Daemon) supervise(ctx context.Context, sc SourceConfig, kcfg publish.Config, store OffsetStore, onTopic func(string)) error {
	log := d.log.With(obs.KeyConnector, sc.Name)
	// Publisher metrics get the connector label here; sources add it
	// themselves (see SourceParams.Registerer).
	pubReg := prometheus.WrapRegistererWith(prometheus.Labels{obs.KeyConnector: sc.Name}, d.metrics.Registry())
	delay := d.minBack
	for {
		started := time.Now()
		err := d.runOnce(ctx, sc, kcfg, store, onTopic, log, pubReg)
		d.setRunning(sc.Name, false)
		switch {
		case ctx.Err() != nil:
			if err != nil {
				log.Error("source stopped uncleanly", obs.KeyError, err)
				return fmt.Errorf("source %q: %w", sc.Name, err)
			}
			log.Info("source stopped")
			return nil
		case err == nil:
			log.Info("source finished")
			return nil
		case IsPermanent(err):
			log.Error("source failed permanently; not restarting", obs.KeyError, err)
			return fmt.Errorf("source %q: %w", sc.Name, err)
		}
		if time.Since(started) > d.maxBack {
			delay = d.minBack // it ran fine for a while: start over
		}
		d.restarts.WithLabelValues(sc.Name).Inc()
		log.Warn("source failed; restarting", obs.KeyError, err, "backoff", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			log.Info("source stopped")
			return nil
		case <-t.C:
		}
		delay = min(2*delay, d.maxBack)
	}
}

// runOnce builds a source and a publisher from the last saved position and
// runs them until ctx ends or they fail.
func (d *Daemon) runOnce(ctx context.Context, sc SourceConfig, kcfg publish.Config, store OffsetStore, onTopic func(string), log *slog.Logger, pubReg prometheus.Registerer) error {
	start, err := store.Load(sc.Name)
	if err != nil {
		return Permanent(fmt.Errorf("load offset: %w", err))
	}
	conv, err := newConverter(sc.effective(d.cfg))
	if err != nil {
		return Permanent(err)
	}
	conv.avro = d.avro.only(sc.effective(d.cfg).Converters)
	if conv.outbox, err = newOutboxRouter(sc, log); err != nil {
		return Permanent(err)
	}
	if conv.dlq, err = newDeadLetter(sc, log); err != nil {
		return Permanent(err)
	}
	src, err := d.ctors.build(sc, SourceParams{Logger: log, Registerer: d.metrics.Registry(), Start: start, DataDir: d.cfg.DataDir, Kafka: kcfg})
	if err != nil {
		return err
	}
	opts := append([]publish.Option{publish.WithLogger(log), publish.WithRegisterer(pubReg)}, d.pubOpts...)
	pub, err := publish.New(kcfg, opts...)
	if err != nil {
		return Permanent(err)
	}
	defer pub.Close()
	if start == nil {
		log.Info("source starting from the beginning (no saved offset)")
	} else {
		log.Info("source resuming from saved offset", obs.KeyLSN, fmt.Sprintf("%x", start))
	}
	d.setRunning(sc.Name, true)
	p := &pipeline{
		name:         sc.Name,
		src:          src,
		pub:          pub,
		conv:         conv,
		store:        store,
		onTopic:      onTopic,
		log:          log,
		flushTimeout: d.shutdown,
		flushEvery:   time.Duration(d.cfg.OffsetFlushIntervalMs) * time.Millisecond,
		saved:        start,
		acked:        start,
	}
	return p.run(ctx)
}
