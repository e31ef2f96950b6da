package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
)

// SourceOffset is one partition/offset pair, in Kafka Connect's JSON form:
// for sinks {"kafka_topic", "kafka_partition"} / {"kafka_offset"}.
type SourceOffset struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// ConnectorOffsets is the body of GET and PATCH /connectors/{name}/offsets.
type ConnectorOffsets struct {
	Offsets []SourceOffset `json:"offsets"`
}

// offsetKey is the OffsetStore key of a connector's source offsets.
func offsetKey(connector string) string { return "connector/" + connector }

func partitionKey(p map[string]any) string {
	b, _ := json.Marshal(p) // maps marshal with sorted keys
	return string(b)
}

func (h *Herder) loadSourceOffsets(name string) ([]SourceOffset, error) {
	if h.cfg.Offsets == nil {
		return nil, nil
	}
	b, err := h.cfg.Offsets.Load(offsetKey(name))
	if err != nil {
		return nil, fmt.Errorf("load offsets of %s: %w", name, err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	var out []SourceOffset
	if err := decodeJSON(b, &out); err != nil {
		return nil, fmt.Errorf("decode offsets of %s: %w", name, err)
	}
	return out, nil
}

// mergeSourceOffsets replaces the offsets of the given partitions (a nil
// Offset removes one) and saves the result.
func (h *Herder) mergeSourceOffsets(name string, upd []SourceOffset) ([]SourceOffset, error) {
	h.offMu.Lock()
	defer h.offMu.Unlock()
	cur, err := h.loadSourceOffsets(name)
	if err != nil {
		return nil, err
	}
	byKey := map[string]SourceOffset{}
	for _, o := range cur {
		byKey[partitionKey(o.Partition)] = o
	}
	for _, o := range upd {
		if o.Offset == nil {
			delete(byKey, partitionKey(o.Partition))
		} else {
			byKey[partitionKey(o.Partition)] = o
		}
	}
	out := make([]SourceOffset, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out, h.saveSourceOffsets(name, out)
}

func (h *Herder) saveSourceOffsets(name string, offs []SourceOffset) error {
	b, err := json.Marshal(offs)
	if err != nil {
		return fmt.Errorf("encode offsets of %s: %w", name, err)
	}
	if err := h.cfg.Offsets.Save(offsetKey(name), b); err != nil {
		return fmt.Errorf("save offsets of %s: %w", name, err)
	}
	return nil
}

// Offsets returns a connector's offsets: committed consumer offsets of its
// group for a sink, saved source offsets for a source. Allowed in any state.
func (h *Herder) Offsets(ctx context.Context, name string) (ConnectorOffsets, error) {
	c, ok := h.lookup(name)
	if !ok {
		return ConnectorOffsets{}, notFound("Connector %s not found", name)
	}
	return h.offsetsOf(ctx, name, c.plugin)
}

// offsetsOf returns the offsets of the connector name of plugin p.
func (h *Herder) offsetsOf(ctx context.Context, name string, p *Plugin) (ConnectorOffsets, error) {
	out := ConnectorOffsets{Offsets: []SourceOffset{}}
	if p.Type == SourceType {
		offs, err := h.loadSourceOffsets(name)
		if err != nil {
			return out, internal(err, "%v", err)
		}
		out.Offsets = append(out.Offsets, offs...)
		return out, nil
	}
	adm, err := h.admin()
	if err != nil {
		return out, err
	}
	resp, err := adm.FetchOffsets(ctx, GroupID(name))
	if err != nil {
		return out, internal(err, "fetch offsets of group %s: %v", GroupID(name), err)
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At < 0 {
			return
		}
		out.Offsets = append(out.Offsets, SourceOffset{
			Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": o.Partition},
			Offset:    map[string]any{"kafka_offset": o.At},
		})
	})
	sort.Slice(out.Offsets, func(i, j int) bool {
		a, b := out.Offsets[i].Partition, out.Offsets[j].Partition
		if a["kafka_topic"] != b["kafka_topic"] {
			return a["kafka_topic"].(string) < b["kafka_topic"].(string)
		}
		return a["kafka_partition"].(int32) < b["kafka_partition"].(int32)
	})
	return out, nil
}

// requireStopped returns the connector if it is STOPPED; ops held.
func (h *Herder) requireStopped(name string) (*connector, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[name]
	if !ok {
		return nil, notFound("Connector %s not found", name)
	}
	if c.target != targetStopped {
		return nil, badRequest("Connectors must be in the STOPPED state before their offsets can be modified. "+
			"This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	return c, nil
}

// AlterOffsets sets (or, with a null offset, removes) offsets of a STOPPED
// connector.
func (h *Herder) AlterOffsets(ctx context.Context, name string, req ConnectorOffsets) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	c, err := h.requireStopped(name)
	if err != nil {
		return err
	}
	return h.alterOffsets(ctx, name, c.plugin, req)
}

// alterOffsets alters the offsets of the stopped connector name of plugin
// p.
func (h *Herder) alterOffsets(ctx context.Context, name string, p *Plugin, req ConnectorOffsets) error {
	if len(req.Offsets) == 0 {
		return badRequest("Partitions / offsets need to be provided for an alter offsets request")
	}
	if p.Type == SourceType {
		for _, o := range req.Offsets {
			if o.Partition == nil {
				return badRequest("Source partitions may not be null")
			}
			if p.CheckOffset != nil {
				if err := p.CheckOffset(o.Partition, o.Offset); err != nil {
					return err
				}
			}
		}
		if _, err := h.mergeSourceOffsets(name, req.Offsets); err != nil {
			return internal(err, "%v", err)
		}
		return nil
	}
	commit := kadm.Offsets{}
	var drop []kadm.Offset
	for _, o := range req.Offsets {
		topic, tok := o.Partition["kafka_topic"].(string)
		part, perr := intOf(o.Partition["kafka_partition"])
		if !tok || perr != nil {
			return badRequest("The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'")
		}
		if o.Offset == nil {
			drop = append(drop, kadm.Offset{Topic: topic, Partition: int32(part)})
			continue
		}
		at, err := intOf(o.Offset["kafka_offset"])
		if err != nil || at < 0 {
			return badRequest("The offset for a sink connector should either be null or contain the key 'kafka_offset' with a non-negative value")
		}
		commit.Add(kadm.Offset{Topic: topic, Partition: int32(part), At: at, LeaderEpoch: -1})
	}
	adm, err := h.admin()
	if err != nil {
		return err
	}
	if len(commit) > 0 {
		if err := adm.CommitAllOffsets(ctx, GroupID(name), commit); err != nil {
			return internal(err, "commit offsets of group %s: %v", GroupID(name), err)
		}
	}
	if len(drop) > 0 {
		ts := kadm.TopicsSet{}
		for _, o := range drop {
			ts.Add(o.Topic, o.Partition)
		}
		resp, err := adm.DeleteOffsets(ctx, GroupID(name), ts)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return internal(err, "delete offsets of group %s: %v", GroupID(name), err)
		}
	}
	return nil
}

// ResetOffsets removes every offset of a STOPPED connector.
func (h *Herder) ResetOffsets(ctx context.Context, name string) error {
	h.ops.Lock()
	defer h.ops.Unlock()
	c, err := h.requireStopped(name)
	if err != nil {
		return err
	}
	return h.resetOffsets(ctx, name, c.plugin)
}

// resetOffsets removes every offset of the stopped connector name of plugin
// p.
func (h *Herder) resetOffsets(ctx context.Context, name string, p *Plugin) error {
	if p.Type == SourceType {
		h.offMu.Lock()
		defer h.offMu.Unlock()
		if err := h.saveSourceOffsets(name, []SourceOffset{}); err != nil {
			return internal(err, "%v", err)
		}
		return nil
	}
	cur, err := h.offsetsOf(ctx, name, p)
	if err != nil || len(cur.Offsets) == 0 {
		return err
	}
	ts := kadm.TopicsSet{}
	for _, o := range cur.Offsets {
		ts.Add(o.Partition["kafka_topic"].(string), o.Partition["kafka_partition"].(int32))
	}
	adm, err := h.admin()
	if err != nil {
		return err
	}
	resp, err := adm.DeleteOffsets(ctx, GroupID(name), ts)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return internal(err, "delete offsets of group %s: %v", GroupID(name), err)
	}
	return nil
}

func intOf(v any) (int64, error) {
	switch v := v.(type) {
	case json.Number:
		return v.Int64()
	case float64:
		if v != float64(int64(v)) {
			return 0, fmt.Errorf("%v is not an integer", v)
		}
		return int64(v), nil
	case int64:
		return v, nil
	case int32:
		return int64(v), nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}
