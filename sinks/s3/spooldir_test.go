package s3

import (
	"bufio"
	"context"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// dirNames lists dir's file names, sorted.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func touch(t testing.TB, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// deadPid returns the pid of a process that has exited.
func deadPid(t testing.TB) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestCleanSpoolDir: the spill files of an owner whose lock is free (a dead
// process) or gone are removed with its lock file; a live owner's (this
// process's) and files that are not spill files are kept.
func TestCleanSpoolDir(t *testing.T) {
	dir := t.TempDir()
	dead := strconv.Itoa(deadPid(t)) + "-0a1b2c"
	orphan := strconv.Itoa(deadPid(t)) + "-ffee01"
	touch(t, dir,
		spoolPrefix+dead+spoolLock, spoolPrefix+dead+"-1"+spoolPart, spoolPrefix+dead+"-2"+spoolPart,
		spoolPrefix+orphan+"-7"+spoolPart,
		// Not named as this version names spill files: kept.
		"sluice-s3-123456789.part", "sluice-s3-x-1.part", "sluice-s3-12-zz.lock", "other.part")

	live := newSpoolOwner(dir)
	var files []*os.File
	for range 2 {
		f, err := live.create()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if !strings.HasPrefix(live.id, strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("owner id %q does not start with the pid", live.id)
	}
	liveNames := []string{spoolPrefix + live.id + "-1" + spoolPart, spoolPrefix + live.id + "-2" + spoolPart, spoolPrefix + live.id + spoolLock}

	n, err := cleanSpoolDir(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("removed %d files, want 4", n)
	}
	want := append([]string{"other.part", "sluice-s3-12-zz.lock", "sluice-s3-123456789.part", "sluice-s3-x-1.part"}, liveNames...)
	slices.Sort(want)
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("after cleanup %v, want %v", got, want)
	}

	// The lock file goes with the owner's last spill file.
	live.remove(files[0])
	want = append([]string{"other.part", "sluice-s3-12-zz.lock", "sluice-s3-123456789.part", "sluice-s3-x-1.part"}, liveNames[1:]...)
	slices.Sort(want)
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("after removing one spill file %v, want %v", got, want)
	}
	live.remove(files[1])
	want = []string{"other.part", "sluice-s3-12-zz.lock", "sluice-s3-123456789.part", "sluice-s3-x-1.part"}
	if got := dirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("after removing both %v, want %v", got, want)
	}
}

// TestSpoolNames: only names made as spoolOwner makes them have an owner.
func TestSpoolNames(t *testing.T) {
	for _, c := range []struct {
		name, part, lock string
	}{
		{"sluice-s3-42-0a1b-7.part", "42-0a1b", ""},
		{"sluice-s3-42-0a1b.lock", "", "42-0a1b"},
		{"sluice-s3-42-0a1b-x.part", "", ""},
		{"sluice-s3-42-0a1b.part", "", ""}, // no sequence number
		{"sluice-s3-42-zz-1.part", "", ""},
		{"sluice-s3-4x-0a-1.part", "", ""},
		{"sluice-s3-123456789.part", "", ""}, // older versions' names
		{"sluice-s3-42.lock", "", ""},
		{"sluice-s3--0a.lock", "", ""},
		{"sluice-s3-42-0a1b-7.part.tmp", "", ""},
		{"other-42-0a1b-7.part", "", ""},
	} {
		part, _ := spoolPartOwner(c.name)
		lock, _ := spoolLockOwner(c.name)
		if part != c.part || lock != c.lock {
			t.Errorf("%s: part owner %q, lock owner %q; want %q, %q", c.name, part, lock, c.part, c.lock)
		}
	}
}

// spillChildEnv makes the test binary a process that spills and waits to
// be killed (TestSpillFilesOfKilledProcess).
const spillChildEnv = "SLUICE_S3_SPILL_CHILD"

// spillRecords are records of one partition that stay in one open set
// (flush.size 100).
func spillRecords() []sink.Record {
	var recs []sink.Record
	for off := range int64(5) {
		recs = append(recs, row("spill", 0, off, []string{"eu", "us"}[off%2], t0))
	}
	return recs
}

// TestSpillFilesOfKilledProcess: a process killed with SIGKILL leaves its
// spill files; the next sink started on the folder removes them, and not
// those of a sink that is still running.
func TestSpillFilesOfKilledProcess(t *testing.T) {
	spillCfg := func(bucket, dir string) map[string]string {
		return testConfig(t, bucket, "flush.size", "100", "s3.buffer.memory.bytes", "1", "s3.buffer.dir", dir,
			"partitioner.class", "FieldPartitioner", "partition.field.name", "region")
	}
	if env := os.Getenv(spillChildEnv); env != "" {
		bucket, dir, _ := strings.Cut(env, ",")
		s := openSink(t, nil, spillCfg(bucket, dir))
		mustPut(t, s, spillRecords()...)
		os.Stdout.WriteString("spilled\n")
		// Wait for SIGKILL: the parent never closes stdin.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		t.Fatal("stdin closed before the kill")
	}

	bucket, cl := newBucket(t)
	dir := t.TempDir()

	// This process's sink, live throughout.
	mine := openSink(t, cl, spillCfg(bucket, dir))
	mustPut(t, mine, spillRecords()...)
	own := dirNames(t, dir)
	if len(own) != 3 { // two objects (eu, us) and the lock file
		t.Fatalf("own spill files %v, want two and a lock", own)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestSpillFilesOfKilledProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), spillChildEnv+"="+bucket+","+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	ready := false
	for sc.Scan() {
		if sc.Text() == "spilled" {
			ready = true
			break
		}
		t.Logf("child: %s", sc.Text())
	}
	if !ready {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child did not spill; stderr: %s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	childPrefix := spoolPrefix + strconv.Itoa(cmd.Process.Pid) + "-"
	var childFiles []string
	for _, n := range dirNames(t, dir) {
		if strings.HasPrefix(n, childPrefix) {
			childFiles = append(childFiles, n)
		}
	}
	if len(childFiles) != 3 {
		t.Fatalf("killed child left %v, want two spill files and a lock", childFiles)
	}

	// The next start removes the dead child's files and keeps this
	// process's.
	next := openSink(t, cl, spillCfg(bucket, dir))
	defer next.Close()
	if got := dirNames(t, dir); !slices.Equal(got, own) {
		t.Errorf("after the next start %v, want this process's %v", got, own)
	}

	// The live sink's files still serve it: its set uploads intact.
	if err := mine.rotate(context.Background(), mine.parts[tp("spill", 0)], "test"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for off := range int64(5) {
		region := []string{"eu", "us"}[off%2]
		want["topics/spill/region="+region+"/spill+0+000000000"+strconv.Itoa(int(off%2))+".json"] += jsonLine(off, region, t0)
	}
	if got := objects(t, cl, bucket); !maps.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	mine.Close()
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("after Close %v, want nothing", got)
	}
}
