package publish

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicSpecResolve(t *testing.T) {
	cfg := TopicsConfig{
		Defaults: TopicSpec{Partitions: 3, ReplicationFactor: -1, Configs: map[string]string{"cleanup.policy": "delete", "retention.ms": "1000"}},
		Overrides: map[string]TopicSpec{
			"db.public.orders":   {Partitions: 12, Configs: map[string]string{"cleanup.policy": "compact"}},
			"/db\\.public\\..*/": {ReplicationFactor: 3},
			"/db\\..*/":          {Partitions: 6}, // sorts before the one above: wins for db.public.x
			"/schema-changes/":   {Configs: map[string]string{"retention.ms": "-1"}},
		},
	}
	tests := []struct {
		topic string
		want  TopicSpec
	}{
		{"other", TopicSpec{3, -1, map[string]string{"cleanup.policy": "delete", "retention.ms": "1000"}}},
		{"db.public.orders", TopicSpec{12, -1, map[string]string{"cleanup.policy": "compact", "retention.ms": "1000"}}},
		{"db.public.items", TopicSpec{6, -1, map[string]string{"cleanup.policy": "delete", "retention.ms": "1000"}}},
		{"schema-changes", TopicSpec{3, -1, map[string]string{"cleanup.policy": "delete", "retention.ms": "-1"}}},
		{"x.schema-changes", TopicSpec{3, -1, map[string]string{"cleanup.policy": "delete", "retention.ms": "1000"}}}, // anchored
	}
	specs, err := newTopicSpecs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got := specs.resolve(tt.topic)
		if got.Partitions != tt.want.Partitions || got.ReplicationFactor != tt.want.ReplicationFactor || !maps.Equal(got.Configs, tt.want.Configs) {
			t.Errorf("%s: got %+v, want %+v", tt.topic, got, tt.want)
		}
	}
	// Resolving must not modify the defaults.
	if cfg.Defaults.Configs["cleanup.policy"] != "delete" || cfg.Defaults.Configs["retention.ms"] != "1000" {
		t.Fatalf("defaults modified: %v", cfg.Defaults.Configs)
	}
	if _, err := newTopicSpecs(TopicsConfig{Overrides: map[string]TopicSpec{"/(/": {}}}); err == nil {
		t.Fatal("bad regular expression accepted")
	}
}

// describeTopic returns partitions and the non-default configs of topic.
func describeTopic(t *testing.T, adm *kadm.Client, topic string) (int, map[string]string) {
	t.Helper()
	ctx := context.Background()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil || td.Error() != nil {
		t.Fatalf("list %s: %v %v", topic, err, td.Error())
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe %s: %v %v", topic, err, rc.Err)
	}
	configs := map[string]string{}
	for _, c := range rc.Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
			configs[c.Key] = *c.Value
		}
	}
	return len(td[topic].Partitions), configs
}

// testTopicCreation runs the topic creation checks against brokers; prefix
// keeps topic names unique on a shared broker.
func testTopicCreation(t *testing.T, brokers []string, prefix string) {
	ctx := context.Background()
	cfg := testConfig(brokers)
	cfg.Topics.Defaults = TopicSpec{Partitions: 2, ReplicationFactor: 1, Configs: map[string]string{"cleanup.policy": "compact"}}
	cfg.Topics.Overrides = map[string]TopicSpec{
		"/" + prefix + `big\..*/`: {Partitions: 5, Configs: map[string]string{"retention.ms": "3600000"}},
		prefix + "delete":         {Configs: map[string]string{"cleanup.policy": "delete"}},
	}
	p := newPublisher(t, cfg)
	adm := kadm.NewClient(mustClient(t, brokers))

	// An existing topic is left as it is.
	existing := prefix + "existing"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, existing); err != nil {
		t.Fatal(err)
	}
	topics := []string{prefix + "plain", prefix + "big.one", prefix + "delete", existing}
	var batch []Record
	for i, tp := range topics {
		batch = append(batch, Record{Topic: tp, Key: []byte("k"), Value: []byte("v"), Position: i})
	}
	if err := p.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		parts   int
		configs map[string]string
	}{
		prefix + "plain":   {2, map[string]string{"cleanup.policy": "compact"}},
		prefix + "big.one": {5, map[string]string{"cleanup.policy": "compact", "retention.ms": "3600000"}},
		prefix + "delete":  {2, map[string]string{"cleanup.policy": "delete"}},
		existing:           {1, map[string]string{}},
	}
	for tp, w := range want {
		parts, configs := describeTopic(t, adm, tp)
		if parts != w.parts || !maps.Equal(configs, w.configs) {
			t.Errorf("%s: %d partitions %v, want %d %v", tp, parts, configs, w.parts, w.configs)
		}
	}
	if pos, _ := p.Tracker().Committed(); pos != len(topics)-1 {
		t.Errorf("committed %v, want %d", pos, len(topics)-1)
	}
}

func TestTopicCreationFake(t *testing.T) {
	c := newCluster(t)
	testTopicCreation(t, c.ListenAddrs(), "")
}

// TestTopicCreationRefused: the broker's refusal is returned with the topic
// name and the broker's message, before any record is tracked, and the
// publisher stays usable.
func TestTopicCreationRefused(t *testing.T) {
	c := newCluster(t)
	c.ControlKey(int16(kmsg.CreateTopics), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.CreateTopicsRequest)
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			st.ErrorCode = kerr.PolicyViolation.Code
			msg := "topic names must not contain 'forbidden'"
			st.ErrorMessage = &msg
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	p := newPublisher(t, testConfig(c.ListenAddrs()))
	ctx := context.Background()
	err := p.Publish(ctx, []Record{{Topic: "forbidden.topic", Value: []byte("v"), Position: 1}})
	if !errors.Is(err, kerr.PolicyViolation) {
		t.Fatalf("Publish: %v, want PolicyViolation", err)
	}
	for _, want := range []string{`"forbidden.topic"`, "must not contain 'forbidden'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if p.Tracker().Pending() != 0 || p.Err() != nil {
		t.Fatalf("refused creation tracked records (%d) or failed the publisher (%v)", p.Tracker().Pending(), p.Err())
	}
	// The control function was used up: a retry creates the topic.
	if err := p.Publish(ctx, []Record{{Topic: "forbidden.topic", Value: []byte("v"), Position: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTopicsConfigValidateRegex(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Topics.Overrides = map[string]TopicSpec{"/a(b/": {}, "/ok.*/": {}, "plain(": {}}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "topics.overrides./a(b/") {
		t.Fatalf("Validate: %v, want a problem at topics.overrides./a(b/", err)
	}
	if strings.Contains(err.Error(), "ok.*") || strings.Contains(err.Error(), "plain(") {
		t.Fatalf("Validate flagged a valid key: %v", err)
	}
}
