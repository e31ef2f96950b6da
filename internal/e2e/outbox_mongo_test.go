package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestOutboxMongo routes an outbox collection with MongoEventRouter
// semantics while sluice is SIGKILLed a few times: services insert outbox
// documents (one service deletes each right after inserting it, another
// updates some, both of which the router drops), and exactly the inserted
// events must reach outbox.event.<aggregatetype>, key the aggregate id,
// value the expanded payload, the document's ObjectId in the id header,
// each aggregate's events in insertion order.
//
// The MongoDB test server is a stand-in without multi-document
// transactions, so unlike the Postgres and MySQL tests nothing here rolls
// back: a real service writes its business document and the outbox
// document in one transaction.
func TestOutboxMongo(t *testing.T) {
	mongoURL := testenv.Require(t, "SLUICE_MONGO_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	run := fmt.Sprintf("obg%d", time.Now().UnixNano()%1e9)
	dbName := "e2e_" + run
	mc, err := mongo.Connect(options.Client().ApplyURI(mongoURL))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(context.Background())
	db := mc.Database(dbName)
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	coll := db.Collection("outbox")

	type service struct {
		aggType string
		delete  bool // delete each document right after inserting it
		update  bool // update some documents after inserting them
	}
	services := []service{{"Order" + run, false, true}, {"Invoice" + run, true, false}}
	// A first event before sluice starts: the snapshot routes it.
	firstID := bson.NewObjectID()
	if _, err := coll.InsertOne(ctx, outboxDoc(firstID, "Start"+run, "s", 1)); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, fmt.Sprintf(outboxMongoConfig, dir, brokers, run, mongoURL, dbName, dbName))

	var mu sync.Mutex
	sent := map[string]sentEvent{firstID.Hex(): {topic: "outbox.event.Start" + run, aggID: "s", value: `{"n":1,"order":"s-1"}`, n: 1}}
	perAgg := map[string][]string{"s": {firstID.Hex()}}
	var wg sync.WaitGroup
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	workErr := make([]error, len(services))
	startWork := func() {
		for si, svc := range services {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(si), uint64(time.Now().UnixNano())))
				seq := map[string]int{}
				for wctx.Err() == nil {
					agg := fmt.Sprintf("%s-%d", svc.aggType, rng.IntN(5))
					n := seq[agg] + 1
					id := bson.NewObjectID()
					// A write interrupted by the end of the run has an
					// unknown outcome: use a context that does not end.
					if _, err := coll.InsertOne(context.Background(), outboxDoc(id, svc.aggType, agg, n)); err != nil {
						workErr[si] = err
						return
					}
					seq[agg] = n
					mu.Lock()
					sent[id.Hex()] = sentEvent{topic: "outbox.event." + svc.aggType, aggID: agg, value: fmt.Sprintf(`{"n":%d,"order":"%s-%d"}`, n, agg, n), n: n}
					perAgg[agg] = append(perAgg[agg], id.Hex())
					mu.Unlock()
					var err error
					switch {
					case svc.delete:
						_, err = coll.DeleteOne(context.Background(), bson.D{{Key: "_id", Value: id}})
					case svc.update && rng.IntN(4) == 0:
						_, err = coll.UpdateOne(context.Background(), bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "type", Value: "Changed"}}}})
					}
					if err != nil {
						workErr[si] = err
						return
					}
					time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
				}
			}()
		}
	}

	topics := []string{"outbox.event.Start" + run}
	for _, s := range services {
		topics = append(topics, "outbox.event."+s.aggType)
	}
	var got []*kgo.Record
	poll := pollRecords(ctx, fromStart(t, brokers, topics...), &got)

	logf := filepath.Join(dir, "sluice.log")
	const kills = 3
	killRuns(t, cfgPath, logf, kills, 13, func() {
		// The snapshot's event first, then the services; the first kill
		// waits for a streaming position (a resume token).
		for len(got) == 0 && ctx.Err() == nil {
			poll(time.Second)
		}
		startWork()
		waitPosition(ctx, dir, "outbox", func(pos string) bool {
			return strings.Contains(pos, "tokens") && !strings.Contains(pos, "snapshot")
		})
	})
	stopWork()
	wg.Wait()
	for i, err := range workErr {
		if err != nil {
			t.Fatalf("service %s: %v", services[i].aggType, err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("timed out before the final run: %d records consumed", len(got))
	}

	p := startSluice(t, cfgPath, logf)
	problems := settle(t, p, 2*time.Minute, func() []string {
		poll(time.Second)
		return checkOutbox(got, sent, map[string]bool{}, perAgg)
	})
	left, err := coll.CountDocuments(ctx, bson.D{{Key: "aggregatetype", Value: services[1].aggType}})
	if err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d deleted documents are still there", left)
	}
	t.Logf("%d kills, %d events inserted, %d records consumed", kills, len(sent), len(got))
	if len(sent) < 10 {
		t.Fatalf("workload too small: %d events", len(sent))
	}
	if len(problems) > 0 {
		t.Fatal(sluiceProblems(logf, problems))
	}
}

// outboxDoc is an outbox document of Debezium's MongoDB outbox layout.
func outboxDoc(id bson.ObjectID, aggType, agg string, n int) bson.D {
	return bson.D{
		{Key: "_id", Value: id},
		{Key: "aggregateid", Value: agg},
		{Key: "aggregatetype", Value: aggType},
		{Key: "type", Value: "Created"},
		{Key: "payload", Value: bson.D{{Key: "n", Value: int32(n)}, {Key: "order", Value: fmt.Sprintf("%s-%d", agg, n)}}},
	}
}

// outboxMongoConfig: data dir, brokers, topic prefix, url, outbox
// collection database (twice).
const outboxMongoConfig = jsonHead3 + `sources:
  - name: outbox
    connector: mongodb
    topic.prefix: %s
    url: "%s"
    tables: [%s.outbox]
    outbox:
      table: %s.outbox
      table.expand.json.payload: true
`
