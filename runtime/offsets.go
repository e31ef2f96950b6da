package runtime

import (
	"bytes"
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

// Source offsets are stored as Kafka Connect stores them: one entry per
// source partition, keyed by the JSON array ["<connector>",{<partition>}]
// and valued by the JSON offset map (JsonConverter without schemas, as
// OffsetStorageWriter writes them); a removed partition is a nil value (a
// tombstone on the offsets topic). Two tasks of one connector therefore
// never rewrite each other's partitions. Partition maps are written with
// their keys sorted; Kafka Connect writes a Java map's iteration order, so
// a multi-key partition written by both may be two keys (reads merge them).

// sourceOffsetStore is what source offsets need from an OffsetStore:
// internal/offsets.File and the worker's offsets topic provide it.
type sourceOffsetStore interface {
	OffsetStore
	// Entries returns every key starting with prefix and its value.
	Entries(prefix string) (map[string][]byte, error)
	// SaveAll saves entries (a nil value removes the key) durably.
	SaveAll(entries map[string][]byte) error
}

// legacyOffsetKey is where Sluice kept a connector's whole offset list
// before per-partition keys; such a record is migrated when read.
func legacyOffsetKey(connector string) string { return "connector/" + connector }

// encodeJSON marshals v as Jackson does: compact, no HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// sourceOffsetKey is Kafka Connect's offset key of a connector's partition.
func sourceOffsetKey(connector string, partition map[string]any) (string, error) {
	b, err := encodeJSON([]any{connector, partition})
	if err != nil {
		return "", fmt.Errorf("encode partition %v of %s: %w", partition, connector, err)
	}
	return string(b), nil
}

// sourceOffsetPrefix starts every offset key of connector (the closing
// quote of the JSON string makes it unambiguous).
func sourceOffsetPrefix(connector string) string {
	b, _ := encodeJSON(connector)
	return "[" + string(b) + ","
}

// decodeSourceOffset parses an offset entry of connector; ok is false for
// a key of another connector or one that does not parse.
func decodeSourceOffset(connector, key string, value []byte) (SourceOffset, bool) {
	var parts []json.RawMessage
	if err := decodeJSON([]byte(key), &parts); err != nil || len(parts) != 2 {
		return SourceOffset{}, false
	}
	var name string
	if err := json.Unmarshal(parts[0], &name); err != nil || name != connector {
		return SourceOffset{}, false
	}
	var o SourceOffset
	if err := decodeJSON(parts[1], &o.Partition); err != nil {
		return SourceOffset{}, false
	}
	if err := decodeJSON(value, &o.Offset); err != nil || o.Offset == nil {
		return SourceOffset{}, false
	}
	return o, true
}

func partitionKey(p map[string]any) string {
	b, _ := json.Marshal(p) // maps marshal with sorted keys
	return string(b)
}

func (h *Herder) sourceStore() (sourceOffsetStore, error) {
	st, ok := h.cfg.Offsets.(sourceOffsetStore)
	if !ok {
		return nil, fmt.Errorf("offset store %T cannot list source partitions", h.cfg.Offsets)
	}
	return st, nil
}

// loadSourceOffsets returns the saved offsets of every source partition of
// connector name, sorted by partition.
func (h *Herder) loadSourceOffsets(name string) ([]SourceOffset, error) {
	if h.cfg.Offsets == nil {
		return nil, nil
	}
	h.offMu.Lock()
	defer h.offMu.Unlock()
	return h.sourceOffsetsLocked(name, true)
}

// sourceOffsetsLocked lists the offsets of connector name; offMu held.
// Unless fresh, a distributed worker answers from what it has read of the
// offsets topic so far (its own writes included).
func (h *Herder) sourceOffsetsLocked(name string, fresh bool) ([]SourceOffset, error) {
	st, err := h.sourceStore()
	if err != nil {
		return nil, err
	}
	var entries map[string][]byte
	if c, ok := st.(interface {
		cached(string) map[string][]byte
	}); ok && !fresh {
		entries = c.cached(sourceOffsetPrefix(name))
	} else if entries, err = st.Entries(sourceOffsetPrefix(name)); err != nil {
		return nil, fmt.Errorf("load offsets of %s: %w", name, err)
	}
	if fresh {
		migrated, err := h.migrateLegacyOffsets(st, name, entries)
		if err != nil {
			return nil, err
		}
		maps.Copy(entries, migrated)
	}
	byKey := map[string]SourceOffset{}
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		if o, ok := decodeSourceOffset(name, k, entries[k]); ok {
			byKey[partitionKey(o.Partition)] = o
		}
	}
	out := make([]SourceOffset, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out, nil
}

// migrateLegacyOffsets rewrites a connector/<name> record (the whole list)
// as per-partition entries, those already present winning, and removes it;
// it returns the entries it wrote.
func (h *Herder) migrateLegacyOffsets(st sourceOffsetStore, name string, have map[string][]byte) (map[string][]byte, error) {
	b, err := st.Load(legacyOffsetKey(name))
	if err != nil || len(b) == 0 {
		return nil, err
	}
	var legacy []SourceOffset
	if err := decodeJSON(b, &legacy); err != nil {
		return nil, fmt.Errorf("decode legacy offsets of %s: %w", name, err)
	}
	write := map[string][]byte{}
	for _, o := range legacy {
		k, err := sourceOffsetKey(name, o.Partition)
		if err != nil {
			return nil, err
		}
		if _, ok := have[k]; ok || o.Offset == nil {
			continue
		}
		if write[k], err = encodeJSON(o.Offset); err != nil {
			return nil, fmt.Errorf("encode offset of %s: %w", name, err)
		}
	}
	if len(write) > 0 {
		if err := st.SaveAll(write); err != nil {
			return nil, fmt.Errorf("migrate offsets of %s: %w", name, err)
		}
	}
	if err := st.Save(legacyOffsetKey(name), nil); err != nil {
		return nil, fmt.Errorf("migrate offsets of %s: %w", name, err)
	}
	h.log.Info("source offsets migrated to per-partition keys", "connector", name, "partitions", len(write))
	return write, nil
}

// mergeSourceOffsets saves the offsets of the given partitions (a nil
// Offset removes one) and returns every offset of the connector. Only the
// given partitions are written, so that tasks of one connector, here or on
// other workers, do not overwrite each other.
func (h *Herder) mergeSourceOffsets(name string, upd []SourceOffset) ([]SourceOffset, error) {
	st, err := h.sourceStore()
	if err != nil {
		return nil, err
	}
	write := make(map[string][]byte, len(upd))
	for _, o := range upd {
		k, err := sourceOffsetKey(name, o.Partition)
		if err != nil {
			return nil, err
		}
		write[k] = nil
		if o.Offset != nil {
			if write[k], err = encodeJSON(o.Offset); err != nil {
				return nil, fmt.Errorf("encode offset of %s: %w", name, err)
			}
		}
	}
	h.offMu.Lock()
	defer h.offMu.Unlock()
	if err := st.SaveAll(write); err != nil {
		return nil, fmt.Errorf("save offsets of %s: %w", name, err)
	}
	return h.sourceOffsetsLocked(name, false)
}

// clearSourceOffsets removes every offset of connector name.
func (h *Herder) clearSourceOffsets(name string) error {
	h.offMu.Lock()
	defer h.offMu.Unlock()
	// Reading first migrates a legacy record.
	if _, err := h.sourceOffsetsLocked(name, true); err != nil {
		return err
	}
	st, _ := h.sourceStore()
	// Every key of the connector, including duplicates of one partition in
	// another key order.
	entries, err := st.Entries(sourceOffsetPrefix(name))
	if err != nil {
		return fmt.Errorf("load offsets of %s: %w", name, err)
	}
	write := map[string][]byte{}
	for k := range entries {
		write[k] = nil
	}
	if len(write) == 0 {
		return nil
	}
	if err := st.SaveAll(write); err != nil {
		return fmt.Errorf("reset offsets of %s: %w", name, err)
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
		if err := h.clearSourceOffsets(name); err != nil {
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
