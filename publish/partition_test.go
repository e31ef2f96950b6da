package publish

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestExplicitPartitions runs testExplicitPartitions against kfake; the
// real broker runs it in TestKafkaIntegration.
func TestExplicitPartitions(t *testing.T) {
	c := newCluster(t)
	brokers := c.ListenAddrs()
	testExplicitPartitions(t, brokers, "pinned", func(topic string, n int) []*kgo.Record {
		return consume(t, brokers, topic, n)
	})
}

// testExplicitPartitions publishes records whose partition is given
// (different from the one their key hashes to), records with a timestamp,
// and records left to the key hash and the producer's clock, reads them back
// with read, and checks each record's partition and timestamp. Then a
// record pinned to a partition the topic does not have fails the publisher
// with an error naming the topic and the partition, and the tracker stops
// before it.
func testExplicitPartitions(t *testing.T, brokers []string, topic string, read func(topic string, n int) []*kgo.Record) {
	const parts = 6 // one of javaPartitionCounts
	cfg := testConfig(brokers)
	cfg.Topics.Defaults.Partitions = parts
	p := newPublisher(t, cfg)
	ctx := context.Background()

	vecs := loadJavaVectors(t)
	type want struct {
		partition int32
		ts        time.Time // zero: stamped by the producer
	}
	wants := map[string]want{}
	var batch []Record
	for i, v := range vecs[:12] {
		hashed := int32(v.partitions[parts])
		r := Record{Topic: topic, Key: v.key, Value: []byte(fmt.Sprintf("v%d", i)), Position: i}
		w := want{partition: hashed}
		switch i % 3 {
		case 0: // pinned to the partition after the hashed one
			r.Partition, r.ExplicitPartition = (hashed+1)%parts, true
			w.partition = r.Partition
			r.Timestamp = time.UnixMilli(1_600_000_000_000 + int64(i))
			w.ts = r.Timestamp
		case 1: // hashed, with a timestamp
			r.Timestamp = time.UnixMilli(1_500_000_000_000 + int64(i)).Add(time.Microsecond) // sub-ms dropped
			w.ts = time.UnixMilli(1_500_000_000_000 + int64(i))
		case 2: // Partition set but not explicit: ignored
			r.Partition = (hashed + 2) % parts
		}
		wants[string(v.key)] = w
		batch = append(batch, r)
	}
	before := time.Now().Truncate(time.Millisecond)
	if err := p.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := read(topic, len(batch))
	if len(got) != len(batch) {
		t.Fatalf("read %d records, want %d", len(got), len(batch))
	}
	for _, r := range got {
		w, ok := wants[string(r.Key)]
		if !ok {
			t.Errorf("unexpected key %x", r.Key)
			continue
		}
		if r.Partition != w.partition {
			t.Errorf("key %x (value %s) on partition %d, want %d", r.Key, r.Value, r.Partition, w.partition)
		}
		switch {
		case !w.ts.IsZero() && !r.Timestamp.Equal(w.ts):
			t.Errorf("key %x (value %s): timestamp %d, want %d", r.Key, r.Value, r.Timestamp.UnixMilli(), w.ts.UnixMilli())
		case w.ts.IsZero() && r.Timestamp.Before(before):
			t.Errorf("key %x (value %s): timestamp %v is not the producer's clock (published after %v)", r.Key, r.Value, r.Timestamp, before)
		}
	}

	// Out of range: the record fails, and with it the publisher.
	if err := p.Publish(ctx, []Record{
		{Topic: topic, Key: []byte("ok"), Value: []byte("ok"), Position: 100},
		{Topic: topic, Key: []byte("bad"), Value: []byte("bad"), Position: 101, Partition: parts + 3, ExplicitPartition: true},
	}); err != nil {
		t.Fatal(err)
	}
	err := p.Flush(ctx)
	wantErr := fmt.Sprintf("produce to topic %q partition %d", topic, parts+3)
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Fatalf("Flush: %v, want an error containing %s", err, wantErr)
	}
	if pos, _ := p.Tracker().Committed(); pos == 101 {
		t.Fatal("the tracker moved past the failed record")
	}
	if err := p.Publish(ctx, []Record{{Topic: topic, Value: []byte("after"), Position: 102}}); err == nil || !errors.Is(err, p.Err()) {
		t.Fatalf("Publish after the failure: %v, want the publisher's error %v", err, p.Err())
	}
}

// TestDeliveryTimeoutFromPublish: the delivery timeout counts from Publish,
// not from the record's timestamp (franz-go's own timeout would fail a
// record stamped an hour ago at once), and still fails a record Kafka keeps
// refusing with a retriable error.
func TestDeliveryTimeoutFromPublish(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c.ListenAddrs())
	cfg.DeliveryTimeoutMs = 1000
	p := newPublisher(t, cfg)
	ctx := context.Background()
	old := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := p.Publish(ctx, []Record{{Topic: "old", Key: []byte("k"), Value: []byte("v"), Timestamp: old, Position: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("a record stamped an hour ago: %v", err)
	}
	if got := consume(t, p.Brokers(), "old", 1); !got[0].Timestamp.Equal(old) {
		t.Errorf("timestamp %v, want %v", got[0].Timestamp, old)
	}

	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code // retriable, not written
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	if err := p.Publish(ctx, []Record{{Topic: "old", Key: []byte("k"), Value: []byte("v2"), Position: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); !errors.Is(err, kgo.ErrRecordTimeout) {
		t.Fatalf("Flush: %v, want a record timeout", err)
	}
	if pos, _ := p.Tracker().Committed(); pos != 1 {
		t.Errorf("committed %v, want 1", pos)
	}
}
