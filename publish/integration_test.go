package publish

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestKafkaIntegration runs against the real broker started by
// scripts/services.sh (auto.create.topics.enable=false, so the publisher's
// topic creation is what makes the topics exist) and reads records back with
// the kcat CLI, independent of franz-go.
func TestKafkaIntegration(t *testing.T) {
	brokers := strings.Split(testenv.Require(t, "SLUICE_KAFKA_BROKERS"), ",")
	prefix := fmt.Sprintf("sluice-it-%d-", time.Now().UnixNano())
	t.Cleanup(func() { deleteTopicsWithPrefix(t, brokers, prefix) })

	t.Run("topics", func(t *testing.T) { testTopicCreation(t, brokers, prefix) })

	t.Run("read back with kcat", func(t *testing.T) {
		kcat := testenv.RequireCommand(t, "kcat", "scripts/services.sh up kafka installs it")
		topic := prefix + "orders"
		cfg := testConfig(brokers)
		cfg.Compression = "zstd"
		cfg.Topics.Defaults = TopicSpec{Partitions: 12, ReplicationFactor: 1}
		p := newPublisher(t, cfg)
		ctx := context.Background()
		batch, wantPart := sampleBatch(t, topic, 12)
		batch[3].Headers = append(batch[3].Headers, Header{Key: "null", Value: nil})
		if err := p.Publish(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if pos, ok := p.Tracker().Committed(); !ok || pos != len(batch)-1 {
			t.Fatalf("committed %v %v, want %d", pos, ok, len(batch)-1)
		}
		got := kcatConsume(t, kcat, brokers, topic)
		checkReadBack(t, batch, got, wantPart)
		// checkReadBack compares header bytes; nil versus empty matters here.
		for _, r := range got {
			if bytes.Equal(r.Key, batch[3].Key) {
				if h := r.Headers[len(r.Headers)-1]; h.Key != "null" || h.Value != nil {
					t.Errorf("null header read back as %q=%q", h.Key, h.Value)
				}
				if h := r.Headers[1]; h.Key != "empty" || h.Value == nil {
					t.Errorf("empty header read back as %q=%v", h.Key, h.Value)
				}
			}
		}
	})

	t.Run("explicit partitions and timestamps", func(t *testing.T) {
		kcat := testenv.RequireCommand(t, "kcat", "scripts/services.sh up kafka installs it")
		testExplicitPartitions(t, brokers, prefix+"pinned", func(topic string, n int) []*kgo.Record {
			return kcatConsume(t, kcat, brokers, topic)
		})
	})

	t.Run("refused replication factor", func(t *testing.T) {
		cfg := testConfig(brokers)
		cfg.Topics.Defaults = TopicSpec{Partitions: 1, ReplicationFactor: 3} // one broker
		p := newPublisher(t, cfg)
		topic := prefix + "rf3"
		err := p.Publish(context.Background(), []Record{{Topic: topic, Value: []byte("v"), Position: 1}})
		if !errors.Is(err, kerr.InvalidReplicationFactor) {
			t.Fatalf("Publish: %v, want InvalidReplicationFactor", err)
		}
		if !strings.Contains(err.Error(), strconv.Quote(topic)) || !strings.Contains(err.Error(), "replication factor 3") {
			t.Errorf("error %q does not name the topic and the factor", err)
		}
		t.Logf("broker refusal: %v", err)
		if p.Tracker().Pending() != 0 {
			t.Fatal("records tracked although the topic could not be created")
		}
	})
}

// kcatConsume reads topic from the beginning to its end with kcat -J and
// decodes the records byte-exactly.
func kcatConsume(t *testing.T, kcat string, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", strings.Join(brokers, ","), "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat: %v: %s", err, stderr.Bytes())
	}
	var recs []*kgo.Record
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var m struct {
			Partition int32             `json:"partition"`
			Ts        int64             `json:"ts"`
			Key       json.RawMessage   `json:"key"`
			Payload   json.RawMessage   `json:"payload"`
			Headers   []json.RawMessage `json:"headers"`
		}
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("kcat line %q: %v", line, err)
		}
		r := &kgo.Record{Topic: topic, Partition: m.Partition, Timestamp: time.UnixMilli(m.Ts), Key: kcatBytes(t, m.Key), Value: kcatBytes(t, m.Payload)}
		if len(m.Headers)%2 != 0 {
			t.Fatalf("odd header list in %q", line)
		}
		for i := 0; i < len(m.Headers); i += 2 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: string(kcatBytes(t, m.Headers[i])), Value: kcatBytes(t, m.Headers[i+1])})
		}
		recs = append(recs, r)
	}
	return recs
}

// kcatBytes decodes a JSON string written by kcat back to the exact bytes:
// kcat escapes control characters, quote and backslash, and copies every
// other byte (including invalid UTF-8) verbatim, which encoding/json would
// replace with U+FFFD. null is a nil slice.
func kcatBytes(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	if raw == nil || string(raw) == "null" {
		return nil
	}
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		t.Fatalf("not a JSON string: %q", raw)
	}
	s := raw[1 : len(raw)-1]
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		i++
		if i >= len(s) {
			t.Fatalf("dangling escape in %q", raw)
		}
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(s) {
				t.Fatalf("short \\u escape in %q", raw)
			}
			v, err := strconv.ParseUint(string(s[i+1:i+5]), 16, 16)
			if err != nil || v > 0xff {
				t.Fatalf("unexpected escape \\u%s in %q", s[i+1:i+5], raw)
			}
			out = append(out, byte(v))
			i += 4
		default:
			t.Fatalf("unknown escape \\%c in %q", s[i], raw)
		}
	}
	return out
}

func deleteTopicsWithPrefix(t *testing.T, brokers []string, prefix string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Log(err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Logf("list topics for cleanup: %v", err)
		return
	}
	var names []string
	for _, name := range td.Names() {
		if strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	if _, err := adm.DeleteTopics(ctx, names...); err != nil {
		t.Logf("delete test topics: %v", err)
	}
}
