package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The MongoDB tests run `sluice run` against the stand-in server of
// scripts/services.sh (mongo-java-server, see capture/mongodb/doc.go for
// what it does and does not implement) and the real Kafka broker.

// mongoTopics: the MongoDB tests' topics have one partition.
const mongoTopics = "  topics: {defaults: {partitions: 1}}\n"

// mongoConfig: data dir, brokers, topic prefix, url, collection.
const mongoConfig = configHead + mongoTopics + jsonConverters + `sources:
  - name: mongo
    connector: io.debezium.connector.mongodb.MongoDbConnector
    topic.prefix: %s
    url: %s
    tables: [%s]
    mongodb:
      poll.interval.ms: 20
      snapshot.fetch.size: 64
      max.batch.size: 64
`

// mongoSetup creates a database of its own with one collection (the
// stand-in cannot watch a collection that does not exist yet) and writes
// the sluice.yaml capturing it.
func mongoSetup(t testing.TB, ctx context.Context) (coll *mongo.Collection, cfgPath, topic, brokers string) {
	t.Helper()
	url := testenv.Require(t, "SLUICE_MONGO_URL")
	brokers = testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	client, err := mongo.Connect(options.Client().ApplyURI(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	run := fmt.Sprintf("mg%d", time.Now().UnixNano()%1e12)
	db := client.Database(run)
	if err := db.CreateCollection(ctx, "items"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	dir := t.TempDir()
	cfgPath = writeConfig(t, dir, fmt.Sprintf(mongoConfig, dir, brokers, "p"+run, url, run+".items"))
	return db.Collection("items"), cfgPath, "p" + run + "." + run + ".items", brokers
}

// consume reads topic from its start into a channel until ctx ends.
func mongoConsume(t testing.TB, ctx context.Context, brokers, topic string) <-chan *kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *kgo.Record, 4096)
	go func() {
		defer close(out)
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) {
				select {
				case out <- r:
				case <-ctx.Done():
				}
			})
		}
	}()
	return out
}

// timing matches the fields that carry clock readings; normalised to 0.
// ord, the cluster time's increment, depends on the server's history.
var mongoTiming = regexp.MustCompile(`"(ts_ms|ts_us|ts_ns|wallTime|ord)":\d+`)

func mongoNormalise(b []byte) string {
	if b == nil {
		return "<tombstone>"
	}
	return mongoTiming.ReplaceAllString(string(b), `"$1":0`)
}

// TestMongoDBEvents runs sluice on a collection with one document, then
// inserts, updates, replaces and deletes, and compares the records on the
// topic byte for byte (clock readings set to 0) with Debezium's MongoDB
// connector format: a snapshot read, then the streamed changes, and a
// tombstone after the delete.
func TestMongoDBEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	coll, cfgPath, topic, brokers := mongoSetup(t, ctx)
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}, {Key: "name", Value: "snap"}, {Key: "v", Value: int32(1)}}); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(filepath.Dir(cfgPath), "sluice.log")
	p := startSluice(t, cfgPath, logf)
	defer func() {
		_ = p.Process.Signal(syscall.SIGTERM)
		_ = p.Wait()
	}()
	records := mongoConsume(t, ctx, brokers, topic)
	next := func() *kgo.Record {
		t.Helper()
		select {
		case r := <-records:
			if r == nil {
				t.Fatalf("no record before the deadline; sluice log:\n%s", tail(logf))
			}
			return r
		case <-ctx.Done():
			t.Fatalf("no record before the deadline; sluice log:\n%s", tail(logf))
		}
		return nil
	}
	type rec struct{ key, value string }
	got := func() rec {
		r := next()
		return rec{string(r.Key), mongoNormalise(r.Value)}
	}

	// source as Debezium 3.4 writes it; the stand-in sends no wallTime
	// with its change events, so it is null there.
	prefix, _, _ := strings.Cut(topic, ".")
	db, name := coll.Database().Name(), coll.Name()
	want := func(key, op, after, snapshot, wallTime string) rec {
		return rec{key, fmt.Sprintf(`{"before":null,"after":%s,"updateDescription":null,`+
			`"source":{"version":"3.4.0.Final","connector":"mongodb","name":"%s","ts_ms":0,"snapshot":"%s","db":"%s","sequence":null,"ts_us":0,"ts_ns":0,"collection":"%s","ord":0,"lsid":null,"txnNumber":null,"wallTime":%s},`+
			`"op":"%s","ts_ms":0,"transaction":null}`, after, prefix, snapshot, db, name, wallTime, op)}
	}
	ejson := func(s string) string { b, _ := json.Marshal(s); return string(b) }

	// The snapshot read comes first; changes start only after it, so that
	// the expected order is fixed.
	all := []rec{got()}
	steps := []func() error{
		func() error {
			_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "s-2"}, {Key: "name", Value: "new"}, {Key: "v", Value: int32(1)}, {Key: "tags", Value: bson.A{"a", int64(7)}}})
			return err
		},
		func() error {
			_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: int32(2)}}}})
			return err
		},
		func() error {
			_, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: int32(1)}}, bson.D{{Key: "name", Value: "replaced"}, {Key: "v", Value: int32(3)}})
			return err
		},
		func() error {
			_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: "s-2"}})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		// Each change is read before the next is made: with
		// fullDocument: updateLookup an update carries the document as
		// it is when the stream reads it.
		all = append(all, got())
	}
	all = append(all, got()) // the tombstone after the delete
	expected := []rec{
		want(`{"id":"1"}`, "r", ejson(`{"_id": 1,"name": "snap","v": 1}`), "last", "0"),
		want(`{"id":"\"s-2\""}`, "c", ejson(`{"_id": "s-2","name": "new","v": 1,"tags": ["a",{"$numberLong": "7"}]}`), "false", "null"),
		want(`{"id":"1"}`, "u", ejson(`{"_id": 1,"name": "snap","v": 2}`), "false", "null"),
		want(`{"id":"1"}`, "u", ejson(`{"_id": 1,"name": "replaced","v": 3}`), "false", "null"),
		want(`{"id":"\"s-2\""}`, "d", "null", "false", "null"),
		{`{"id":"\"s-2\""}`, "<tombstone>"},
	}
	for i := range expected {
		if all[i] != expected[i] {
			t.Errorf("record %d:\n got %s %s\nwant %s %s", i, all[i].key, all[i].value, expected[i].key, expected[i].value)
		}
	}
}

