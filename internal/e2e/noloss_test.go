package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// sluiceBin is the binary under test, built once by TestMain.
var sluiceBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	root, _ := testenv.RepoRoot()
	build := exec.Command("go", "build", "-o", sluiceBin, "./cmd/sluice")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// workload runs random transactions of inserts, updates (each bumping the
// row's version) and deletes, and records every committed change.
type workload struct {
	pool  *pgxpool.Pool
	table string

	mu       sync.Mutex
	expected map[int64][]committed
	txs      int
}

func (w *workload) record(id int64, c committed) {
	w.expected[id] = append(w.expected[id], c)
}

// worker owns the ids base+1, base+2, ...; workers never touch each other's
// rows, so each key's changes are ordered by its worker's commit order.
func (w *workload) worker(ctx context.Context, base int64, rng *rand.Rand, live map[int64]int64) error {
	next := base
	for ids := range live {
		next = max(next, ids)
	}
	for ctx.Err() == nil {
		size := 1 + rng.IntN(20)
		if rng.IntN(50) == 0 {
			size = 500 // now and then a large transaction
		}
		tx, err := w.pool.Begin(ctx)
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		type pending struct {
			id int64
			c  change
		}
		var changes []pending
		staged := map[int64]int64{} // id -> version after this tx; -1 deleted
		version := func(id int64) (int64, bool) {
			if v, ok := staged[id]; ok {
				return v, v >= 0
			}
			v, ok := live[id]
			return v, ok
		}
		for range size {
			var id int64
			op := rng.IntN(10)
			if len(live) > 0 && op < 7 {
				id = pick(rng, live)
			}
			v, exists := version(id)
			switch {
			case id == 0 || !exists:
				next++
				id = next
				_, err = tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (id, version, payload) VALUES ($1, 1, $2)", w.table), id, strconv.Itoa(rng.IntN(1e6)))
				staged[id] = 1
				changes = append(changes, pending{id, change{'c', 1}})
			case op < 6:
				_, err = tx.Exec(ctx, fmt.Sprintf("UPDATE %s SET version = version + 1, payload = $2 WHERE id = $1", w.table), id, strconv.Itoa(rng.IntN(1e6)))
				staged[id] = v + 1
				changes = append(changes, pending{id, change{'u', v + 1}})
			default:
				_, err = tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE id = $1", w.table), id)
				staged[id] = -1
				changes = append(changes, pending{id, change{'d', v}})
			}
			if err != nil {
				_ = tx.Rollback(context.Background())
				return ignoreCancel(ctx, err)
			}
		}
		var lo, hi string
		if err := tx.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lo); err != nil {
			_ = tx.Rollback(context.Background())
			return ignoreCancel(ctx, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return ignoreCancel(ctx, err)
		}
		if err := w.pool.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&hi); err != nil {
			return ignoreCancel(ctx, err)
		}
		loLSN, hiLSN := parseLSN(lo), parseLSN(hi)
		for id, v := range staged {
			if v < 0 {
				delete(live, id)
			} else {
				live[id] = v
			}
		}
		w.mu.Lock()
		for _, p := range changes {
			w.record(p.id, committed{change: p.c, lo: loLSN, hi: hiLSN})
		}
		w.txs++
		w.mu.Unlock()
	}
	return nil
}

func pick(rng *rand.Rand, live map[int64]int64) int64 {
	n := rng.IntN(len(live))
	for id := range live {
		if n == 0 {
			return id
		}
		n--
	}
	return 0
}

