package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestRunElasticsearchSink runs Postgres → Kafka → OpenSearch/Elasticsearch
// through two "sluice run" processes (the Postgres source; the
// Elasticsearch sink connector, on the raw Debezium envelopes, behind a
// RegexRouter naming the indices). The sink reaches the node through a proxy
// that answers 429 to a fifth of the bulk requests and turns a twentieth of
// the items it lets through into 429 rejections. A randomized workload of
// inserts, updates and deletes runs on two tables — one keyed by an int, one
// by a composite (text, int) key — while the sink process is SIGKILLed and
// restarted; then each index holds exactly the source rows: same ids, same
// field values, deleted rows absent, checked by scrolling over every
// document. Then the topics are replayed from offset 0 by two new connectors
// (new consumer groups): one into the same indices, which must not change,
// one into fresh indices, which must end equal to the source as well.
func TestRunElasticsearchSink(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	es := strings.TrimSuffix(testenv.Require(t, "SLUICE_ES_URL"), "/")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	began := time.Now()
	run := fmt.Sprintf("es%d", time.Now().UnixNano()%1e9)
	schema := "e2e_" + run
	dir := t.TempDir()

	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	kad := kadm.NewClient(cl)
	topics := []string{run + "." + schema + ".items", run + "." + schema + ".pairs"}
	connectors := []string{run + "-es", run + "-replay", run + "-fresh"}
	t.Cleanup(func() {
		c := context.Background()
		testenv.DropReplicationSlot(c, pool, run)
		_, _ = pool.Exec(c, "DROP PUBLICATION IF EXISTS "+run)
		_, _ = pool.Exec(c, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		var groups []string
		for _, n := range connectors {
			groups = append(groups, "connect-"+n)
		}
		_, _ = kad.DeleteGroups(c, groups...)
		_, _ = kad.DeleteTopics(c, topics...)
		esCall(t, es, http.MethodDelete, "/"+run+"-*", nil)
	})
	for _, q := range []string{
		"CREATE SCHEMA " + schema,
		"CREATE TABLE " + schema + ".items (id int PRIMARY KEY, label text, qty bigint NOT NULL, price numeric(10,2), flag boolean)",
		"CREATE TABLE " + schema + ".pairs (region text, n int, val text NOT NULL, PRIMARY KEY (region, n))",
		"INSERT INTO " + schema + ".items SELECT g, 'seed ' || g, g * 10, g + 0.25, g % 2 = 0 FROM generate_series(1, 200) g",
		"INSERT INTO " + schema + ".pairs SELECT r, g, 'v' || g FROM generate_series(1, 60) g, unnest(ARRAY['eu', 'us', 'ap']) r",
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	srcCfg := filepath.Join(dir, "source.yaml")
	esWriteFile(t, srcCfg, fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
data.dir: %s
kafka:
  bootstrap.servers: [%s]
  topics: {defaults: {partitions: 3}}
sources:
  - name: src
    connector: postgres
    topic.prefix: %s
    url: %q
    tables: [%s.items, %s.pairs]
    postgres: {slot.name: %s, publication.name: %s, publication.autocreate.mode: filtered}
`, filepath.Join(dir, "source-data"), brokers, run, pgURL, schema, schema, run, run))
	source := startRun(t, srcCfg, nil)

	proxy, proxyURL := esChaosProxy(t, es, 0.2, 0.05)
	// connector is one Elasticsearch sink connector on both topics writing
	// indices <prefix>items and <prefix>pairs.
	connector := func(name, conn, prefix string) string {
		return fmt.Sprintf(`  - name: %s
    config:
      connector.class: io.confluent.connect.elasticsearch.ElasticsearchSinkConnector
      topics: %q
      connection.url: %q
      batch.size: "150"
      max.in.flight.requests: "3"
      max.retries: "60"
      retry.backoff.ms: "5"
      consumer.override.session.timeout.ms: "6000"
      consumer.override.heartbeat.interval.ms: "1000"
      transforms: route
      transforms.route.type: org.apache.kafka.connect.transforms.RegexRouter
      transforms.route.regex: "[^.]+\\.[^.]+\\.(.*)"
      transforms.route.replacement: %q
`, name, strings.Join(topics, ","), conn, prefix+"$1")
	}
	sinkCfg := filepath.Join(dir, "sink.yaml")
	esWriteFile(t, sinkCfg, fmt.Sprintf("http: {addr: \"127.0.0.1:0\"}\ndata.dir: %s\nkafka: {bootstrap.servers: [%s]}\nconnectors:\n%s",
		filepath.Join(dir, "sink-data"), brokers, connector(connectors[0], proxyURL, run+"-")))
	var sinks []*runProc
	defer func() {
		if t.Failed() {
			source.cmd.Process.Kill()
			t.Logf("source log:\n%s", esTail(source.output()))
			for i, p := range sinks {
				p.cmd.Process.Kill()
				t.Logf("sink %d log:\n%s", i, esTail(p.output()))
			}
		}
	}()
	sinks = append(sinks, startRun(t, sinkCfg, nil))

	// The workload runs while the sink is killed twice and restarted.
	w := &esWorkload{pool: pool, schema: schema, items: map[int]bool{}, pairs: map[string]bool{}, next: 200}
	for i := 1; i <= 200; i++ {
		w.items[i] = true
	}
	for _, r := range []string{"eu", "us", "ap"} {
		for n := 1; n <= 60; n++ {
			w.pairs[r+"\x00"+strconv.Itoa(n)] = true
		}
	}
	done := make(chan error, 1)
	go func() { done <- w.run(ctx, rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano()))), 3000) }()
	rng := rand.New(rand.NewPCG(5, uint64(time.Now().UnixNano())))
	for i := range 2 {
		time.Sleep(time.Duration(1000+rng.IntN(1500)) * time.Millisecond)
		p := sinks[len(sinks)-1]
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = p.cmd.Wait()
		sinks = append(sinks, startRun(t, sinkCfg, nil))
	}
	if err := <-done; err != nil {
		t.Fatalf("workload: %v", err)
	}
	t.Logf("workload: %d operations (%d deletes) in %d transactions, sink killed twice (%v)", w.ops, w.deletions, w.txs, time.Since(began).Round(time.Millisecond))

	want := esSourceDocs(t, ctx, pool, schema)
	converge := func(phase, prefix string, within time.Duration) {
		t.Helper()
		eventually(t, within, phase, func() error {
			for _, tbl := range []string{"items", "pairs"} {
				got, err := esAllDocs(es, prefix+tbl)
				if err != nil {
					return err
				}
				if err := esDiff(got, want[tbl]); err != nil {
					return fmt.Errorf("index %s%s: %w", prefix, tbl, err)
				}
			}
			return nil
		})
	}
	converge("indices equal the source after the kills", run+"-", 3*time.Minute)
	if proxy.rejected.Load() == 0 || proxy.rewritten.Load() == 0 {
		t.Errorf("the proxy rejected %d bulk requests and %d items: no back-pressure exercised", proxy.rejected.Load(), proxy.rewritten.Load())
	}
	t.Logf("indices equal the source (%d items, %d pairs) after the kills; the proxy rejected %d of %d bulk requests and %d items (%v)",
		len(want["items"]), len(want["pairs"]), proxy.rejected.Load(), proxy.bulks.Load(), proxy.rewritten.Load(), time.Since(began).Round(time.Millisecond))

	// Replay from offset 0 with new consumer groups: into the same indices
	// (every write is older than or as old as what is stored) and into fresh
	// ones.
	last := sinks[len(sinks)-1]
	if err := last.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = last.cmd.Wait()
	replayCfg := filepath.Join(dir, "replay.yaml")
	esWriteFile(t, replayCfg, fmt.Sprintf("http: {addr: \"127.0.0.1:0\"}\ndata.dir: %s\nkafka: {bootstrap.servers: [%s]}\nconnectors:\n%s%s",
		filepath.Join(dir, "replay-data"), brokers, connector(connectors[1], es, run+"-"), connector(connectors[2], es, run+"-fresh-")))
	sinks = append(sinks, startRun(t, replayCfg, nil))
	eventually(t, 3*time.Minute, "replay connectors consumed the topics", func() error {
		lags, err := kad.Lag(ctx, "connect-"+connectors[1], "connect-"+connectors[2])
		if err != nil {
			return err
		}
		for g, l := range lags {
			if l.Error() != nil {
				return fmt.Errorf("%s: %w", g, l.Error())
			}
			if len(l.Lag) == 0 || l.Lag.Total() != 0 {
				return fmt.Errorf("%s: lag %d over %d topics", g, l.Lag.Total(), len(l.Lag))
			}
		}
		return nil
	})
	converge("indices unchanged by the replay", run+"-", 30*time.Second)
	converge("fresh indices equal the source after the replay", run+"-fresh-", 30*time.Second)
	t.Logf("replay from offset 0: indices equal the source (%v)", time.Since(began).Round(time.Millisecond))
	_ = sinks[len(sinks)-1].cmd.Process.Signal(syscall.SIGTERM)
	_ = source.cmd.Process.Signal(syscall.SIGTERM)
}

// esWorkload changes the two source tables in random transactions.
type esWorkload struct {
	pool      *pgxpool.Pool
	schema    string
	items     map[int]bool    // ids present
	pairs     map[string]bool // region \x00 n present
	next      int
	ops, txs  int
	deletions int
}

func (w *esWorkload) run(ctx context.Context, rng *rand.Rand, ops int) error {
	regions := []string{"eu", "us", "ap", `q"uote`}
	pick := func(m map[string]bool) string {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks[rng.IntN(len(ks))]
	}
	labels := []string{`plain`, `with "quotes" and \ backslash`, `<tag> & ünïcödé`, ``, "tab\tnewline\n"}
	for w.ops < ops {
		tx, err := w.pool.Begin(ctx)
		if err != nil {
			return err
		}
		items, pairs := map[int]bool{}, map[string]bool{}
		for k, v := range w.items {
			items[k] = v
		}
		for k, v := range w.pairs {
			pairs[k] = v
		}
		for range 1 + rng.IntN(8) {
			var q string
			var args []any
			op := rng.IntN(10)
			if rng.IntN(2) == 0 {
				ids := make([]int, 0, len(items))
				for id := range items {
					ids = append(ids, id)
				}
				slices.Sort(ids)
				switch {
				case op < 3 || len(ids) == 0:
					w.next++
					var label any = labels[rng.IntN(len(labels))] + strconv.Itoa(w.next)
					if rng.IntN(5) == 0 {
						label = nil
					}
					q, args = "INSERT INTO "+w.schema+".items VALUES ($1, $2, $3, $4, $5)", []any{w.next, label, rng.Int64N(1e12), fmt.Sprintf("%d.%02d", rng.IntN(1e6), rng.IntN(100)), rng.IntN(2) == 0}
					items[w.next] = true
				case op < 8:
					q, args = "UPDATE "+w.schema+".items SET label = $2, qty = qty + 1, price = $3, flag = NOT flag WHERE id = $1",
						[]any{ids[rng.IntN(len(ids))], labels[rng.IntN(len(labels))], fmt.Sprintf("%d.%02d", rng.IntN(1e6), rng.IntN(100))}
				default:
					id := ids[rng.IntN(len(ids))]
					q, args = "DELETE FROM "+w.schema+".items WHERE id = $1", []any{id}
					delete(items, id)
					w.deletions++
				}
			} else {
				switch {
				case op < 3 || len(pairs) == 0:
					r, n := regions[rng.IntN(len(regions))], 61+rng.IntN(1000)
					if pairs[r+"\x00"+strconv.Itoa(n)] {
						continue
					}
					q, args = "INSERT INTO "+w.schema+".pairs VALUES ($1, $2, $3)", []any{r, n, labels[rng.IntN(len(labels))]}
					pairs[r+"\x00"+strconv.Itoa(n)] = true
				case op < 8:
					r, n, _ := strings.Cut(pick(pairs), "\x00")
					q, args = "UPDATE "+w.schema+".pairs SET val = $3 WHERE region = $1 AND n = $2", []any{r, n, fmt.Sprint(rng.IntN(1e9))}
				default:
					k := pick(pairs)
					r, n, _ := strings.Cut(k, "\x00")
					q, args = "DELETE FROM "+w.schema+".pairs WHERE region = $1 AND n = $2", []any{r, n}
					delete(pairs, k)
					w.deletions++
				}
			}
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				_ = tx.Rollback(ctx)
				return fmt.Errorf("%s: %w", q, err)
			}
			w.ops++
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		w.items, w.pairs = items, pairs
		w.txs++
		time.Sleep(time.Duration(2+rng.IntN(10)) * time.Millisecond)
	}
	return nil
}

// esSourceDocs reads the source tables as the documents the sink must have
// written, by document id: the columns in table order, numbers as their
// exact text (numeric(10,2) keeps its two decimals), NULL as null. Ids are
// the primary key: the int itself for items, canonical JSON (keys sorted)
// of the composite key for pairs.
func esSourceDocs(t *testing.T, ctx context.Context, pool *pgxpool.Pool, schema string) map[string]map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]map[string]any{"items": {}, "pairs": {}}
	rows, err := pool.Query(ctx, "SELECT id, label, qty::text, price::text, flag FROM "+schema+".items")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int
		var label, price *string
		var qty string
		var flag *bool
		if err := rows.Scan(&id, &label, &qty, &price, &flag); err != nil {
			t.Fatal(err)
		}
		doc := map[string]any{"id": json.Number(strconv.Itoa(id)), "label": nil, "qty": json.Number(qty), "price": nil, "flag": nil}
		if label != nil {
			doc["label"] = *label
		}
		if price != nil {
			doc["price"] = json.Number(*price)
		}
		if flag != nil {
			doc["flag"] = *flag
		}
		out["items"][strconv.Itoa(id)] = doc
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, err = pool.Query(ctx, "SELECT region, n, val FROM "+schema+".pairs")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var region, val string
		var n int
		if err := rows.Scan(&region, &n, &val); err != nil {
			t.Fatal(err)
		}
		var id bytes.Buffer
		e := json.NewEncoder(&id)
		e.SetEscapeHTML(false)
		if err := e.Encode(map[string]any{"region": region, "n": n}); err != nil {
			t.Fatal(err)
		}
		out["pairs"][strings.TrimSpace(id.String())] = map[string]any{"region": region, "n": json.Number(strconv.Itoa(n)), "val": val}
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	return out
}

// esAllDocs refreshes index and reads every document with a scroll,
// decoding each _source with numbers kept as their text.
func esAllDocs(es, index string) (map[string]map[string]any, error) {
	if st, body, err := esRequest(es, http.MethodPost, "/"+index+"/_refresh", nil); err != nil || st != 200 {
		return nil, fmt.Errorf("refresh %s: %d %s %v", index, st, body, err)
	}
	out := map[string]map[string]any{}
	st, body, err := esRequest(es, http.MethodPost, "/"+index+"/_search?scroll=1m", []byte(`{"size":1000,"sort":["_doc"]}`))
	for {
		if err != nil || st != 200 {
			return nil, fmt.Errorf("search %s: %d %s %v", index, st, body, err)
		}
		var r struct {
			ScrollID string `json:"_scroll_id"`
			Hits     struct {
				Hits []struct {
					ID     string          `json:"_id"`
					Source json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return nil, err
		}
		for _, h := range r.Hits.Hits {
			d := json.NewDecoder(bytes.NewReader(h.Source))
			d.UseNumber()
			var doc map[string]any
			if err := d.Decode(&doc); err != nil {
				return nil, fmt.Errorf("document %s: %w", h.ID, err)
			}
			out[h.ID] = doc
		}
		if len(r.Hits.Hits) == 0 {
			esRequest(es, http.MethodDelete, "/_search/scroll", fmt.Appendf(nil, `{"scroll_id":%q}`, r.ScrollID))
			return out, nil
		}
		st, body, err = esRequest(es, http.MethodPost, "/_search/scroll", fmt.Appendf(nil, `{"scroll":"1m","scroll_id":%q}`, r.ScrollID))
	}
}

// esDiff describes how got differs from want (nil when equal).
func esDiff(got, want map[string]map[string]any) error {
	var missing, extra, wrong []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case !reflect.DeepEqual(g, w):
			wrong = append(wrong, fmt.Sprintf("%s: %v, want %v", id, g, w))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra)+len(wrong) == 0 {
		return nil
	}
	slices.Sort(missing)
	slices.Sort(extra)
	slices.Sort(wrong)
	return fmt.Errorf("%d documents for %d rows: %d missing %v, %d extra %v, %d different %v", len(got), len(want),
		len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))], len(wrong), wrong[:min(3, len(wrong))])
}

