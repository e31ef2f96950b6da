package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// s3Formats are the S3 sink connectors of TestRunS3SinkExactlyOnce: one per
// format, each under its own topics.dir.
// The JSON connector partitions by field and stores keys too, the Avro one
// by the Kafka timestamp (one folder per second): their sets have several
// objects, which a kill can leave half uploaded.
var s3Formats = []struct {
	dir, class string
	extra      []string // more keys, "key: value"
}{
	{"json", "io.confluent.connect.s3.format.json.JsonFormat", []string{"partitioner.class: FieldPartitioner",
		"partition.field.name: region", `store.kafka.keys: "true"`, "keys.format.class: json"}},
	{"avro", "io.confluent.connect.s3.format.avro.AvroFormat", []string{"avro.codec: deflate",
		"partitioner.class: TimeBasedPartitioner", `path.format: "'dt'=YYYY-MM-dd/'t'=HHmmss"`,
		`partition.duration.ms: "1000"`, "locale: en", "timezone: UTC", "timestamp.extractor: Record"}},
	{"parquet", "io.confluent.connect.s3.format.parquet.ParquetFormat", []string{"parquet.codec: snappy"}},
}

// TestRunS3SinkExactlyOnce streams a Postgres table through Kafka (a topic
// of two partitions) into S3 objects with "sluice run": JSON lines, Avro
// and Parquet connectors in a reference process that is never killed, the
// same three into another bucket in a process SIGKILLed at random points
// while it writes objects (at least 10 times), with its consumer groups
// deleted twice between restarts. Afterwards both buckets hold the same
// objects with the same bytes, no row is in two objects, and independent
// readers (boto3, fastavro, pyarrow from scripts/pyenv.sh) find every
// source row with its values in each format.
//
// Rows are inserted while the sink is killed; the last data rows are
// followed, a few seconds later, by marker rows whose Kafka timestamps
// are past rotate.interval.ms: they rotate the data's last sets out in
// both runs and stay buffered themselves (they are not expected).
func TestRunS3SinkExactlyOnce(t *testing.T) {
	pgURL := testenv.Require(t, "SLUICE_PG_URL")
	brokers := testenv.Require(t, "SLUICE_KAFKA_BROKERS")
	endpoint := testenv.Require(t, "SLUICE_S3_ENDPOINT")
	access := testenv.Require(t, "SLUICE_S3_ACCESS_KEY")
	secret := testenv.Require(t, "SLUICE_S3_SECRET_KEY")
	python := pythonEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	began := time.Now()

	f := newPGFixture(t, pgURL, "s3test")
	f.exec(t, `ALTER TABLE `+f.name+`.items ADD COLUMN amount bigint, ADD COLUMN region text`)
	f.exec(t, `UPDATE `+f.name+`.items SET region = 'eu'`)
	f.exec(t, `INSERT INTO `+f.name+`.items SELECT g, 'snap-' || g, g * 7, `+regionOf+` FROM generate_series(2, 300) g`)
	topic := f.name + "." + f.name + ".items"
	kcl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close)
	adm := kadm.NewClient(kcl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	refBucket, crashBucket := f.name+"-ref", f.name+"-crash"
	refBucket, crashBucket = strings.ReplaceAll(refBucket, "_", "-"), strings.ReplaceAll(crashBucket, "_", "-")
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(access, secret, "")})
	var groups []string
	for _, b := range []string{refBucket, crashBucket} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatalf("create bucket %s: %v", b, err)
		}
		t.Cleanup(func() { emptyBucket(s3c, b) })
		for _, fm := range s3Formats {
			groups = append(groups, "connect-"+b+"-"+fm.dir)
		}
	}
	t.Cleanup(func() {
		c := context.Background()
		_, _ = adm.DeleteGroups(c, groups...)
		_, _ = adm.DeleteTopics(c, topic)
	})

	connectors := func(bucket string) string {
		var b strings.Builder
		for _, fm := range s3Formats {
			fmt.Fprintf(&b, `  - name: %[1]s-%[2]s
    config:
      connector.class: io.confluent.connect.s3.S3SinkConnector
      topics: %[3]s
      s3.bucket.name: %[1]s
      s3.region: us-east-1
      store.url: %[4]s
      aws.access.key.id: %[5]s
      aws.secret.access.key: %[6]s
      topics.dir: %[2]s
      format.class: %[7]s
      flush.size: "10"
      rotate.interval.ms: "2000"
      consumer.override.session.timeout.ms: "6000"
      consumer.override.heartbeat.interval.ms: "1000"
      transforms: unwrap
      transforms.unwrap.type: io.debezium.transforms.ExtractNewRecordState
%[8]s`, bucket, fm.dir, topic, endpoint, access, secret, fm.class, "      "+strings.Join(fm.extra, "\n      ")+"\n")
		}
		return b.String()
	}
	dir := t.TempDir()
	refCfg := filepath.Join(dir, "ref.yaml")
	writeTestFile(t, refCfg, fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [%s], linger.ms: 5}
