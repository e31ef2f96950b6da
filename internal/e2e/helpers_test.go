package e2e

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// Helpers the end-to-end tests share: the head of the sluice.yaml they
// write, a Postgres schema per test, consuming topics from their start,
// sluice runs SIGKILLed at random moments and the last clean run, and what
// a shop database committed.

// configHead begins every sluice.yaml: data dir, brokers.
const configHead = `
log: {level: info, format: text}
http: {addr: "127.0.0.1:0"}
data.dir: %s
kafka:
  bootstrap.servers: [%s]
  linger.ms: 2
`

// jsonConverters: JSON keys and values without schemas.
const jsonConverters = `converters:
  key: {type: json, schemas.enable: false}
  value: {type: json, schemas.enable: false}
`

// jsonHead3 begins a sluice.yaml whose topics get three partitions and
// schemaless JSON: data dir, brokers.
const jsonHead3 = configHead + "  topics: {defaults: {partitions: 3}}\n" + jsonConverters

// pgSchema creates schema for one test and returns a pool whose
// search_path is that schema. At cleanup it drops the replication slots
// and publications named by slots and the schema, then closes the pool.
func pgSchema(t *testing.T, pgURL, schema string, slots ...string) *pgxpool.Pool {
	t.Helper()
	return newPGSchema(t, pgURL, schema, true, slots)
}

