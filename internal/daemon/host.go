package daemon

import (
	"context"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/publish"
)

// Host runs the sources of a started daemon in its own way: the Connect
// runtime of `sluice run` and `sluice worker` turns each source into a
// connector with a task that calls [Env.RunSource]. Run gives the host the
// daemon's shared parts (the Kafka brokers, the embedded broker and schema
// registry when configured, the HTTP server, the offset store, metrics) and
// ends when the host returns.
type Host func(ctx context.Context, env *Env) error

// Env is what a running daemon offers its [Host].
type Env struct {
	d     *Daemon
	kafka publish.Config
	srv   *obs.Server
	addr  string
}

// Addr returns the address the HTTP server listens on ("" without one).
func (e *Env) Addr() string { return e.addr }

// Brokers returns the Kafka seed brokers sources publish to (the embedded
// broker's address when kafka.bootstrap.servers is embedded).
func (e *Env) Brokers() []string { return append([]string(nil), e.kafka.Brokers...) }

// KafkaOptions returns the franz-go options that connect a client to the
// brokers of [Env.Brokers] as the sources' publishers connect: client.id,
// kafka.security (TLS, SASL) and franz-go's logs in the daemon's log. The
// host gives them to every Kafka client it opens (the Connect runtime's
// sink consumers, dead letter producers, admin client, a distributed
// worker's group and internal topics), so that a secured cluster is reached
// the same way by all of them. A later kgo.SeedBrokers replaces the brokers.
func (e *Env) KafkaOptions() ([]kgo.Opt, error) {
	opts, err := publish.ConnOptions(e.kafka, e.d.log)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return opts, nil
}

// Offsets returns the daemon's offset store (offsets.json in data.dir,
// unless WithOffsetStore replaced it).
func (e *Env) Offsets() OffsetStore { return e.d.store }

// Config returns the daemon's configuration.
func (e *Env) Config() Config { return e.d.cfg }

// Handle serves h under pattern on the daemon's HTTP server, beside
// /metrics, /healthz and /readyz. It does nothing when the daemon runs
// without HTTP.
func (e *Env) Handle(pattern string, h http.Handler) {
	if e.srv != nil {
		e.srv.Handle(pattern, h)
	}
}

// RunSource runs one source under the daemon's supervisor, with its
// positions in store (keyed by the source name); onTopic, when not nil, is
// told each topic the source first publishes to in a run. Transient failures restart
// it with backoff; it returns nil once ctx ends, or the error of a permanent
// failure. sc is validated first.
func (e *Env) RunSource(ctx context.Context, sc SourceConfig, store OffsetStore, onTopic func(string)) error {
	if err := sc.Validate(); err != nil {
		return Permanent(fmt.Errorf("source %q: %w", sc.Name, err))
	}
	return e.d.supervise(ctx, sc, e.kafka, store, onTopic)
}