// mongoWorkload makes random inserts, updates, replaces and deletes, each
// document carrying a version v that every update or replace raises. The
// stand-in server sends update events without a usable documentKey (the
// connector takes the _id from the looked-up document), so a document once
// updated is never deleted.
type mongoWorkload struct {
	coll *mongo.Collection

	mu      sync.Mutex
	history map[string][]change // key id -> committed changes
	live    map[int32]int32     // id -> version
	updated map[int32]bool
	next    int32
	ops     int
}

func (w *mongoWorkload) commit(id int32, c change) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := fmt.Sprint(id)
	w.history[k] = append(w.history[k], c)
	switch c.Op {
	case 'd':
		delete(w.live, id)
	default:
		w.live[id] = int32(c.Version)
	}
	if c.Op == 'u' {
		w.updated[id] = true
	}
	w.ops++
}

func (w *mongoWorkload) insert(ctx context.Context) error {
	w.mu.Lock()
	id := w.next
	w.next++
	w.mu.Unlock()
	if _, err := w.coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: int32(1)}, {Key: "pad", Value: strings.Repeat("x", int(id%50))}}); err != nil {
		return err
	}
	w.commit(id, change{'c', 1})
	return nil
}

// run makes n changes (n < 0: until stop ends). Each operation runs to
// completion: one cancelled half-way might be applied yet not recorded.
func (w *mongoWorkload) run(stop context.Context, rng *rand.Rand, n int) error {
	ctx := context.WithoutCancel(stop)
	for ; stop.Err() == nil && n != 0; n-- {
		w.mu.Lock()
		var live, deletable []int32
		for id := range w.live {
			live = append(live, id)
			if !w.updated[id] {
				deletable = append(deletable, id)
			}
		}
		w.mu.Unlock()
		slices.Sort(live)
		slices.Sort(deletable)
		var err error
		switch r := rng.IntN(10); {
		case r < 3 || len(live) == 0:
			err = w.insert(ctx)
		case r < 8:
			id := live[rng.IntN(len(live))]
			w.mu.Lock()
			v := w.live[id] + 1
			w.mu.Unlock()
			filter := bson.D{{Key: "_id", Value: id}}
			if r < 6 {
				_, err = w.coll.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: bson.D{{Key: "v", Value: v}}}})
			} else {
				_, err = w.coll.ReplaceOne(ctx, filter, bson.D{{Key: "v", Value: v}, {Key: "replaced", Value: true}})
			}
			if err == nil {
				w.commit(id, change{'u', int64(v)})
			}
		default:
			if len(deletable) == 0 {
				continue
			}
			id := deletable[rng.IntN(len(deletable))]
			if _, err = w.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err == nil {
				w.commit(id, change{'d', 1})
			}
		}
		if err != nil {
			return err
		}
		time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
	}
	return nil
}

