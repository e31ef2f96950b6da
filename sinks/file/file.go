package file

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Config configures a Writer. The JSON names are FileStreamSink's keys.
type Config struct {
	// File is the path appended to; empty means standard output.
	File string `json:"file"`
}

// Writer appends lines to one file.
type Writer struct {
	path string
	f    *os.File // nil for standard output
	w    *bufio.Writer
}

// Open opens (creating if needed) the configured file for appending.
func Open(cfg Config) (*Writer, error) {
	if cfg.File == "" {
		return &Writer{w: bufio.NewWriter(os.Stdout)}, nil
	}
	f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open sink file %s: %w", cfg.File, err)
	}
	return &Writer{path: cfg.File, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Put buffers one line per value. A value is the converted record value:
// a string or []byte is written as is, nil as "null" (FileStreamSink's
// rendering of a tombstone), json.RawMessage as its JSON text, anything else
// as its JSON encoding.
func (w *Writer) Put(_ context.Context, values []any) error {
	for _, v := range values {
		if err := writeValue(w.w, v); err != nil {
			return fmt.Errorf("write to %s: %w", w.name(), err)
		}
		if err := w.w.WriteByte('\n'); err != nil {
			return fmt.Errorf("write to %s: %w", w.name(), err)
		}
	}
	return nil
}

func writeValue(w io.Writer, v any) error {
	var err error
	switch v := v.(type) {
	case nil:
		_, err = io.WriteString(w, "null")
	case string:
		_, err = io.WriteString(w, v)
	case []byte:
		_, err = w.Write(v)
	case json.RawMessage:
		_, err = w.Write(v)
	default:
		b, merr := json.Marshal(v)
		if merr != nil {
			return merr
		}
		_, err = w.Write(b)
	}
	return err
}

// Flush writes the buffered lines and fsyncs the file; once it returns nil
// the lines survive a crash and their offsets may be committed.
func (w *Writer) Flush(context.Context) error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", w.name(), err)
	}
	if w.f != nil {
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", w.name(), err)
		}
	}
	return nil
}

// Close flushes and closes the file (standard output stays open).
func (w *Writer) Close() error {
	err := w.Flush(context.Background())
	if w.f != nil {
		if cerr := w.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", w.name(), cerr)
		}
	}
	return err
}

func (w *Writer) name() string {
	if w.path == "" {
		return "stdout"
	}
	return w.path
}
