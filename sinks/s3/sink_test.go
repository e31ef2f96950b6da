package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
	"github.com/sluice-cdc/sluice/sinks/task"
)

var t0 = time.Date(2026, 3, 8, 9, 59, 0, 0, time.UTC)

// TestObjectLayout writes two partitions with flush.size 3: objects are
// named as Confluent names them, hold the JSON lines of their records, and
// PreCommit returns the first offset of each open set.
func TestObjectLayout(t *testing.T) {
	bucket, cl := newBucket(t)
	s := openSink(t, cl, testConfig(t, bucket))
	const topic = "db.public.items"
	var recs []sink.Record
	for off := range int64(7) {
		recs = append(recs, row(topic, 0, off, "eu", t0.Add(time.Duration(off)*time.Second)))
	}
	for off := int64(100); off < 104; off++ {
		recs = append(recs, row(topic, 2, off, "us", t0))
	}
	mustPut(t, s, recs...)
	got := preCommit(t, s, map[task.TopicPartition]int64{tp(topic, 0): 7, tp(topic, 2): 104})
	if want := map[task.TopicPartition]int64{tp(topic, 0): 6, tp(topic, 2): 103}; !maps.Equal(got, want) {
		t.Errorf("PreCommit = %v, want %v", got, want)
	}
	lines := func(p int32, from, to int64, region string) string {
		var b strings.Builder
		for off := from; off < to; off++ {
			ts := t0
			if p == 0 {
				ts = t0.Add(time.Duration(off) * time.Second)
			}
			b.WriteString(jsonLine(off, region, ts))
		}
		return b.String()
	}
	want := map[string]string{
		"topics/db.public.items/partition=0/db.public.items+0+0000000000.json": lines(0, 0, 3, "eu"),
		"topics/db.public.items/partition=0/db.public.items+0+0000000003.json": lines(0, 3, 6, "eu"),
		"topics/db.public.items/partition=2/db.public.items+2+0000000100.json": lines(2, 100, 103, "us"),
	}
	if got := objects(t, cl, bucket); !maps.Equal(got, want) {
		t.Errorf("objects:\n%v\nwant\n%v", got, want)
	}
	// The sets' metadata.
	meta, err := s.st.meta(context.Background(), "topics/db.public.items/partition=0/db.public.items+0+0000000003.json")
	if err != nil {
		t.Fatal(err)
	}
	if meta[metaSetStart] != "3" || meta[metaSetEnd] != "6" || meta[metaSetObjects] != "1" {
		t.Errorf("metadata %v, want set 3..6 of 1 object", meta)
	}
	// A redelivered record below the open set's end is skipped.
	mustPut(t, s, row(topic, 0, 5, "eu", t0))
	if got := preCommit(t, s, map[task.TopicPartition]int64{tp(topic, 0): 7}); got[tp(topic, 0)] != 6 {
		t.Errorf("PreCommit after a redelivery = %v, want 6", got)
	}
}

