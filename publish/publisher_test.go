package publish

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// javaVector is one line of testdata/murmur2_java.txt, produced by the Kafka
// Java client (testdata/javagen).
type javaVector struct {
	key        []byte
	murmur2    int32
	partitions map[int]int // numPartitions -> BuiltInPartitioner.partitionForKey
}

var javaPartitionCounts = []int{1, 2, 3, 6, 7, 12, 50, 100}

func loadJavaVectors(t testing.TB) []javaVector {
	t.Helper()
	f, err := os.Open("testdata/murmur2_java.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []javaVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2+len(javaPartitionCounts) {
			t.Fatalf("bad vector line %q", line)
		}
		v := javaVector{key: []byte{}, partitions: map[int]int{}}
		if fields[0] != "-" {
			if v.key, err = hex.DecodeString(fields[0]); err != nil {
				t.Fatal(err)
			}
		}
		h, err := strconv.ParseInt(fields[1], 10, 32)
		if err != nil {
			t.Fatal(err)
		}
		v.murmur2 = int32(h)
		for i, n := range javaPartitionCounts {
			p, err := strconv.Atoi(fields[2+i])
			if err != nil {
				t.Fatal(err)
			}
			v.partitions[n] = p
		}
		out = append(out, v)
	}
	if len(out) < 50 {
		t.Fatalf("only %d vectors", len(out))
	}
	return out
}

// TestPartitionerMatchesJava checks franz-go's StickyKeyPartitioner, which
// the publisher uses, against Kafka's own UtilsTest.testMurmur2 values and
// against vectors printed by the Java client.
func TestPartitionerMatchesJava(t *testing.T) {
	part := onePartitionShortcut{kgo.StickyKeyPartitioner(nil)}.ForTopic("t") // as clientOpts sets it
	// With n = 2^31 the modulo is a no-op, exposing murmur2(key) & 0x7fffffff.
	hash31 := func(key []byte) int { return part.Partition(&kgo.Record{Key: key}, 1<<31) }

	// From Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java.
	kafkaUtilsTest := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for k, want := range kafkaUtilsTest {
		if got := hash31([]byte(k)); got != int(want)&0x7fffffff {
			t.Errorf("murmur2(%q)&0x7fffffff = %d, want %d", k, got, int(want)&0x7fffffff)
		}
	}
	for _, v := range loadJavaVectors(t) {
		if got := hash31(v.key); got != int(v.murmur2)&0x7fffffff {
			t.Errorf("key %x: murmur2&0x7fffffff = %d, Java %d", v.key, got, int(v.murmur2)&0x7fffffff)
		}
		for n, want := range v.partitions {
			if got := part.Partition(&kgo.Record{Key: v.key}, n); got != want {
				t.Errorf("key %x, %d partitions: partition %d, Java %d", v.key, n, got, want)
			}
		}
	}
}

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testConfig(brokers []string) Config {
	cfg := DefaultConfig()
	cfg.Brokers = brokers
	cfg.LingerMs = 0
	cfg.DeliveryTimeoutMs = 20_000
	return cfg
}

