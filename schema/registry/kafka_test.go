package registry

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// kafkaServer starts a registry over topic and waits until it is ready.
func kafkaServer(t *testing.T, brokers []string, topic string) *httptest.Server {
	t.Helper()
	s, err := New(context.Background(), Config{Storage: StorageKafka, Topic: topic}, WithKafka(brokers))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("registry not ready")
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return hs
}

func testTopic(t *testing.T, brokers []string) string {
	topic := fmt.Sprintf("_schemas_test_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			return
		}
		defer cl.Close()
		_, _ = kadm.NewClient(cl).DeleteTopics(context.Background(), topic)
	})
	return topic
}

func TestKafkaStoreRestartAndRecordFormat(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	topic := testTopic(t, brokers)
	ctx := context.Background()

	hs := kafkaServer(t, brokers, topic)
	cl := srClient(t, hs.URL)
	a1, err := cl.CreateSchema(ctx, "a", sr.Schema{Schema: userV1})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := cl.CreateSchema(ctx, "a", sr.Schema{Schema: userV2})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := cl.CreateSchema(ctx, "b", sr.Schema{Schema: `"string"`})
	if err != nil {
		t.Fatal(err)
	}
	if cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, "a")[0].Err != nil {
		t.Fatal("set compatibility")
	}
	if _, err := cl.DeleteSubject(ctx, "b", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}

	// The topic holds Confluent's records, byte for byte.
	rcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rcl.Close()
	var got []string
	for len(got) < 5 {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs := rcl.PollFetches(pctx)
		expired := pctx.Err() != nil
		cancel()
		if expired {
			t.Fatalf("read %s: got %d records", topic, len(got))
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)+" => "+string(r.Value)) })
	}
	want := []string{
		`{"keytype":"SCHEMA","subject":"a","version":1,"magic":1} => {"subject":"a","version":1,"id":1,"schema":"` + strings.ReplaceAll(userV1, `"`, `\"`) + `","deleted":false}`,
		`{"keytype":"SCHEMA","subject":"a","version":2,"magic":1} => {"subject":"a","version":2,"id":2,"schema":"` + strings.ReplaceAll(userV2, `"`, `\"`) + `","deleted":false}`,
		`{"keytype":"SCHEMA","subject":"b","version":1,"magic":1} => {"subject":"b","version":1,"id":3,"schema":"\"string\"","deleted":false}`,
		`{"keytype":"CONFIG","subject":"a","magic":0} => {"compatibilityLevel":"FULL"}`,
		`{"keytype":"DELETE_SUBJECT","subject":"b","magic":0} => {"subject":"b","version":1}`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}

	// A new server over the same topic serves the same state.
	hs2 := kafkaServer(t, brokers, topic)
	cl2 := srClient(t, hs2.URL)
	for _, w := range []sr.SubjectSchema{a1, a2} {
		g, err := cl2.SchemaByVersion(ctx, "a", w.Version)
		if err != nil || g.ID != w.ID || g.Schema.Schema != w.Schema.Schema {
			t.Fatalf("restart: version %d: %+v %v", w.Version, g, err)
		}
	}
	if subs, _ := cl2.Subjects(ctx); len(subs) != 1 || subs[0] != "a" {
		t.Fatalf("restart subjects: %v", subs)
	}
	if g := cl2.Compatibility(ctx, "a"); g[0].Level != sr.CompatFull {
		t.Fatalf("restart level: %+v", g[0])
	}
	if g, err := cl2.SchemaByID(ctx, b1.ID); err != nil || g.Schema != `"string"` {
		t.Fatalf("restart soft-deleted id: %+v %v", g, err)
	}
	c, err := cl2.CreateSchema(ctx, "c", sr.Schema{Schema: `"int"`})
	if err != nil || c.ID != 4 {
		t.Fatalf("next id after restart: %+v %v", c, err)
	}
}

// TestKafkaConcurrentInstances registers from two instances at once over
// one topic: they must agree on every id and version, and no id may name
// two schemas.
func TestKafkaConcurrentInstances(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	topic := testTopic(t, brokers)
	ctx := context.Background()
	clients := []*sr.Client{
		srClient(t, kafkaServer(t, brokers, topic).URL),
		srClient(t, kafkaServer(t, brokers, topic).URL),
	}
	// Each schema is a different record: judge ids and versions, not
	// compatibility.
	if r := clients[0].SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}); r[0].Err != nil {
		t.Fatal(r[0].Err)
	}
	const n = 12
	schemaFor := func(i int) string {
		return fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"f","type":"int"}]}`, i)
	}
	type reg struct {
		subject, schema string
		id              int
	}
	var (
		mu   sync.Mutex
		regs []reg
		wg   sync.WaitGroup
	)
	for c, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				// Both instances register the same schemas under a shared
				// subject (ids and versions collide) and their own schemas
				// under another shared subject.
				for _, r := range []reg{
					{subject: "shared", schema: schemaFor(i)},
					{subject: "mixed", schema: schemaFor(100*(c+1) + i)},
				} {
					got, err := cl.CreateSchema(sr.WithParams(ctx), r.subject, sr.Schema{Schema: r.schema})
					if err != nil {
						t.Errorf("instance %d: %v", c, err)
						return
					}
					r.id = got.ID
					mu.Lock()
					regs = append(regs, r)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every answer given is what both instances now serve.
	ids := map[int]string{}
	for _, r := range regs {
		if prev, ok := ids[r.id]; ok && prev != r.schema {
			t.Fatalf("id %d given to two schemas: %s and %s", r.id, prev, r.schema)
		}
		ids[r.id] = r.schema
		for c, cl := range clients {
			g, err := cl.LookupSchema(ctx, r.subject, sr.Schema{Schema: r.schema})
			if err != nil || g.ID != r.id {
				t.Fatalf("instance %d: %s %s: got %+v %v, registration said id %d", c, r.subject, r.schema, g, err, r.id)
			}
		}
	}
	// A third instance started afterwards rebuilds the same state.
	late := srClient(t, kafkaServer(t, brokers, topic).URL)
	for _, subject := range []string{"shared", "mixed"} {
		a, err := clients[0].Schemas(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		c, err := late.Schemas(ctx, subject)
		if err != nil || fmt.Sprint(a) != fmt.Sprint(c) {
			t.Fatalf("late instance differs on %s: %v %v", subject, c, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := clients[1].Schemas(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("%s differs:\n%v\n%v", subject, a, b)
		}
		want := n
		if subject == "mixed" {
			want = 2 * n
		}
		if len(a) != want {
			t.Fatalf("%s has %d versions, want %d", subject, len(a), want)
		}
		for i, s := range a {
			if s.Version != i+1 {
				t.Fatalf("%s versions not dense: %v", subject, a)
			}
		}
	}
}
