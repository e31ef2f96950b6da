package mysql

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluice-cdc/sluice/event"
)

// ErrBadPosition is returned (wrapped) when a stored position cannot be
// decoded: it was not written by this connector or is corrupt.
var ErrBadPosition = errors.New("invalid mysql source position")

const positionVersion = 1

// position is the decoded form of the event.Position this connector emits,
// compact JSON so an operator can read it in the offset store:
//
//	{"v":1,"gtids":"0-1-42"}
//	{"v":1,"gtids":"0-1-42","tx":"0-1-43","n":2048}
//	{"v":1,"snapshot":true,"snap":{"start":"0-1-40","tables":{"shop.orders":{"spans":[{"at":"0-1-40","to":["1024"]}]}}}}
//
// gtids is the set of transactions whose events were all emitted: a restart
// streams the binlog after it. tx and n, when present, say that the first n
// captured rows of transaction tx (the one after gtids) were emitted too, so a
// restart skips them. snapshot marks events of an unfinished initial snapshot:
// a restart resumes it after the chunks snap says are delivered (or, without
// snap, snapshots again). file and pos are informational (the binlog
// coordinates of the transaction start).
type position struct {
	V        int    `json:"v"`
	Flavor   string `json:"flavor,omitempty"`
	GTIDs    string `json:"gtids,omitempty"`
	Tx       string `json:"tx,omitempty"`
	N        int64  `json:"n,omitempty"`
	File     string `json:"file,omitempty"`
	Pos      uint32 `json:"pos,omitempty"`
	Snapshot bool   `json:"snapshot,omitempty"`
	// Snap is the snapshot's progress while it runs (with Snapshot), or
	// after a resumed snapshot the key spans whose stream changes are
	// still filtered (chunk.go).
	Snap *snapProgress `json:"snap,omitempty"`
}

func (p position) encode() event.Position {
	p.V = positionVersion
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // only strings and numbers
	}
	return event.Position(b)
}

func decodePosition(b event.Position) (position, error) {
	var p position
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("%w: %v", ErrBadPosition, err)
	}
	if p.V != positionVersion {
		return p, fmt.Errorf("%w: version %d", ErrBadPosition, p.V)
	}
	return p, nil
}