func newPublisher(t *testing.T, cfg Config, opts ...Option) *Publisher {
	t.Helper()
	p, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// consume reads n records from topic, from the beginning.
func consume(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records from %s: %v", len(out), n, topic, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// sampleBatch returns records with keys from the Java vectors, headers and a
// tombstone, and each key's Java partition for n partitions.
func sampleBatch(t *testing.T, topic string, n int) ([]Record, map[string]int) {
	t.Helper()
	vecs := loadJavaVectors(t)
	want := map[string]int{}
	var batch []Record
	for i, v := range vecs[:20] {
		r := Record{
			Topic:    topic,
			Key:      v.key,
			Value:    []byte(fmt.Sprintf(`{"i":%d,"bin":"\u0000\u00ff"}`, i)),
			Headers:  []Header{{Key: "h1", Value: []byte{0, 1, 2, byte(i)}}, {Key: "empty", Value: []byte{}}},
			Position: i,
		}
		if i == 7 {
			r.Value = nil // tombstone
			r.Headers = nil
		}
		batch = append(batch, r)
		want[string(v.key)] = v.partitions[n]
	}
	return batch, want
}

// checkReadBack asserts every produced record came back byte-exact on the
// partition the Java client would pick.
func checkReadBack(t *testing.T, batch []Record, got []*kgo.Record, wantPart map[string]int) {
	t.Helper()
	if len(got) != len(batch) {
		t.Fatalf("read %d records, want %d", len(got), len(batch))
	}
	byKey := map[string]*kgo.Record{}
	for _, r := range got {
		byKey[string(r.Key)] = r
	}
	for _, want := range batch {
		r, ok := byKey[string(want.Key)]
		if !ok {
			t.Errorf("key %x not read back", want.Key)
			continue
		}
		if int(r.Partition) != wantPart[string(want.Key)] {
			t.Errorf("key %x on partition %d, Java client picks %d", want.Key, r.Partition, wantPart[string(want.Key)])
		}
		if (want.Value == nil) != (r.Value == nil) || !bytes.Equal(r.Value, want.Value) {
			t.Errorf("key %x: value %q (nil %v), want %q (nil %v)", want.Key, r.Value, r.Value == nil, want.Value, want.Value == nil)
		}
		if len(r.Headers) != len(want.Headers) {
			t.Errorf("key %x: %d headers, want %d", want.Key, len(r.Headers), len(want.Headers))
			continue
		}
		for i, h := range want.Headers {
			if r.Headers[i].Key != h.Key || !bytes.Equal(r.Headers[i].Value, h.Value) {
				t.Errorf("key %x header %d: %q=%x, want %q=%x", want.Key, i, r.Headers[i].Key, r.Headers[i].Value, h.Key, h.Value)
			}
		}
	}
}

func TestPublishReadBack(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c.ListenAddrs())
	cfg.Topics.Defaults.Partitions = 12
	reg := prometheus.NewRegistry()
	p := newPublisher(t, cfg, WithRegisterer(reg))
	ctx := context.Background()

	batch, wantPart := sampleBatch(t, "orders", 12)
	if err := p.Publish(ctx, batch[:10]); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(ctx, batch[10:]); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pos, ok := p.Tracker().Committed(); !ok || pos != len(batch)-1 {
		t.Fatalf("committed %v %v, want %d", pos, ok, len(batch)-1)
	}
	checkReadBack(t, batch, consume(t, p.Brokers(), "orders", len(batch)), wantPart)

	wantBytes := 0
	for i := range batch {
		wantBytes += batch[i].size()
	}
	if got := metricValue(t, p.m.records.WithLabelValues("orders")); got != float64(len(batch)) {
		t.Errorf("records metric %v, want %d", got, len(batch))
	}
	if got := metricValue(t, p.m.bytes.WithLabelValues("orders")); got != float64(wantBytes) {
		t.Errorf("bytes metric %v, want %d", got, wantBytes)
	}
	if got := metricValue(t, p.m.buffered); got != 0 {
		t.Errorf("buffered gauge %v after flush, want 0", got)
	}
	var hist int
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "sluice_publish_ack_latency_seconds" {
			hist = int(mf.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	if hist != len(batch) {
		t.Errorf("latency samples %d, want %d", hist, len(batch))
	}
}

func TestEmbedded(t *testing.T) {
	cfg := testConfig([]string{Embedded})
	cfg.Topics.Defaults.Partitions = 3
	p := newPublisher(t, cfg)
	if len(p.Brokers()) != 1 || p.Brokers()[0] == Embedded {
		t.Fatalf("brokers %v, want the embedded broker's address", p.Brokers())
	}
	ctx := context.Background()
	batch, wantPart := sampleBatch(t, "demo", 3)
	if err := p.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkReadBack(t, batch, consume(t, p.Brokers(), "demo", len(batch)), wantPart)
}

// failProduceTo makes the cluster answer every produce request that
// touches topic with a non-retriable error.
func failProduceTo(t *testing.T, c *kfake.Cluster, brokers []string, topic string) {
	t.Helper()
	adm := kadm.NewClient(mustClient(t, brokers))
	td, err := adm.ListTopics(context.Background(), topic)
	if err != nil || td.Error() != nil {
		t.Fatalf("list %s: %v %v", topic, err, td.Error())
	}
	id := td[topic].ID
	c.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.ProduceRequest)
		hit := false
		for _, rt := range req.Topics {
			hit = hit || rt.Topic == topic || rt.TopicID == id
		}
		if !hit {
			return nil, nil, false
		}
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// metricValue reads the value of a single counter or gauge.
func metricValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func mustClient(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestDeliveryFailureStopsTracker: a record Kafka refuses fails the
// publisher, and the committed position stays right before it even though
// records after it may be acknowledged.
func TestDeliveryFailureStopsTracker(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c.ListenAddrs())
	reg := prometheus.NewRegistry()
	p := newPublisher(t, cfg, WithRegisterer(reg))
	ctx := context.Background()

	// Create both topics and commit position 1 first.
	if err := p.Publish(ctx, []Record{
		{Topic: "good", Key: []byte("a"), Value: []byte("1"), Position: 1},
		{Topic: "bad", Key: []byte("a"), Value: []byte("2"), Position: 2},
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	failProduceTo(t, c, p.Brokers(), "bad")

	if err := p.Publish(ctx, []Record{
		{Topic: "good", Key: []byte("b"), Value: []byte("3"), Position: 3},
		{Topic: "bad", Key: []byte("c"), Value: []byte("4"), Position: 4},
	}); err != nil {
		t.Fatal(err)
	}
	err := p.Flush(ctx)
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Flush: %v, want TopicAuthorizationFailed", err)
	}
	// The fake fails whole requests, which may carry "good" too.
	if !strings.Contains(err.Error(), `produce to topic "bad"`) && !strings.Contains(err.Error(), `produce to topic "good"`) {
		t.Errorf("error %q does not name the topic", err)
	}
	// Position 3 ("good") may well be acked, 4 failed: the tracker stops at
	// 3 or earlier, never 4.
	if pos, _ := p.Tracker().Committed(); pos != 2 && pos != 3 {
		t.Fatalf("committed %v, want 2 or 3", pos)
	}
	if err := p.Publish(ctx, []Record{{Topic: "good", Value: []byte("5"), Position: 5}}); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Publish after failure: %v, want the delivery error", err)
	}
	if pos, _ := p.Tracker().Committed(); pos == 4 || pos == 5 {
		t.Fatalf("committed %v past the failed record", pos)
	}
	if got := metricValue(t, p.m.errors.WithLabelValues("bad")); got != 1 {
		t.Errorf("errors metric %v, want 1", got)
	}
}

// TestPublishCanceledWhileBlocked: with the buffer full and Kafka not
// answering, Publish blocks (back-pressure) and a canceled context ends the
// wait; the records already handed over are not failed by the cancel.
func TestPublishCanceledWhileBlocked(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c.ListenAddrs())
	cfg.BatchBytes = 1024
	cfg.MaxBufferedBytes = 1024
	p := newPublisher(t, cfg)
	ctx := context.Background()
	if err := p.Publish(ctx, []Record{{Topic: "slow", Value: []byte("x"), Position: 0}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	big := make([]byte, 600)
	batch := []Record{
		{Topic: "slow", Value: big, Position: 1},
		{Topic: "slow", Value: big, Position: 2}, // does not fit until 1 is acked
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Publish(cctx, batch) }()
	// Wait until the first record is in the client, then cancel the wait.
	for p.Tracker().Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish: %v, want context.Canceled", err)
	}
	close(release)
	// Record 1 is still delivered; the publisher is failed because the batch
	// was cut short, so nothing more is accepted.
	if err := p.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush: %v, want the interrupted Publish's error", err)
	}
	if pos, _ := p.Tracker().Committed(); pos != 1 {
		t.Fatalf("committed %v, want 1", pos)
	}
	got := consume(t, p.Brokers(), "slow", 2)
	if len(got[1].Value) != 600 {
		t.Fatalf("second record has %d bytes, want 600", len(got[1].Value))
	}
}

// countingBuffer counts releases.
type countingBuffer struct{ n atomic.Int64 }

func (b *countingBuffer) Release() { b.n.Add(1) }

// TestPublishReleasesBuffers: every record handed over releases its buffer
// exactly once, whether Kafka acknowledged it or it failed.
func TestPublishReleasesBuffers(t *testing.T) {
	c := newCluster(t)
	p := newPublisher(t, testConfig(c.ListenAddrs()))
	ctx := context.Background()
	var ok, bad countingBuffer
	batch := make([]Record, 0, 30)
	for i := range 20 {
		batch = append(batch, Record{Topic: "good", Value: []byte{byte(i)}, Position: i, Buffer: &ok})
	}
	batch = append(batch, Record{Topic: "good", Value: []byte("no buffer"), Position: 20})
	if err := p.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ok.n.Load(); got != 20 {
		t.Fatalf("released %d times after the flush, want 20", got)
	}

	if err := p.Publish(ctx, []Record{{Topic: "bad", Value: []byte("x"), Position: 21}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	failProduceTo(t, c, p.Brokers(), "bad")
	if err := p.Publish(ctx, []Record{
		{Topic: "bad", Value: []byte("y"), Position: 22, Buffer: &bad},
		{Topic: "bad", Value: []byte("z"), Position: 23, Buffer: &bad},
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Flush: %v, want TopicAuthorizationFailed", err)
	}
	if got := bad.n.Load(); got != 2 {
		t.Fatalf("failed records released %d times, want 2", got)
	}
	if got := ok.n.Load(); got != 20 {
		t.Fatalf("acknowledged records released %d times in all, want 20", got)
	}
}
