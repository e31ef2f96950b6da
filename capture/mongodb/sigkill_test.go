package mongodb

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sluice-cdc/sluice/event"
)

// The SIGKILL test runs the source in a child process (this test binary,
// running TestSIGKILLChild) that appends every delivered event to a file
// and then saves the batch's last position, as the daemon saves positions
// only after Kafka has the events. The parent kills the child with SIGKILL
// at random moments while a workload runs, and starts it again.

const childEnv = "SLUICE_MONGO_SIGKILL_CHILD"

type childSpec struct {
	URL    string   `json:"url"`
	Tables []string `json:"tables"`
	Dir    string   `json:"dir"` // events.jsonl, offset.json
}

// deliveredLine is one event in events.jsonl; V is -1 for a delete.
type deliveredLine struct {
	Key string `json:"k"`
	Op  string `json:"op"`
	V   int32  `json:"v"`
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
	opts := Options{Name: "k", TopicPrefix: "srv", URL: spec.URL, Tables: spec.Tables,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if len(start) > 0 {
		opts.Start = event.Position(start)
	}
	src, err := New(Config{PollIntervalMs: 5, MaxBatchSize: 16, SnapshotFetchSize: 8}, opts)
	if err != nil {
		t.Fatal(err)
	}
	err = src.Run(context.Background(), func(_ context.Context, b event.Batch) error {
		var buf bytes.Buffer
		for _, ev := range b {
			v, ok := versionOf(t, ev)
			if !ok {
				v = -1
			}
			line, _ := json.Marshal(deliveredLine{Key: ev.Key.Get("id").(string), Op: ev.Op.String(), V: v})
			buf.Write(append(line, '\n'))
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
		tmp := offsetPath + ".tmp"
		if err := os.WriteFile(tmp, b.Last(), 0o644); err != nil {
			return err
		}
		return os.Rename(tmp, offsetPath)
	})
	t.Fatalf("Run: %v", err)
}

func TestSIGKILL(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child")
	}
	c, url := connect(t)
	db := freshDB(t, c, "docs")
	coll := db.Collection("docs")
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 3))
	dir := t.TempDir()
	spec, _ := json.Marshal(childSpec{URL: url, Tables: []string{db.Name() + ".docs"}, Dir: dir})

	w := newWorkload(t, coll, 30)
	var mu sync.Mutex
	var child *exec.Cmd
	startChild := func() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		child = cmd
		mu.Unlock()
	}
	kill := func() {
		mu.Lock()
		defer mu.Unlock()
		_ = child.Process.Kill() // SIGKILL
		_ = child.Wait()
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if child != nil && child.ProcessState == nil {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	})

	done := make(chan error, 1)
	go func() { done <- w.run(seed, 500) }()
	kills := 0
	for writing := true; writing || kills < 12; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			writing = false
		default:
		}
		startChild()
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond)
		kill()
		kills++
	}

	// A last child catches up; then it is killed too.
	startChild()
	want := w.states()
	deadline := time.Now().Add(60 * time.Second) // a hang guard, not a timing assertion
	var lines []deliveredLine
	for {
		lines = readDelivered(t, filepath.Join(dir, "events.jsonl"))
		last := map[string]string{}
		for _, l := range lines {
			last[l.Key] = stateOf(l.V)
		}
		if sameState(last, want) {
			break
		}
		if time.Now().After(deadline) {
			for k, s := range want {
				if last[k] != s && (s != "deleted" || last[k] != "") {
					t.Errorf("document %s: last event %q, want %q", k, last[k], s)
				}
			}
			t.Fatalf("final state not reached after %d kills", kills)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kill()

	// Per document: stream versions never go backwards except where a
	// restart delivers again what followed the saved position (a
	// re-delivered suffix: the same versions once more); nothing but a
	// re-delivered delete follows a delete.
	seen := map[string]int32{}
	history := map[string][]int32{}
	for _, l := range lines {
		if l.Op == "r" {
			continue
		}
		prev, had := seen[l.Key]
		if had && l.V < prev && l.V >= 0 && !contains32(history[l.Key], l.V) {
			t.Errorf("document %s: version %d after %d, never delivered before", l.Key, l.V, prev)
		}
		if had && prev == -1 && l.V != -1 && !contains32(history[l.Key], l.V) {
			t.Errorf("document %s: new version %d after its delete", l.Key, l.V)
		}
		seen[l.Key] = l.V
		history[l.Key] = append(history[l.Key], l.V)
	}
	t.Logf("%d kills, %d events delivered, %d documents", kills, len(lines), len(want))
}

func contains32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func readDelivered(t *testing.T, path string) []deliveredLine {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []deliveredLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l deliveredLine
		if json.Unmarshal(sc.Bytes(), &l) == nil { // a torn last line is skipped
			out = append(out, l)
		}
	}
	return out
}

// workload writes random inserts, updates, replaces and deletes with a
// version per document. The stand-in server puts update operators in
// documentKey and only the looked-up document carries the _id, so
// documents once updated are never deleted (the lookup would find nothing).
type workload struct {
	coll    *mongo.Collection
	mu      sync.Mutex
	final   map[int32]int32 // id -> version; -1 deleted
	updated map[int32]bool
	next    int32
}

// newWorkload inserts initial documents (for the snapshot to read).
func newWorkload(t *testing.T, coll *mongo.Collection, initial int) *workload {
	t.Helper()
	w := &workload{coll: coll, final: map[int32]int32{}, updated: map[int32]bool{}}
	for range initial {
		if err := w.insert(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *workload) insert(ctx context.Context) error {
	w.mu.Lock()
	id := w.next
	w.next++
	w.final[id] = 0
	w.mu.Unlock()
	_, err := w.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: int32(0)}})
	return err
}

// run makes n random changes, one at a time.
func (w *workload) run(seed int64, n int) error {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	for range n {
		w.mu.Lock()
		var live, deletable []int32
		for id, v := range w.final {
			if v >= 0 {
				live = append(live, id)
				if !w.updated[id] {
					deletable = append(deletable, id)
				}
			}
		}
		slices.Sort(live)
		slices.Sort(deletable)
		w.mu.Unlock()
		var err error
		switch r := rng.IntN(10); {
		case r < 4 || len(live) == 0:
			err = w.insert(ctx)
		case r < 8:
			id := live[rng.IntN(len(live))]
			w.mu.Lock()
			v := w.final[id] + 1
			w.final[id], w.updated[id] = v, true
			w.mu.Unlock()
			if r < 7 {
				_, err = w.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: v}}}})
			} else {
				_, err = w.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "v", Value: v}, {Key: "replaced", Value: true}})
			}
		default:
			if len(deletable) == 0 {
				continue
			}
			id := deletable[rng.IntN(len(deletable))]
			w.mu.Lock()
			w.final[id] = -1
			w.mu.Unlock()
			_, err = w.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
		}
		if err != nil {
			return err
		}
		time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
	}
	return nil
}

// states returns the final state of every document by key id.
func (w *workload) states() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for id, v := range w.final {
		out[idKey(id)] = stateOf(v)
	}
	return out
}