func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// TestPostgresNoLoss kills sluice with SIGKILL at random moments while a
// workload runs, restarts it each time, and checks that the topic holds
// every committed change, that no key's versions go backwards, and that any
// duplicate is the re-delivery of an already-seen suffix. The first kills
// land during the initial snapshot. SLUICE_SOAK_KILLS raises the number of
// kills (make soak).
func TestPostgresNoLoss(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	kills := 20
	if s := os.Getenv("SLUICE_SOAK_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	run := fmt.Sprintf("nl%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	pool := pgSchema(t, pgURL, schema, run)
	table := schema + ".items"
	runSQL(t, pool,
		"CREATE TABLE "+table+" (id bigint PRIMARY KEY, version bigint NOT NULL, payload text)",
		"ALTER TABLE "+table+" REPLICA IDENTITY FULL",
		// Rows for the initial snapshot, so the first kills land inside it.
		"INSERT INTO "+table+" SELECT g, 1, 'seed' FROM generate_series(1, 60000) g",
	)

	w := &workload{pool: pool, table: table, expected: map[int64][]committed{}}
	seed := map[int64]int64{}
	for id := int64(1); id <= 60000; id++ {
		w.record(id, committed{change: change{'c', 1}})
		if id%2 == 0 {
			seed[id] = 1 // worker 0 owns even seeded rows...
		}
	}
	seedOdd := map[int64]int64{}
	for id := int64(1); id <= 60000; id += 2 {
		seedOdd[id] = 1
	}

	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, fmt.Sprintf(noLossConfig, dir, brokers, run, pgURL, table, run, run))

	topic := run + "." + table
	consumed := make(chan *kgo.Record, 4096)
	cl := fromStart(t, brokers, topic)
	consCtx, stopConsume := context.WithCancel(ctx)
	defer stopConsume()
	go func() {
		defer close(consumed)
		for consCtx.Err() == nil {
			fs := cl.PollFetches(consCtx)
			fs.EachRecord(func(r *kgo.Record) { consumed <- r })
		}
	}()

	// Start the workload only once the first sluice run is going, so that
	// the snapshot and streaming both see changes.
	wctx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var workErr [2]error
	startWork := func() {
		for i, live := range []map[int64]int64{seed, seedOdd} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Seeded rows are split by parity; new ids by range.
				workErr[i] = w.worker(wctx, int64(i+1)*1_000_000_000, rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))), live)
			}()
		}
	}

	k := newChecker()
	var records int
	drain := func() {
		for {
			select {
			case r, ok := <-consumed:
				if !ok {
					return
				}
				records++
				if id, c, lsn, ok := parseChange(t, r); ok {
					k.add(id, c, lsn)
				}
			default:
				return
			}
		}
	}

	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	logf := filepath.Join(dir, "sluice.log")
	for i := 0; i < kills; i++ {
		p := startSluice(t, cfgPath, logf)
		if i == 0 {
			startWork()
		}
		// The first kills come early, inside the initial snapshot.
		wait := time.Duration(300+rng.IntN(2200)) * time.Millisecond
		if i < 2 {
			wait = time.Duration(150+rng.IntN(300)) * time.Millisecond
		}
		time.Sleep(wait)
		if err := p.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = p.Wait()
		drain()
	}
	stopWork()
	wg.Wait()
	for i, err := range workErr {
		if err != nil {
			t.Fatalf("workload worker %d: %v", i, err)
		}
	}

	// A last, clean run drains everything committed.
	p := startSluice(t, cfgPath, logf)
	problems := settle(t, p, 3*time.Minute, func() []string {
		drain()
		w.mu.Lock()
		problems := k.verify(w.expected)
		w.mu.Unlock()
		if len(problems) > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		return problems
	})
	t.Logf("%d kills, %d transactions, %d keys, %d records consumed, %d re-delivered", kills, w.txs, len(w.expected), records, k.duplicates())
	if len(problems) > 0 {
		out, _ := os.ReadFile(logf)
		if len(out) > 4000 {
			out = out[len(out)-4000:]
		}
		t.Fatalf("%d problems, first ones:\n%v\nsluice log tail:\n%s", len(problems), problems, out)
	}
}

// noLossConfig: data dir, brokers, topic prefix, url, table, slot, publication.
const noLossConfig = jsonHead3 + `sources:
  - name: noloss
    connector: postgres
    topic.prefix: %s
    url: %s
    tables: [%s]
    postgres:
      slot.name: %s
      publication.name: %s
      publication.autocreate.mode: filtered
      snapshot.fetch.size: 2000
`

// parseChange extracts the key id, the change and source.lsn from a record
// written with schemas disabled; tombstones return ok=false.
func parseChange(t *testing.T, r *kgo.Record) (int64, change, uint64, bool) {
	if r.Value == nil {
		return 0, change{}, 0, false
	}
	var key struct {
		ID int64 `json:"id"`
	}
	type row struct {
		Version int64 `json:"version"`
	}
	var val struct {
		Op     string `json:"op"`
		Before *row   `json:"before"`
		After  *row   `json:"after"`
		Source struct {
			LSN uint64 `json:"lsn"`
		} `json:"source"`
	}
	if err := json.Unmarshal(r.Key, &key); err != nil {
		t.Errorf("record key %q: %v", r.Key, err)
		return 0, change{}, 0, false
	}
	if err := json.Unmarshal(r.Value, &val); err != nil {
		t.Errorf("record value %q: %v", r.Value, err)
		return 0, change{}, 0, false
	}
	if len(val.Op) != 1 {
		t.Errorf("record value without op: %s", r.Value)
		return 0, change{}, 0, false
	}
	c := change{Op: val.Op[0]}
	switch {
	case c.Op == 'd' && val.Before != nil:
		c.Version = val.Before.Version
	case val.After != nil:
		c.Version = val.After.Version
	default:
		t.Errorf("record value without row: %s", r.Value)
		return 0, change{}, 0, false
	}
	return key.ID, c, val.Source.LSN, true
}

// parseLSN parses Postgres' text form of an LSN ("16/B374D848").
func parseLSN(s string) uint64 {
	hi, lo, _ := strings.Cut(s, "/")
	h, _ := strconv.ParseUint(hi, 16, 32)
	l, _ := strconv.ParseUint(lo, 16, 32)
	return h<<32 | l
}
