package jdbc

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// BenchmarkUpsertPostgres upserts batches of rows (half new keys, half
// updates) into Postgres and reports rows/s.
func BenchmarkUpsertPostgres(b *testing.B) {
	for _, batch := range []int{500, 1000, 3000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := New(b.Context(), map[string]string{
				"connection.url": testenv.Require(b, "SLUICE_PG_URL"),
				"insert.mode":    "upsert", "pk.mode": "record_key", "auto.create": "true",
				"batch.size": fmt.Sprint(batch),
			}, WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			topic := uniqueTopic("bench")
			defer s.DB().Exec("DROP TABLE IF EXISTS " + s.d.quote(topic))
			vs := event.StructOf("v",
				event.NewField("id", event.Int32()),
				event.NewField("name", event.String().Optional()),
				event.NewField("qty", event.Int64().Optional()),
				event.NewField("price", event.Decimal(2).Optional()),
				event.NewField("at", event.Timestamp().Optional()),
			)
			recs := make([]sink.Record, batch)
			next := int32(0)
			b.ResetTimer()
			for b.Loop() {
				for i := range recs {
					id := next % int32(2*batch) // keys come back every other batch: inserts, then updates
					next++
					recs[i] = sink.Record{Topic: topic, Offset: int64(next), KeySchema: keySchema,
						Key:         event.NewStruct(keySchema, id),
						ValueSchema: vs, Value: event.NewStruct(vs, id, "name", int64(next), []byte{0x30, 0x39}, int64(1700000000000))}
				}
				if err := s.Put(b.Context(), recs); err != nil {
					b.Fatal(err)
				}
				if err := s.Flush(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
