package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestParseConfig(t *testing.T) {
	base := map[string]string{"name": "jdbc", "topics": " a, b ,", "key.converter": "string", "value.converter": "json"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<del>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name  string
		cfg   map[string]string
		check func(Config) bool
		err   string
	}{
		{"defaults", base, func(c Config) bool {
			return reflect.DeepEqual(c.Topics, []string{"a", "b"}) && c.Errors == DefaultErrors() &&
				c.MaxPollRecords == DefaultMaxPollRecords && c.ValueConverter.Class == "json"
		}, ""},
		{"errors keys", with("errors.tolerance", "ALL", "errors.retry.timeout", "-1", "errors.retry.delay.max.ms", "1500",
			"errors.log.enable", "true", "errors.log.include.messages", "true", "errors.deadletterqueue.topic.name", "dlq",
			"errors.deadletterqueue.topic.replication.factor", "1", "errors.deadletterqueue.context.headers.enable", "true"),
			func(c Config) bool {
				return c.Errors == ErrorsConfig{Tolerance: ToleranceAll, RetryTimeout: -1, RetryDelayMax: 1500 * time.Millisecond,
					LogEnable: true, LogIncludeMessages: true, DLQTopic: "dlq", DLQReplicationFactor: 1, DLQContextHeaders: true}
			}, ""},
		{"converter sub-keys", with("value.converter.schemas.enable", "false", "value.converter.schema.registry.url", "http://r"),
			func(c Config) bool {
				return reflect.DeepEqual(c.ValueConverter.Props, map[string]string{"schemas.enable": "false", "schema.registry.url": "http://r"})
			}, ""},
		{"regex", with("topics", "<del>", "topics.regex", "db\\..*"), func(c Config) bool { return c.TopicsRegex == "db\\..*" && c.Topics == nil }, ""},
		{"max poll", with("consumer.override.max.poll.records", "7"), func(c Config) bool { return c.MaxPollRecords == 7 }, ""},
		{"bad tolerance", with("errors.tolerance", "some"), nil, `errors.tolerance: "some" is not none or all`},
		{"bad timeout", with("errors.retry.timeout", "soon"), nil, `errors.retry.timeout: "soon" is not a number of milliseconds`},
		{"no topics", with("topics", "<del>"), nil, "must configure one of topics or topics.regex"},
		{"both topics", with("topics.regex", "x"), nil, "mutually exclusive"},
		{"bad regex", with("topics", "<del>", "topics.regex", "("), nil, "topics.regex: error parsing regexp"},
		{"no key converter", with("key.converter", "<del>"), nil, "key.converter: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

func TestIsRetriable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("x"), false},
		{Retriable(errors.New("x")), true},
		{fmt.Errorf("wrapped: %w", Retriable(errors.New("x"))), true},
		{errors.Join(errors.New("a"), Retriable(errors.New("b"))), true},
		{&net.OpError{Op: "dial", Err: timeoutErr{}}, true},
		{fmt.Errorf("commit: %w", kerr.NotCoordinator), true},
		{kerr.InvalidTopicException, false},
		{context.DeadlineExceeded, true},
		{nil, false},
	}
	for _, tt := range tests {
		if got := IsRetriable(tt.err); got != tt.want {
			t.Errorf("IsRetriable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string { return "i/o timeout" }
func (timeoutErr) Timeout() bool { return true }

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for a := 1; a <= 6; a++ {
		got = append(got, backoff(a, 2*time.Second))
	}
	want := []time.Duration{300 * time.Millisecond, 600 * time.Millisecond, 1200 * time.Millisecond, 2 * time.Second, 2 * time.Second, 2 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("backoff %v, want %v", got, want)
	}
	if d := backoff(1, 100*time.Millisecond); d != 100*time.Millisecond {
		t.Fatalf("backoff under a small cap = %v", d)
	}
}

// retry stops at a non-retriable error, gives up with timeout 0, and
// retries until success otherwise.
func TestRetry(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	fast := ErrorsConfig{RetryTimeout: -1, RetryDelayMax: time.Millisecond}
	calls := 0
	err := retry(ctx, fast, log, "op", func() error {
		calls++
		if calls < 4 {
			return Retriable(errors.New("again"))
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("retry = %v after %d calls", err, calls)
	}
	calls = 0
	perm := errors.New("permanent")
	if err := retry(ctx, fast, log, "op", func() error { calls++; return perm }); err != perm || calls != 1 {
		t.Fatalf("permanent: %v after %d calls", err, calls)
	}
	calls = 0
	if err := retry(ctx, ErrorsConfig{}, log, "op", func() error { calls++; return Retriable(perm) }); !errors.Is(err, perm) || calls != 1 {
		t.Fatalf("timeout 0: %v after %d calls", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	calls = 0
	err = retry(cctx, fast, log, "op", func() error {
		calls++
		if calls == 3 {
			cancel()
		}
		return Retriable(perm)
	})
	if !errors.Is(err, perm) || calls != 3 {
		t.Fatalf("cancelled: %v after %d calls", err, calls)
	}
}

// TestParseConfigGroupTiming reads the consumer's group timing overrides.
func TestParseConfigGroupTiming(t *testing.T) {
	conv := "org.apache.kafka.connect.json.JsonConverter"
	c, err := ParseConfig(map[string]string{"name": "s", "topics": "t", "key.converter": conv, "value.converter": conv,
		"consumer.override.session.timeout.ms": "6000", "consumer.override.heartbeat.interval.ms": "1000"})
	if err != nil || c.SessionTimeout != 6*time.Second || c.HeartbeatInterval != time.Second {
		t.Errorf("ParseConfig = %v, %v; want 6s session, 1s heartbeat", c, err)
	}
	if _, err := ParseConfig(map[string]string{"name": "s", "topics": "t", "key.converter": conv, "value.converter": conv,
		"consumer.override.session.timeout.ms": "soon"}); err == nil ||
		!strings.Contains(err.Error(), "consumer.override.session.timeout.ms") {
		t.Errorf("bad session timeout: %v, want an error naming the key", err)
	}
}
