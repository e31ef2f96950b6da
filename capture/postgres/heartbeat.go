package postgres

import (
	"time"

	"github.com/sluice-cdc/sluice/internal/obs"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/event"
)

// Debezium heartbeat record schemas (SchemaFactory.heartbeatKeySchema and
// heartbeatValueSchema).
var (
	heartbeatKeySchema = event.StructOf("io.debezium.connector.common.ServerNameKey",
		event.NewField("serverName", event.String())).WithVersion(1)
	heartbeatValueSchema = event.StructOf("io.debezium.connector.common.Heartbeat",
		event.NewField("ts_ms", event.Int64())).WithVersion(1)
)

// HeartbeatTopic returns Debezium's default heartbeat topic,
// "__debezium-heartbeat.<prefix>".
func HeartbeatTopic(prefix string) string { return "__debezium-heartbeat." + prefix }

// heartbeatEvent returns a heartbeat record carrying pos. Its value is
// {ts_ms}, which Event.Value fills from TsMs.
func heartbeatEvent(prefix string, now time.Time, pos event.Position) event.Event {
	e := event.Event{
		Topic:       HeartbeatTopic(prefix),
		Key:         event.NewStruct(heartbeatKeySchema, prefix),
		ValueSchema: heartbeatValueSchema,
		Position:    pos,
	}
	e.SetTimestamp(now)
	return e
}

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
