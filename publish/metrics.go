package publish

import (
	"sync"

	"github.com/sluice-cdc/sluice/internal/obs"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the publisher's Prometheus collectors. Several publishers may
// share one registry: registering a collector that already exists reuses
// the registered one, so the series add up across publishers.
type metrics struct {
	records  *prometheus.CounterVec // by topic, acknowledged records
	bytes    *prometheus.CounterVec // by topic, key+value+header bytes acknowledged
	errors   *prometheus.CounterVec // by topic, records that failed
	latency  prometheus.Histogram   // Publish call to ack
	buffered prometheus.Gauge       // records handed to the client, not yet answered

	topics sync.Map // topic -> *topicMetrics
}

// topicMetrics are one topic's counters, looked up once per topic rather
// than by label on every acknowledgement.
type topicMetrics struct {
	topic          string
	records, bytes prometheus.Counter
}

// topic returns the counters of topic.
func (m *metrics) topic(topic string) *topicMetrics {
	if tm, ok := m.topics.Load(topic); ok {
		return tm.(*topicMetrics)
	}
	tm := &topicMetrics{
		topic:   topic,
		records: m.records.WithLabelValues(topic),
		bytes:   m.bytes.WithLabelValues(topic),
	}
	actual, _ := m.topics.LoadOrStore(topic, tm)
	return actual.(*topicMetrics)
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_publish_records_total",
			Help: "Records acknowledged by Kafka.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_publish_bytes_total",
			Help: "Key, value and header bytes of records acknowledged by Kafka (before compression).",
		}, []string{"topic"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_publish_errors_total",
			Help: "Records that failed permanently.",
		}, []string{"topic"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sluice_publish_ack_latency_seconds",
			Help:    "Time from handing a record to the producer to Kafka's acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms .. ~16s
		}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_publish_buffered_records",
			Help: "Records handed to the producer and not yet acknowledged or failed.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.records = obs.Reuse(reg, m.records, &err)
	m.bytes = obs.Reuse(reg, m.bytes, &err)
	m.errors = obs.Reuse(reg, m.errors, &err)
	m.latency = obs.Reuse(reg, m.latency, &err)
	m.buffered = obs.Reuse(reg, m.buffered, &err)
	return m, err
}
