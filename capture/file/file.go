package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// DefaultBatchSize is FileStreamSource's default batch.size.
const DefaultBatchSize = 2000

// DefaultPollInterval is how long the reader waits at the end of the file
// before looking for more bytes.
const DefaultPollInterval = time.Second

// Config configures a Reader. The JSON names are FileStreamSource's keys.
type Config struct {
	// File is the path of the file to read (required).
	File string `json:"file"`
	// BatchSize is the most lines handed to emit at once.
	BatchSize int `json:"batch.size"`
	// Start is the byte position to resume from (0: the beginning).
	Start int64 `json:"-"`
	// PollInterval is the wait at the end of the file.
	PollInterval time.Duration `json:"-"`
}

// Validate reports a missing file or a batch size below 1.
func (c Config) Validate() error {
	if c.File == "" {
		return errors.New("file: file is required")
	}
	if c.BatchSize < 1 {
		return fmt.Errorf("file: batch.size %d must be at least 1", c.BatchSize)
	}
	if c.Start < 0 {
		return fmt.Errorf("file: start position %d is negative", c.Start)
	}
	return nil
}

// Line is one line of the file.
type Line struct {
	// Text is the line without its terminator.
	Text string
	// Position is the byte offset just past the line's "\n": the position
	// to resume from once this line is safely stored.
	Position int64
}

// Reader emits the lines of one file.
type Reader struct {
	cfg Config
}

// New returns a Reader; it opens nothing until Run.
func New(cfg Config) (*Reader, error) {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Reader{cfg: cfg}, nil
}

// Run reads lines from the start position and hands them to emit in file
// order, in batches of at most BatchSize, until ctx ends (it then returns
// nil) or reading or emit fails. A file that does not exist yet is waited
// for, as FileStreamSource does.
func (r *Reader) Run(ctx context.Context, emit func(context.Context, []Line) error) error {
	f, err := r.open(ctx)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(r.cfg.Start, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s to %d: %w", r.cfg.File, r.cfg.Start, err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	pos := r.cfg.Start
	var partial []byte // bytes of a line whose newline has not arrived yet
	batch := make([]Line, 0, min(r.cfg.BatchSize, 1024))
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			partial = append(partial, chunk...)
			continue
		}
		if err == nil {
			line := chunk
			if len(partial) > 0 {
				line = append(partial, chunk...)
			}
			pos += int64(len(line))
			text := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			batch = append(batch, Line{Text: string(text), Position: pos})
			partial = partial[:0]
			if len(batch) >= r.cfg.BatchSize {
				if err := emit(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", r.cfg.File, err)
		}
		partial = append(partial, chunk...)
		if len(batch) > 0 {
			if err := emit(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.cfg.PollInterval):
		}
	}
}

// open waits for the file to exist; it returns nil, nil when ctx ends first.
func (r *Reader) open(ctx context.Context) (*os.File, error) {
	for {
		f, err := os.Open(r.cfg.File)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open %s: %w", r.cfg.File, err)
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(r.cfg.PollInterval):
		}
	}
}
