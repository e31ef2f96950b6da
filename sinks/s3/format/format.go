package format

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// ErrSchemaChanged is wrapped by Writer.Write when a record's schema (of the
// part the writer stores: value, key) differs from the object's. Nothing was
// written; the caller closes the object and starts a new one with the record,
// as Confluent's sink rotates on a schema change (schema.compatibility NONE).
var ErrSchemaChanged = errors.New("schema changed within the object")

// ErrNoSchema is wrapped when a format that needs a schema (Avro, Parquet)
// gets schemaless data.
var ErrNoSchema = errors.New("format needs a schema but the record has none")

// Confluent's format.class names.
const (
	ClassJSON      = "io.confluent.connect.s3.format.json.JsonFormat"
	ClassAvro      = "io.confluent.connect.s3.format.avro.AvroFormat"
	ClassParquet   = "io.confluent.connect.s3.format.parquet.ParquetFormat"
	ClassByteArray = "io.confluent.connect.s3.format.bytearray.ByteArrayFormat"
)

// Options are the format settings of the connector, named as in Confluent's
// S3 sink. The zero value means Confluent's defaults.
type Options struct {
	// Compression is s3.compression.type: "none" (default) or "gzip", for
	// JSON and ByteArray only (Avro and Parquet compress inside the file).
	Compression string `yaml:"s3.compression.type" json:"s3.compression.type"`
	// CompressionLevel is s3.compression.level for gzip: 1..9, or -1 for
	// Deflater.DEFAULT_COMPRESSION. 0 also means the default here (Confluent
	// would store uncompressed; use Compression "none" instead).
	CompressionLevel int `yaml:"s3.compression.level" json:"s3.compression.level"`
	// AvroCodec is avro.codec: "null" (default), "deflate", "snappy" or
	// "zstandard" (bzip2 and xz are not supported).
	AvroCodec string `yaml:"avro.codec" json:"avro.codec"`
	// ParquetCodec is parquet.codec: "snappy" (default), "none", "gzip",
	// "zstd", "brotli" or "lz4_raw" (Hadoop's "lz4" and "lzo" are not
	// supported).
	ParquetCodec string `yaml:"parquet.codec" json:"parquet.codec"`
	// JSONDecimalFormat is json.decimal.format: "BASE64" (default) or
	// "NUMERIC", case-insensitive.
	JSONDecimalFormat string `yaml:"json.decimal.format" json:"json.decimal.format"`
	// ByteArrayExtension is format.bytearray.extension (default ".bin").
	ByteArrayExtension string `yaml:"format.bytearray.extension" json:"format.bytearray.extension"`
	// ByteArraySeparator is format.bytearray.separator; nil means the
	// default "\n" (System.lineSeparator on Linux), a pointer to "" none.
	ByteArraySeparator *string `yaml:"format.bytearray.separator" json:"format.bytearray.separator"`
}

// Format encodes records into one object's bytes.
type Format interface {
	// Extension is the object name's suffix as Confluent names it:
	// ".json", ".json.gz", ".avro", ".snappy.parquet", ".bin", with
	// ".keys"/".headers" before it for the side files.
	Extension() string
	// NewWriter starts an object on w; first is the object's first record,
	// whose schema the object takes. It writes nothing for first: the
	// caller then calls Write(first).
	NewWriter(w io.Writer, first sink.Record) (Writer, error)
}

// Writer writes the records of one object. It is not safe for concurrent
// use.
type Writer interface {
	// Write appends one record. It returns an error wrapping
	// ErrSchemaChanged, writing nothing, when rec's schema differs from the
	// object's.
	Write(rec sink.Record) error
	// Close finishes the object (footer, compression trailer); it does not
	// close the io.Writer.
	Close() error
}

// New returns the format for a format.class: one of Confluent's class
// names or the short aliases json, avro, parquet, bytearray.
func New(class string, o Options) (Format, error) { return newFormat(class, o, viewValue) }

// NewKeys returns the format writing record keys (store.kafka.keys) for
// keys.format.class, with an extension like ".keys.avro". A record with a
// null key is an error, as in Confluent.
func NewKeys(class string, o Options) (Format, error) { return newFormat(class, o, viewKey) }

// NewHeaders returns the format writing record headers
// (store.kafka.headers) for headers.format.class, with an extension like
// ".headers.avro". Each record's headers are written as Confluent's
// HeaderRecordView: an array of {key, value} structs with every value
// converted to a string (Connect's Values.convertToString); JSON and Parquet
// wrap the array in a RecordHeaders struct with one field "headers". A
// record without headers is an error, as in Confluent.
func NewHeaders(class string, o Options) (Format, error) { return newFormat(class, o, viewHeaders) }

func newFormat(class string, o Options, v view) (Format, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(class)) {
	case strings.ToLower(ClassJSON), "json":
		return newJSON(o, v)
	case strings.ToLower(ClassAvro), "avro":
		return newAvro(o, v)
	case strings.ToLower(ClassParquet), "parquet":
		return newParquet(o, v)
	case strings.ToLower(ClassByteArray), "bytearray":
		return newByteArray(o, v), nil
	}
	return nil, fmt.Errorf("format.class: %q is not one of %s, %s, %s, %s (or json, avro, parquet, bytearray)",
		class, ClassJSON, ClassAvro, ClassParquet, ClassByteArray)
}

