package s3

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Spill files are named after their owner, one sink: <spoolPrefix><owner>-
// <n>.part, with owner "<pid>-<random hex>". The owner holds an exclusive
// flock on <spoolPrefix><owner>.lock from before its first spill file until
// Close, so a file whose owner's lock can be taken (or whose lock file is
// gone) belongs to a process that died, whatever became of its pid. The pid
// is only there for people reading the folder.
const (
	spoolPrefix = "sluice-s3-"
	spoolPart   = ".part"
	spoolLock   = ".lock"
)

// spoolOwner creates one sink's spill files in dir ("" the system's
// temporary folder). Its lock file exists while it has spill files: created
// before the first, removed after the last.
type spoolOwner struct {
	dir   string
	id    string
	lock  *os.File
	seq   int
	files int // spill files not yet removed
}

func newSpoolOwner(dir string) *spoolOwner {
	if dir == "" {
		dir = os.TempDir()
	}
	return &spoolOwner{dir: dir}
}

// create opens a new spill file, taking the owner's lock first if need be.
func (o *spoolOwner) create() (*os.File, error) {
	if o.lock == nil {
		if err := o.takeLock(); err != nil {
			return nil, err
		}
	}
	for {
		o.seq++
		name := filepath.Join(o.dir, spoolPrefix+o.id+"-"+strconv.Itoa(o.seq)+spoolPart)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			if o.files == 0 {
				o.close()
			}
			return nil, fmt.Errorf("spill file: %w", err)
		}
		o.files++
		return f, nil
	}
}

// takeLock creates and locks a lock file under a new owner id. A cleaner of
// another sink may find the file between its creation and the flock, take
// it for a dead owner's and remove it: the lock is then on a removed file,
// and it is retried under another id.
func (o *spoolOwner) takeLock() error {
	var last error
	for range 5 {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		id := strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
		name := filepath.Join(o.dir, spoolPrefix+id+spoolLock)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			last = err
			continue
		}
		if err != nil {
			return fmt.Errorf("spill lock file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			last = fmt.Errorf("lock %s: %w", name, err)
			continue
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(name)
		if err1 != nil || err2 != nil || !os.SameFile(held, now) {
			f.Close()
			last = fmt.Errorf("lock %s: removed by another sink's cleanup", name)
			continue
		}
		o.id, o.lock = id, f
		return nil
	}
	return fmt.Errorf("spill lock file in %s: %w", o.dir, last)
}

// remove closes and removes a spill file of o, and the lock file with the
// last one.
func (o *spoolOwner) remove(f *os.File) {
	f.Close()
	os.Remove(f.Name())
	o.files--
	if o.files == 0 {
		o.close()
	}
}

// close removes the lock file and releases the lock; the spill files must
// be removed already.
func (o *spoolOwner) close() {
	if o.lock == nil {
		return
	}
	os.Remove(o.lock.Name())
	o.lock.Close()
	o.lock, o.id = nil, ""
}

// cleanSpoolDir removes from dir ("" the system's temporary folder) the
// spill files of owners that are gone: those whose lock file can be locked
// (the lock dies with its process) and those without a lock file (an owner
// creates its lock file before its first spill file and removes it only
// after its last). Files of live owners, in this process or another, are
// left alone, as is any other file. It returns how many files it removed.
func cleanSpoolDir(dir string, log *slog.Logger) (int, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("clean spill folder %s: %w", dir, err)
	}
	parts := map[string][]string{} // owner -> spill file names
	var owners []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		if owner, ok := spoolPartOwner(name); ok {
			if _, seen := parts[owner]; !seen {
				owners = append(owners, owner)
			}
			parts[owner] = append(parts[owner], name)
		} else if owner, ok := spoolLockOwner(name); ok {
			if _, seen := parts[owner]; !seen {
				owners = append(owners, owner)
				parts[owner] = nil
			}
		}
	}
	removed := 0
	var errs []error
	for _, owner := range owners {
		n, err := cleanOwner(dir, owner, parts[owner])
		removed += n
		if err != nil {
			errs = append(errs, err)
		}
		if n > 0 {
			log.Info("removed spill files of a dead process", "dir", dir, "owner", owner, "files", n)
		}
	}
	return removed, errors.Join(errs...)
}

// cleanOwner removes owner's spill files and lock file if the owner is gone.
func cleanOwner(dir, owner string, parts []string) (int, error) {
	lockName := filepath.Join(dir, spoolPrefix+owner+spoolLock)
	f, err := os.Open(lockName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No lock file: the owner is gone (see cleanSpoolDir).
	case err != nil:
		return 0, fmt.Errorf("spill lock file: %w", err)
	default:
		defer f.Close()
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			if errors.Is(err, unix.EWOULDBLOCK) {
				return 0, nil // alive
			}
			return 0, fmt.Errorf("lock %s: %w", lockName, err)
		}
	}
	n := 0
	var errs []error
	for _, p := range parts {
		switch err := os.Remove(filepath.Join(dir, p)); {
		case err == nil:
			n++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("remove spill file: %w", err))
		}
	}
	if f != nil && len(errs) == 0 {
		// Last, so that a cleanup that dies half way leaves the owner's
		// remaining files to the next one.
		if err := os.Remove(lockName); err == nil {
			n++
		} else if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove spill lock file: %w", err))
		}
	}
	return n, errors.Join(errs...)
}

// spoolPartOwner returns the owner of a spill file name
// (<prefix><pid>-<hex>-<n>.part).
func spoolPartOwner(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, spoolPrefix)
	if !ok {
		return "", false
	}
	if rest, ok = strings.CutSuffix(rest, spoolPart); !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 || !digits(rest[i+1:]) || !validOwner(rest[:i]) {
		return "", false
	}
	return rest[:i], true
}

// spoolLockOwner returns the owner of a lock file name (<prefix><pid>-<hex>.lock).
func spoolLockOwner(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, spoolPrefix)
	if !ok {
		return "", false
	}
	if rest, ok = strings.CutSuffix(rest, spoolLock); !ok || !validOwner(rest) {
		return "", false
	}
	return rest, true
}

// validOwner reports whether s is "<pid>-<hex>".
func validOwner(s string) bool {
	pid, rnd, ok := strings.Cut(s, "-")
	if !ok || !digits(pid) || rnd == "" {
		return false
	}
	_, err := hex.DecodeString(rnd)
	return err == nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