func esRequest(es, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, es+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

// esCall is esRequest failing the test on a transport error.
func esCall(t *testing.T, es, method, path string, body []byte) (int, []byte) {
	t.Helper()
	st, data, err := esRequest(es, method, path, body)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
	}
	return st, data
}

func esWriteFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func esTail(s string) string {
	if len(s) > 8000 {
		return s[len(s)-8000:]
	}
	return s
}

// esProxy stands between a sink and the node: it answers a share of bulk
// requests 429 and, in the responses to the others, turns a share of the
// successful items into 429 rejections (items the node did write: the sink
// sends them again and meets its own versions).
type esProxy struct {
	rejected, rewritten, bulks atomic.Int64
	mu                         sync.Mutex
	rng                        *rand.Rand
}

func (p *esProxy) roll(share float64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < share
}

func esChaosProxy(t *testing.T, target string, rejectShare, itemShare float64) (*esProxy, string) {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &esProxy{rng: rand.New(rand.NewPCG(3, uint64(time.Now().UnixNano())))}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/_bulk") || resp.StatusCode != 200 {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var r map[string]any
		if err := json.Unmarshal(body, &r); err != nil {
			return err
		}
		items, _ := r["items"].([]any)
		for _, it := range items {
			m := it.(map[string]any)
			for op, res := range m {
				res := res.(map[string]any)
				if st, _ := res["status"].(float64); st < 300 && p.roll(itemShare) {
					p.rewritten.Add(1)
					m[op] = map[string]any{"_index": res["_index"], "_id": res["_id"], "status": 429,
						"error": map[string]any{"type": "es_rejected_execution_exception", "reason": "rejected execution (test proxy)"}}
					r["errors"] = true
				}
			}
		}
		out, err := json.Marshal(r)
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(out))
		resp.ContentLength = int64(len(out))
		resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			p.bulks.Add(1)
			if p.roll(rejectShare) {
				p.rejected.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"error":{"root_cause":[],"type":"es_rejected_execution_exception","reason":"rejected execution of bulk (test proxy)"},"status":429}`)
				return
			}
		}
		// Plain responses, which ModifyResponse can read.
		r.Header.Del("Accept-Encoding")
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

// TestRunElasticsearchDeadLetters feeds an Elasticsearch sink connector
// (errors.tolerance all) records for an index created beforehand with a
// strict mapping: a value whose integer field holds text and one with a
// field the mapping does not know are refused by the node, a record without
// key cannot be given an id; the three land in the dead letter topic with
// their original bytes and the __connect.errors.* headers, the good
// documents are in the index.
func TestRunElasticsearchDeadLetters(t *testing.T) {
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	es := strings.TrimSuffix(testenv.Require(t, "SLUICE_ES_URL"), "/")
	ctx := context.Background()
	suffix := fmt.Sprint(time.Now().UnixNano())
	topic, dlq := "esdlq-"+suffix, "esdlq-"+suffix+"-dlq"
	t.Cleanup(func() { esCall(t, es, http.MethodDelete, "/"+topic, nil) })
	if st, body := esCall(t, es, http.MethodPut, "/"+topic,
		[]byte(`{"mappings":{"dynamic":"strict","properties":{"id":{"type":"integer"},"n":{"type":"integer"}}}}`)); st != 200 {
		t.Fatalf("create index: %d %s", st, body)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), topic, dlq) })
	key := func(id int) []byte {
		return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false},"payload":{"id":%d}}`, id)
	}
	value := func(id int, field, n string) []byte {
		return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":%q}],"optional":false},"payload":{"id":%d,%q:%q}}`, field, id, field, n)
	}
	recs := []struct {
		k, v []byte
		bad  string // the reason a bad record fails, "" for a good one
	}{
		{key(1), value(1, "n", "1"), ""},
		{key(2), value(2, "n", "not a number"), "_parsing_exception"},
		{key(3), value(3, "unknown", "3"), "strict_dynamic_mapping_exception"},
		{nil, value(4, "n", "4"), "null key"},
		{key(5), value(5, "n", "5"), ""},
	}
	for _, r := range recs {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: r.k, Value: r.v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "sluice.yaml")
	esWriteFile(t, cfg, fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [%s]}
