package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the q-quantile (0..1) of ds by the nearest-rank method;
// ds is sorted in place. It returns 0 for no samples.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(q*float64(len(ds)))) - 1
	return ds[min(max(rank, 0), len(ds)-1)]
}

// Bucket is one cumulative histogram bucket: Count observations ≤ UpperBound.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// HistogramQuantile estimates the q-quantile of a Prometheus histogram from
// its cumulative buckets (sorted by bound, +Inf last), interpolating linearly
// inside the bucket as PromQL's histogram_quantile does. It returns NaN for
// an empty histogram; a quantile in the +Inf bucket returns the highest
// finite bound.
func HistogramQuantile(q float64, bs []Bucket) float64 {
	if len(bs) == 0 {
		return math.NaN()
	}
	total := bs[len(bs)-1].Count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	lowerBound, lowerCount := 0.0, 0.0
	for i, b := range bs {
		if b.Count >= rank {
			if math.IsInf(b.UpperBound, 1) {
				if i == 0 {
					return math.NaN()
				}
				return bs[i-1].UpperBound
			}
			if b.Count == lowerCount {
				return b.UpperBound
			}
			return lowerBound + (b.UpperBound-lowerBound)*(rank-lowerCount)/(b.Count-lowerCount)
		}
		lowerBound, lowerCount = b.UpperBound, b.Count
	}
	return bs[len(bs)-1].UpperBound
}
