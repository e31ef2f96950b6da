package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// SourceSpec is what a case sets in the generated sluice.yaml.
type SourceSpec struct {
	Name         string
	TopicPrefix  string
	URL          string
	Table        Table
	Slot         string
	Publication  string
	SnapshotMode string // initial, no_data, ...
}

// Topic is the topic Sluice writes the table's events to.
func (s SourceSpec) Topic() string { return s.TopicPrefix + "." + s.Table.String() }

// Config returns the sluice.yaml for one Postgres source publishing to
// brokers with JSON converters (schemas enabled, as Debezium's defaults).
func Config(spec SourceSpec, brokers []string, httpAddr, dataDir string) ([]byte, error) {
	doc := map[string]any{
		"log":  map[string]any{"level": "info", "format": "text"},
		"http": map[string]any{"addr": httpAddr},
		"kafka": map[string]any{
			"bootstrap.servers": brokers,
			"topics":            map[string]any{"auto.create": true},
		},
		"converters": map[string]any{
			"key":   map[string]any{"type": "json", "schemas.enable": true},
			"value": map[string]any{"type": "json", "schemas.enable": true},
		},
		"data.dir": dataDir,
		"sources": []any{map[string]any{
			"name":         spec.Name,
			"connector":    "postgres",
			"topic.prefix": spec.TopicPrefix,
			"url":          spec.URL,
			"tables":       []string{spec.Table.String()},
			"postgres": map[string]any{
				"slot.name":                   spec.Slot,
				"publication.name":            spec.Publication,
				"publication.autocreate.mode": "filtered",
				"snapshot.mode":               spec.SnapshotMode,
			},
		}},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("sluice config: %w", err)
	}
	return b, nil
}

// Sluice is one running `sluice run` process.
type Sluice struct {
	Proc     *Process
	HTTPAddr string
	broker   *Broker
	topic    string
}

// StartSluice writes the config into dir and starts bin on it.
func StartSluice(bin, dir string, spec SourceSpec, broker *Broker) (*Sluice, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := hostPort(port)
	cfg, err := Config(spec, broker.Addrs, addr, filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return nil, fmt.Errorf("write sluice config: %w", err)
	}
	p, err := StartProcess(bin, []string{"run", "-c", path}, filepath.Join(dir, "sluice.log"))
	if err != nil {
		return nil, err
	}
	return &Sluice{Proc: p, HTTPAddr: addr, broker: broker, topic: spec.Topic()}, nil
}

// WaitAcked polls the topic's high watermark every 50 ms until it reaches
// want. It returns when the count was first seen at or above want, and the
// count. It fails when the process exits, or when the count does not move for
// stall (ErrNotCapturing if Sluice logged that it runs no source).
func (s *Sluice) WaitAcked(ctx context.Context, want int64, trim bool, stall time.Duration) (time.Time, int64, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last int64 = -1
	lastMove := time.Now()
	for {
		n, err := s.broker.Acked(ctx, s.topic, trim)
		now := time.Now()
		if err != nil {
			return now, last, err
		}
		if n >= want {
			return now, n, nil
		}
		if n != last {
			last, lastMove = n, now
		}
		if now.Sub(lastMove) > stall {
			if s.notCapturing() {
				return now, n, ErrNotCapturing
			}
			return now, n, fmt.Errorf("no progress for %v at %d of %d records", stall, n, want)
		}
		select {
		case <-ctx.Done():
			return now, n, ctx.Err()
		case <-s.Proc.Exited():
			if s.notCapturing() {
				return now, n, ErrNotCapturing
			}
			return now, n, fmt.Errorf("sluice exited (%v) at %d of %d records", s.Proc.Err(), n, want)
		case <-tick.C:
		}
	}
}

// notCapturing reports whether the log says this build cannot capture
// Postgres yet (the daemon without sources, or the connector stub).
func (s *Sluice) notCapturing() bool {
	log := s.Proc.Log()
	return strings.Contains(log, "no sources run yet") || strings.Contains(log, "connector not available yet")
}

// AckLatency is Sluice's own publish-to-ack latency quantiles, in seconds,
// and the mean bytes (key+value+headers) per acknowledged record, from its
// /metrics (NaN when a metric is absent).
type AckLatency struct{ P50, P99, BytesPerRecord float64 }

// Stop scrapes Sluice's publish ack-latency histogram, stops the process
// and returns its usage.
func (s *Sluice) Stop(ctx context.Context) (Usage, AckLatency, error) {
	lat := AckLatency{P50: math.NaN(), P99: math.NaN(), BytesPerRecord: math.NaN()}
	if sc, err := ScrapeMetrics(ctx, s.HTTPAddr); err == nil {
		h := sc.Histogram("sluice_publish_ack_latency_seconds")
		lat.P50, lat.P99 = HistogramQuantile(0.5, h), HistogramQuantile(0.99, h)
		bytes, ok1 := sc.Sum("sluice_publish_bytes_total")
		recs, ok2 := sc.Sum("sluice_publish_records_total")
		if ok1 && ok2 && recs > 0 {
			lat.BytesPerRecord = bytes / recs
		}
	}
	u, err := s.Proc.Stop(30 * time.Second)
	var exit interface{ ExitCode() int }
	if errors.As(err, &exit) && exit.ExitCode() == 0 {
		err = nil
	}
	return u, lat, err
}
