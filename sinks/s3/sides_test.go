package s3

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
	"github.com/sluice-cdc/sluice/sinks/task"
)

// keyChangeRecords are offsets 0..7 of topic ks: keys are int64 up to
// offset 1, then strings (a key schema change at offset 2 with the value
// schema unchanged).
func keyChangeRecords() []sink.Record {
	var recs []sink.Record
	for off := range int64(8) {
		r := row("ks", 0, off, "eu", t0)
		if off >= 2 {
			r.KeySchema, r.Key = event.String(), "k"+itoa(off)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestKeySchemaChange: with store.kafka.keys, a key schema change mid-stream
// rotates the set as a value schema change does, before anything of the
// record is written, so the value and keys objects hold the same records;
// a set rewritten after a crash has the same objects and bytes.
func TestKeySchemaChange(t *testing.T) {
	for _, keys := range []string{"json", "avro"} {
		t.Run(keys, func(t *testing.T) {
			bucket, cl := newBucket(t)
			cfg := testConfig(t, bucket, "flush.size", "4", "store.kafka.keys", "true", "keys.format.class", keys)
			recs := keyChangeRecords()
			ctx := context.Background()
			part := tp("ks", 0)

			s := openSink(t, cl, cfg)
			mustPut(t, s, recs...)
			if got := preCommit(t, s, map[task.TopicPartition]int64{part: 8}); got[part] != 6 {
				t.Errorf("PreCommit = %v, want 6 (sets [0,2) [2,6) closed, [6,8) open)", got)
			}
			s.Close()
			first := objects(t, cl, bucket)
			prefix := "topics/ks/partition=0/ks+0+"
			keysExt := ".keys." + keys
			want := map[string]string{
				prefix + "0000000000.json": jsonLine(0, "eu", t0) + jsonLine(1, "eu", t0),
				prefix + "0000000002.json": jsonLine(2, "eu", t0) + jsonLine(3, "eu", t0) + jsonLine(4, "eu", t0) + jsonLine(5, "eu", t0),
			}
			if keys == "json" {
				want[prefix+"0000000000.keys.json"] = "0\n1\n"
				want[prefix+"0000000002.keys.json"] = "\"k2\"\n\"k3\"\n\"k4\"\n\"k5\"\n"
			}
			if got := sortedKeys(first); len(got) != 4 || !strings.HasSuffix(got[1], keysExt) || !strings.HasSuffix(got[3], keysExt) {
				t.Fatalf("objects %v, want a value and a keys object for offsets 0 and 2", got)
			}
			for k, v := range want {
				if first[k] != v {
					t.Errorf("%s = %q, want %q", k, first[k], v)
				}
			}
			for _, k := range sortedKeys(first) {
				meta, err := s.st.meta(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				start := map[bool]string{true: "0", false: "2"}[strings.Contains(k, "+0000000000.")]
				end := map[bool]string{true: "2", false: "6"}[start == "0"]
				if meta[metaSetStart] != start || meta[metaSetEnd] != end || meta[metaSetObjects] != "2" {
					t.Errorf("%s metadata %v, want set [%s,%s) of 2 objects", k, meta, start, end)
				}
			}

			// A crash interrupted the second set's upload: its keys object
			// is missing. The restarted sink resumes at offset 2 and
			// writes the set again, byte for byte.
			deleteObject(t, cl, bucket, prefix+"0000000002"+keysExt)
			s2 := openSink(t, cl, cfg)
			defer s2.Close()
			ends, err := s2.OpenPartitions(ctx, []task.TopicPartition{part})
			if err != nil {
				t.Fatal(err)
			}
			if ends[part] != 2 {
				t.Fatalf("recovered offset %d, want 2", ends[part])
			}
			mustPut(t, s2, recs[2:]...)
			if got := preCommit(t, s2, map[task.TopicPartition]int64{part: 8}); got[part] != 6 {
				t.Errorf("PreCommit after the replay = %v, want 6", got)
			}
			if got := objects(t, cl, bucket); !maps.Equal(got, first) {
				t.Errorf("objects after the replay differ:\n%v\nwant\n%v", sortedKeys(got), sortedKeys(first))
			}
		})
	}
}

// TestSideRecordErrors: a record the headers object cannot take is rejected
// before anything of it is written, so after the task drops it (the dead
// letter queue) the value and headers objects still hold the same records.
func TestSideRecordErrors(t *testing.T) {
	bucket, cl := newBucket(t)
	s := openSink(t, cl, testConfig(t, bucket, "flush.size", "2", "store.kafka.headers", "true", "headers.format.class", "json"))
	defer s.Close()
	recs := []sink.Record{row("hs", 0, 0, "eu", t0), row("hs", 0, 1, "eu", t0), row("hs", 0, 2, "eu", t0)}
	recs[0].Headers = []sink.Header{{Key: "h", Schema: event.String(), Value: "a"}}
	recs[1].Headers = []sink.Header{{Key: "h", Schema: event.String().Optional(), Value: nil}}
	recs[2].Headers = []sink.Header{{Key: "h", Schema: event.String(), Value: "c"}}
	noHeaders := row("hs", 0, 3, "eu", t0)

	for _, bad := range []sink.Record{recs[1], noHeaders} {
		err := s.Put(context.Background(), []sink.Record{bad})
		var re *sink.RecordError
		if !errors.As(err, &re) || re.Record.Offset != bad.Offset {
			t.Fatalf("Put of offset %d: %v, want its *sink.RecordError", bad.Offset, err)
		}
	}
	// The task puts the batch again without the rejected records.
	mustPut(t, s, recs[0], recs[2])
	want := map[string]string{
		"topics/hs/partition=0/hs+0+0000000000.json":         jsonLine(0, "eu", t0) + jsonLine(2, "eu", t0),
		"topics/hs/partition=0/hs+0+0000000000.headers.json": `{"headers":[{"key":"h","value":"a"}]}` + "\n" + `{"headers":[{"key":"h","value":"c"}]}` + "\n",
	}
	if got := objects(t, cl, bucket); !maps.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
}

// TestSideWriteFailure: a side object that fails to take a record its value
// object took leaves the open set out of step: the partition fails (not
// retriably) until it is reopened, nothing of the set is uploaded and
// nothing past its start is committed.
func TestSideWriteFailure(t *testing.T) {
	bucket, cl := newBucket(t)
	// bytearray keys need []byte keys.
	s := openSink(t, cl, testConfig(t, bucket, "flush.size", "2", "store.kafka.keys", "true", "keys.format.class", "bytearray"))
	defer s.Close()
	ok := row("kf", 0, 0, "eu", t0)
	ok.KeySchema, ok.Key = event.Bytes(), []byte("k0")
	bad := row("kf", 0, 1, "eu", t0)
	bad.KeySchema = event.Bytes() // the same key schema, but an int64 key
	mustPut(t, s, ok)
	for range 2 { // the task's retry fails the same way
		err := s.Put(context.Background(), []sink.Record{bad, row("kf", 0, 2, "eu", t0)})
		if !errors.Is(err, errOutOfStep) || task.IsRetriable(err) {
			t.Fatalf("Put: %v, want a non-retriable out-of-step error", err)
		}
		var re *sink.RecordError
		if errors.As(err, &re) {
			t.Fatalf("Put: %v is a record error: the task would drop the record and go on", err)
		}
	}
	part := tp("kf", 0)
	if got := preCommit(t, s, map[task.TopicPartition]int64{part: 3}); got[part] != 0 {
		t.Errorf("PreCommit = %v, want 0", got)
	}
	if got := objects(t, cl, bucket); len(got) != 0 {
		t.Errorf("objects %v uploaded from a set out of step", sortedKeys(got))
	}
	// Reopened (the task restarts from the committed offset), the
	// partition takes records again.
	if _, err := s.OpenPartitions(context.Background(), []task.TopicPartition{part}); err != nil {
		t.Fatal(err)
	}
	ok1 := row("kf", 0, 1, "eu", t0)
	ok1.KeySchema, ok1.Key = event.Bytes(), []byte("k1")
	mustPut(t, s, ok, ok1)
	want := map[string]string{
		"topics/kf/partition=0/kf+0+0000000000.json":     jsonLine(0, "eu", t0) + jsonLine(1, "eu", t0),
		"topics/kf/partition=0/kf+0+0000000000.keys.bin": "k0\nk1\n",
	}
	if got := objects(t, cl, bucket); !maps.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
}
