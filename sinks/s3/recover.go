package s3

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/sinks/task"
)

// maxRecoverHeads bounds the objects offset recovery reads the metadata of
// per partition (each incomplete set at the end costs one).
const maxRecoverHeads = 16

// listed is one object of a partition found in the bucket.
type listed struct {
	key   string
	start int64
}

// recoverOffsets lists each topic's folder once and returns, per
// partition, the offset after its newest complete set (partitions with
// none are absent).
func (s *Sink) recoverOffsets(ctx context.Context, parts []task.TopicPartition) (map[task.TopicPartition]int64, error) {
	out := map[task.TopicPartition]int64{}
	byTopic := map[string][]int32{}
	for _, tp := range parts {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	for _, topic := range slices.Sorted(func(yield func(string) bool) {
		for t := range byTopic {
			if !yield(t) {
				return
			}
		}
	}) {
		prefix := topic + s.cfg.DirDelim
		if s.cfg.TopicsDir != "" {
			prefix = s.cfg.TopicsDir + s.cfg.DirDelim + prefix
		}
		keys, err := s.st.list(ctx, prefix)
		if err != nil {
			return nil, err
		}
		for _, p := range byTopic[topic] {
			objs := s.partitionObjects(keys, topic, p)
			end, ok, err := s.newestComplete(ctx, objs)
			if err != nil {
				return nil, err
			}
			if ok {
				out[task.TopicPartition{Topic: topic, Partition: p}] = end
			}
		}
	}
	return out, nil
}

// partitionObjects picks the objects of Kafka partition p from keys, by
// their file name <topic>+<p>+<offset><ext>, newest start first.
func (s *Sink) partitionObjects(keys []string, topic string, p int32) []listed {
	head := topic + s.cfg.FileDelim + strconv.Itoa(int(p)) + s.cfg.FileDelim
	var out []listed
	for _, k := range keys {
		name := k[strings.LastIndex(k, s.cfg.DirDelim)+len(s.cfg.DirDelim):]
		rest, ok := strings.CutPrefix(name, head)
		if !ok {
			continue
		}
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		off, err := strconv.ParseInt(rest[:n], 10, 64)
		if n == 0 || err != nil || (n < len(rest) && rest[n] != '.') {
			continue
		}
		out = append(out, listed{key: k, start: off})
	}
	slices.SortFunc(out, func(a, b listed) int {
		if a.start != b.start {
			if a.start > b.start {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

// newestComplete walks the sets from the newest: a set is complete when
// all the objects its metadata counts are there. Objects without Sluice's
// metadata end the search (another writer's; the group's offsets rule).
func (s *Sink) newestComplete(ctx context.Context, objs []listed) (int64, bool, error) {
	for i, heads := 0, 0; i < len(objs) && heads < maxRecoverHeads; heads++ {
		raw, err := s.st.meta(ctx, objs[i].key)
		if err != nil {
			return 0, false, err
		}
		meta := map[string]string{}
		for k, v := range raw {
			meta[strings.ToLower(k)] = v
		}
		start, err1 := strconv.ParseInt(meta[metaSetStart], 10, 64)
		end, err2 := strconv.ParseInt(meta[metaSetEnd], 10, 64)
		n, err3 := strconv.Atoi(meta[metaSetObjects])
		if err1 != nil || err2 != nil || err3 != nil {
			s.log.Warn("object without set metadata; offsets not recovered from the bucket", "key", objs[i].key)
			return 0, false, nil
		}
		count := 0
		for _, o := range objs {
			if o.start >= start && o.start < end {
				count++
			}
		}
		if count == n {
			return end, true, nil
		}
		s.log.Info("incomplete set in the bucket; it is written again", "key", objs[i].key, "offset", start,
			"objects", count, "of", n)
		for i < len(objs) && objs[i].start >= start {
			i++
		}
	}
	return 0, false, nil
}
