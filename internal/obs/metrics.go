package obs

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every Sluice metric name ("sluice_...").
const Namespace = "sluice"

// Metrics owns the process's Prometheus registry. It is created once and
// passed to the packages that register collectors; the global default
// registry is never used, so tests can run several daemons in one process.
type Metrics struct {
	reg *prometheus.Registry
}

// NewMetrics returns a registry holding the Go runtime and process
// collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return &Metrics{reg: reg}
}

// Registry returns the registry, for packages that register their own
// collectors (prometheus.Registerer) or read them back in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Register adds collectors, failing if one is already registered.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Reuse registers c on reg and returns it; when an identical collector is
// registered already (a component restarted in the same process), it returns
// that one instead. The first other registration error is stored in *errp,
// so a constructor can register several collectors and check once.
func Reuse[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		if *errp == nil {
			*errp = fmt.Errorf("register metric: %w", err)
		}
	}
	return c
}
