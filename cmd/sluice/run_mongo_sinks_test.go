package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// mongoTarget is one sink of TestRunMongoToSinks: the connector it adds to
// sluice.yaml for the collection's topic, and how to read what landed,
// as "id:name:qty:city" by id (see mongoWant). A second sink (an
// Elasticsearch index) is one more entry in the test's targets list.
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

// TestRunMongoToSinks runs "sluice run" with a MongoDB source (the stand-in
// server of scripts/services.sh) and Confluent's JDBC sink behind Debezium's
// ExtractNewDocumentState (flatten.struct) into a real Postgres table:
// documents read by the snapshot, then inserted, updated ($set, $inc, a
// nested field), replaced and deleted while streaming, land as rows, the
// deletes as deleted rows.
func TestRunMongoToSinks(t *testing.T) {
	mongoURL := testenv.Require(t, "SLUICE_MONGO_URL")
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
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

	pgDB, err := sql.Open("pgx", pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pgDB.Close()
	table := name + "_customers"
	t.Cleanup(func() { pgDB.Exec(`DROP TABLE IF EXISTS public.` + table) })
	pgJDBC := "jdbc:postgresql://" + strings.TrimPrefix(pgURL, "postgres://")
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
	}}

	dir := t.TempDir()
	topic := name + "." + name + ".customers"
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
    tables: [%s.customers]
    mongodb: {poll.interval.ms: 100}
connectors:
%s`, brokers, filepath.Join(dir, "data"), name, mongoURL, name, connectors.String())
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

	waitTargets := func(what string, want []string) {
		t.Helper()
		for _, tg := range targets {
			// The sinks start before their topic exists (the source creates
			// it with its first record): joining the group takes a while.
			eventually(t, 3*time.Minute, tg.name+": "+what, func() error {
				got, err := tg.rows()
				if err != nil || !slices.Equal(got, want) {
					return fmt.Errorf("rows %v, %v; want %v", got, err, want)
				}
				return nil
			})
		}
	}
	waitTargets("snapshot", []string{"1:Anne:1:Brno", "2:Bob:2:Oslo", "3:Cy:3:Rome"})

	if _, err := coll.InsertOne(ctx, doc(4, "Dee", 4, "Kyiv")); err != nil {
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
	waitTargets("delete and insert again", []string{"1:Anne Marie:11:Praha", "2:Bo:20:Bergen", "4:Dee:5:Lviv", "6:Fay:6:Graz"})
}
