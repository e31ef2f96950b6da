package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The outbox end-to-end tests drive the example programs of
// examples/outbox: the service binary writes the orders and their events
// (crashing before COMMIT now and then, and SIGKILLed by the test), the
// consumer binary applies the routed events. What was committed is read
// back from the shop database (each order row keeps its event id and a
// placement sequence), so the checker needs nothing from the processes.

var (
	exampleOnce             sync.Once
	serviceBin, consumerBin string
	exampleBuildErr         error

	shopRejected = regexp.MustCompile(`msg="order rejected, event rolled back".* event=([0-9a-f-]{36})`)
	shopCrash    = regexp.MustCompile(`msg="crashing before commit".* event=([0-9a-f-]{36})`)

	errShopExited = errors.New("service exited")
)

// The services' workload: a pause between orders, the fractions of orders
// crashing before COMMIT and rejected, and the range of the interval
// between SIGKILLs of a service (ms).
const (
	shopCrashExit            = 3 // the example's exit status for -crash
	shopPause                = "3ms"
	shopCrashRate            = "0.004"
	shopRejectRate           = "0.1"
	shopKillMin, shopKillMax = 800, 2500
)

// exampleBinaries builds examples/outbox/service and consumer once, next to
// the sluice binary.
func exampleBinaries(t *testing.T) (service, consumer string) {
	t.Helper()
	exampleOnce.Do(func() {
		root, _ := testenv.RepoRoot()
		dir := filepath.Dir(sluiceBin)
		serviceBin, consumerBin = filepath.Join(dir, "outbox-service"), filepath.Join(dir, "outbox-consumer")
		for pkg, out := range map[string]string{"./examples/outbox/service": serviceBin, "./examples/outbox/consumer": consumerBin} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				exampleBuildErr = fmt.Errorf("build %s: %v: %s", pkg, err, b)
				return
			}
		}
	})
	if exampleBuildErr != nil {
		t.Fatal(exampleBuildErr)
	}
	return serviceBin, consumerBin
}

// runExample runs an example binary to completion, its output in logPath.
func runExample(t *testing.T, bin, logPath string, args ...string) {
	t.Helper()
	cmd := exampleCmd(t, bin, logPath, args...)
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, b)
	}
}

func exampleCmd(t *testing.T, bin, logPath string, args ...string) *exec.Cmd {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	return cmd
}

// shop is one example service writing one aggregate type until stopped:
// an injected crash restarts it, and so does a SIGKILL, sent every few
// seconds at a random moment.
type shop struct {
	aggType string
	args    []string
	log     string

	crashes, kills int
	err            error
}

