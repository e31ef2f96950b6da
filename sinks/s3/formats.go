package s3

import (
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/sinks/s3/format"
)

// formatOptions reads the format keys (format.Options checks them when a
// format is built).
func formatOptions(m map[string]string) format.Options {
	get := func(k string) string { return strings.TrimSpace(m[k]) }
	o := format.Options{
		Compression:        get("s3.compression.type"),
		AvroCodec:          get("avro.codec"),
		ParquetCodec:       get("parquet.codec"),
		JSONDecimalFormat:  get("json.decimal.format"),
		ByteArrayExtension: get("format.bytearray.extension"),
	}
	if v := get("s3.compression.level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			n = -2 // out of range: the format reports the key
		}
		o.CompressionLevel = n
	}
	if v, ok := m["format.bytearray.separator"]; ok {
		o.ByteArraySeparator = &v
	}
	return o
}
