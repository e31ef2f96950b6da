package bench

import (
	"math"
	"strings"
	"testing"
	"time"
)

const scrapeText = `# HELP sluice_publish_records_total Records acknowledged by Kafka.
# TYPE sluice_publish_records_total counter
sluice_publish_records_total{topic="a.b.c"} 1200
sluice_publish_records_total{topic="a.b.d"} 34
# TYPE sluice_publish_ack_latency_seconds histogram
sluice_publish_ack_latency_seconds_bucket{le="0.001"} 0
sluice_publish_ack_latency_seconds_bucket{le="0.002"} 50
sluice_publish_ack_latency_seconds_bucket{le="0.004"} 90
sluice_publish_ack_latency_seconds_bucket{le="0.008"} 100
sluice_publish_ack_latency_seconds_bucket{le="+Inf"} 100
sluice_publish_ack_latency_seconds_sum 0.25
sluice_publish_ack_latency_seconds_count 100
go_goroutines 12
odd_labels{path="a\"b,le=\"x\"",le="7"} 1
`

func TestParseScrape(t *testing.T) {
	s, err := ParseScrape(strings.NewReader(scrapeText))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Sum("sluice_publish_records_total"); !ok || got != 1234 {
		t.Errorf("records sum = %v, %v; want 1234, true", got, ok)
	}
	if got, ok := s.Sum("go_goroutines"); !ok || got != 12 {
		t.Errorf("go_goroutines = %v, %v; want 12, true", got, ok)
	}
	if _, ok := s.Sum("missing"); ok {
		t.Error("missing metric reported present")
	}
	if v, ok := label(s["odd_labels"][0].Labels, "le"); !ok || v != "7" {
		t.Errorf("le of escaped label set = %q, %v; want 7", v, ok)
	}
	h := s.Histogram("sluice_publish_ack_latency_seconds")
	want := []Bucket{{0.001, 0}, {0.002, 50}, {0.004, 90}, {0.008, 100}, {math.Inf(1), 100}}
	if len(h) != len(want) {
		t.Fatalf("histogram = %v, want %v", h, want)
	}
	for i := range want {
		if h[i] != want[i] {
			t.Errorf("bucket %d = %v, want %v", i, h[i], want[i])
		}
	}
}

func TestParseScrapeErrors(t *testing.T) {
	for _, text := range []string{"novalue\n", "x{a=\"b\" \n", "x 1.2.3\n"} {
		if _, err := ParseScrape(strings.NewReader(text)); err == nil {
			t.Errorf("ParseScrape(%q) succeeded", text)
		}
	}
}

func TestHistogramQuantile(t *testing.T) {
	bs := []Bucket{{0.001, 0}, {0.002, 50}, {0.004, 90}, {0.008, 100}, {math.Inf(1), 100}}
	for _, tc := range []struct {
		q, want float64
	}{
		{0.5, 0.002},   // exactly the 0.002 bucket's count
		{0.25, 0.0015}, // halfway into (0.001, 0.002]
		{0.7, 0.003},   // halfway into (0.002, 0.004]
		{0.99, 0.0076}, // 9/10 of (0.004, 0.008]
	} {
		if got := HistogramQuantile(tc.q, bs); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("q%v = %v, want %v", tc.q, got, tc.want)
		}
	}
	inf := []Bucket{{0.5, 1}, {math.Inf(1), 10}}
	if got := HistogramQuantile(0.99, inf); got != 0.5 {
		t.Errorf("quantile in +Inf bucket = %v, want the last finite bound 0.5", got)
	}
	if got := HistogramQuantile(0.5, []Bucket{{1, 0}, {math.Inf(1), 0}}); !math.IsNaN(got) {
		t.Errorf("empty histogram = %v, want NaN", got)
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5}, {0.99, 10}, {0.1, 1}, {0, 1}, {1, 10}} {
		if got := Percentile(ds, tc.q); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := Percentile(nil, 0.5); got != 0 {
		t.Errorf("Percentile(nil) = %v, want 0", got)
	}
}

func TestSizes(t *testing.T) {
	full := SizesFor(1)
	if full.BacklogRows != 10_000_000 || full.Updates != 400_000 || full.BigTxRows != 10_000_000 ||
		full.SnapshotRows != 10_000_000 || full.LiveRate != 5000 || full.LiveDuration != time.Minute {
		t.Errorf("full sizes = %+v", full)
	}
	small := SizesFor(0.01)
	if small.BacklogRows != 100_000 || small.Updates != 4000 || small.UpdateRows != 4000 ||
		small.LiveRate != 5000 || small.LiveDuration != 3*time.Second {
		t.Errorf("0.01 sizes = %+v", small)
	}
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{{"", 0.5, true}, {"0.1", 0.1, true}, {" 2 ", 2, true}, {"0", 0, false}, {"-1", 0, false}, {"x", 0, false}, {"NaN", 0, false}} {
		got, err := ParseScale(tc.in, 0.5)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseScale(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\tsluice\nVmPeak:\t  1300000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n"
	if got, ok := ParseVmHWM(status); !ok || got != 51234*1024 {
		t.Errorf("ParseVmHWM = %d, %v; want %d", got, ok, 51234*1024)
	}
	for _, bad := range []string{"", "VmRSS:\t1 kB\n", "VmHWM:\t12 MB\n", "VmHWM:\tx kB\n"} {
		if _, ok := ParseVmHWM(bad); ok {
			t.Errorf("ParseVmHWM(%q) succeeded", bad)
		}
	}
}
