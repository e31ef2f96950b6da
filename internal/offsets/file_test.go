package offsets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestSaveLoadReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "offsets.json")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Load("inventory"); err != nil || got != nil {
		t.Fatalf("Load on empty store = %q, %v", got, err)
	}
	steps := []struct {
		key string
		pos []byte
	}{
		{"inventory", []byte{0, 0, 0, 1, 0x16, 0xb3, 0x7c, 0x40}},
		{"billing", []byte("lsn=0/16B37C40")},
		{"inventory", []byte{0, 0, 0, 1, 0x16, 0xb3, 0x7d, 0x00}},
	}
	for _, s := range steps {
		if err := f.Save(s.key, s.pos); err != nil {
			t.Fatalf("Save(%q): %v", s.key, err)
		}
	}
	want := map[string][]byte{"inventory": steps[2].pos, "billing": steps[1].pos}

	g, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, store := range []*File{f, g} {
		for k, w := range want {
			got, err := store.Load(k)
			if err != nil || !bytes.Equal(got, w) {
				t.Errorf("Load(%q) = %x, %v; want %x", k, got, err, w)
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const wantFile = "{\n  \"version\": 1,\n  \"offsets\": {\n    \"billing\": \"bHNuPTAvMTZCMzdDNDA=\",\n    \"inventory\": \"AAAAARazfQA=\"\n  }\n}\n"
	if string(data) != wantFile {
		t.Errorf("file content:\n%s\nwant:\n%s", data, wantFile)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only offsets.json", len(entries))
	}
}

func TestLoadReturnsCopy(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "o.json"))
	if err != nil {
		t.Fatal(err)
	}
	pos := []byte{1, 2, 3}
	if err := f.Save("a", pos); err != nil {
		t.Fatal(err)
	}
	pos[0] = 9
	got, _ := f.Load("a")
	got[1] = 9
	again, _ := f.Load("a")
	if !bytes.Equal(again, []byte{1, 2, 3}) {
		t.Errorf("stored position changed through an alias: %v", again)
	}
}

// TestTornWriteKeepsOldFile simulates a crash in the middle of writing the
// temporary file: the good file must stay, in memory and on disk.
func TestTornWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offsets.json")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save("src", []byte("good")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	errCrash := errors.New("power lost")
	f.write = func(w io.Writer, data []byte) error {
		w.Write(data[:len(data)/2])
		return errCrash
	}
	err = f.Save("src", []byte("newer"))
	if !errors.Is(err, errCrash) {
		t.Fatalf("Save = %v, want the write error", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("file changed by a failed save:\n%s\nwas:\n%s", after, before)
	}
	if got, _ := f.Load("src"); string(got) != "good" {
		t.Errorf("Load after failed save = %q, want good", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("failed save left %d files behind", len(entries)-1)
	}
}

// TestCrashLeftoverTemp simulates a process killed after writing part of a
// temporary file (no cleanup ran): reopening must read the good file and
// remove the leftover.
func TestCrashLeftoverTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offsets.json")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save("src", []byte("good")); err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(dir, tempPrefix+"12345.tmp")
	if err := os.WriteFile(torn, []byte(`{"version": 1, "offsets": {"src": "bmV3`), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := g.Load("src"); string(got) != "good" {
		t.Errorf("Load = %q, want good", got)
	}
	if _, err := os.Stat(torn); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover temporary file not removed: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"corrupt", `{"version": 1, "offsets": {`, "corrupt file"},
		{"version", `{"version": 7, "offsets": {}}`, "unsupported format version 7 (want 1)"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name+".json")
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open = %v, want an error naming the file and %q", tt.name, err, tt.want)
		}
	}
}

func TestSaveNilDeletes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.json")
	f, _ := Open(path)
	f.Save("a", []byte{1})
	if err := f.Save("a", nil); err != nil {
		t.Fatal(err)
	}
	g, _ := Open(path)
	if got, _ := g.Load("a"); got != nil {
		t.Errorf("Load after delete = %v", got)
	}
}

func TestConcurrentSaves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.json")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				if err := f.Save(string(rune('a'+i)), []byte{byte(j)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	g, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		if got, _ := g.Load(string(rune('a' + i))); !bytes.Equal(got, []byte{9}) {
			t.Errorf("key %c = %v, want [9]", 'a'+i, got)
		}
	}
}

func BenchmarkSave(b *testing.B) {
	f, err := Open(filepath.Join(b.TempDir(), "o.json"))
	if err != nil {
		b.Fatal(err)
	}
	pos := []byte{0, 0, 0, 1, 0x16, 0xb3, 0x7c, 0x40}
	for b.Loop() {
		if err := f.Save("inventory", pos); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSaveAllEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.json")
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Save("inventory", []byte("lsn")); err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAll(map[string][]byte{
		`["src",{"filename":"a"}]`:  []byte(`{"position":1}`),
		`["src",{"filename":"b"}]`:  []byte(`{"position":2}`),
		`["srcx",{"filename":"c"}]`: []byte(`{"position":3}`),
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAll(map[string][]byte{`["src",{"filename":"a"}]`: nil, `["src",{"filename":"b"}]`: []byte(`{"position":5}`)}); err != nil {
		t.Fatal(err)
	}
	g, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		prefix string
		want   map[string]string
	}{
		{`["src",`, map[string]string{`["src",{"filename":"b"}]`: `{"position":5}`}},
		{`["srcx",`, map[string]string{`["srcx",{"filename":"c"}]`: `{"position":3}`}},
		{`inv`, map[string]string{"inventory": "lsn"}},
		{`["none",`, map[string]string{}},
	}
	for _, tt := range tests {
		for _, store := range []*File{f, g} {
			got, err := store.Entries(tt.prefix)
			if err != nil {
				t.Fatal(err)
			}
			gs := map[string]string{}
			for k, v := range got {
				gs[k] = string(v)
			}
			if fmt.Sprint(gs) != fmt.Sprint(tt.want) {
				t.Errorf("Entries(%q) = %v, want %v", tt.prefix, gs, tt.want)
			}
		}
	}
}

// TestSaveAllTornWrite: a failed SaveAll changes none of its entries.
func TestSaveAllTornWrite(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "o.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SaveAll(map[string][]byte{"a": []byte("1"), "b": []byte("1")}); err != nil {
		t.Fatal(err)
	}
	errCrash := errors.New("power lost")
	f.write = func(w io.Writer, data []byte) error { return errCrash }
	if err := f.SaveAll(map[string][]byte{"a": []byte("2"), "b": nil}); !errors.Is(err, errCrash) {
		t.Fatalf("SaveAll = %v, want the write error", err)
	}
	for _, k := range []string{"a", "b"} {
		if got, _ := f.Load(k); string(got) != "1" {
			t.Errorf("Load(%s) after failed SaveAll = %q, want 1", k, got)
		}
	}
}