data.dir: %s
sources:
  - name: src
    connector: postgres
    topic.prefix: %s
    url: %q
    tables: [%s.items]
    postgres: {slot.name: %s, publication.name: %s, publication.autocreate.mode: filtered}
connectors:
%s`, brokers, filepath.Join(dir, "ref-data"), f.name, pgURL, f.name, f.name, f.name, connectors(refBucket)))
	crashCfg := filepath.Join(dir, "crash.yaml")
	writeTestFile(t, crashCfg, fmt.Sprintf(`http: {addr: "127.0.0.1:0"}
kafka: {bootstrap.servers: [%s]}
data.dir: %s
connectors:
%s`, brokers, filepath.Join(dir, "crash-data"), connectors(crashBucket)))

	ref := startRun(t, refCfg, nil)
	crash := startRun(t, crashCfg, nil)
	var logs []*runProc
	logs = append(logs, crash)
	defer func() {
		if t.Failed() {
			t.Logf("reference process log tail:\n%s", lastLines(ref.output(), 40))
			for i, p := range logs {
				p.cmd.Process.Kill()
				t.Logf("crash process %d log tail:\n%s", i, lastLines(p.output(), 30))
			}
		}
	}()

	// The workload: rows in small transactions until the kills are done.
	var next atomic.Int64
	next.Store(301)
	stop := make(chan struct{})
	workDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				workDone <- nil
				return
			case <-time.After(100 * time.Millisecond):
			}
			from := next.Add(5) - 5
			if _, err := f.conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.items SELECT g, 'row-' || g || ' "q" \ ü', g * 7, %s FROM generate_series(%d, %d) g`,
				f.name, regionOf, from, from+4)); err != nil {
				workDone <- err
				return
			}
		}
	}()

	countObjects := func(bucket string) int {
		n := 0
		p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return n
			}
			n += len(page.Contents)
		}
		return n
	}
	const kills = 12
	incomplete := 0 // sets a kill left half uploaded, found on restart
	rng := rand.New(rand.NewPCG(11, uint64(time.Now().UnixNano())))
	for i := range kills {
		// Kill while the process is writing: once it has uploaded
		// objects since its start (catching up the rows of its downtime),
		// after a short random delay.
		base := countObjects(crashBucket)
		eventually(t, 90*time.Second, fmt.Sprintf("crash process %d writes objects", i), func() error {
			if n := countObjects(crashBucket); n <= base {
				return fmt.Errorf("%d objects, %d at its start", n, base)
			}
			return nil
		})
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		if err := crash.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = crash.cmd.Wait()
		out := crash.output()
		incomplete += strings.Count(out, "incomplete set in the bucket")
		if i == 5 || i == 9 {
			// Started without groups: the task seeked each partition to
			// the offset the sink recovered from the bucket.
			if !strings.Contains(out, "offset recovered from the bucket") || !strings.Contains(out, "partition starts at the sink's offset") {
				t.Errorf("crash process %d started after the groups were deleted but did not resume from the bucket:\n%s", i, lastLines(out, 30))
			}
		}
		if i == 4 || i == 8 {
			// Offsets then come from the bucket alone. The group can be
			// deleted once the killed member has expired.
			eventually(t, 60*time.Second, "delete the crash connectors' groups", func() error {
				resp, err := adm.DeleteGroups(ctx, groups[len(s3Formats):]...)
				if err != nil {
					return err
				}
				for g, r := range resp {
					if r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
						return fmt.Errorf("%s: %w", g, r.Err)
					}
				}
				return nil
			})
		}
		crash = startRun(t, crashCfg, nil)
		logs = append(logs, crash)
	}
	close(stop)
	if err := <-workDone; err != nil {
		t.Fatalf("workload: %v", err)
	}
	last := next.Load() - 1
	t.Logf("%d rows; crash process killed %d times, %d sets found half uploaded on restart (%v since start)", last, kills, incomplete, time.Since(began).Round(time.Millisecond))
	// Markers, past rotate.interval.ms after the last data row.
	time.Sleep(3 * time.Second)
	f.exec(t, fmt.Sprintf(`INSERT INTO %s.items SELECT g, 'marker', 0, 'eu' FROM generate_series(1000001, 1000010) g`, f.name))

	want := map[int64]string{1: "one\x00"}
	for id := int64(2); id <= last; id++ {
		label := fmt.Sprintf("row-%d \"q\" \\ ü", id)
		if id <= 300 {
			label = fmt.Sprintf("snap-%d", id)
		}
		want[id] = label + "\x00" + fmt.Sprint(id*7)
	}

	// Both buckets converge to the same objects, holding every data row.
	var read map[string][]s3Row
	eventually(t, 3*time.Minute, "both buckets hold every row in every format", func() error {
		var err error
		read, err = readS3(python, endpoint, access, secret, crashBucket)
		if err != nil {
			return err
		}
		for _, fm := range s3Formats {
			if err := checkRows(read[fm.dir], want); err != nil {
				return fmt.Errorf("%s: %w", fm.dir, err)
			}
		}
		if err := checkKeys(read["json-keys"], want); err != nil {
			return fmt.Errorf("json keys: %w", err)
		}
		refRead, err := readS3(python, endpoint, access, secret, refBucket)
		if err != nil {
			return err
		}
		for _, fm := range s3Formats {
			if err := checkRows(refRead[fm.dir], want); err != nil {
				return fmt.Errorf("reference %s: %w", fm.dir, err)
			}
		}
		return nil
	})
	refObjs, crashObjs := bucketObjects(t, s3c, refBucket), bucketObjects(t, s3c, crashBucket)
	if len(refObjs) == 0 || !slices.Equal(sortedMapKeys(refObjs), sortedMapKeys(crashObjs)) {
		t.Fatalf("object names differ: reference %d, killed %d objects; only in one: %v", len(refObjs), len(crashObjs),
			symmetricDiff(sortedMapKeys(refObjs), sortedMapKeys(crashObjs)))
	}
	for k, v := range refObjs {
		if !bytes.Equal(v, crashObjs[k]) {
			t.Errorf("%s: %d bytes in the reference, %d different bytes after the kills", k, len(v), len(crashObjs[k]))
		}
	}
	t.Logf("%d objects equal byte for byte in both buckets (%v since start)", len(refObjs), time.Since(began).Round(time.Millisecond))
	for _, p := range []*runProc{ref, crash} {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("process did not stop cleanly: %v", err)
		}
	}
}