// TestRotationRules: a field partitioner opens one object per region in the
// set; the set rotates as a whole when one object reaches flush.size, when
// the record time passes rotate.interval.ms, and on a schema change.
func TestRotationRules(t *testing.T) {
	bucket, cl := newBucket(t)
	s := openSink(t, cl, testConfig(t, bucket, "partitioner.class", "FieldPartitioner", "partition.field.name", "region",
		"rotate.interval.ms", "60000", "topics.dir", "out", "filename.offset.zero.pad.width", "4"))
	const topic = "t"
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	mustPut(t, s,
		row(topic, 0, 0, "eu", at(0)), row(topic, 0, 1, "us", at(1)), row(topic, 0, 2, "eu", at(2)),
		row(topic, 0, 3, "eu", at(3)), // eu reaches 3: the set {eu 0..3, us 1} rotates
		row(topic, 0, 4, "us", at(10)),
		row(topic, 0, 5, "us", at(70)), // 60 s past offset 4's: rotates {us 4}
	)
	other := event.StructOf("row2", event.NewField("id", event.Int64()), event.NewField("region", event.String()))
	mustPut(t, s, sink.Record{Topic: topic, OriginalTopic: topic, Partition: 0, Offset: 6, Timestamp: at(71),
		ValueSchema: other, Value: event.NewStruct(other, int64(6), "us")}) // schema change: rotates {us 5}
	want := map[string]string{
		"out/t/region=eu/t+0+0000.json": jsonLine(0, "eu", at(0)) + jsonLine(2, "eu", at(2)) + jsonLine(3, "eu", at(3)),
		"out/t/region=us/t+0+0001.json": jsonLine(1, "us", at(1)),
		"out/t/region=us/t+0+0004.json": jsonLine(4, "us", at(10)),
		"out/t/region=us/t+0+0005.json": jsonLine(5, "us", at(70)),
	}
	if got := objects(t, cl, bucket); !maps.Equal(got, want) {
		t.Errorf("objects:\n%v\nwant\n%v", got, want)
	}
	if got := preCommit(t, s, map[task.TopicPartition]int64{tp(topic, 0): 7}); got[tp(topic, 0)] != 6 {
		t.Errorf("PreCommit = %v, want 6 (the open set of offset 6)", got)
	}
	meta, err := s.st.meta(context.Background(), "out/t/region=us/t+0+0001.json")
	if err != nil {
		t.Fatal(err)
	}
	if meta[metaSetStart] != "0" || meta[metaSetEnd] != "4" || meta[metaSetObjects] != "2" {
		t.Errorf("metadata %v, want set 0..4 of 2 objects", meta)
	}
}

// TestNullValues covers behavior.on.null.values.
func TestNullValues(t *testing.T) {
	bucket, cl := newBucket(t)
	tomb := sink.Record{Topic: "n", OriginalTopic: "n", Partition: 0, Offset: 1, KeySchema: event.Int64(), Key: int64(1)}
	s := openSink(t, cl, testConfig(t, bucket, "flush.size", "2"))
	err := s.Put(context.Background(), []sink.Record{row("n", 0, 0, "eu", t0), tomb})
	var re *sink.RecordError
	if !errors.As(err, &re) || re.Record.Offset != 1 {
		t.Fatalf("fail: Put = %v, want a RecordError for offset 1", err)
	}
	s = openSink(t, cl, testConfig(t, bucket, "flush.size", "2", "behavior.on.null.values", "ignore", "topics.dir", "ign"))
	mustPut(t, s, row("n", 0, 0, "eu", t0), tomb, row("n", 0, 2, "eu", t0))
	if got := objects(t, cl, bucket); !maps.Equal(got, map[string]string{
		"ign/n/partition=0/n+0+0000000000.json": jsonLine(0, "eu", t0) + jsonLine(2, "eu", t0),
	}) {
		t.Errorf("ignore: objects %v", got)
	}
	// Nothing open: the consumed offset is safe.
	if got := preCommit(t, s, map[task.TopicPartition]int64{tp("n", 0): 3}); got[tp("n", 0)] != 3 {
		t.Errorf("PreCommit = %v, want 3", got)
	}
}

