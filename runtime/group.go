package runtime

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// protocolName is the group protocol of distributed workers. The group's
// protocol type is kgo's "consumer" (kgo sets it), so a worker group id must
// not be used by a consumer group.
const protocolName = "sluice-connect-v1"

// memberMeta is what a worker tells the leader when it joins: where its REST
// API is, how far it has read the config topic, and the work it still owns
// (assigned, or assigned before and not yet stopped).
type memberMeta struct {
	URL          string   `json:"url"`
	ConfigOffset int64    `json:"config_offset"`
	Owned        []string `json:"owned"`
}

// assignment is what the leader gives one member: the work it owns from
// now on, and the leader's URL for forwarding REST writes.
type assignment struct {
	Leader       string   `json:"leader"`
	LeaderURL    string   `json:"leader_url"`
	ConfigOffset int64    `json:"config_offset"`
	Work         []string `json:"work"`
	// Revoked counts the units taken from members this round and left
	// unassigned until they are stopped (incremental cooperative
	// rebalancing); the leader then rebalances again.
	Revoked int `json:"revoked"`
}

// A unit of work is a connector ("c:name") or a task ("t:name:id"); the
// colon cannot be in a connector name given to a unit, because the id is
// cut from the last colon.
func connectorUnit(name string) string    { return "c:" + name }
func taskUnit(name string, id int) string { return "t:" + name + ":" + strconv.Itoa(id) }

// parseUnit returns the connector name and the task id (-1 for a
// connector).
func parseUnit(u string) (name string, id int, ok bool) {
	if n, found := strings.CutPrefix(u, "c:"); found {
		return n, -1, true
	}
	rest, found := strings.CutPrefix(u, "t:")
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", 0, false
	}
	id, err := strconv.Atoi(rest[i+1:])
	if err != nil || id < 0 {
		return "", 0, false
	}
	return rest[:i], id, true
}

// balance assigns units to members. Members keep the units they own (in
// the work set) up to their fair share; units above it are revoked; units
// nobody owns go to the least loaded members. Connectors and tasks are
// balanced separately, as Kafka Connect does. Members are given in a
// stable order; the result is deterministic.
func balance(members []string, owned map[string][]string, work []string) (assigned map[string][]string, revoked int) {
	assigned = make(map[string][]string, len(members))
	if len(members) == 0 {
		return assigned, 0
	}
	var conns, tasks []string
	for _, u := range work {
		if strings.HasPrefix(u, "c:") {
			conns = append(conns, u)
		} else {
			tasks = append(tasks, u)
		}
	}
	for _, set := range [][]string{conns, tasks} {
		r := balanceSet(members, owned, set, assigned)
		revoked += r
	}
	for m := range assigned {
		slices.Sort(assigned[m])
	}
	return assigned, revoked
}

func balanceSet(members []string, owned map[string][]string, work []string, out map[string][]string) (revoked int) {
	inWork := make(map[string]bool, len(work))
	for _, u := range work {
		inWork[u] = true
	}
	claimed := map[string]bool{}
	keep := make(map[string][]string, len(members))
	for _, m := range members {
		for _, u := range owned[m] {
			if inWork[u] && !claimed[u] {
				claimed[u] = true
				keep[m] = append(keep[m], u)
			}
		}
		slices.Sort(keep[m])
	}
	// Fair shares: the most loaded members get the larger share, so that
	// as little as possible moves.
	base, extra := len(work)/len(members), len(work)%len(members)
	order := slices.Clone(members)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(len(keep[b]), len(keep[a])) })
	share := make(map[string]int, len(members))
	for i, m := range order {
		share[m] = base
		if i < extra {
			share[m]++
		}
	}
	// Units above a member's share are revoked: in no member's list this
	// round.
	for _, m := range members {
		if n := len(keep[m]); n > share[m] {
			revoked += n - share[m]
			keep[m] = keep[m][:share[m]]
		}
	}
	for _, u := range work {
		if claimed[u] {
			continue
		}
		// Least loaded member below its share; the first in order on ties.
		best := ""
		for _, m := range members {
			if len(keep[m]) < share[m] && (best == "" || len(keep[m]) < len(keep[best])) {
				best = m
			}
		}
		if best == "" {
			best = members[0]
		}
		keep[best] = append(keep[best], u)
	}
	for _, m := range members {
		out[m] = append(out[m], keep[m]...)
	}
	return revoked
}