// regionOf is the region column of row g.
const regionOf = `(ARRAY['eu', 'us', 'ap'])[g % 3 + 1]`

// s3Row is one row an independent reader found: its object, id, label and
// amount.
type s3Row struct {
	Object string  `json:"object"`
	ID     int64   `json:"id"`
	Label  *string `json:"label"`
	Amount *int64  `json:"amount"`
}

// checkRows checks that rows hold every wanted row once with its values
// (markers aside), and no row twice.
func checkRows(rows []s3Row, want map[int64]string) error {
	seen := map[int64]string{}
	for _, r := range rows {
		if r.ID > 1000000 {
			continue // a marker
		}
		if prev, dup := seen[r.ID]; dup {
			return fmt.Errorf("row %d in %s and in %s", r.ID, prev, r.Object)
		}
		seen[r.ID] = r.Object
		got := ""
		if r.Label != nil {
			got = *r.Label
		}
		got += "\x00"
		if r.Amount != nil {
			got += fmt.Sprint(*r.Amount)
		}
		if w, ok := want[r.ID]; !ok || w != got {
			return fmt.Errorf("row %d = %q, want %q", r.ID, got, w)
		}
	}
	if len(seen) != len(want) {
		return fmt.Errorf("%d of %d rows", len(seen), len(want))
	}
	return nil
}