// TestRecoverOffsets: OpenPartitions finds the end of the newest complete
// set and ignores a set with a missing object; a replay from there rewrites
// the bucket to the same objects and bytes as a run without the loss.
func TestRecoverOffsets(t *testing.T) {
	bucket, cl := newBucket(t)
	cfg := testConfig(t, bucket, "partitioner.class", "FieldPartitioner", "partition.field.name", "region")
	const topic = "rec"
	regions := []string{"eu", "us", "eu", "ap", "eu", "us", "us", "eu", "ap", "us", "eu", "eu", "us"}
	var recs []sink.Record
	for i, r := range regions {
		recs = append(recs, row(topic, 1, int64(10+i), r, t0))
	}
	s := openSink(t, cl, cfg)
	if got, err := s.OpenPartitions(context.Background(), []task.TopicPartition{tp(topic, 1)}); err != nil || len(got) != 0 {
		t.Fatalf("empty bucket: OpenPartitions = %v, %v", got, err)
	}
	mustPut(t, s, recs...)
	clean := objects(t, cl, bucket)
	if len(clean) < 4 {
		t.Fatalf("only %d objects: %v", len(clean), sortedKeys(clean))
	}
	// The newest set loses one of its objects (a crash mid-upload).
	s2 := openSink(t, cl, cfg)
	newestStart := ""
	for _, k := range sortedKeys(clean) {
		meta, err := s2.st.meta(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if meta[metaSetObjects] != "1" && meta[metaSetStart] > newestStart {
			newestStart = meta[metaSetStart]
		}
	}
	var victim string
	var prevEnd string
	for _, k := range sortedKeys(clean) {
		meta, _ := s2.st.meta(context.Background(), k)
		if meta[metaSetStart] == newestStart && victim == "" {
			victim = k
		}
		if meta[metaSetEnd] == newestStart {
			prevEnd = meta[metaSetEnd]
		}
	}
	if victim == "" || prevEnd == "" {
		t.Fatalf("no multi-object set with a predecessor in %v", sortedKeys(clean))
	}
	deleteObject(t, cl, bucket, victim)
	got, err := s2.OpenPartitions(context.Background(), []task.TopicPartition{tp(topic, 1), tp(topic, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[tp(topic, 1)] == 0 || prevEnd != itoa(got[tp(topic, 1)]) {
		t.Fatalf("OpenPartitions = %v, want partition 1 at %s (partition 0 absent)", got, prevEnd)
	}
	// The task would start at the recovered offset; a redelivery from an
	// older offset is skipped by the sink itself.
	mustPut(t, s2, recs...)
	if after := objects(t, cl, bucket); !maps.Equal(after, clean) {
		t.Errorf("after replay: %v\nwant %v", sortedKeys(after), sortedKeys(clean))
	}
}

func itoa(n int64) string { return strings.TrimSpace(padOffset(n, 0)) }

// TestMultipart: an object larger than s3.part.size goes up in parts and
// reads back byte for byte; past s3.buffer.memory.bytes it was spooled to a
// temporary file, removed once uploaded.
func TestMultipart(t *testing.T) {
	bucket, cl := newBucket(t)
	spoolDir := t.TempDir()
	s := openSink(t, cl, testConfig(t, bucket, "format.class", "bytearray", "flush.size", "12", "s3.part.size", "5242880",
		"s3.buffer.memory.bytes", "3000000", "s3.buffer.dir", spoolDir))
	var want bytes.Buffer
	var recs []sink.Record
	for i := range 12 {
		v := bytes.Repeat([]byte{byte('a' + i)}, 1<<20)
		recs = append(recs, sink.Record{Topic: "big", OriginalTopic: "big", Offset: int64(i), ValueSchema: event.Bytes(), Value: v})
		want.Write(v)
		want.WriteString("\n")
	}
	mustPut(t, s, recs...)
	got := getObject(t, cl, bucket, "topics/big/partition=0/big+0+0000000000.bin")
	if got != want.String() {
		t.Errorf("object of %d bytes differs from the %d written", len(got), want.Len())
	}
	if s.spilled != 1 || s.memBytes != 0 {
		t.Errorf("spilled %d objects, %d bytes left in memory; want 1 and 0", s.spilled, s.memBytes)
	}
	if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
		t.Errorf("spool files left: %v", left)
	}
}

// TestMemoryBudget: with a budget smaller than one object, objects are
// spooled to files while their sets are open, and the bucket gets the same
// bytes as without; dropped partitions remove their files.
func TestMemoryBudget(t *testing.T) {
	bucket, cl := newBucket(t)
	spoolDir := t.TempDir()
	var recs []sink.Record
	for off := range int64(40) {
		recs = append(recs, row("mb", int32(off%2), off/2, []string{"eu", "us", "ap"}[off%3], t0.Add(time.Duration(off)*time.Second)))
	}
	for _, cfg := range [][]string{
		{"topics.dir", "plain"},
		{"topics.dir", "spooled", "s3.buffer.memory.bytes", "100", "s3.buffer.dir", spoolDir},
	} {
		s := openSink(t, cl, testConfig(t, bucket, append([]string{"format.class", "json", "flush.size", "4",
			"partitioner.class", "FieldPartitioner", "partition.field.name", "region"}, cfg...)...))
		mustPut(t, s, recs...)
		if cfg[1] == "spooled" {
			if s.spilled == 0 {
				t.Error("nothing spooled under a 100-byte budget")
			}
			if s.memBytes < 0 || s.memBytes > 100 {
				t.Errorf("%d bytes in memory under a 100-byte budget", s.memBytes)
			}
			s.ClosePartitions([]task.TopicPartition{tp("mb", 0), tp("mb", 1)})
			if left, _ := os.ReadDir(spoolDir); len(left) != 0 || s.memBytes != 0 {
				t.Errorf("after ClosePartitions: files %v, %d bytes in memory", left, s.memBytes)
			}
		}
	}
	objs := objects(t, cl, bucket)
	n := 0
	for k, v := range objs {
		if rest, ok := strings.CutPrefix(k, "plain/"); ok {
			n++
			if objs["spooled/"+rest] != v {
				t.Errorf("%s differs when spooled", rest)
			}
		}
	}
	if n == 0 || len(objs) != 2*n {
		t.Errorf("%d objects, %d plain", len(objs), n)
	}
}

// TestKeysAndHeaders writes side objects beside the values.
func TestKeysAndHeaders(t *testing.T) {
	bucket, cl := newBucket(t)
	s := openSink(t, cl, testConfig(t, bucket, "flush.size", "2", "store.kafka.keys", "true", "keys.format.class", "json",
		"store.kafka.headers", "true", "headers.format.class", "json"))
	var recs []sink.Record
	for off := range int64(2) {
		r := row("kh", 0, off, "eu", t0)
		r.Headers = []sink.Header{{Key: "h", Schema: event.String(), Value: "v" + itoa(off)}}
		recs = append(recs, r)
	}
	mustPut(t, s, recs...)
	got := objects(t, cl, bucket)
	keys := sortedKeys(got)
	want := []string{
		"topics/kh/partition=0/kh+0+0000000000.headers.json",
		"topics/kh/partition=0/kh+0+0000000000.json",
		"topics/kh/partition=0/kh+0+0000000000.keys.json",
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("objects %v, want %v", keys, want)
	}
	if k := got[want[2]]; k != "0\n1\n" {
		t.Errorf("keys object %q, want the two keys", k)
	}
	if h := got[want[0]]; !strings.Contains(h, `"v0"`) || !strings.Contains(h, `"v1"`) {
		t.Errorf("headers object %q lacks the header values", h)
	}
	meta, err := s.st.meta(context.Background(), want[2])
	if err != nil {
		t.Fatal(err)
	}
	if meta[metaSetObjects] != "3" {
		t.Errorf("a set of a value and two side objects counts %s", meta[metaSetObjects])
	}
}

// TestRetryAfterFailedUpload: a set whose upload fails stays pending; the
// task's retry of the same batch uploads it and writes no record twice.
func TestRetryAfterFailedUpload(t *testing.T) {
	bucket, cl := newBucket(t)
	s := openSink(t, cl, testConfig(t, bucket))
	if _, err := cl.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	recs := []sink.Record{row("r", 0, 0, "eu", t0), row("r", 0, 1, "eu", t0), row("r", 0, 2, "eu", t0), row("r", 0, 3, "eu", t0)}
	if err := s.Put(context.Background(), recs); err == nil {
		t.Fatal("Put into a missing bucket succeeded")
	}
	if _, err := s.PreCommit(context.Background(), map[task.TopicPartition]int64{tp("r", 0): 4}); err == nil {
		t.Fatal("PreCommit with a pending set succeeded")
	}
	if _, err := cl.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, recs...)
	want := map[string]string{"topics/r/partition=0/r+0+0000000000.json": jsonLine(0, "eu", t0) + jsonLine(1, "eu", t0) + jsonLine(2, "eu", t0)}
	if got := objects(t, cl, bucket); !maps.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	if got := preCommit(t, s, map[task.TopicPartition]int64{tp("r", 0): 4}); got[tp("r", 0)] != 3 {
		t.Errorf("PreCommit = %v, want 3", got)
	}
}

// headerRecorder records the SSE headers of the requests it forwards.
type headerRecorder struct {
	mu   sync.Mutex
	seen map[string][]string // "METHOD ?query-kind" -> header lines
	rt   http.RoundTripper
}

func (h *headerRecorder) Do(req *http.Request) (*http.Response, error) {
	kind := req.Method
	switch q := req.URL.Query(); {
	case q.Has("uploads"):
		kind += " create-multipart"
	case q.Has("partNumber"):
		kind += " part"
	case q.Has("uploadId"):
		kind += " complete"
	}
	var lines []string
	for k, v := range req.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-server-side-encryption") {
			lines = append(lines, strings.ToLower(k)+": "+strings.Join(v, ","))
		}
	}
	slices.Sort(lines)
	h.mu.Lock()
	h.seen[kind] = lines
	h.mu.Unlock()
	return h.rt.RoundTrip(req)
}

