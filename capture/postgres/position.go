package postgres

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-cdc/sluice/event"
)

// ErrBadPosition is returned (wrapped) when a stored position cannot be
// decoded: it was not written by this connector or is corrupt.
var ErrBadPosition = errors.New("invalid postgres source position")

// positionVersion is the format version written in every position.
const positionVersion = 1

// position is the decoded form of the event.Position this connector emits.
// It is stored as compact JSON so an operator can read it in the offset store:
//
//	{"v":1,"lsn":"0/16B3748"}
//	{"v":1,"lsn":"0/16B3748","tx":{"xid":771,"commit":"0/16B5A10","n":2048}}
//	{"v":1,"lsn":"0/16B3748","snapshot":{"tables":{"public.a":["42"]}}}
//
// lsn is the resume point: the end LSN of the last transaction whose events
// were all emitted (or a keepalive/heartbeat or message LSN when nothing was in
// flight); it is what Ack confirms to Postgres. tx, when present, says that
// events of a partly emitted transaction follow lsn: the transaction with this
// xid and commit LSN (BeginMessage.FinalLSN) had its events numbered 1..n
// emitted, so after a restart the stream skips those and emits n+1 onwards.
// snapshot, when present, says the initial snapshot was in progress; a restart
// redoes it (tables holds, per table, the last primary key read, reserved for
// resuming a snapshot by chunk).
type position struct {
	V        int         `json:"v"`
	LSN      lsnText     `json:"lsn"`
	Tx       *txPosition `json:"tx,omitempty"`
	Snapshot *snapPos    `json:"snapshot,omitempty"`
}

type txPosition struct {
	Xid    uint32  `json:"xid"`
	Commit lsnText `json:"commit"`
	N      int64   `json:"n"`
}

type snapPos struct {
	// Tables maps "schema.table" to the text values of the last primary key
	// emitted; empty until resumable snapshots exist.
	Tables map[string][]string `json:"tables,omitempty"`
}

// lsnText is an LSN stored in Postgres' text form ("16/B374D848").
type lsnText uint64

func (l lsnText) MarshalText() ([]byte, error) {
	return []byte(pglogrepl.LSN(l).String()), nil
}

func (l *lsnText) UnmarshalText(b []byte) error {
	v, err := pglogrepl.ParseLSN(string(b))
	if err != nil {
		return err
	}
	*l = lsnText(v)
	return nil
}

// encode returns the opaque event.Position for p.
func (p position) encode() event.Position {
	p.V = positionVersion
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("postgres: encode position: %v", err)) // only plain fields
	}
	return b
}

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
	if p.Tx != nil && (p.Tx.N < 0 || p.Tx.Commit == 0) {
		return p, fmt.Errorf("%w: bad transaction part in %s", ErrBadPosition, b)
	}
	return p, nil
}

// after reports whether p is strictly further in the log than q (used to keep
// acks monotonic).
func (p position) after(q position) bool {
	if p.LSN != q.LSN {
		return p.LSN > q.LSN
	}
	switch {
	case p.Tx == nil && q.Tx == nil:
		return false
	case p.Tx == nil:
		// A completed position at the same LSN... cannot happen after a
		// partial one at the same resume LSN unless the tx finished, which
		// moves LSN. Treat as not after.
		return false
	case q.Tx == nil:
		return true
	case p.Tx.Commit != q.Tx.Commit:
		return p.Tx.Commit > q.Tx.Commit
	default:
		return p.Tx.N > q.Tx.N
	}
}
