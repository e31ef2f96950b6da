package format

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/avroconv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// avroSyncInterval is DataFileWriter's default sync interval: a block is
// written once its uncompressed records reach 64,000 bytes.
const avroSyncInterval = 16 * 4000

var avroMagic = []byte{'O', 'b', 'j', 1}

// avroCodecOf normalises avro.codec.
func avroCodecOf(name string) (string, error) {
	switch n := strings.ToLower(strings.TrimSpace(name)); n {
	case "":
		return "null", nil
	case "null", "deflate", "snappy", "zstandard":
		return n, nil
	}
	return "", fmt.Errorf("avro.codec: %q is not null, deflate, snappy or zstandard", name)
}

// avroFormat is Confluent's AvroFormat: an Avro object container file per
// object whose writer schema is AvroData.fromConnectSchema of the first
// record's schema (schema/avroconv), records in Avro binary encoding.
type avroFormat struct {
	v     view
	codec string
	zstd  *zstd.Encoder
}

func newAvro(o Options, v view) (*avroFormat, error) {
	codec, err := avroCodecOf(o.AvroCodec)
	if err != nil {
		return nil, err
	}
	f := &avroFormat{v: v, codec: codec}
	if codec == "zstandard" {
		// Avro's ZstandardCodec defaults: level 3, no checksum.
		f.zstd, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("avro zstandard codec: %w", err)
		}
	}
	return f, nil
}

// localRegistry lets the Avro converter encode without a schema registry:
// the container file carries the schema, so the id is never used.
type localRegistry struct{}

func (localRegistry) Register(context.Context, string, string) (int, error) { return 1, nil }
func (localRegistry) SchemaByID(context.Context, int) (string, error) {
	return "", fmt.Errorf("s3 format: no registry")
}
func (localRegistry) Latest(context.Context, string) (int, string, error) {
	return 0, "", fmt.Errorf("s3 format: no registry")
}

func (f *avroFormat) Extension() string { return f.v.extension() + ".avro" }

func (f *avroFormat) NewWriter(w io.Writer, first sink.Record) (Writer, error) {
	s := f.v.schemaOf(first, false)
	if s == nil {
		return nil, recordErr(first, "avro %s: %w", f.v, ErrNoSchema)
	}
	// A converter per object: it caches by schema pointer, and a record's
	// schema may be a new pointer for every record (JSON input).
	conv, err := avroconv.New(avroconv.DefaultConfig(), localRegistry{})
	if err != nil {
		return nil, fmt.Errorf("avro format: %w", err)
	}
	schemaJSON, err := conv.Compile(s)
	if err != nil {
		return nil, recordErr(first, "avro schema of the %s: %w", f.v, err)
	}
	aw := &avroWriter{f: f, conv: conv, w: w, guard: newGuard(f.v, first), schema: s}
	aw.sync = md5.Sum(fmt.Appendf(nil, "sluice s3 %s %s %d %d", f.v, first.Topic, first.Partition, first.Offset))
	if err := aw.writeHeader(schemaJSON); err != nil {
		return nil, err
	}
	return aw, nil
}

type avroWriter struct {
	f      *avroFormat
	conv   *avroconv.Converter
	wrap   *event.Schema // one-field wrapper struct of schema, built on use
	w      io.Writer
	guard  schemaGuard
	schema *event.Schema
	sync   [16]byte
	block  bytes.Buffer
	count  int64
	out    []byte
	flate  *flate.Writer
	closed bool
}

// writeHeader writes the container header: magic, the metadata map in the
// order Java's DataFileWriter writes its HashMap (avro.schema, then
// avro.codec) and the sync marker. Java draws the marker at random; here it
// is derived from the object's first record so that a replay writes the
// same bytes.
func (w *avroWriter) writeHeader(schemaJSON []byte) error {
	b := append([]byte(nil), avroMagic...)
	b = appendLong(b, 2)
	b = appendBytes(appendBytes(b, []byte("avro.schema")), schemaJSON)
	b = appendBytes(appendBytes(b, []byte("avro.codec")), []byte(w.f.codec))
	b = appendLong(b, 0)
	b = append(b, w.sync[:]...)
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write avro header: %w", err)
	}
	return nil
}