// TestServerSideEncryption: the SSE settings go with every upload request
// (the test server accepts and ignores them, so the requests are checked).
func TestServerSideEncryption(t *testing.T) {
	bucket, _ := newBucket(t)
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	md5sum := md5.Sum(bytes.Repeat([]byte{7}, 32))
	keyMD5 := base64.StdEncoding.EncodeToString(md5sum[:])
	for _, tt := range []struct {
		kv   []string
		want []string
	}{
		{[]string{"s3.ssea.name", "aws:kms", "s3.sse.kms.key.id", "arn:aws:kms:key/1"},
			[]string{"x-amz-server-side-encryption: aws:kms", "x-amz-server-side-encryption-aws-kms-key-id: arn:aws:kms:key/1"}},
		{[]string{"s3.sse.customer.key", key},
			[]string{"x-amz-server-side-encryption-customer-algorithm: AES256", "x-amz-server-side-encryption-customer-key: " + key,
				"x-amz-server-side-encryption-customer-key-md5: " + keyMD5}},
	} {
		cfg := testConfig(t, bucket, append([]string{"format.class", "bytearray", "flush.size", "2", "s3.part.size", "5242880",
			"topics.dir", tt.kv[0]}, tt.kv...)...)
		c, err := ParseConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rec := &headerRecorder{seen: map[string][]string{}, rt: http.DefaultTransport}
		cl, err := NewClient(context.Background(), c, func(o *s3.Options) { o.HTTPClient = rec })
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(context.Background(), c, cl, nil)
		if err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte("x"), 6<<20)
		mustPut(t, s,
			sink.Record{Topic: "e", OriginalTopic: "e", Offset: 0, ValueSchema: event.Bytes(), Value: []byte("small")},
			sink.Record{Topic: "e", OriginalTopic: "e", Offset: 1, ValueSchema: event.Bytes(), Value: []byte("small")},
			sink.Record{Topic: "e", OriginalTopic: "e", Offset: 2, ValueSchema: event.Bytes(), Value: big},
			sink.Record{Topic: "e", OriginalTopic: "e", Offset: 3, ValueSchema: event.Bytes(), Value: big})
		kinds := []string{"PUT", "POST create-multipart"}
		if tt.kv[0] == "s3.sse.customer.key" {
			kinds = append(kinds, "PUT part") // SSE-C goes with each part too
		}
		slices.Sort(tt.want)
		for _, kind := range kinds {
			if got := rec.seen[kind]; !slices.Equal(got, tt.want) {
				t.Errorf("%s %s: SSE headers %v, want %v", tt.kv[0], kind, got, tt.want)
			}
		}
	}
}
