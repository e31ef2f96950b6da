package bench

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sizes are the workload sizes of one run, scaled from the figures.
type Sizes struct {
	Scale        float64
	BacklogRows  int           // rows of the backlog case (10M)
	BacklogTxs   int           // transactions they are split into (10)
	Updates      int           // single-row update transactions (400k)
	UpdateRows   int           // distinct rows the updates cycle over
	BigTxRows    int           // rows of the one big transaction (10M)
	LiveRate     int           // transactions per second of the live case (5,000)
	LiveDuration time.Duration // how long the live case runs (60 s)
	SnapshotRows int           // rows of the snapshot case (10M)
}

// SizesFor scales the full-size workload by s (1 = the sizes).
func SizesFor(s float64) Sizes {
	n := func(full int) int { return max(1, int(math.Round(float64(full)*s))) }
	return Sizes{
		Scale:        s,
		BacklogRows:  n(10_000_000),
		BacklogTxs:   10,
		Updates:      n(400_000),
		UpdateRows:   min(10_000, n(400_000)),
		BigTxRows:    n(10_000_000),
		LiveRate:     5_000,
		LiveDuration: max(3*time.Second, time.Duration(float64(60*time.Second)*s)),
		SnapshotRows: n(10_000_000),
	}
}

// ParseScale reads a SLUICE_BENCH_SCALE value; empty gives def.
func ParseScale(v string, def float64) (float64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	s, err := strconv.ParseFloat(v, 64)
	if err != nil || s <= 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return 0, fmt.Errorf("SLUICE_BENCH_SCALE %q: want a positive number", v)
	}
	return s, nil
}

// ScaleFromEnv returns SLUICE_BENCH_SCALE, defaulting to 1 or, with short
// set (go test -short), 0.01.
func ScaleFromEnv(short bool) (float64, error) {
	def := 1.0
	if short {
		def = 0.01
	}
	return ParseScale(os.Getenv("SLUICE_BENCH_SCALE"), def)
}

// Brokers returns the broker kinds to run (SLUICE_BENCH_BROKERS, a comma
// list of kfake and kafka; default both).
func Brokers() ([]string, error) {
	v := strings.TrimSpace(os.Getenv("SLUICE_BENCH_BROKERS"))
	if v == "" {
		return []string{"kfake", "kafka"}, nil
	}
	var out []string
	for _, b := range strings.Split(v, ",") {
		switch b = strings.TrimSpace(b); b {
		case "kfake", "kafka":
			out = append(out, b)
		case "":
		default:
			return nil, fmt.Errorf("SLUICE_BENCH_BROKERS: unknown broker %q (want kfake or kafka)", b)
		}
	}
	return out, nil
}
