package file

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestWriterAppendsLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := Open(Config{File: path})
	if err != nil {
		t.Fatal(err)
	}
	values := []any{"plain", []byte("bytes"), nil, json.RawMessage(`{"id":1}`), map[string]int{"n": 2}}
	if err := w.Put(t.Context(), values); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Flushed lines are in the file before Close.
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "old\nplain\nbytes\nnull\n{\"id\":1}\n{\"n\":2}\n"
	if string(got) != want {
		t.Fatalf("file = %q, want %q", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenError(t *testing.T) {
	if _, err := Open(Config{File: filepath.Join(t.TempDir(), "missing", "dir", "x")}); err == nil {
		t.Fatal("open in a missing directory succeeded")
	}
}
