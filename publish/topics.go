package publish

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topicSpecs resolves the TopicSpec for a topic name: Defaults merged with
// the exact-name override if there is one, else with the first regular
// expression override (in key order) that matches the whole name.
type topicSpecs struct {
	defaults TopicSpec
	exact    map[string]TopicSpec
	patterns []topicPattern
}

type topicPattern struct {
	re   *regexp.Regexp
	spec TopicSpec
}

// isPattern reports whether an override key is a /regular expression/.
func isPattern(key string) bool {
	return len(key) >= 2 && strings.HasPrefix(key, "/") && strings.HasSuffix(key, "/")
}

// compilePattern compiles an override key written /re/, anchored so that it
// must match the whole topic name.
func compilePattern(key string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + key[1:len(key)-1] + `)$`)
}

func newTopicSpecs(c TopicsConfig) (*topicSpecs, error) {
	s := &topicSpecs{defaults: c.Defaults, exact: make(map[string]TopicSpec)}
	for _, key := range slices.Sorted(maps.Keys(c.Overrides)) {
		spec := c.Overrides[key]
		if !isPattern(key) {
			s.exact[key] = spec
			continue
		}
		re, err := compilePattern(key)
		if err != nil {
			return nil, fmt.Errorf("topics.overrides.%s: %w", key, err)
		}
		s.patterns = append(s.patterns, topicPattern{re, spec})
	}
	return s, nil
}

// resolve returns the spec to create topic with.
func (s *topicSpecs) resolve(topic string) TopicSpec {
	over, ok := s.exact[topic]
	if !ok {
		for _, p := range s.patterns {
			if p.re.MatchString(topic) {
				over, ok = p.spec, true
				break
			}
		}
	}
	out := TopicSpec{
		Partitions:        s.defaults.Partitions,
		ReplicationFactor: s.defaults.ReplicationFactor,
		Configs:           maps.Clone(s.defaults.Configs),
	}
	if !ok {
		return out
	}
	if over.Partitions != 0 {
		out.Partitions = over.Partitions
	}
	if over.ReplicationFactor != 0 {
		out.ReplicationFactor = over.ReplicationFactor
	}
	if len(over.Configs) > 0 && out.Configs == nil {
		out.Configs = make(map[string]string, len(over.Configs))
	}
	maps.Copy(out.Configs, over.Configs)
	return out
}

// topicCreator creates topics once and remembers the ones known to exist.
type topicCreator struct {
	adm   *kadm.Client
	specs *topicSpecs
	auto  bool

	mu    sync.Mutex
	known map[string]struct{}
}

// ensure makes sure every topic in batch exists, creating the missing ones.
func (c *topicCreator) ensure(ctx context.Context, batch []Record) error {
	if !c.auto {
		return nil
	}
	var missing []string
	last := ""
	c.mu.Lock()
	for i := range batch {
		t := batch[i].Topic
		if t == last {
			continue
		}
		last = t
		if _, ok := c.known[t]; !ok && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	c.mu.Unlock()
	for _, t := range missing {
		if err := c.create(ctx, t); err != nil {
			return err
		}
		c.mu.Lock()
		c.known[t] = struct{}{}
		c.mu.Unlock()
	}
	return nil
}

// create creates topic from its resolved spec; a topic that already exists
// is left as it is.
func (c *topicCreator) create(ctx context.Context, topic string) error {
	if topic == "" {
		return errors.New("create topic: empty topic name")
	}
	spec := c.specs.resolve(topic)
	partitions := spec.Partitions
	if partitions == 0 {
		partitions = -1 // broker default
	}
	rf := spec.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	var configs map[string]*string
	if len(spec.Configs) > 0 {
		configs = make(map[string]*string, len(spec.Configs))
		for k, v := range spec.Configs {
			configs[k] = &v
		}
	}
	resp, err := c.adm.CreateTopic(ctx, partitions, rf, configs, topic)
	if err == nil {
		return nil
	}
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return nil
	}
	if resp.ErrMessage != "" {
		return fmt.Errorf("create topic %q (partitions %d, replication factor %d): %w (broker: %s)",
			topic, partitions, rf, err, resp.ErrMessage)
	}
	return fmt.Errorf("create topic %q (partitions %d, replication factor %d): %w", topic, partitions, rf, err)
}
