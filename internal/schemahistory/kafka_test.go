package schemahistory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/capture/mysql"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

func brokers(t *testing.T) []string {
	t.Helper()
	return strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
}

// uniqueTopic returns a topic name no earlier run used, deleted when the
// test ends.
func uniqueTopic(t *testing.T, bs []string) string {
	t.Helper()
	topic := fmt.Sprintf("sluice-test-schema-history-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano())
	t.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(bs...))
		if err != nil {
			return
		}
		defer cl.Close()
		kadm.NewClient(cl).DeleteTopics(context.Background(), topic)
	})
	return topic
}

func admin(t *testing.T, bs []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func newKafka(t *testing.T, bs []string, topic string) *Kafka {
	t.Helper()
	h, err := New(Config{Brokers: bs, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func records() []mysql.HistoryRecord {
	return []mysql.HistoryRecord{
		{GTIDs: "0-1-10", Flavor: "mariadb", File: "bin.000001", Pos: 4, Snapshot: true, Tables: []mysql.HistoryTable{
			{DB: "shop", Table: "orders", Columns: []mysql.Column{{Name: "id", DataType: "int", ColumnType: "int(11)"}}, Key: []string{"id"}},
		}},
		{GTIDs: "0-1-11", Flavor: "mariadb", DB: "shop", DDL: "ALTER TABLE orders ADD COLUMN note VARCHAR(20)", Tables: []mysql.HistoryTable{
			{DB: "shop", Table: "orders", Columns: []mysql.Column{{Name: "id", DataType: "int", ColumnType: "int(11)"}, {Name: "note", DataType: "varchar", ColumnType: "varchar(20)", Nullable: true}}, Key: []string{"id"}},
		}},
		{GTIDs: "0-1-12", Flavor: "mariadb", DB: "shop", DDL: "DROP TABLE orders", Dropped: []mysql.TableID{{DB: "shop", Table: "orders"}}},
	}
}

func TestRoundTripAndDurability(t *testing.T) {
	ctx := context.Background()
	bs := brokers(t)
	topic := uniqueTopic(t, bs)
	h := newKafka(t, bs, topic)

	got, err := h.Load(ctx) // creates the topic
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("new topic: got %d records, want none", len(got))
	}
	want := records()
	for _, r := range want[:2] {
		if err := h.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got, err = h.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want[:2]) {
		t.Fatalf("Load after two appends:\n got %+v\nwant %+v", got, want[:2])
	}

	// Closed and used again: it reconnects and appends after the rest.
	h.Close()
	if err := h.Append(ctx, want[2]); err != nil {
		t.Fatal(err)
	}

	// A store with clients of its own (a restarted process, another
	// worker) sees every record in order.
	other := newKafka(t, bs, topic)
	if got, err = other.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Load from a new client:\n got %+v\nwant %+v", got, want)
	}

	// The created topic has the layout Debezium asks for.
	adm := admin(t, bs)
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tds[topic].Partitions); n != 1 {
		t.Errorf("created topic has %d partitions, want 1", n)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg := map[string]string{"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
	for _, c := range rc.Configs {
		if w, ok := wantCfg[c.Key]; ok {
			if c.Value == nil || *c.Value != w {
				t.Errorf("created topic: %s = %v, want %s", c.Key, c.Value, w)
			}
			delete(wantCfg, c.Key)
		}
	}
	if len(wantCfg) > 0 {
		t.Errorf("created topic lacks configs %v", wantCfg)
	}

	// The records are the HistoryRecord JSON, one per Kafka record, no key.
	end, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := end.Lookup(topic, 0); o.Offset != 3 {
		t.Errorf("topic end offset %d, want 3", o.Offset)
	}
}

func TestRefusesBadTopics(t *testing.T) {
	ctx := context.Background()
	bs := brokers(t)
	adm := admin(t, bs)
	for _, tc := range []struct {
		name       string
		partitions int32
		configs    map[string]*string
		want       string
	}{
		{"partitions", 3, map[string]*string{"retention.ms": kadm.StringPtr("-1"), "retention.bytes": kadm.StringPtr("-1")}, "has 3 partitions"},
		{"retention", 1, map[string]*string{"retention.ms": kadm.StringPtr("604800000"), "retention.bytes": kadm.StringPtr("-1")}, "retention.ms=604800000 (must be -1)"},
		{"bytes", 1, map[string]*string{"retention.ms": kadm.StringPtr("-1"), "retention.bytes": kadm.StringPtr("1073741824")}, "retention.bytes=1073741824 (must be -1)"},
		{"compact", 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact"), "retention.ms": kadm.StringPtr("-1"), "retention.bytes": kadm.StringPtr("-1")}, "cleanup.policy=compact (must be delete)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := uniqueTopic(t, bs)
			if _, err := adm.CreateTopic(ctx, tc.partitions, -1, tc.configs, topic); err != nil {
				t.Fatal(err)
			}
			h := newKafka(t, bs, topic)
			_, err := h.Load(ctx)
			if !errors.Is(err, ErrTopicLayout) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: got %v, want ErrTopicLayout with %q", err, tc.want)
			}
			err = h.Append(ctx, records()[0])
			if !errors.Is(err, ErrTopicLayout) {
				t.Fatalf("Append: got %v, want ErrTopicLayout", err)
			}
			end, err := adm.ListEndOffsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			end.Each(func(o kadm.ListedOffset) {
				if o.Offset != 0 {
					t.Errorf("partition %d has %d records after a refused Append", o.Partition, o.Offset)
				}
			})
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Brokers: []string{"b:9092"}, Topic: "h"}, ""},
		{Config{Topic: "h"}, "kafka schema history: no bootstrap servers"},
		{Config{Brokers: []string{"b:9092"}, Topic: " "}, "kafka schema history: no topic"},
		{Config{Brokers: []string{"b:9092"}, Topic: "h", ReplicationFactor: -2}, "kafka schema history: replication factor -2"},
	} {
		err := tc.cfg.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("Validate(%+v) = %q, want %q", tc.cfg, got, tc.want)
		}
	}
}

// TestLoadEndsOnControlRecord: a record written in a transaction is
// followed by a commit marker at the last offset; Load still ends at the
// high watermark.
func TestLoadEndsOnControlRecord(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bs := brokers(t)
	topic := uniqueTopic(t, bs)
	h := newKafka(t, bs, topic)
	if _, err := h.Load(ctx); err != nil { // creates the topic
		t.Fatal(err)
	}
	txn, err := kgo.NewClient(kgo.SeedBrokers(bs...), kgo.TransactionalID(topic), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, &kgo.Record{Value: []byte(`{"gtids":"0-1-5","flavor":"mariadb","ddl":"CREATE TABLE x (i INT)"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// The coordinator writes the marker after EndTransaction returns.
	adm := admin(t, bs)
	for {
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := end.Lookup(topic, 0); o.Offset == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	got, err := h.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []mysql.HistoryRecord{{GTIDs: "0-1-5", Flavor: "mariadb", DDL: "CREATE TABLE x (i INT)"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Load = %+v, want %+v", got, want)
	}
}
