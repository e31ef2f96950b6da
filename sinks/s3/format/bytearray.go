package format

import (
	"fmt"
	"io"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// byteArrayFormat is Confluent's ByteArrayFormat: each value's raw bytes
// (ByteArrayConverter: bytes or schemaless []byte only) followed by
// format.bytearray.separator.
type byteArrayFormat struct {
	o   Options
	v   view
	ext string
	sep []byte
}

func newByteArray(o Options, v view) *byteArrayFormat {
	f := &byteArrayFormat{o: o, v: v, ext: o.ByteArrayExtension, sep: []byte(lineSeparator)}
	if f.ext == "" {
		f.ext = ".bin"
	}
	if o.ByteArraySeparator != nil {
		f.sep = []byte(*o.ByteArraySeparator)
	}
	return f
}

func (f *byteArrayFormat) Extension() string {
	ext := f.v.extension() + f.ext
	if f.o.gzipped() {
		ext += ".gz"
	}
	return ext
}

func (f *byteArrayFormat) NewWriter(w io.Writer, first sink.Record) (Writer, error) {
	out, closer, err := compressed(w, f.o)
	if err != nil {
		return nil, err
	}
	return &byteArrayWriter{f: f, out: out, closer: closer, guard: newGuard(f.v, first)}, nil
}

type byteArrayWriter struct {
	f      *byteArrayFormat
	out    io.Writer
	closer io.Closer
	guard  schemaGuard
	buf    []byte
	closed bool
}

func (w *byteArrayWriter) Write(rec sink.Record) error {
	if err := w.guard.check(rec); err != nil {
		return err
	}
	s := w.f.v.schemaOf(rec, false)
	val, err := w.f.v.valueOf(rec, s, false)
	if err != nil {
		return err
	}
	if s != nil && s.Type() != event.TypeBytes {
		return recordErr(rec, "bytearray %s: schema %v is not bytes (ByteArrayConverter)", w.f.v, s)
	}
	b, ok := val.([]byte)
	if !ok {
		if val == nil {
			return recordErr(rec, "bytearray %s: a null value cannot be written", w.f.v)
		}
		return recordErr(rec, "bytearray %s: %T is not bytes (ByteArrayConverter)", w.f.v, val)
	}
	w.buf = append(append(w.buf[:0], b...), w.f.sep...)
	if _, err := w.out.Write(w.buf); err != nil {
		return fmt.Errorf("write bytearray object: %w", err)
	}
	return nil
}

func (w *byteArrayWriter) Close() error {
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
