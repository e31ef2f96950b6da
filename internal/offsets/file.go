package offsets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// formatVersion is written into the file so that a later layout can be told
// apart.
const formatVersion = 1

// tempPrefix starts the name of a temporary file next to the store; Open
// removes leftovers with this prefix.
const tempPrefix = ".offsets-"

// fileFormat is the JSON layout: positions are base64 (encoding/json's
// []byte encoding), keyed by source name.
type fileFormat struct {
	Version int               `json:"version"`
	Offsets map[string][]byte `json:"offsets"`
}

// File is an offset store backed by one JSON file. It is safe for concurrent
// use; each Save writes the file before returning.
type File struct {
	path string

	mu      sync.Mutex
	offsets map[string][]byte

	// write writes the encoded store to the temporary file; tests replace it
	// to simulate a crash part way through.
	write func(w io.Writer, data []byte) error
}

// Open returns the store at path, creating its directory if needed. A
// missing file is an empty store; an unreadable or corrupt file is an error
// (never silently reset, which would re-snapshot or skip data).
func Open(path string) (*File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("offsets %s: create directory: %w", path, err)
	}
	f := &File{path: path, offsets: map[string][]byte{}, write: writeAll}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("offsets %s: %w", path, err)
	default:
		var ff fileFormat
		if err := json.Unmarshal(data, &ff); err != nil {
			return nil, fmt.Errorf("offsets %s: corrupt file: %w", path, err)
		}
		if ff.Version != formatVersion {
			return nil, fmt.Errorf("offsets %s: unsupported format version %d (want %d)", path, ff.Version, formatVersion)
		}
		if ff.Offsets != nil {
			f.offsets = ff.Offsets
		}
	}
	removeTemps(dir)
	return f, nil
}

// Path returns the file the store writes.
func (f *File) Path() string { return f.path }

// Load returns the position saved for key, or nil when there is none.
func (f *File) Load(key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pos, ok := f.offsets[key]
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), pos...), nil
}

// Save records pos for key and writes the store durably; a nil pos removes
// key. On error the previous file is left in place and the in-memory state
// is unchanged.
func (f *File) Save(key string, pos []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.saveLocked(map[string][]byte{key: pos}); err != nil {
		return fmt.Errorf("offsets %s: save %q: %w", f.path, key, err)
	}
	return nil
}

// SaveAll records every entry (a nil value removes its key) in one durable
// write: after a crash either all of them or none are in the file.
func (f *File) SaveAll(entries map[string][]byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.saveLocked(entries); err != nil {
		return fmt.Errorf("offsets %s: save %d entries: %w", f.path, len(entries), err)
	}
	return nil
}

func (f *File) saveLocked(entries map[string][]byte) error {
	next := maps.Clone(f.offsets)
	for key, pos := range entries {
		if pos == nil {
			delete(next, key)
		} else {
			next[key] = append([]byte(nil), pos...)
		}
	}
	data, err := json.MarshalIndent(fileFormat{Version: formatVersion, Offsets: next}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := f.replace(append(data, '\n')); err != nil {
		return err
	}
	f.offsets = next
	return nil
}

// Entries returns a copy of every key that starts with prefix and its
// position (Kafka Connect's source offsets are one key per source
// partition, prefixed by the connector name).
func (f *File) Entries(prefix string) (map[string][]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]byte{}
	for k, pos := range f.offsets {
		if strings.HasPrefix(k, prefix) {
			out[k] = append([]byte(nil), pos...)
		}
	}
	return out, nil
}

// replace writes data to a temporary file in the store's directory, syncs
// it, renames it over the store and syncs the directory, so that the rename
// itself survives a crash.
func (f *File) replace(data []byte) (err error) {
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, tempPrefix+"*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := f.write(tmp, data); err != nil {
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return err
	}
	return syncDir(dir)
}

func writeAll(w io.Writer, data []byte) error {
	_, err := w.Write(data)
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// removeTemps deletes temporary files a crashed Save left behind. Failing
// to remove them is harmless.
func removeTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), tempPrefix) && strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
