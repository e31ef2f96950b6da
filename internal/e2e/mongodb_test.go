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

	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The MongoDB tests run `sluice run` against the stand-in server of
// scripts/services.sh (mongo-java-server, see capture/mongodb/doc.go for
// what it does and does not implement) and the real Kafka broker.

// mongoConfig: data dir, brokers, topic prefix, url, collection.
const mongoConfig = `
log: {level: info, format: text}
http: {addr: "127.0.0.1:0"}
data.dir: %s
kafka:
  bootstrap.servers: [%s]
  linger.ms: 2
  topics: {defaults: {partitions: 1}}
converters:
  key: {type: json, schemas.enable: false}
  value: {type: json, schemas.enable: false}
sources:
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
func mongoSetup(t *testing.T, ctx context.Context) (coll *mongo.Collection, cfgPath, topic, brokers string) {
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
	cfgPath = filepath.Join(dir, "sluice.yaml")
	cfg := fmt.Sprintf(mongoConfig, dir, brokers, "p"+run, url, run+".items")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return db.Collection("items"), cfgPath, "p" + run + "." + run + ".items", brokers
}

// consume reads topic from its start into a channel until ctx ends.
func mongoConsume(t *testing.T, ctx context.Context, brokers, topic string) <-chan *kgo.Record {
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

var _ = strings.Cut
var _ = slices.Sort[[]int]
var _ = rand.IntN
var _ = json.Marshal
var _ sync.Mutex
var _ exec.Cmd
