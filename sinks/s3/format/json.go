package format

import (
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/schema/jsonconv"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// lineSeparator is System.lineSeparator() on the Linux JVMs Connect runs on.
const lineSeparator = "\n"

// jsonFormat is Confluent's JsonFormat: one JSON value per line, structs as
// JsonConverter (schemas.enable=false) writes them, anything else as
// Jackson's ObjectMapper.writeValue does.
type jsonFormat struct {
	o   Options
	v   view
	cfg jsonconv.Config
}

func newJSON(o Options, v view) (*jsonFormat, error) {
	df := jsonconv.DecimalBase64
	if strings.EqualFold(o.JSONDecimalFormat, "NUMERIC") {
		df = jsonconv.DecimalNumeric
	}
	cfg := jsonconv.Config{DecimalFormat: df, ReplaceNullWithDefault: true}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("json format: %w", err)
	}
	return &jsonFormat{o: o, v: v, cfg: cfg}, nil
}

func (f *jsonFormat) Extension() string {
	ext := f.v.extension() + ".json"
	if f.o.gzipped() {
		ext += ".gz"
	}
	return ext
}

func (f *jsonFormat) NewWriter(w io.Writer, first sink.Record) (Writer, error) {
	out, closer, err := compressed(w, f.o)
	if err != nil {
		return nil, err
	}
	// A converter per object: it caches by schema pointer, and a record's
	// schema may be a new pointer for every record (JSON input).
	conv, err := jsonconv.New(f.cfg)
	if err != nil {
		return nil, fmt.Errorf("json format: %w", err)
	}
	return &jsonWriter{f: f, conv: conv, out: out, closer: closer, guard: newGuard(f.v, first)}, nil
}

type jsonWriter struct {
	f      *jsonFormat
	conv   *jsonconv.Converter
	out    io.Writer
	closer io.Closer
	guard  schemaGuard
	buf    []byte
	closed bool
}

func (w *jsonWriter) Write(rec sink.Record) error {
	if err := w.guard.check(rec); err != nil {
		return err
	}
	// JsonRecordWriterProvider envelops only the headers view.
	enveloped := w.f.v == viewHeaders
	s := w.f.v.schemaOf(rec, enveloped)
	val, err := w.f.v.valueOf(rec, s, enveloped)
	if err != nil {
		return err
	}
	buf := w.buf[:0]
	if st, ok := val.(*event.Struct); ok {
		buf, err = w.conv.EncodeStruct(buf, st)
	} else {
		buf, err = jackson(w.conv, buf, s, val)
	}
	if err != nil {
		return recordErr(rec, "json %s: %w", w.f.v, err)
	}
	buf = append(buf, lineSeparator...)
	w.buf = buf
	if _, err := w.out.Write(buf); err != nil {
		return fmt.Errorf("write json object: %w", err)
	}
	return nil
}

// jackson writes a value that is not a struct as ObjectMapper.writeValue
// does with the Java object Connect holds: null, strings, numbers,
// booleans, base64 bytes, lists and maps; a Decimal (BigDecimal) as a plain
// number and Date/Time/Timestamp (java.util.Date) as epoch milliseconds.
// Structs nested in such values are written as JsonConverter writes them
// (Jackson would dump the Struct's bean properties).
func jackson(conv *jsonconv.Converter, dst []byte, s *event.Schema, v any) ([]byte, error) {
	if v == nil {
		return append(dst, "null"...), nil
	}
	if s != nil {
		switch s.Name() {
		case event.LogicalDecimal:
			str, err := decimalString(s, v)
			return append(dst, str...), err
		case event.LogicalDate, event.LogicalTime, event.LogicalTimestamp:
			ms, ok := event.AsInt64(v)
			if !ok {
				return nil, fmt.Errorf("%T is not a %s", v, s.Name())
			}
			if s.Name() == event.LogicalDate {
				ms *= millisPerDay
			}
			return fmt.Appendf(dst, "%d", ms), nil
		}
	}
	return conv.Encode(dst, s, v)
}

func (w *jsonWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.closer != nil {
		if err := w.closer.Close(); err != nil {
			return fmt.Errorf("finish gzip stream: %w", err)
		}
	}
	return nil
}

// compressed wraps w for s3.compression.type.
func compressed(w io.Writer, o Options) (io.Writer, io.Closer, error) {
	if !o.gzipped() {
		return w, nil, nil
	}
	level := o.CompressionLevel
	if level == 0 {
		level = flate.DefaultCompression
	}
	return newGzipWriter(w, level)
}

// gzipHeader is the header Java's GZIPOutputStream writes (JDK 16 and
// later): deflate, no flags, no modification time, no extra flags, OS
// unknown. compress/gzip would set the extra flags by level.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}

// gzipWriter writes a gzip member as GZIPOutputStream does: the fixed
// header, a raw deflate stream, CRC-32 and length (little-endian).
type gzipWriter struct {
	w      io.Writer
	fw     *flate.Writer
	crc    uint32
	size   uint32
	header bool
}

func newGzipWriter(w io.Writer, level int) (*gzipWriter, *gzipWriter, error) {
	fw, err := flate.NewWriter(w, level)
	if err != nil {
		return nil, nil, fmt.Errorf("s3.compression.level: %w", err)
	}
	g := &gzipWriter{w: w, fw: fw}
	return g, g, nil
}

func (g *gzipWriter) writeHeader() error {
	if g.header {
		return nil
	}
	g.header = true
	_, err := g.w.Write(gzipHeader)
	return err
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if err := g.writeHeader(); err != nil {
		return 0, err
	}
	g.crc = crc32.Update(g.crc, crc32.IEEETable, p)
	g.size += uint32(len(p))
	return g.fw.Write(p)
}

func (g *gzipWriter) Close() error {
	if err := g.writeHeader(); err != nil {
		return err
	}
	if err := g.fw.Close(); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], g.crc)
	binary.LittleEndian.PutUint32(trailer[4:], g.size)
	_, err := g.w.Write(trailer[:])
	return err
}