// mongoEvent is one record of the topic as the check sees it.
type mongoEvent struct {
	key string
	c   change
}

func parseMongo(t *testing.T, r *kgo.Record) (mongoEvent, bool) {
	if r.Value == nil {
		return mongoEvent{}, false // tombstone
	}
	var key struct {
		ID string `json:"id"`
	}
	var val struct {
		Op    string  `json:"op"`
		After *string `json:"after"`
	}
	if err := json.Unmarshal(r.Key, &key); err != nil {
		t.Errorf("record key %q: %v", r.Key, err)
		return mongoEvent{}, false
	}
	if err := json.Unmarshal(r.Value, &val); err != nil || len(val.Op) != 1 {
		t.Errorf("record value %q: %v", r.Value, err)
		return mongoEvent{}, false
	}
	ev := mongoEvent{key: key.ID, c: change{Op: val.Op[0]}}
	if ev.c.Op == 'd' {
		ev.c.Version = 1 // a document is deleted once; deletes carry no document
		return ev, true
	}
	if val.After == nil {
		t.Errorf("record without after: %s", r.Value)
		return mongoEvent{}, false
	}
	var doc struct {
		V int64 `json:"v"`
	}
	if err := json.Unmarshal([]byte(*val.After), &doc); err != nil {
		t.Errorf("after %q: %v", *val.After, err)
		return mongoEvent{}, false
	}
	ev.c.Version = doc.V
	return ev, true
}