// newPGSchema is pgSchema, and pgEnv without searchPath.
func newPGSchema(t *testing.T, pgURL, schema string, searchPath bool, slots []string) *pgxpool.Pool {
	t.Helper()
	pcfg, err := pgxpool.ParseConfig(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	if searchPath {
		pcfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // runs last
	runSQL(t, pool, "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		c := context.Background()
		for _, s := range slots {
			testenv.DropReplicationSlot(c, pool, s)
			_, _ = pool.Exec(c, "DROP PUBLICATION IF EXISTS "+s)
		}
		_, _ = pool.Exec(c, "DROP SCHEMA "+schema+" CASCADE")
	})
	return pool
}

// searchPathURL returns pgURL with search_path set to schema.
func searchPathURL(t *testing.T, pgURL, schema string) string {
	t.Helper()
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// readMigration returns the text of migrations/<name>.
func readMigration(t *testing.T, name string) string {
	t.Helper()
	root, _ := testenv.RepoRoot()
	b, err := os.ReadFile(filepath.Join(root, "migrations", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeConfig writes the sluice.yaml text into dir and returns its path.
func writeConfig(t testing.TB, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fromStart returns a client consuming topics from their start (creating
// the ones that do not exist yet), closed at cleanup.
func fromStart(t *testing.T, brokers string, topics ...string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// pollRecords returns a function that polls the topics into got.
func pollRecords(ctx context.Context, cl *kgo.Client, got *[]*kgo.Record) func(time.Duration) {
	return func(d time.Duration) {
		pctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { *got = append(*got, r) })
	}
}

func startSluice(t *testing.T, cfgPath, logPath string) *exec.Cmd {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(sluiceBin, "run", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sluice: %v", err)
	}
	return cmd
}

// killRuns starts sluice kills times and SIGKILLs each run 0.8 to 2.3 s
// after it starts (at random, seeded by seed). In the first run, first
// runs before that wait, followed by 1.5 s more: it waits for what the run
// must reach before it is first killed.
func killRuns(t *testing.T, cfgPath, logf string, kills int, seed uint64, first func()) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	for i := range kills {
		p := startSluice(t, cfgPath, logf)
		if i == 0 {
			first()
			time.Sleep(1500 * time.Millisecond)
		}
		time.Sleep(time.Duration(800+rng.IntN(1500)) * time.Millisecond)
		if err := p.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = p.Wait()
	}
}

// settle calls check until it finds no problem or limit passes (a hang
// guard, not a timing assertion), then stops sluice run p with SIGTERM,
// which must end it cleanly, and returns check's last problems. check
// polls or sleeps between its calls.
func settle(t *testing.T, p *exec.Cmd, limit time.Duration, check func() []string) []string {
	t.Helper()
	deadline := time.Now().Add(limit)
	var problems []string
	for {
		problems = check()
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	_ = p.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(); err != nil {
		t.Errorf("final sluice run did not stop cleanly: %v", err)
	}
	return problems
}

// waitPosition waits until the position offsets.json holds for source
// satisfies ok, or ctx ends.
func waitPosition(ctx context.Context, dir, source string, ok func(pos string) bool) {
	for ctx.Err() == nil && !ok(connectorPosition(dir, source)) {
		time.Sleep(100 * time.Millisecond)
	}
}

// connectorPosition returns the position offsets.json holds for a source,
// whose offsets are keyed by its Connect partition (["outbox",{…}]); a key
// that is the bare source name is read too.
func connectorPosition(dir, source string) string {
	b, err := os.ReadFile(filepath.Join(dir, "offsets.json"))
	if err != nil {
		return ""
	}
	var f struct {
		Offsets map[string][]byte `json:"offsets"`
	}
	if json.Unmarshal(b, &f) != nil {
		return ""
	}
	for k, v := range f.Offsets {
		var part []json.RawMessage
		var name string
		if k == source || json.Unmarshal([]byte(k), &part) == nil && len(part) > 0 && json.Unmarshal(part[0], &name) == nil && name == source {
			return string(v)
		}
	}
	return ""
}

// configureShops gives each shop its log in dir and the workload's
// arguments against the shop database at shopURL, and returns their
// topics.
func configureShops(dir, shopURL string, shops []*shop) (topics []string) {
	for _, s := range shops {
		s.log = filepath.Join(dir, s.aggType+".log")
		s.args = append(s.args, "-url", shopURL, "-n", "-1", "-aggregate", s.aggType, "-customer-prefix", s.aggType+"-",
			"-customers", "5", "-reject", shopRejectRate, "-crash", shopCrashRate, "-pause", shopPause)
		topics = append(topics, "outbox.event."+s.aggType)
	}
	return topics
}

// startShops runs the shops' services until ctx ends, in wg.
func startShops(ctx context.Context, t *testing.T, bin string, shops []*shop, wg *sync.WaitGroup) {
	for i, s := range shops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx, t, bin, uint64(i))
		}()
	}
}

// shopOutcome fails the test when a service failed, else returns the ids
// of the events the services rolled back, how many of them crashed before
// COMMIT, and how many times the services were killed.
func shopOutcome(t *testing.T, shops []*shop) (rolledBack map[string]bool, crashed, kills int) {
	t.Helper()
	rolledBack = map[string]bool{}
	for _, s := range shops {
		if s.err != nil {
			b, _ := os.ReadFile(s.log)
			t.Fatalf("service %s: %v\n%s", s.aggType, s.err, b)
		}
		crashed += s.rolledBack(t, rolledBack)
		kills += s.kills
	}
	return rolledBack, crashed, kills
}

// sqlRows is what pgx.Rows and *sql.Rows have in common.
type sqlRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanOrders reads rows of (id, customer, cents, event_id).
func scanOrders(t *testing.T, rows sqlRows) []shopOrder {
	t.Helper()
	var orders []shopOrder
	for rows.Next() {
		var o shopOrder
		if err := rows.Scan(&o.id, &o.customer, &o.cents, &o.eventID); err != nil {
			t.Fatal(err)
		}
		orders = append(orders, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return orders
}

// scanTimestamps reads rows of (event id, timestamp in ms) into a map.
func scanTimestamps(t *testing.T, rows sqlRows) map[string]int64 {
	t.Helper()
	ts := map[string]int64{}
	for rows.Next() {
		var id string
		var ms int64
		if err := rows.Scan(&id, &ms); err != nil {
			t.Fatal(err)
		}
		ts[id] = ms
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ts
}
