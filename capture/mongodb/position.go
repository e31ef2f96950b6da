package mongodb

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-cdc/sluice/event"
)

// ErrBadPosition is returned (wrapped) when a stored position cannot be
// decoded: it was not written by this connector or is corrupt.
var ErrBadPosition = errors.New("invalid mongodb source position")

const positionVersion = 1

// position is the decoded form of the event.Position this connector emits,
// compact JSON so an operator can read it in the offset store:
//
//	{"v":1,"start":{"t":1716900000,"i":3},"tokens":{"inventory.customers":"<base64 BSON>"}}
//	{"v":1,"start":{"t":1716900000,"i":3},"snapshot":{"done":["inventory.orders"]}}
//
// start is the cluster time taken before the snapshot: a collection's change
// stream starts there (startAtOperationTime, inclusive) until it has a
// resume token. tokens holds, per collection (db.collection), the resume
// token (the change event's _id document, as BSON) of the last event handed
// on; a restart resumes after it (resumeAfter). snapshot, when present, says
// the initial snapshot was under way and lists the collections completely
// read: a restart reads the others again from their start.
type position struct {
	V      int               `json:"v"`
	Start  clusterTime       `json:"start"`
	Tokens map[string]string `json:"tokens,omitempty"`
	// Starts holds, for collections found while streaming, the cluster
	// time their stream starts from (instead of start) until they have a
	// token.
	Starts   map[string]clusterTime `json:"starts,omitempty"`
	Snapshot *snapshotState         `json:"snapshot,omitempty"`
	// Token is the resume token of the one change stream that watches the
	// whole capture scope (see scopeStream), used instead of Tokens when
	// the server supports such streams.
	Token string `json:"token,omitempty"`
	// Tx is the transaction open at this position
	// (provide.transaction.metadata, txmeta.go).
	Tx *txState `json:"tx,omitempty"`
}

type clusterTime struct {
	T uint32 `json:"t"`
	I uint32 `json:"i"`
}

// next returns the least cluster time after c.
func (c clusterTime) next() clusterTime {
	if c.I == ^uint32(0) {
		return clusterTime{T: c.T + 1}
	}
	return clusterTime{T: c.T, I: c.I + 1}
}

func (c clusterTime) timestamp() *bson.Timestamp { return &bson.Timestamp{T: c.T, I: c.I} }

type snapshotState struct {
	Done []string `json:"done,omitempty"`
}

func (p position) clone() position {
	q := p
	if p.Tokens != nil {
		q.Tokens = make(map[string]string, len(p.Tokens))
		for k, v := range p.Tokens {
			q.Tokens[k] = v
		}
	}
	if p.Starts != nil {
		q.Starts = make(map[string]clusterTime, len(p.Starts))
		for k, v := range p.Starts {
			q.Starts[k] = v
		}
	}
	if p.Snapshot != nil {
		q.Snapshot = &snapshotState{Done: slices.Clone(p.Snapshot.Done)}
	}
	q.Tx = p.Tx.clone()
	return q
}

// startOf returns the cluster time the stream of ns starts from when it
// has no token.
func (p position) startOf(ns string) clusterTime {
	if t, ok := p.Starts[ns]; ok {
		return t
	}
	return p.Start
}

func (p *position) setStart(ns string, t clusterTime) {
	if p.Starts == nil {
		p.Starts = map[string]clusterTime{}
	}
	p.Starts[ns] = t
}

// encode returns the opaque event.Position for p.
func (p position) encode() event.Position {
	p.V = positionVersion
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("mongodb: encode position: %v", err)) // only plain fields
	}
	return b
}

// token returns the stored resume token of collection ns, nil if none.
func (p position) token(ns string) (bson.Raw, error) {
	s, ok := p.Tokens[ns]
	if !ok {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: resume token of %s: %v", ErrBadPosition, ns, err)
	}
	if err := bson.Raw(b).Validate(); err != nil {
		return nil, fmt.Errorf("%w: resume token of %s: %v", ErrBadPosition, ns, err)
	}
	return b, nil
}

func (p *position) setToken(ns string, tok bson.Raw) {
	if p.Tokens == nil {
		p.Tokens = map[string]string{}
	}
	p.Tokens[ns] = base64.StdEncoding.EncodeToString(tok)
}

// scopeToken returns the resume token of the scope-wide change stream, nil
// if none.
func (p position) scopeToken() (bson.Raw, error) {
	if p.Token == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(p.Token)
	if err == nil {
		err = bson.Raw(b).Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: resume token: %v", ErrBadPosition, err)
	}
	return b, nil
}

// perCollection reports whether p was written by per-collection change
// streams (it has per-collection tokens or start times).
func (p position) perCollection() bool { return len(p.Tokens) > 0 || len(p.Starts) > 0 }

// decodePosition parses a position written by encode.
func decodePosition(b event.Position) (position, error) {
	var p position
	if len(b) == 0 {
		return p, fmt.Errorf("%w: empty", ErrBadPosition)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%w: %v", ErrBadPosition, err)
	}
	if p.V != positionVersion {
		return p, fmt.Errorf("%w: unsupported format version %d (want %d)", ErrBadPosition, p.V, positionVersion)
	}
	for ns := range p.Tokens {
		if _, err := p.token(ns); err != nil {
			return p, err
		}
	}
	if _, err := p.scopeToken(); err != nil {
		return p, err
	}
	return p, nil
}