// checkMongo checks the topic's events against the committed changes.
//
//   - Per document, the streamed events (snapshot reads aside) never go
//     backwards: each is newer than everything before it or repeats an
//     event already delivered (the re-delivered suffix after a restart).
//     A delete ranks after every version.
//   - Every insert and delete committed after the snapshot's start arrived;
//     every update arrived as an update event with that version or a later
//     one (update events carry the document looked up when the stream
//     reads them, capture.mode change_streams_update_full).
//   - The last event of each document is its final state.
func checkMongo(events []mongoEvent, history map[string][]change, seeded map[string]bool) []string {
	var problems []string
	add := func(format string, args ...any) {
		if len(problems) < 40 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	rank := func(c change) int64 {
		if c.Op == 'd' {
			return 1 << 40
		}
		return c.Version
	}
	seen := map[string]map[change]bool{}
	top := map[string]int64{}
	maxU := map[string]int64{}
	last := map[string]change{}
	for _, ev := range events {
		last[ev.key] = ev.c
		if ev.c.Op == 'r' {
			continue
		}
		s := seen[ev.key]
		if s == nil {
			s = map[change]bool{}
			seen[ev.key] = s
		}
		if !s[ev.c] && rank(ev.c) < top[ev.key] {
			add("document %s: %v after version rank %d, never delivered before", ev.key, ev.c, top[ev.key])
		}
		s[ev.c] = true
		top[ev.key] = max(top[ev.key], rank(ev.c))
		if ev.c.Op == 'u' {
			maxU[ev.key] = max(maxU[ev.key], ev.c.Version)
		}
	}
	keys := make([]string, 0, len(history))
	for k := range history {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		h := history[k]
		for _, c := range h {
			switch c.Op {
			case 'c', 'd':
				if !seen[k][c] && !(c.Op == 'c' && seeded[k]) {
					add("document %s: %v missing", k, c)
				}
			case 'u':
				if maxU[k] < c.Version {
					add("document %s: update to version %d missing (newest update seen: %d)", k, c.Version, maxU[k])
				}
			}
		}
		final := h[len(h)-1]
		got := last[k]
		if final.Op == 'd' && got.Op != 'd' || final.Op != 'd' && (got.Op == 'd' || got.Version != final.Version) {
			add("document %s: last event %v, final state %v", k, got, final)
		}
	}
	return problems
}

// TestMongoDBNoLoss kills sluice with SIGKILL at random moments while a
// workload changes the collection, restarts it each time, and checks the
// topic with checkMongo. SLUICE_SOAK_KILLS raises the number of kills.
func TestMongoDBNoLoss(t *testing.T) {
	kills := 12
	if s := os.Getenv("SLUICE_SOAK_KILLS"); s != "" {
		fmt.Sscan(s, &kills)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	coll, cfgPath, topic, brokers := mongoSetup(t, ctx)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 1))

	w := &mongoWorkload{coll: coll, history: map[string][]change{}, live: map[int32]int32{}, updated: map[int32]bool{}}
	seeded := map[string]bool{}
	for range 2000 { // for the snapshot
		if err := w.insert(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for k := range w.history {
		seeded[k] = true
	}

	records := mongoConsume(t, ctx, brokers, topic)
	var events []mongoEvent
	drain := func() {
		for {
			select {
			case r := <-records:
				if ev, ok := parseMongo(t, r); ok {
					events = append(events, ev)
				}
			default:
				return
			}
		}
	}

	logf := filepath.Join(filepath.Dir(cfgPath), "sluice.log")
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	workDone := make(chan error, 1)
	for i := range kills {
		p := startSluice(t, cfgPath, logf)
		if i == 0 {
			// The workload starts once the first snapshot is under way
			// (its start time taken), so that its inserts are streamed.
			select {
			case r := <-records:
				if ev, ok := parseMongo(t, r); ok {
					events = append(events, ev)
				}
			case <-ctx.Done():
				t.Fatalf("no snapshot record; sluice log:\n%s", tail(logf))
			}
			go func() { workDone <- w.run(wctx, rand.New(rand.NewPCG(uint64(seed), 2)), -1) }()
		}
		wait := time.Duration(200+rng.IntN(1500)) * time.Millisecond
		if i == 0 {
			wait = time.Duration(20+rng.IntN(100)) * time.Millisecond // inside the snapshot
		}
		time.Sleep(wait)
		if err := p.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = p.Wait()
		drain()
	}
	stopWork()
	if err := <-workDone; err != nil {
		t.Fatalf("workload: %v", err)
	}

	// A last, clean run delivers the rest, and changes made while it runs.
	p := startSluice(t, cfgPath, logf)
	if err := w.run(ctx, rand.New(rand.NewPCG(uint64(seed), 3)), 50); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute) // a hang guard, not a timing assertion
	var problems []string
	for {
		drain()
		problems = checkMongo(events, w.history, seeded)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	_ = p.Process.Signal(syscall.SIGTERM)
	if err := p.Wait(); err != nil {
		t.Errorf("final sluice run did not stop cleanly: %v", err)
	}
	t.Logf("%d kills, %d changes, %d documents, %d events consumed", kills, w.ops, len(w.history), len(events))
	if len(problems) > 0 {
		t.Fatalf("%d problems, first ones:\n%s\nsluice log:\n%s", len(problems), strings.Join(problems, "\n"), tail(logf))
	}
}

// TestCheckMongo shows that checkMongo finds each kind of loss.
func TestCheckMongo(t *testing.T) {
	history := map[string][]change{
		"1": {{'c', 1}, {'u', 2}, {'u', 3}},
		"2": {{'c', 1}, {'d', 1}},
	}
	ok := []mongoEvent{{"1", change{'c', 1}}, {"2", change{'c', 1}}, {"1", change{'u', 3}}, {"1", change{'u', 3}}, {"2", change{'d', 1}},
		{"1", change{'c', 1}}, {"1", change{'u', 3}}} // a re-delivered suffix
	for _, tc := range []struct {
		name   string
		events []mongoEvent
		want   int
	}{
		{"complete", ok, 0},
		{"update lost", []mongoEvent{{"1", change{'c', 1}}, {"2", change{'c', 1}}, {"2", change{'d', 1}}}, 3}, // u2, u3, final state
		{"delete lost", ok[:4], 2}, // d and final state
		{"insert lost", ok[1:], 1}, // c1 of document 1
		{"backwards", append(append([]mongoEvent{}, ok...), mongoEvent{"1", change{'u', 2}}), 2}, // u2 after u3, final state
		{"snapshot stands for the seed insert", []mongoEvent{{"1", change{'r', 1}}, {"2", change{'c', 1}}, {"1", change{'u', 3}}, {"2", change{'d', 1}}}, 0},
	} {
		seeded := map[string]bool{}
		if tc.name == "snapshot stands for the seed insert" {
			seeded["1"] = true
		}
		if got := checkMongo(tc.events, history, seeded); len(got) != tc.want {
			t.Errorf("%s: %d problems %q, want %d", tc.name, len(got), got, tc.want)
		}
	}
}

// mongoConnectorConfig: data dir, brokers, then the connector's
// mongodb.connection.string, topic.prefix, collection.include.list and
// field.exclude.list.
const mongoConnectorConfig = configHead + mongoTopics + `connectors:
  - name: mongo-json
    config:
      connector.class: io.debezium.connector.mongodb.MongoDbConnector
      mongodb.connection.string: "%s"
      topic.prefix: %s
      collection.include.list: "%s"
      field.exclude.list: "%s"
      poll.interval.ms: "20"
      key.converter: org.apache.kafka.connect.json.JsonConverter
      key.converter.schemas.enable: "false"
      value.converter: org.apache.kafka.connect.json.JsonConverter
      value.converter.schemas.enable: "false"
`

// TestMongoDBConnectorJSON runs a Debezium MongoDbConnector configuration
// (the flat Kafka Connect form) under sluice run: collection.include.list
// picks one of two collections, field.exclude.list drops a field.
func TestMongoDBConnectorJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	coll, cfgPath, _, brokers := mongoSetup(t, ctx)
	db := coll.Database()
	if err := db.CreateCollection(ctx, "skip"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*mongo.Collection{db.Collection("skip"), coll} {
		if _, err := c.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(1)}, {Key: "secret", Value: "s"}, {Key: "n", Value: int32(1)}}); err != nil {
			t.Fatal(err)
		}
	}
	url := testenv.Require(t, "SLUICE_MONGO_URL")
	prefix := "j" + db.Name()
	cfg := fmt.Sprintf(mongoConnectorConfig, filepath.Dir(cfgPath), brokers, url, prefix,
		regexp.QuoteMeta(db.Name())+`\\.item.*`, db.Name()+".items.secret")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(filepath.Dir(cfgPath), "sluice.log")
	p := startSluice(t, cfgPath, logf)
	defer func() {
		_ = p.Process.Signal(syscall.SIGTERM)
		_ = p.Wait()
	}()
	topic := prefix + "." + db.Name() + ".items"
	records := mongoConsume(t, ctx, brokers, topic)
	select {
	case r := <-records:
		if r == nil {
			t.Fatalf("no record; sluice log:\n%s", tail(logf))
		}
		var v struct {
			After string `json:"after"`
			Op    string `json:"op"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != `{"id":"1"}` || v.Op != "r" || v.After != `{"_id": 1,"n": 1}` {
			t.Errorf("record %s %s", r.Key, r.Value)
		}
	case <-ctx.Done():
		t.Fatalf("no record; sluice log:\n%s", tail(logf))
	}
	if _, err := db.Collection("skip").InsertOne(ctx, bson.D{{Key: "_id", Value: int32(2)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(2)}, {Key: "secret", Value: "s"}}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-records:
		if string(r.Key) != `{"id":"2"}` || !strings.Contains(string(r.Value), `"after":"{\"_id\": 2}"`) {
			t.Errorf("record %s %s", r.Key, r.Value)
		}
	case <-ctx.Done():
		t.Fatalf("no insert record; sluice log:\n%s", tail(logf))
	}
	// The excluded collection has no topic: its snapshot read and insert
	// would have come before the insert just read.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if skip := prefix + "." + db.Name() + ".skip"; topics.Has(skip) || !topics.Has(topic) {
		t.Errorf("topics: %s present: %v, %s present: %v", skip, topics.Has(skip), topic, topics.Has(topic))
	}
}

// BenchmarkMongoDBToKafkaStandIn measures sluice run end to end while
// streaming: b.N documents inserted (in batches of 1000) into the stand-in
// server until all are records on the real Kafka broker. The number is
// mongo-java-server's, not mongod's: the stand-in is an in-memory Java
// server whose change streams poll.
func BenchmarkMongoDBToKafkaStandIn(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	coll, cfgPath, topic, brokers := mongoSetup(b, ctx)
	logf := filepath.Join(filepath.Dir(cfgPath), "sluice.log")
	logFile, err := os.Create(logf)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(sluiceBin, "run", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	records := mongoConsume(b, ctx, brokers, topic)
	// A first document shows the stream is up.
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: int32(-1)}}); err != nil {
		b.Fatal(err)
	}
	select {
	case <-records:
	case <-ctx.Done():
		b.Fatalf("no record; sluice log:\n%s", tail(logf))
	}
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i += 1000 {
			docs := make([]any, 0, 1000)
			for j := i; j < min(i+1000, b.N); j++ {
				docs = append(docs, bson.D{{Key: "_id", Value: int32(j)}, {Key: "name", Value: "bench"}, {Key: "v", Value: int32(1)}})
			}
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				b.Error(err)
				cancel()
				return
			}
		}
	}()
	for n := 0; n < b.N; n++ {
		select {
		case <-records:
		case <-ctx.Done():
			b.Fatalf("%d of %d records; sluice log:\n%s", n, b.N, tail(logf))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
