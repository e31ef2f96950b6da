package s3

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
	"github.com/sluice-cdc/sluice/sinks/task"
)

// BenchmarkSink writes rows of a Debezium-like table through the sink into
// the real S3 server (flush.size 1000, two Kafka partitions) and reports the
// object bytes and records written per second, per format.
func BenchmarkSink(b *testing.B) {
	bucket, cl := newBucket(b)
	vs := event.StructOf("bench.Value",
		event.NewField("id", event.Int64()),
		event.NewField("name", event.String().Optional()),
		event.NewField("qty", event.Int32().Optional()),
		event.NewField("price", event.Float64().Optional()),
		event.NewField("note", event.String().Optional()),
		event.NewField("at", event.Timestamp().Optional()))
	const batch = 2000
	for _, format := range []string{"json", "avro", "parquet"} {
		b.Run("format="+format, func(b *testing.B) {
			s := openSink(b, cl, testConfig(b, bucket, "format.class", format, "flush.size", "1000",
				"topics.dir", fmt.Sprintf("bench-%s-%d", format, time.Now().UnixNano())))
			recs := make([]sink.Record, batch)
			off := int64(0)
			b.ResetTimer()
			for b.Loop() {
				for i := range recs {
					p := int32(i % 2)
					recs[i] = sink.Record{Topic: "bench", OriginalTopic: "bench", Partition: p, Offset: off,
						Timestamp: time.UnixMilli(1700000000000 + off), ValueSchema: vs,
						Value: event.NewStruct(vs, off, fmt.Sprintf("customer %d", off), int32(off%100), float64(off)/4,
							"a note of some length that makes the row look like a real one", 1700000000000+off)}
					if p == 1 {
						off++
					}
				}
				if err := s.Put(b.Context(), recs); err != nil {
					b.Fatal(err)
				}
				if _, err := s.PreCommit(b.Context(), map[task.TopicPartition]int64{}); err != nil {
					b.Fatal(err)
				}
			}
			up, _ := s.Uploaded()
			b.ReportMetric(float64(up)/1e6/b.Elapsed().Seconds(), "MB/s")
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
