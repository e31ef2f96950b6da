package file

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// collect runs a reader until it has emitted want lines.
func collect(t *testing.T, cfg Config, want int, during func()) []Line {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []Line
	var batches [][]Line
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, func(_ context.Context, b []Line) error {
			if len(b) > cfg.BatchSize && cfg.BatchSize > 0 {
				t.Errorf("batch of %d lines > batch.size %d", len(b), cfg.BatchSize)
			}
			batches = append(batches, append([]Line(nil), b...))
			got = append(got, b...)
			if len(got) >= want {
				cancel()
			}
			return nil
		})
	}()
	if during != nil {
		during()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return got
}

func TestReaderLinesAndPositions(t *testing.T) {
	tests := []struct {
		name    string
		content string
		start   int64
		batch   int
		want    []Line
	}{
		{"three lines", "first line\nsecond line\nthird line\n", 0, 0,
			[]Line{{"first line", 11}, {"second line", 23}, {"third line", 34}}},
		{"resume", "first line\nsecond line\nthird line\n", 11, 0,
			[]Line{{"second line", 23}, {"third line", 34}}},
		{"crlf and empty", "a\r\n\nb\n", 0, 1,
			[]Line{{"a", 3}, {"", 4}, {"b", 6}}},
		{"partial last line waits", "a\nb", 0, 0, []Line{{"a", 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.txt")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got := collect(t, Config{File: path, Start: tt.start, BatchSize: tt.batch, PollInterval: 10 * time.Millisecond}, len(tt.want), nil)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReaderTailsAndLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	long := make([]byte, 200<<10)
	for i := range long {
		long[i] = 'x'
	}
	if err := os.WriteFile(path, []byte("a\npart"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := collect(t, Config{File: path, PollInterval: 5 * time.Millisecond}, 3, func() {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(append(append([]byte("ial\n"), long...), '\n')); err != nil {
			t.Fatal(err)
		}
	})
	want := []Line{{"a", 2}, {"partial", 10}, {string(long), 10 + int64(len(long)) + 1}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d lines %v...", len(got), got[:min(2, len(got))])
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("no file accepted")
	}
	if _, err := New(Config{File: "x", BatchSize: -1}); err == nil {
		t.Fatal("negative batch.size accepted")
	}
}