// run restarts the service until ctx ends, then interrupts it.
func (s *shop) run(ctx context.Context, t *testing.T, bin string, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	for ctx.Err() == nil {
		cmd := exampleCmd(t, bin, s.log, s.args...)
		if err := cmd.Start(); err != nil {
			s.err = err
			return
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		kill := time.NewTimer(time.Duration(shopKillMin+rng.IntN(shopKillMax-shopKillMin)) * time.Millisecond)
		select {
		case <-ctx.Done():
			kill.Stop()
			_ = cmd.Process.Signal(os.Interrupt)
			if err := <-done; err != nil && exitCode(err) != shopCrashExit {
				s.err = fmt.Errorf("%w on interrupt: %v", errShopExited, err)
			}
			return
		case err := <-done:
			kill.Stop()
			if exitCode(err) != shopCrashExit {
				s.err = fmt.Errorf("%w: %v", errShopExited, err)
				return
			}
			s.crashes++
		case <-kill.C:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			s.kills++
		}
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// rolledBack returns the event ids of the orders the service's log shows
// rejected or crashed before COMMIT, and how many crashed.
func (s *shop) rolledBack(t *testing.T, into map[string]bool) (crashed int) {
	t.Helper()
	f, err := os.Open(s.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := shopRejected.FindStringSubmatch(sc.Text()); m != nil {
			into[m[1]] = true
		} else if m := shopCrash.FindStringSubmatch(sc.Text()); m != nil {
			into[m[1]] = true
			crashed++
		}
	}
	return crashed
}

// shopOrder is a committed order as the shop database holds it.
type shopOrder struct {
	id, customer, eventID string
	cents                 int64
}

// shopPayload is the example service's event payload (its Order).
type shopPayload struct {
	ID       string `json:"id"`
	Cents    int64  `json:"cents"`
	Customer string `json:"customer"`
}

// expectedEvents turns the committed orders, in placement order, into the
// events the topics must hold. Customers are "<aggregate type>-<n>".
func expectedEvents(orders []shopOrder) (sent map[string]sentEvent, perAgg map[string][]string, totals map[string][2]int64) {
	sent, perAgg, totals = map[string]sentEvent{}, map[string][]string{}, map[string][2]int64{}
	for _, o := range orders {
		aggType := o.customer[:strings.LastIndexByte(o.customer, '-')]
		v, _ := json.Marshal(shopPayload{ID: o.id, Cents: o.cents, Customer: o.customer})
		sent[o.eventID] = sentEvent{topic: "outbox.event." + aggType, aggID: o.customer, value: string(v)}
		perAgg[o.customer] = append(perAgg[o.customer], o.eventID)
		tot := totals[o.customer]
		totals[o.customer] = [2]int64{tot[0] + 1, tot[1] + o.cents}
	}
	return sent, perAgg, totals
}

// checkTimestamps checks the record timestamp of the events whose
// table.field.event.timestamp value is known (want: event id → ms).
func checkTimestamps(got []*kgo.Record, want map[string]int64) []string {
	var problems []string
	for _, r := range got {
		id := headerValue(r, "id")
		if ms, ok := want[id]; ok && r.Timestamp.UnixMilli() != ms {
			problems = append(problems, fmt.Sprintf("event %s: record timestamp %d, want the outbox row's %d", id, r.Timestamp.UnixMilli(), ms))
		}
	}
	return problems
}

func headerValue(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// checkConsumer runs the example consumer over the outbox topics into a
// scratch schema of Postgres, SIGKILLs it once it has applied some events
// (its offsets may lag its database), restarts it, and waits until every
// customer's total counts each committed event exactly once, although the
// topics hold duplicates (sluice was SIGKILLed) and the restarted consumer
// is handed events it already applied.
func checkConsumer(t *testing.T, ctx context.Context, pgURL, brokers, run string, topics []string, want map[string][2]int64, events int) {
	t.Helper()
	_, bin := exampleBinaries(t)
	schema := "e2e_" + run + "_billing"
	pool := pgSchema(t, pgURL, schema)
	logPath := filepath.Join(t.TempDir(), "consumer.log")
	args := []string{"-url", searchPathURL(t, pgURL, schema), "-brokers", brokers, "-topic", strings.Join(topics, ","), "-group", run + "-billing"}

	count := func(q string) int {
		var n int
		if err := pool.QueryRow(ctx, q).Scan(&n); err != nil {
			return -1 // the consumer has not created its tables yet
		}
		return n
	}
	first := exampleCmd(t, bin, logPath, args...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil && count("SELECT count(*) FROM "+schema+".processed_events") < events/3 {
		time.Sleep(20 * time.Millisecond)
	}
	_ = first.Process.Signal(syscall.SIGKILL)
	_ = first.Wait()

	second := exampleCmd(t, bin, logPath, args...)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	totals := func() map[string][2]int64 {
		got := map[string][2]int64{}
		rows, err := pool.Query(ctx, "SELECT customer, orders, cents FROM "+schema+".customer_totals")
		if err != nil {
			return got
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			var n, cents int64
			if rows.Scan(&c, &n, &cents) == nil {
				got[c] = [2]int64{n, cents}
			}
		}
		return got
	}
	deadline := time.Now().Add(2 * time.Minute)
	var got map[string][2]int64
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if got = totals(); fmt.Sprint(got) == fmt.Sprint(want) && count("SELECT count(*) FROM "+schema+".processed_events") == events {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = second.Process.Signal(os.Interrupt)
	if err := second.Wait(); err != nil {
		t.Errorf("consumer did not stop cleanly: %v\n%s", err, tail(logPath))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("consumer totals (customer → orders, cents)\n got %v\nwant %v\nconsumer log:\n%s", got, want, b)
	}
	if n := count("SELECT count(*) FROM " + schema + ".processed_events"); n != events {
		t.Fatalf("consumer processed %d events, %d committed", n, events)
	}
}

// sluiceProblems adds the warnings and errors of sluice's log, and its
// tail, to a failure report.
func sluiceProblems(logf string, problems []string) string {
	all, _ := os.ReadFile(logf)
	out := all
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	if len(problems) > 10 {
		problems = problems[:10]
	}
	for _, l := range strings.Split(string(all), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "snapshot") {
			problems = append(problems, l)
		}
	}
	return fmt.Sprintf("problems:\n%s\nsluice log tail:\n%s", strings.Join(problems, "\n"), out)
}