// groupBalancer is the kgo.GroupBalancer of a distributed worker: member
// metadata and assignments are JSON (memberMeta, assignment) rather than
// Kafka's consumer protocol; no topic partition is ever assigned.
type groupBalancer struct{ w *Worker }

var _ kgo.GroupBalancer = groupBalancer{}

func (b groupBalancer) ProtocolName() string { return protocolName }
func (b groupBalancer) IsCooperative() bool  { return false }

// Metadata and assignments travel as the UserData of Kafka's consumer
// protocol structures: Kafka 4's group coordinator parses the metadata of
// every classic group of protocol type "consumer".

func (b groupBalancer) JoinGroupMetadata(topics []string, _ map[string][]int32, generation int32) []byte {
	user, _ := json.Marshal(b.w.memberMeta())
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 0
	meta.Topics = topics
	meta.UserData = user
	meta.Generation = generation
	return meta.AppendTo(nil)
}

func (b groupBalancer) ParseSyncAssignment(data []byte) (map[string][]int32, error) {
	ka := kmsg.NewConsumerMemberAssignment()
	if err := ka.ReadFrom(data); err != nil {
		return nil, fmt.Errorf("decode worker assignment: %w", err)
	}
	var a assignment
	if err := json.Unmarshal(ka.UserData, &a); err != nil {
		return nil, fmt.Errorf("decode worker assignment: %w", err)
	}
	b.w.assigned(a)
	return map[string][]int32{}, nil
}

func (b groupBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	metas := make(map[string]memberMeta, len(members))
	ids := make([]string, len(members))
	for i, m := range members {
		km := kmsg.NewConsumerMemberMetadata()
		if err := km.ReadFrom(m.ProtocolMetadata); err != nil {
			return nil, nil, fmt.Errorf("decode metadata of member %s: %w", m.MemberID, err)
		}
		var meta memberMeta
		if err := json.Unmarshal(km.UserData, &meta); err != nil {
			return nil, nil, fmt.Errorf("decode metadata of member %s: %w", m.MemberID, err)
		}
		ids[i] = m.MemberID
		metas[m.MemberID] = meta
	}
	return &memberBalancer{w: b.w, ids: ids, metas: metas}, map[string]struct{}{}, nil
}

type memberBalancer struct {
	w      *Worker
	ids    []string
	metas  map[string]memberMeta
	leader string
}

func (m *memberBalancer) SetBalanceInfo(info kgo.BalanceInfo) { m.leader = info.LeaderID }

func (m *memberBalancer) Balance(map[string]int32) kgo.IntoSyncAssignment {
	a, _ := m.BalanceOrError(nil)
	return a
}

func (m *memberBalancer) BalanceOrError(map[string]int32) (kgo.IntoSyncAssignment, error) {
	work, offset, err := m.w.workSet()
	if err != nil {
		return nil, err
	}
	owned := make(map[string][]string, len(m.ids))
	for _, id := range m.ids {
		owned[id] = m.metas[id].Owned
	}
	plan, revoked := balance(m.ids, owned, work)
	leaderURL := m.metas[m.leader].URL
	out := make(syncAssignment, 0, len(m.ids))
	for _, id := range m.ids {
		user, err := json.Marshal(assignment{Leader: m.leader, LeaderURL: leaderURL, ConfigOffset: offset,
			Work: append([]string{}, plan[id]...), Revoked: revoked})
		if err != nil {
			return nil, err
		}
		ka := kmsg.NewConsumerMemberAssignment()
		ka.UserData = user
		out = append(out, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: ka.AppendTo(nil)})
	}
	m.w.log.Info("balanced workers", "members", len(m.ids), "units", len(work), "revoked", revoked)
	return out, nil
}

type syncAssignment []kmsg.SyncGroupRequestGroupAssignment

func (s syncAssignment) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return s }
