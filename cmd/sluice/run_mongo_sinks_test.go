package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// mongoTarget is one sink of TestRunMongoToSinks: the connector it adds to
// sluice.yaml for the collection's topic, and how to read what landed,
// as "id:name:qty:city" by id (see mongoDocRows and mongoIndexDocs).
type mongoTarget struct {
	name      string
	connector func(topic string) string // a connectors: entry's config (YAML flow map)
	rows      func() ([]string, error)
}

// mongoDocRows reads a JDBC target table's rows as "id:name:qty:city".
// id is the key's column, _id the document's own field, both written by
// ExtractNewDocumentState; address_city comes from flatten.struct.
func mongoDocRows(db *sql.DB, table string) ([]string, error) {
	rows, err := db.Query(`SELECT id, "_id", name, qty, address_city FROM ` + table + ` ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, docID, qty int
		var name, city sql.NullString
		if err := rows.Scan(&id, &docID, &name, &qty, &city); err != nil {
			return nil, err
		}
		if id != docID {
			return nil, fmt.Errorf("row %d has _id %d", id, docID)
		}
		out = append(out, fmt.Sprintf("%d:%s:%d:%s", id, name.String, qty, city.String))
	}
	return out, rows.Err()
}

// mongoIndexDocs reads every document of an Elasticsearch index written
// from the customers collection as "id:name:qty:city", by id. Each document
// must be exactly {"mongo_id": <int>, "name": <string>, "qty": <int>,
// "address": {"city": <string>}} — no other field, no null — and its index
// _id the decimal text of mongo_id (the Mongo _id).
func mongoIndexDocs(es, index string) ([]string, error) {
	docs, err := esAllDocs(es, index)
	if err != nil {
		return nil, err
	}
	type row struct {
		id  int
		out string
	}
	var rows []row
	for esID, doc := range docs {
		id, err1 := strconv.Atoi(fmt.Sprint(doc["mongo_id"]))
		qty, err2 := strconv.Atoi(fmt.Sprint(doc["qty"]))
		name, ok1 := doc["name"].(string)
		address, ok2 := doc["address"].(map[string]any)
		city, ok3 := address["city"].(string)
		if err1 != nil || err2 != nil || !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("document %s: %v is not {mongo_id, name, qty, address: {city}}", esID, doc)
		}
		want := map[string]any{"mongo_id": json.Number(strconv.Itoa(id)), "name": name, "qty": json.Number(strconv.Itoa(qty)),
			"address": map[string]any{"city": city}}
		if !reflect.DeepEqual(doc, want) {
			return nil, fmt.Errorf("document %s: %v, want exactly %v", esID, doc, want)
		}
		if esID != strconv.Itoa(id) {
			return nil, fmt.Errorf("document %s has mongo_id %d", esID, id)
		}
		rows = append(rows, row{id, fmt.Sprintf("%d:%s:%d:%s", id, name, qty, city)})
	}
	slices.SortFunc(rows, func(a, b row) int { return a.id - b.id })
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.out
	}
	return out, nil
}

// TestRunMongoToSinks runs "sluice run" with a MongoDB source (the stand-in
// server of scripts/services.sh) and two sink connectors behind Debezium's
// ExtractNewDocumentState: Confluent's JDBC sink (flatten.struct) into a
// real Postgres table, and the Elasticsearch sink into an OpenSearch index
// (the nested address kept as an object). Documents read by the snapshot,
// then inserted, updated ($set, $inc, a nested field), replaced and deleted
// while streaming, land as rows and documents whose ids are the Mongo _ids;
// deleted documents are absent, a document deleted and inserted again is
// present with its new fields, one inserted and deleted is absent — checked
// once more after every connector has committed the whole topic. A second
// collection with ObjectId, string, int64 and document _ids goes to an
// index of its own, whose _ids must be those Mongo _ids.
func TestRunMongoToSinks(t *testing.T) {
	mongoURL := testenv.Require(t, "SLUICE_MONGO_URL")
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	es := strings.TrimSuffix(testenv.Require(t, "SLUICE_ES_URL"), "/")
	ctx := context.Background()

	mc, err := mongo.Connect(options.Client().ApplyURI(mongoURL))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(ctx)
	name := fmt.Sprintf("mj%d", time.Now().UnixNano())
	coll := mc.Database(name).Collection("customers")
	t.Cleanup(func() { mc.Database(name).Drop(context.Background()) })
	doc := func(id int32, n string, qty int32, city string) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "name", Value: n}, {Key: "qty", Value: qty},
			{Key: "address", Value: bson.D{{Key: "city", Value: city}}}}
	}
	// Read by the snapshot.
	if _, err := coll.InsertMany(ctx, []any{doc(1, "Anne", 1, "Brno"), doc(2, "Bob", 2, "Oslo"), doc(3, "Cy", 3, "Rome")}); err != nil {
		t.Fatal(err)
	}

	// tags has _ids of other BSON types, for an Elasticsearch connector of
	// its own (a JDBC key column has one type). Its documents leave _id out
	// (ReplaceField exclude), since no field mapping takes the mixed types:
	// the Mongo _id is only the index's _id.
	tags := mc.Database(name).Collection("tags")
	oid := bson.NewObjectID()
	if _, err := tags.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: oid}, {Key: "n", Value: int32(1)}},
		bson.D{{Key: "_id", Value: "red/green"}, {Key: "n", Value: int32(2)}},
		bson.D{{Key: "_id", Value: int64(1) << 40}, {Key: "n", Value: int32(3)}},
	}); err != nil {
		t.Fatal(err)
	}

	pgDB, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pgDB.Close()
	table := name + "_customers"
	t.Cleanup(func() { pgDB.Exec(`DROP TABLE IF EXISTS public.` + table) })
	pgJDBC := "jdbc:postgresql://" + strings.TrimPrefix(pgURL, "postgres://")
	topic, tagsTopic := name+"."+name+".customers", name+"."+name+".tags"
	t.Cleanup(func() { esRequest(es, http.MethodDelete, "/"+topic+","+tagsTopic, nil) })
	targets := []mongoTarget{{
		name: "postgres",
		connector: func(topic string) string {
			return fmt.Sprintf(`{connector.class: io.confluent.connect.jdbc.JdbcSinkConnector, topics: %s,
      connection.url: %q, insert.mode: upsert, pk.mode: record_key, delete.enabled: "true",
      auto.create: "true", auto.evolve: "true",
      transforms: "unwrap,route",
      transforms.unwrap.type: io.debezium.connector.mongodb.transforms.ExtractNewDocumentState,
      transforms.unwrap.flatten.struct: "true",
      transforms.route.type: org.apache.kafka.connect.transforms.RegexRouter,
      transforms.route.regex: ".*",
      transforms.route.replacement: %s}`, topic, pgJDBC, table)
		},
		rows: func() ([]string, error) { return mongoDocRows(pgDB, table) },
	}, {
		// The index is the topic. Elasticsearch and OpenSearch refuse a
		// document with an _id field (a metadata field), so ReplaceField
		// renames the document's own _id; the index's _id comes from the
		// key ExtractNewDocumentState makes, {id: <typed _id>}.
		name: "elasticsearch",
		connector: func(topic string) string {
			return fmt.Sprintf(`{connector.class: io.confluent.connect.elasticsearch.ElasticsearchSinkConnector, topics: %s,
      connection.url: %q,
      transforms: "unwrap,rename",
      transforms.unwrap.type: io.debezium.connector.mongodb.transforms.ExtractNewDocumentState,
      transforms.rename.type: "org.apache.kafka.connect.transforms.ReplaceField$Value",
      transforms.rename.renames: "_id:mongo_id"}`, topic, es)
		},
		rows: func() ([]string, error) { return mongoIndexDocs(es, topic) },
	}}

	dir := t.TempDir()
	var connectors strings.Builder
	for _, tg := range targets {
		fmt.Fprintf(&connectors, "  - name: %s-%s\n    config: %s\n", name, tg.name, tg.connector(topic))
	}
	cfg := filepath.Join(dir, "sluice.yaml")
	yaml := fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [%s]}
data.dir: %s
sources:
  - name: src
    connector: mongodb
    topic.prefix: %s
    url: %q
    tables: [%s.customers, %s.tags]
    mongodb: {poll.interval.ms: 100}
connectors:
%s  - name: %s-tags
    config: {connector.class: elasticsearch, topics: %s, connection.url: %q, transforms: "unwrap,rename",
      transforms.unwrap.type: io.debezium.connector.mongodb.transforms.ExtractNewDocumentState,
      transforms.rename.type: "org.apache.kafka.connect.transforms.ReplaceField$Value",
      transforms.rename.exclude: _id}
`, brokers, filepath.Join(dir, "data"), name, mongoURL, name, name, connectors.String(), name, tagsTopic, es)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startRun(t, cfg, nil)
	defer func() {
		if t.Failed() {
			p.cmd.Process.Kill()
			t.Logf("sluice log:\n%s", p.output())
		}
	}()

	// alive stops the test at once when sluice has exited (a failed task
	// ends it) instead of waiting out eventually.
	alive := func(t *testing.T) {
		t.Helper()
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err != nil {
			t.Fatalf("sluice is not answering: %v", err)
		}
		resp.Body.Close()
	}
	waitTargets := func(what string, want []string) {
		t.Helper()
		for _, tg := range targets {
			// The sinks start before their topic exists (the source creates
			// it with its first record): joining the group takes a while.
			eventually(t, 3*time.Minute, tg.name+": "+what, func() error {
				alive(t)
				got, err := tg.rows()
				if err != nil || !slices.Equal(got, want) {
					return fmt.Errorf("rows %v, %v; want %v", got, err, want)
				}
				return nil
			})
			t.Logf("%s: %s: %q", tg.name, what, want)
		}
	}
	waitTargets("snapshot", []string{"1:Anne:1:Brno", "2:Bob:2:Oslo", "3:Cy:3:Rome"})

	if _, err := coll.InsertOne(ctx, doc(4, "Dee", 4, "Kyiv")); err != nil {
		t.Fatal(err)
	}
	if _, err := tags.UpdateOne(ctx, bson.D{{Key: "_id", Value: oid}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: int32(10)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tags.DeleteOne(ctx, bson.D{{Key: "_id", Value: "red/green"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tags.InsertOne(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "b", Value: "x"}, {Key: "a", Value: int32(1)}}}, {Key: "n", Value: int32(4)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: 1}}, bson.D{
		{Key: "$set", Value: bson.D{{Key: "name", Value: "Anne Marie"}, {Key: "address.city", Value: "Praha"}}},
		{Key: "$inc", Value: bson.D{{Key: "qty", Value: int32(10)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: 2}}, doc(2, "Bo", 20, "Bergen")); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: 3}}); err != nil {
		t.Fatal(err)
	}
	waitTargets("streamed changes", []string{"1:Anne Marie:11:Praha", "2:Bo:20:Bergen", "4:Dee:4:Kyiv"})

	// A document deleted and inserted again, and one inserted and deleted.
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: 4}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, doc(4, "Dee", 5, "Lviv")); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, doc(5, "Eve", 5, "Nice")); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: 5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, doc(6, "Fay", 6, "Graz")); err != nil {
		t.Fatal(err)
	}
	final := []string{"1:Anne Marie:11:Praha", "2:Bo:20:Bergen", "4:Dee:5:Lviv", "6:Fay:6:Graz"}
	waitTargets("delete and insert again", final)

	// 6 can land before 5's insert in a sink writing ids in parallel (the
	// Elasticsearch sink's lanes), so 5 absent above proves nothing yet:
	// once every connector has committed the whole topic (a batch is
	// committed after it is written), each target must hold exactly final.
	kcl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	kad := kadm.NewClient(kcl)
	var groups []string
	for _, tg := range targets {
		groups = append(groups, "connect-"+name+"-"+tg.name)
	}
	groups = append(groups, "connect-"+name+"-tags")
	t.Cleanup(func() {
		kad.DeleteGroups(context.Background(), groups...)
		kad.DeleteTopics(context.Background(), topic, tagsTopic)
	})
	eventually(t, 3*time.Minute, "connectors committed the whole topic", func() error {
		alive(t)
		lags, err := kad.Lag(ctx, groups...)
		if err != nil {
			return err
		}
		for _, g := range groups {
			l, ok := lags[g]
			switch {
			case !ok:
				return fmt.Errorf("%s: no lag reported", g)
			case l.Error() != nil:
				return fmt.Errorf("%s: %w", g, l.Error())
			case len(l.Lag) == 0 || l.Lag.Total() != 0:
				return fmt.Errorf("%s: lag %d over %d topics", g, l.Lag.Total(), len(l.Lag))
			}
		}
		return nil
	})
	for _, tg := range targets {
		if got, err := tg.rows(); err != nil || !slices.Equal(got, final) {
			t.Errorf("%s after the connectors caught up: rows %q, %v; want %q", tg.name, got, err, final)
		}
	}

	// The index's _id is the Mongo _id as the key ExtractNewDocumentState
	// makes ({id: <typed _id>}) gives it: an ObjectId's hex, a string as
	// is, an int64 in decimal; a document _id makes a struct id, which the
	// sink writes as the canonical JSON (keys sorted) of the whole key
	// (ExtractField$Key on id would give {"a":1,"b":"x"}).
	tagsWant := map[string]map[string]any{
		oid.Hex():                {"n": json.Number("11")},
		"1099511627776":          {"n": json.Number("3")},
		`{"id":{"a":1,"b":"x"}}`: {"n": json.Number("4")},
	}
	if got, err := esAllDocs(es, tagsTopic); err != nil {
		t.Errorf("index %s: %v", tagsTopic, err)
	} else if err := esDiff(got, tagsWant); err != nil {
		t.Errorf("index %s: %v", tagsTopic, err)
	}
}