// checkKeys checks that the keys objects hold every wanted id once, each
// beside its row (same object name but for the .keys extension).
func checkKeys(keys []s3Row, want map[int64]string) error {
	seen := map[int64]bool{}
	for _, k := range keys {
		if k.ID > 1000000 {
			continue
		}
		if seen[k.ID] {
			return fmt.Errorf("key %d twice", k.ID)
		}
		seen[k.ID] = true
		if _, ok := want[k.ID]; !ok {
			return fmt.Errorf("unexpected key %d in %s", k.ID, k.Object)
		}
	}
	if len(seen) != len(want) {
		return fmt.Errorf("%d of %d keys", len(seen), len(want))
	}
	return nil
}

// s3Reader lists a bucket with boto3 and decodes each object by its
// extension: JSON lines with json, Avro with fastavro, Parquet with
// pyarrow. It prints {"<topics.dir>": [{object, id, label, amount}, ...]}.
const s3Reader = `
import io, json, sys
import boto3, fastavro, pyarrow.parquet as pq
endpoint, access, secret, bucket = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access,
                  aws_secret_access_key=secret, region_name="us-east-1")
out = {}
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for o in page.get("Contents", []):
        key = o["Key"]
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if key.endswith(".json"):
            rows = [json.loads(l) for l in body.decode("utf-8").splitlines() if l]
        elif key.endswith(".avro"):
            rows = list(fastavro.reader(io.BytesIO(body)))
        elif key.endswith(".parquet"):
            rows = pq.read_table(io.BytesIO(body)).to_pylist()
        else:
            raise SystemExit("unexpected object " + key)
        group = key.split("/")[0] + ("-keys" if ".keys." in key else "")
        for r in rows:
            out.setdefault(group, []).append(
                {"object": key, "id": r["id"], "label": r.get("label"), "amount": r.get("amount")})
json.dump(out, sys.stdout)
`

func readS3(python, endpoint, access, secret, bucket string) (map[string][]s3Row, error) {
	cmd := exec.Command(python, "-c", s3Reader, endpoint, access, secret, bucket)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("python reader: %v: %s", err, stderr.String())
	}
	var rows map[string][]s3Row
	if err := json.Unmarshal(out, &rows); err != nil {
		return nil, fmt.Errorf("python reader output: %w", err)
	}
	return rows, nil
}

// pythonEnv returns the Python of scripts/pyenv.sh (boto3, fastavro,
// pyarrow); without it the test fails under CI and skips by hand.
func pythonEnv(t *testing.T) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join("..", "..", "scripts", "pyenv.sh"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		return strings.TrimSpace(string(out))
	}
	msg := fmt.Sprintf("scripts/pyenv.sh is not available (%v): %s", err, stderr.String())
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func bucketObjects(t *testing.T, cl *s3.Client, bucket string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			g, err := cl.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(g.Body)
			g.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[aws.ToString(o.Key)] = b
		}
	}
	return out
}

func emptyBucket(cl *s3.Client, bucket string) {
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			_, _ = cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	_, _ = cl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func symmetricDiff(a, b []string) []string {
	var out []string
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, "-"+k)
		}
	}
	for _, k := range b {
		if !slices.Contains(a, k) {
			out = append(out, "+"+k)
		}
	}
	if len(out) > 10 {
		out = append(out[:10], "…")
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
