package postgres

import (
	"github.com/sluice-cdc/sluice/internal/obs"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/event"
)

// HeartbeatTopic returns Debezium's default heartbeat topic,
// "__debezium-heartbeat.<prefix>".
func HeartbeatTopic(prefix string) string { return event.HeartbeatTopic(prefix) }

// metrics are the connector's Prometheus collectors.
type metrics struct {
	slotLag    prometheus.Gauge
	reconnects prometheus.Counter
	events     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, connector string) (*metrics, error) {
	labels := prometheus.Labels{"connector": connector}
	m := &metrics{
		slotLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_postgres_slot_lag_bytes", ConstLabels: labels,
			Help: "WAL bytes between pg_current_wal_lsn() and the slot's confirmed flush LSN.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_postgres_reconnects_total", ConstLabels: labels,
			Help: "Replication connections re-established after a loss.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_postgres_stream_events_total", ConstLabels: labels,
			Help: "Change events emitted from the replication stream.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.slotLag = obs.Reuse(reg, m.slotLag, &err)
	m.reconnects = obs.Reuse(reg, m.reconnects, &err)
	m.events = obs.Reuse(reg, m.events, &err)
	if err != nil {
		return nil, err
	}
	return m, nil
}
