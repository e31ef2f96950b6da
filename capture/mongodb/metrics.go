package mongodb

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/internal/obs"
)

// metrics are the connector's Prometheus collectors, labelled with the
// connector name. A source built again for the same connector (a restart)
// reuses the registered collectors.
type metrics struct {
	streamEvents prometheus.Counter // change events emitted from the streams
	snapshotDocs prometheus.Counter // documents emitted by snapshots
	streams      prometheus.Gauge   // change streams open
}

func newMetrics(reg prometheus.Registerer, connector string) (*metrics, error) {
	labels := prometheus.Labels{"connector": connector}
	m := &metrics{
		streamEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_mongodb_stream_events_total", ConstLabels: labels,
			Help: "Change events emitted from MongoDB change streams.",
		}),
		snapshotDocs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_mongodb_snapshot_documents_total", ConstLabels: labels,
			Help: "Documents read by MongoDB snapshots (op r events).",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_mongodb_change_streams", ConstLabels: labels,
			Help: "MongoDB change streams open (one per captured collection).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.streamEvents = obs.Reuse(reg, m.streamEvents, &err)
	m.snapshotDocs = obs.Reuse(reg, m.snapshotDocs, &err)
	m.streams = obs.Reuse(reg, m.streams, &err)
	if err != nil {
		return nil, err
	}
	return m, nil
}
