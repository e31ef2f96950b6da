package format

import (
	"bytes"
	"testing"
)

// BenchmarkFormats writes objects of 1,000 Debezium-shaped records: MB/s is
// of object bytes written, records/s of records encoded.
func BenchmarkFormats(b *testing.B) {
	recs := testRecords(1000)
	for _, c := range []struct {
		name, class string
		o           Options
	}{
		{"json", "json", Options{}},
		{"json_gzip", "json", Options{Compression: "gzip"}},
		{"avro_null", "avro", Options{}},
		{"avro_deflate", "avro", Options{AvroCodec: "deflate"}},
		{"avro_snappy", "avro", Options{AvroCodec: "snappy"}},
		{"avro_zstandard", "avro", Options{AvroCodec: "zstandard"}},
		{"parquet_none", "parquet", Options{ParquetCodec: "none"}},
		{"parquet_snappy", "parquet", Options{}},
		{"parquet_zstd", "parquet", Options{ParquetCodec: "zstd"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := mustFormat(b, New, c.class, c.o)
			var buf bytes.Buffer
			buf.Write(writeObject(b, f, recs)) // size the buffer
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				buf.Reset()
				w, err := f.NewWriter(&buf, recs[0])
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range recs {
					if err := w.Write(r); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
