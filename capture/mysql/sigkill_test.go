package mysql

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/event"
)

// The SIGKILL test runs the source in a child process (this test binary,
// running TestSIGKILLChild) that appends every delivered event to a file,
// then saves the batch's position to an offsets file, as the
// daemon saves positions only after Kafka has the events. The parent kills
// the child with SIGKILL at random moments while a workload runs.

const childEnv = "SLUICE_MYSQL_SIGKILL_CHILD"

// childSpec is what the parent tells a child.
type childSpec struct {
	URL    string `json:"url"`
	Config Config `json:"config"`
	Dir    string `json:"dir"`              // events.jsonl, offset.json
	StopAt string `json:"stopAt,omitempty"` // exit once a position contains this GTID
	// DieInTable makes the child SIGKILL itself right after it saved a
	// snapshot position in which this table ("db.table") is partly
	// delivered: a kill at a known point inside a chunked snapshot.
	DieInTable string `json:"dieInTable,omitempty"`
}

// deliveredLine is one event in events.jsonl.
type deliveredLine struct {
	Key string `json:"k"`
	Op  string `json:"op"`
	V   int64  `json:"v"`
}

// TestSIGKILLChild is the child process; it does nothing in a normal run.
func TestSIGKILLChild(t *testing.T) {
	raw := os.Getenv(childEnv)
	if raw == "" {
		t.Skip("child process of TestSIGKILL")
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	eventsPath := filepath.Join(spec.Dir, "events.jsonl")
	offsetPath := filepath.Join(spec.Dir, "offset.json")
	// A kill during an append leaves a torn line: cut it.
	if b, err := os.ReadFile(eventsPath); err == nil {
		if n := bytes.LastIndexByte(b, '\n') + 1; n < len(b) {
			if err := os.Truncate(eventsPath, int64(n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	start, err := os.ReadFile(offsetPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out, err := os.OpenFile(eventsPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	opts := Options{Name: "k", TopicPrefix: "srv", URL: spec.URL, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if len(start) > 0 {
		opts.Start = event.Position(start)
	}
	src, err := New(spec.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errStop := errors.New("reached the stop position")
	err = src.Run(ctx, func(_ context.Context, b event.Batch) error {
		var buf bytes.Buffer
		for _, ev := range b {
			if k, c, ok := crashKey(ev); ok {
				line, _ := json.Marshal(deliveredLine{Key: k, Op: string(rune(c.op)), V: c.v})
				buf.Write(append(line, '\n'))
			}
		}
		// No fsync: written data outlives a killed process (only a host
		// crash loses the page cache), and a sync per small batch would
		// make the catch-up slower than the workload.
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
		p := b.Last()
		if p == nil {
			return nil
		}
		tmp := offsetPath + ".tmp"
		if err := os.WriteFile(tmp, p, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, offsetPath); err != nil {
			return err
		}
		dp, err := decodePosition(p)
		if err == nil && spec.StopAt != "" && reached(dp, spec.StopAt) {
			return errStop
		}
		if err == nil && spec.DieInTable != "" && !dp.Snapshot {
			return errStop // the snapshot is over: no kill point left
		}
		if err == nil && spec.DieInTable != "" && dp.Snapshot && dp.Snap != nil {
			if tp := dp.Snap.Tables[spec.DieInTable]; tp != nil && !tp.Done {
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // the signal is on its way
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		t.Fatalf("Run: %v", err)
	}
}

// crashKey returns the workload key and change of an event of table a or b.
func crashKey(ev event.Event) (string, change, bool) {
	row := ev.After
	if ev.Op == event.OpDelete {
		row = ev.Before
	}
	if row == nil {
		return "", change{}, false
	}
	var key string
	switch {
	case strings.HasSuffix(ev.Topic, ".a"):
		key = fmt.Sprintf("a/%d", row.Get("id"))
	case strings.HasSuffix(ev.Topic, ".b"):
		key = fmt.Sprintf("b/%d/%s", row.Get("a"), row.Get("b"))
	default:
		return "", change{}, false
	}
	v, _ := row.Get("v").(int64)
	return key, change{byte(ev.Op), v}, true
}

// child is a running child process.
type child struct {
	cmd  *exec.Cmd
	done chan error
	log  *bytes.Buffer
}

func startChild(t *testing.T, spec childSpec) *child {
	t.Helper()
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1), log: &log}
	go func() { c.done <- cmd.Wait() }()
	return c
}

// kill sends SIGKILL and waits for the process to go.
func (c *child) kill(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Kill()
	<-c.done
}

// wait waits for a child to exit by itself.
func (c *child) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("child: %v\n%s", err, c.log)
		}
	case <-time.After(d):
		c.kill(t)
		t.Fatalf("child did not finish\n%s", c.log)
	}
}

func readOffset(t *testing.T, dir string) (position, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "offset.json"))
	if err != nil {
		return position{}, false
	}
	p, err := decodePosition(b)
	if err != nil {
		t.Fatalf("offset %s: %v", b, err)
	}
	return p, true
}

// TestSIGKILL: the no-loss test with real process kills. At least 20 kills
// (5 with -short), at random moments, with DDL in the workload.
func TestSIGKILL(t *testing.T) {
	kills := 20
	if testing.Short() {
		kills = 5
	}
	e := newMyEnv(t,
		"CREATE TABLE a (id INT PRIMARY KEY, v BIGINT NOT NULL)",
		"CREATE TABLE b (a INT, b CHAR(1), v BIGINT NOT NULL, PRIMARY KEY (a, b))",
		"CREATE TABLE z (id BIGINT PRIMARY KEY)",
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	w := &crashWorkload{e: e, rows: 300}
	var version int64
	w.fill(e.conn, &version)

	dir := t.TempDir()
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	cfg.MaxBatchSize = 1 + rng.IntN(6) // small: many positions inside transactions
	cfg.SchemaHistoryFile = filepath.Join(dir, "history.jsonl")
	cfg.SnapshotFetchSize = 1 + rng.IntN(40)    // many chunks: kills land between them
	cfg.IncludeSchemaChanges = rng.IntN(2) == 0 // schema change records count in positions
	spec := childSpec{URL: e.url, Config: cfg, Dir: dir}

	// A kill at a random moment, most likely before or inside the
	// snapshot, then one right after a position inside table a was saved,
	// then a child that gets the snapshot delivered. cut is the last key
	// of a the saved progress covered: the resumed snapshot must not read
	// those rows again.
	c := startChild(t, spec)
	time.Sleep(time.Duration(rng.IntN(80)) * time.Millisecond)
	c.kill(t)
	cut := int64(-1)
	if p, ok := readOffset(t, dir); !ok || p.Snapshot && (p.Snap == nil || p.Snap.Tables[e.db+".a"] == nil || !p.Snap.Tables[e.db+".a"].Done) {
		dying := spec
		dying.DieInTable = e.db + ".a"
		c := startChild(t, dying)
		select {
		case <-c.done:
		case <-time.After(2 * time.Minute):
			c.kill(t)
			t.Fatalf("the child did not die inside the snapshot\n%s", c.log)
		}
		p, ok := readOffset(t, dir)
		if !ok || !p.Snapshot || p.Snap == nil || p.Snap.Tables[e.db+".a"] == nil {
			t.Fatalf("after the kill inside a, the offset is %+v\n%s", p, c.log)
		}
		ta := p.Snap.Tables[e.db+".a"]
		if ta.Done || ta.Spans[len(ta.Spans)-1].To == nil {
			t.Fatalf("after the kill inside a, its progress is %+v", ta)
		}
		fmt.Sscan(ta.Spans[len(ta.Spans)-1].To[0], &cut)
	}
	t.Logf("snapshot killed inside table a after key %d (-1: the random kill came after a)", cut)
	c = startChild(t, spec)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if p, ok := readOffset(t, dir); ok && !p.Snapshot {
			break
		}
		if time.Now().After(deadline) {
			c.kill(t)
			t.Fatalf("the snapshot was not delivered\n%s", c.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.kill(t)

	stop := make(chan struct{})
	werr := make(chan error, 1)
	go func() { werr <- w.run(stop, version, seed) }()
	for i := 2; i < kills; i++ {
		c := startChild(t, spec)
		time.Sleep(time.Duration(30+rng.IntN(700)) * time.Millisecond)
		c.kill(t)
		time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond) // down: the workload goes on
	}
	close(stop)
	if err := <-werr; err != nil {
		t.Fatalf("workload: %v", err)
	}
	spec.StopAt = w.lastGTI
	startChild(t, spec).wait(t, 5*time.Minute)

	f, err := os.Open(filepath.Join(dir, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]change{}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l deliveredLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("events.jsonl line %d: %v", n+1, err)
		}
		got[l.Key] = append(got[l.Key], change{l.Op[0], l.V})
		n++
	}
	t.Logf("%d kills, %d workload statements, %d events delivered", kills, w.stmts, n)
	for i := int64(1); i <= cut; i++ {
		reads := 0
		for _, c := range got[fmt.Sprintf("a/%d", i)] {
			if c.op == 'r' {
				reads++
			}
		}
		if reads != 1 {
			t.Errorf("a/%d: read %d times by the snapshot, want once (the saved progress covered it)", i, reads)
		}
	}
	keys := make([]string, 0, len(w.exp))
	for k := range w.exp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		if err := checkKeyOrder(k, got[k], w.exp[k]); err != nil {
			if bad++; bad <= 10 {
				t.Error(err)
			}
		}
	}
	for k := range got {
		if w.exp[k] == nil {
			t.Errorf("%s: delivered %v, never changed", k, got[k])
		}
	}
}
