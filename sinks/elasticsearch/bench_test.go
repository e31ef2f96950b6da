package elasticsearch

import (
	"fmt"
	"testing"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// BenchmarkIndex indexes batches of documents (flush: records per Put and
// Flush; bulk requests of 500 actions) (half new ids, half newer
// versions of earlier ones) into the test node through Put and Flush, and
// reports docs/s.
func BenchmarkIndex(b *testing.B) {
	url := esURL(b)
	for _, bc := range []struct{ batch, inFlight int }{{500, 1}, {2000, 1}, {2000, 5}} {
		b.Run(fmt.Sprintf("flush=%d/inflight=%d", bc.batch, bc.inFlight), func(b *testing.B) {
			index := uniqueIndex(b, url, "bench")
			s := newTestSink(b, map[string]string{"batch.size": "500", "max.in.flight.requests": fmt.Sprint(bc.inFlight)})
			recs := make([]sink.Record, bc.batch)
			off := int64(0)
			b.ResetTimer()
			for b.Loop() {
				for i := range recs {
					off++
					id := int32(off % int64(2*bc.batch))
					recs[i] = rec(index, off, idKey(id), row(id, "a label of some length"))
				}
				if err := s.Put(b.Context(), recs); err != nil {
					b.Fatal(err)
				}
				if err := s.Flush(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*bc.batch)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}