data.dir: %s
connectors:
  - name: esdlq-%s
    config:
      connector.class: elasticsearch
      topics: %s
      connection.url: %q
      key.converter: org.apache.kafka.connect.json.JsonConverter
      value.converter: org.apache.kafka.connect.json.JsonConverter
      errors.tolerance: all
      errors.deadletterqueue.topic.name: %s
      errors.deadletterqueue.topic.replication.factor: "1"
      errors.deadletterqueue.context.headers.enable: "true"
`, brokers, filepath.Join(filepath.Dir(cfg), "data"), suffix, topic, es, dlq))
	p := startRun(t, cfg, nil)
	defer func() {
		if t.Failed() {
			p.cmd.Process.Kill()
			t.Logf("sluice log:\n%s", esTail(p.output()))
		}
	}()
	want := map[string]map[string]any{
		"1": {"id": json.Number("1"), "n": "1"},
		"5": {"id": json.Number("5"), "n": "5"},
	}
	eventually(t, 90*time.Second, "good documents in the index", func() error {
		got, err := esAllDocs(es, topic)
		if err != nil {
			return err
		}
		return esDiff(got, want)
	})
	// Records refused at Put (no key) reach the dead letter topic before
	// those the node refused at Flush: they are matched by offset.
	dead := readRecords(t, brokers, dlq, 3)
	var bad []int
	for i, r := range recs {
		if r.bad != "" {
			bad = append(bad, i)
		}
	}
	if len(dead) != len(bad) {
		t.Fatalf("dead letter topic holds %d records, want %d", len(dead), len(bad))
	}
	byOffset := map[string]*kgo.Record{}
	for _, d := range dead {
		for _, kv := range d.Headers {
			if kv.Key == "__connect.errors.offset" {
				byOffset[string(kv.Value)] = d
			}
		}
	}
	for _, i := range bad {
		d, r := byOffset[fmt.Sprint(i)], recs[i]
		if d == nil {
			t.Errorf("record %d (%s) not in the dead letter topic", i, r.bad)
			continue
		}
		if !bytes.Equal(d.Key, r.k) || !bytes.Equal(d.Value, r.v) {
			t.Errorf("dead letter of %d: key %s value %s, want the original %s / %s", i, d.Key, d.Value, r.k, r.v)
		}
		h := map[string]string{}
		for _, kv := range d.Headers {
			h[kv.Key] = string(kv.Value)
		}
		for k, want := range map[string]string{
			"__connect.errors.topic":          topic,
			"__connect.errors.partition":      "0",
			"__connect.errors.connector.name": "esdlq-" + suffix,
			"__connect.errors.task.id":        "0",
			"__connect.errors.stage":          "TASK_PUT",
			"__connect.errors.class.name":     "io.confluent.connect.elasticsearch.ElasticsearchSinkTask",
		} {
			if h[k] != want {
				t.Errorf("dead letter of %d: header %s = %q, want %q (headers %v)", i, k, h[k], want, h)
			}
		}
		if msg := h["__connect.errors.exception.message"]; !strings.Contains(msg, r.bad) {
			t.Errorf("dead letter of %d: exception message %q does not say %q", i, msg, r.bad)
		}
		if h["__connect.errors.exception.class.name"] == "" {
			t.Errorf("dead letter of %d: no exception class (headers %v)", i, h)
		}
	}
}