func (o Options) validate() error {
	switch strings.ToLower(o.Compression) {
	case "", "none", "gzip":
	default:
		return fmt.Errorf("s3.compression.type: %q is not none or gzip", o.Compression)
	}
	if o.CompressionLevel < -1 || o.CompressionLevel > 9 {
		return fmt.Errorf("s3.compression.level: %d is not between -1 and 9", o.CompressionLevel)
	}
	if _, err := avroCodecOf(o.AvroCodec); err != nil {
		return err
	}
	if _, _, err := parquetCodecOf(o.ParquetCodec); err != nil {
		return err
	}
	switch strings.ToUpper(o.JSONDecimalFormat) {
	case "", "BASE64", "NUMERIC":
	default:
		return fmt.Errorf("json.decimal.format: %q is not BASE64 or NUMERIC", o.JSONDecimalFormat)
	}
	return nil
}

// gzipped reports whether s3.compression.type is gzip.
func (o Options) gzipped() bool { return strings.EqualFold(o.Compression, "gzip") }

// view is Confluent's RecordView: which part of a record a file holds.
type view uint8

const (
	viewValue view = iota
	viewKey
	viewHeaders
)

// extension is RecordView.getExtension, put before the format's own.
func (v view) extension() string {
	switch v {
	case viewKey:
		return ".keys"
	case viewHeaders:
		return ".headers"
	}
	return ""
}

func (v view) String() string {
	switch v {
	case viewKey:
		return "key"
	case viewHeaders:
		return "headers"
	}
	return "value"
}

// Connect schemas of Confluent's HeaderRecordView and KeyRecordView.
var (
	headerItemSchema = event.StructOf("",
		event.NewField("key", event.String()),
		event.NewField("value", event.String()))
	headersSchema         = event.Array(headerItemSchema)
	headersEnvelopeSchema = event.StructOf("RecordHeaders", event.NewField("headers", headersSchema))
)

// recordErr names the record in an error, as the S3 sink's logs do.
func recordErr(rec sink.Record, format string, args ...any) error {
	return fmt.Errorf("record %s-%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, fmt.Errorf(format, args...))
}

// schemaOf returns the schema the view's file is typed by: the value or key
// schema; the headers' fixed schema (enveloped for JSON and Parquet).
func (v view) schemaOf(rec sink.Record, enveloped bool) *event.Schema {
	switch v {
	case viewKey:
		if enveloped {
			return keyEnvelope(rec.KeySchema)
		}
		return rec.KeySchema
	case viewHeaders:
		if enveloped {
			return headersEnvelopeSchema
		}
		return headersSchema
	}
	return rec.ValueSchema
}

// valueOf returns the view's data for rec, with schema s from schemaOf.
func (v view) valueOf(rec sink.Record, s *event.Schema, enveloped bool) (any, error) {
	switch v {
	case viewKey:
		if rec.Key == nil {
			return nil, recordErr(rec, "key cannot be null (store.kafka.keys)")
		}
		if enveloped {
			return event.NewStruct(s, rec.Key), nil
		}
		return rec.Key, nil
	case viewHeaders:
		if len(rec.Headers) == 0 {
			return nil, recordErr(rec, "headers cannot be null or empty (store.kafka.headers)")
		}
		items := make([]any, len(rec.Headers))
		for i, h := range rec.Headers {
			str, err := headerString(h.Schema, h.Value)
			if err != nil {
				return nil, recordErr(rec, "header %q: %w", h.Key, err)
			}
			items[i] = event.NewStruct(headerItemSchema, h.Key, str)
		}
		if enveloped {
			return event.NewStruct(headersEnvelopeSchema, items), nil
		}
		return items, nil
	}
	return rec.Value, nil
}

// keyEnvelope is KeyRecordView's enveloped schema: struct RecordKey with
// one field "key". Built per key schema; cached by the writers.
func keyEnvelope(s *event.Schema) *event.Schema {
	if s == nil {
		return nil
	}
	return event.StructOf("RecordKey", event.NewField("key", s))
}

// schemaGuard tracks the schema of an object and reports a change.
type schemaGuard struct {
	v      view
	schema *event.Schema
}

func newGuard(v view, first sink.Record) schemaGuard {
	g := schemaGuard{v: v}
	switch v {
	case viewValue:
		g.schema = first.ValueSchema
	case viewKey:
		g.schema = first.KeySchema
	}
	return g
}

// check returns an ErrSchemaChanged error when rec's schema is not the
// object's. A tombstone (null value) is never a change for the value view:
// its schema is usually absent, and what to do with it is the caller's
// business (behavior.on.null.values).
func (g schemaGuard) check(rec sink.Record) error {
	var s *event.Schema
	switch g.v {
	case viewValue:
		if rec.Value == nil {
			return nil
		}
		s = rec.ValueSchema
	case viewKey:
		if rec.Key == nil {
			return nil
		}
		s = rec.KeySchema
	default:
		return nil
	}
	if s == g.schema || s.Equal(g.schema) {
		return nil
	}
	return fmt.Errorf("record %s-%d@%d: %s schema %v differs from the object's %v: %w",
		rec.Topic, rec.Partition, rec.Offset, g.v, s, g.schema, ErrSchemaChanged)
}
