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
//
// lsn is the resume point: the end LSN of the last transaction whose events
// were all emitted (or a keepalive/heartbeat or message LSN when nothing was in
// flight); it is what Ack confirms to Postgres. tx, when present, says that
// events of a partly emitted transaction follow lsn: the transaction with this
// xid and commit LSN (BeginMessage.FinalLSN) had its events numbered 1..n
// emitted, so after a restart the stream skips those and emits n+1 onwards.
// snapshot, when present, says the initial snapshot was in progress; a restart
// resumes it after the last acked chunk of each table (see resume.go):
//
//	{"v":1,"lsn":"0/0","snapshot":{"start":"0/16B3748","tables":{"public.a":{"spans":[{"at":"0/16B3748","to":["42"]}]}}}}
type position struct {
	V        int         `json:"v"`
	LSN      lsnText     `json:"lsn"`
	Tx       *txPosition `json:"tx,omitempty"`
	Snapshot *snapPos    `json:"snapshot,omitempty"`
	// Dedup, on stream positions after a resumed snapshot, holds the key
	// ranges read after Start: changes committed before their read are
	// dropped (resume.go).
	Dedup *snapPos `json:"dedup,omitempty"`
}

type txPosition struct {
	Xid    uint32  `json:"xid"`
	Commit lsnText `json:"commit"`
	N      int64   `json:"n"`
}

// snapPos is the progress of an initial snapshot (resume.go): Start is the
// slot's consistent point the stream starts from (0 when the snapshot cannot
// resume), Tables the key ranges of each table read so far.
type snapPos struct {
	Start  lsnText               `json:"start,omitempty"`
	Tables map[string]*snapTable `json:"tables,omitempty"`
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
