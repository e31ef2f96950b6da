package s3

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// spool holds one object's bytes while its set is open: in memory until
// the sink's memory budget is exceeded, then in a temporary file.
type spool struct {
	mem   bytes.Buffer
	file  *os.File
	owner *spoolOwner // of file
	size  int64
}

func (sp *spool) Write(p []byte) (int, error) {
	if sp.file != nil {
		n, err := sp.file.Write(p)
		sp.size += int64(n)
		if err != nil {
			return n, fmt.Errorf("spool file %s: %w", sp.file.Name(), err)
		}
		return n, nil
	}
	n, _ := sp.mem.Write(p)
	sp.size += int64(n)
	return n, nil
}

// inMemory is how many bytes the spool holds in memory.
func (sp *spool) inMemory() int64 {
	if sp.file != nil {
		return 0
	}
	return int64(sp.mem.Len())
}

// spill moves the bytes to a new spill file of o.
func (sp *spool) spill(o *spoolOwner) error {
	if sp.file != nil {
		return nil
	}
	f, err := o.create()
	if err != nil {
		return fmt.Errorf("spool to disk: %w", err)
	}
	if _, err := f.Write(sp.mem.Bytes()); err != nil {
		o.remove(f)
		return fmt.Errorf("spool to %s: %w", f.Name(), err)
	}
	sp.file, sp.owner = f, o
	sp.mem = bytes.Buffer{}
	return nil
}

// reader returns the bytes written so far.
func (sp *spool) reader() io.ReaderAt {
	if sp.file != nil {
		return sp.file
	}
	return bytes.NewReader(sp.mem.Bytes())
}

// release drops the bytes (and the file).
func (sp *spool) release() {
	if sp.file != nil {
		sp.owner.remove(sp.file)
		sp.file, sp.owner = nil, nil
	}
	sp.mem = bytes.Buffer{}
	sp.size = 0
}