func (w *avroWriter) Write(rec sink.Record) error {
	if err := w.guard.check(rec); err != nil {
		return err
	}
	val, err := w.f.v.valueOf(rec, w.schema, false)
	if err != nil {
		return err
	}
	data, err := w.encode(rec, val)
	if err != nil {
		return err
	}
	w.block.Write(data)
	w.count++
	if w.block.Len() >= avroSyncInterval {
		return w.writeBlock()
	}
	return nil
}

// encode returns the Avro binary encoding of val (of the object's schema)
// through schema/avroconv. A value that is not a struct, or a struct bound
// to another schema pointer, is encoded as the only field of a wrapper
// struct: a record's encoding is its fields' encodings in order, so the
// bytes are those of the value itself, and the converter's caches see one
// schema pointer per object.
func (w *avroWriter) encode(rec sink.Record, val any) ([]byte, error) {
	s := w.schema
	if val == nil && !s.IsOptional() {
		return nil, recordErr(rec, "avro %s: a null value cannot be written with the required schema %v", w.f.v, s)
	}
	st, ok := val.(*event.Struct)
	if !ok || st.Schema() != s {
		if w.wrap == nil {
			w.wrap = event.StructOf("sluice.s3.format.Wrapper", event.NewField("v", s))
		}
		st = event.NewStruct(w.wrap, val)
	}
	b, err := w.conv.Encode(context.Background(), rec.Topic, w.f.v == viewKey, st)
	if err != nil {
		return nil, recordErr(rec, "avro %s: %w", w.f.v, err)
	}
	return b[5:], nil // magic byte and schema id
}

// writeBlock writes the buffered records as one block: count, size of the
// compressed bytes, the bytes, the sync marker.
func (w *avroWriter) writeBlock() error {
	if w.count == 0 {
		return nil
	}
	data, err := w.compress(w.block.Bytes())
	if err != nil {
		return err
	}
	out := appendLong(w.out[:0], w.count)
	out = appendLong(out, int64(len(data)))
	out = append(out, data...)
	out = append(out, w.sync[:]...)
	w.out = out
	w.block.Reset()
	w.count = 0
	if _, err := w.w.Write(out); err != nil {
		return fmt.Errorf("write avro block: %w", err)
	}
	return nil
}

func (w *avroWriter) compress(data []byte) ([]byte, error) {
	switch w.f.codec {
	case "deflate":
		// Avro's DeflateCodec: raw deflate (no zlib header), level -1.
		var buf bytes.Buffer
		if w.flate == nil {
			w.flate, _ = flate.NewWriter(&buf, flate.DefaultCompression)
		} else {
			w.flate.Reset(&buf)
		}
		if _, err := w.flate.Write(data); err != nil {
			return nil, fmt.Errorf("avro deflate: %w", err)
		}
		if err := w.flate.Close(); err != nil {
			return nil, fmt.Errorf("avro deflate: %w", err)
		}
		return buf.Bytes(), nil
	case "snappy":
		// Avro's SnappyCodec: a snappy block and the big-endian CRC-32 of
		// the uncompressed bytes.
		out := s2.EncodeSnappy(nil, data)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(data)), nil
	case "zstandard":
		return w.f.zstd.EncodeAll(data, nil), nil
	}
	return data, nil
}

func (w *avroWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.writeBlock()
}

// appendLong appends an Avro long (zig-zag varint).
func appendLong(b []byte, n int64) []byte {
	return binary.AppendUvarint(b, uint64((n<<1)^(n>>63)))
}

func appendBytes(b, p []byte) []byte {
	return append(appendLong(b, int64(len(p))), p...)
}
