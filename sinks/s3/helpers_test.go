package s3

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sinks/sink"
	"github.com/sluice-cdc/sluice/sinks/task"
)

var bucketSeq atomic.Int64

// testConfig returns the connector keys of a sink on the test server
// (bucket filled in by newBucket), with kv overriding.
func testConfig(t testing.TB, bucket string, kv ...string) map[string]string {
	m := map[string]string{
		"s3.bucket.name":               bucket,
		"s3.region":                    "us-east-1",
		"store.url":                    testenv.Require(t, "SLUICE_S3_ENDPOINT"),
		"aws.access.key.id":            testenv.Require(t, "SLUICE_S3_ACCESS_KEY"),
		"aws.secret.access.key":        testenv.Require(t, "SLUICE_S3_SECRET_KEY"),
		"s3.path.style.access.enabled": "true",
		"format.class":                 "json",
		"flush.size":                   "3",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<del>" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// newBucket creates a bucket unique to the test, emptied and deleted at
// its end, and returns its name and a client.
func newBucket(t testing.TB) (string, *s3.Client) {
	t.Helper()
	name := fmt.Sprintf("s3sink-%d-%d", time.Now().UnixNano()%1e12, bucketSeq.Add(1))
	c, err := ParseConfig(testConfig(t, name))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cl, err := NewClient(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	t.Cleanup(func() {
		keys := listKeys(t, cl, name, "")
		for _, k := range keys {
			_, _ = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &name, Key: aws.String(k)})
		}
		_, _ = cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &name})
	})
	return name, cl
}

func listKeys(t testing.TB, cl *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

// objects returns every object of the bucket, by key.
func objects(t testing.TB, cl *s3.Client, bucket string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range listKeys(t, cl, bucket, "") {
		out[k] = getObject(t, cl, bucket, k)
	}
	return out
}

func getObject(t testing.TB, cl *s3.Client, bucket, key string) string {
	t.Helper()
	o, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func deleteObject(t testing.TB, cl *s3.Client, bucket, key string) {
	t.Helper()
	if _, err := cl.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatal(err)
	}
}

// openSink parses cfg and builds a sink with cl.
func openSink(t testing.TB, cl *s3.Client, cfg map[string]string) *Sink {
	t.Helper()
	c, err := ParseConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), c, cl, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var rowSchema = event.StructOf("row",
	event.NewField("id", event.Int64()),
	event.NewField("region", event.String()),
	event.NewField("ts", event.Timestamp()))

// row is a record of topic/partition at offset with a struct value.
func row(topic string, partition int32, offset int64, region string, ts time.Time) sink.Record {
	v := event.NewStruct(rowSchema, offset, region, ts.UnixMilli())
	return sink.Record{Topic: topic, OriginalTopic: topic, Partition: partition, Offset: offset, Timestamp: ts,
		KeySchema: event.Int64(), Key: offset, ValueSchema: rowSchema, Value: v}
}

// jsonLine is what the JSON format writes for row's value.
func jsonLine(offset int64, region string, ts time.Time) string {
	return `{"id":` + strconv.FormatInt(offset, 10) + `,"region":"` + region + `","ts":` + strconv.FormatInt(ts.UnixMilli(), 10) + "}\n"
}

func tp(topic string, p int32) task.TopicPartition {
	return task.TopicPartition{Topic: topic, Partition: p}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func mustPut(t testing.TB, s *Sink, recs ...sink.Record) {
	t.Helper()
	if err := s.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func preCommit(t testing.TB, s *Sink, consumed map[task.TopicPartition]int64) map[task.TopicPartition]int64 {
	t.Helper()
	out, err := s.PreCommit(context.Background(), consumed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var _ = strings.Join
var _ types.CompletedPart
