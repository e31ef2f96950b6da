package postgres

// Resuming an interrupted initial snapshot after a crash (DBLog-style
// watermarks).
//
// # The problem
//
// The first run creates slot S with an exported snapshot at its consistent
// point L1 and reads every table at L1, chunk by chunk, streaming nothing
// until the snapshot is done (S stays confirmed at L1). When the process
// dies, the exported snapshot dies with it: the rest of the tables can only
// be read in a newer snapshot, and S's stream from L1 would then show rows
// changed between L1 and that snapshot twice, the newer version (read) first.
//
// # The fix
//
// Every snapshot batch carries, per table, the key ranges already emitted
// and the LSN each was read at ("spans", see snapTable). A restart with S
// still confirmed at L1 takes a NEW snapshot at an exactly known LSN L2: a
// TEMPORARY logical slot created with EXPORT_SNAPSHOT on its own replication
// connection (its consistent point is L2: transactions whose commit record
// precedes L2 are in the snapshot, the others are decoded by slots). It reads
// only what is left (rows after the last acked key of partly read tables, all
// of tables not started), closes that connection (dropping the temporary
// slot), and streams S from L1 with a filter: a change of a row whose key
// lies in a span read at Lk is emitted iff its transaction's commit LSN
// (BeginMessage.FinalLSN) is >= Lk. Spans read at L1 thus get every change,
// spans read at L2 only the changes their read did not see. Per key the
// output is then the read at Lk followed by exactly the changes after Lk:
// versions never go backwards and none is lost. A crash during the resumed
// read repeats the step at L3 and adds spans; the position keeps one span
// per table and read, never row lists. Once the stream passes the newest
// span's LSN the filter is gone (positions stop carrying it).
//
// # Key order
//
// "Is key k <= the span's last key" must agree with Postgres' row comparison
// (the snapshot pages with WHERE (k1, k2) > ($1, $2) ORDER BY k1, k2). It is
// computed in Go from the text values, exactly, for int2/int4/int8/oid,
// numeric (NaN and infinities included), uuid, bool, date, timestamp and
// timestamptz (ISO DateStyle, as the connector's sessions set), and for
// text/varchar/name keys under the C or POSIX collation (byte order). Other
// types and collations (ICU or libc locales, enums, floats, ...) are
// compared by Postgres itself, one small query per comparison; comparisons
// are only needed for changes committed between two reads of a partly read
// table, so this stays cheap. A partly read table without a primary key
// cannot resume: it is read again from its start at the new LSN and the
// stream drops its changes before that LSN (see Limits). Tables done in an
// earlier run are never read again.
//
// # Fallback
//
// When the slot is missing, its confirmed LSN is not the L1 the position
// recorded, the position carries no progress, or it was written by a
// snapshot that did not own an exported snapshot (snapshot.mode always on an
// existing slot), the connector drops and re-creates the slot and starts the
// snapshot over, as before; the log says which path was taken.
//
// # Limits
//
//   - A table without a primary key that was partly read when the crash
//     came is read again whole: its rows are emitted twice (reads at L1,
//     then at L2), and a row deleted between L1 and L2 keeps its read from
//     L1 (its delete precedes the new read and is dropped). Such tables are
//     at-least-once, as in Debezium.
//   - A row of a partly read table whose read was emitted but not acked
//     before the crash, then deleted before L2, keeps that (delivered) read
//     and gets no delete: the same as starting over, or as Debezium.
//   - TRUNCATE between L1 and L2 is emitted as a truncate event after the
//     reads at L2, which it does not affect in Postgres.
//   - The filter applies per pgoutput change. An UPDATE that moves a row
//     from a span where it must be dropped to one where it must be emitted
//     (or back) becomes a plain delete of the old key or a plain create of
//     the new key, without Debezium's key-change headers.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/internal/obs"
)

// snapTable is the snapshot progress of one table: the key ranges read so
// far, in key order. Span i covers the keys after span i-1's To (from the
// start for i = 0) up to its own To, inclusive; To is nil on the last span
// of a done table (up to the end). A done table without spans was read
// whole at snapPos.Start.
type snapTable struct {
	Done  bool      `json:"done,omitempty"`
	Spans []keySpan `json:"spans,omitempty"`
}

// keySpan is one key range and the LSN its rows were read at.
type keySpan struct {
	At lsnText   `json:"at"`
	To []keyText `json:"to,omitempty"`
}

// keyText is one key column's text value. JSON holds it as a string when it
// is valid UTF-8 (always, in a UTF-8 database), else as {"hex": "..."}.
type keyText []byte

func (k keyText) MarshalJSON() ([]byte, error) {
	if utf8.Valid(k) {
		return json.Marshal(string(k))
	}
	return json.Marshal(struct {
		Hex string `json:"hex"`
	}{hex.EncodeToString(k)})
}

func (k *keyText) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*k = keyText(s)
		return nil
	}
	var h struct {
		Hex string `json:"hex"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return err
	}
	v, err := hex.DecodeString(h.Hex)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// spans returns t's spans with the implicit whole-table span of a done
// table without spans made explicit.
func (t *snapTable) spans(start lsnText) []keySpan {
	if t.Done && len(t.Spans) == 0 {
		return []keySpan{{At: start}}
	}
	return t.Spans
}

// until is the newest LSN any span was read at: changes committed at or
// after it are emitted whatever their key.
func (p *snapPos) until() uint64 {
	u := uint64(p.Start)
	for _, t := range p.Tables {
		for _, sp := range t.Spans {
			u = max(u, uint64(sp.At))
		}
	}
	return u
}

// resumable decides whether the interrupted snapshot recorded in resume can
// go on against slot: it returns the recorded progress, or nil (after
// logging why) when the snapshot must start over.
func (s *Source) resumable(resume *position, slot slotInfo) (*snapPos, error) {
	sp := resume.Snapshot
	why := ""
	switch {
	case sp.Start == 0:
		why = "the interrupted snapshot did not own an exported snapshot"
	case uint64(sp.Start) != slot.confirmed:
		why = fmt.Sprintf("slot confirmed LSN %s is not the snapshot's start %s", pglogrepl.LSN(slot.confirmed), pglogrepl.LSN(sp.Start))
	}
	for name, t := range sp.Tables {
		if why != "" {
			break
		}
		prev := uint64(sp.Start)
		for i, k := range t.Spans {
			if uint64(k.At) < prev || (k.To == nil && i != len(t.Spans)-1) || (k.To == nil) != (t.Done && i == len(t.Spans)-1) {
				why = fmt.Sprintf("table %s: malformed snapshot progress", name)
				break
			}
			prev = uint64(k.At)
		}
	}
	if why != "" {
		s.log.Warn("cannot resume the interrupted snapshot; starting over", "slot", s.cfg.SlotName, "reason", why)
		return nil, nil
	}
	if slot.active {
		return nil, fmt.Errorf("replication slot %s is still in use by another connection; retrying", s.cfg.SlotName)
	}
	done := 0
	for _, t := range sp.Tables {
		if t.Done {
			done++
		}
	}
	s.log.Info("resuming the interrupted snapshot from its last acked chunk", "slot", s.cfg.SlotName,
		obs.KeyLSN, pglogrepl.LSN(sp.Start).String(), "tables_done", done, "tables_started", len(sp.Tables)-done)
	return sp, nil
}

// snapMark is what one snapshot event adds to the progress once emitted.
type snapMark struct {
	table int      // index into snapRun.tables
	key   [][]byte // text key values; nil for tables without a key
	last  bool     // the table's last row
}

// snapRun keeps the progress of one snapshot run for its positions.
type snapRun struct {
	from   uint64  // slot S's consistent point: the stream starts there
	start  lsnText // from when the run can be resumed, else 0
	at     uint64  // LSN this run reads at
	names  []string
	keyed  []bool
	tables map[string]*snapTable
	// resumed: the run continues an interrupted snapshot.
	resumed bool
}

// newSnapRun starts the progress of a run reading at at. prev is the
// interrupted snapshot's progress (nil on a first run); exact says the run
// reads an exported snapshot whose LSN is known.
func newSnapRun(start, at uint64, exact bool, prev *snapPos) *snapRun {
	r := &snapRun{from: start, at: at, tables: map[string]*snapTable{}}
	if exact {
		r.start = lsnText(start)
	}
	if prev != nil {
		r.resumed = true
		for name, t := range prev.Tables {
			c := *t
			c.Spans = append([]keySpan(nil), t.Spans...)
			r.tables[name] = &c
		}
	}
	return r
}

// prepare registers table t (index i of the run) and sets spec.Done and
// spec.After from the interrupted snapshot's progress. A partly read table
// continues after its last acked key only when Go can order its keys
// exactly; otherwise it starts over (its old spans are dropped).
func (r *snapRun) prepare(ctx context.Context, q Querier, t *Table, spec *SnapshotTable) error {
	name := t.ID.String()
	r.names = append(r.names, name)
	r.keyed = append(r.keyed, len(t.keyCols) > 0)
	pt := r.tables[name]
	if pt == nil {
		return nil
	}
	if pt.Done {
		spec.Done = true
		return nil
	}
	ok := len(t.keyCols) > 0 && len(pt.Spans) > 0
	for _, sp := range pt.Spans {
		if len(sp.To) != len(t.keyCols) {
			ok = false
		}
	}
	if ok {
		ord, err := keyOrderFor(ctx, q, t)
		if err != nil {
			return err
		}
		ok = ord != nil
	}
	if !ok {
		delete(r.tables, name)
		return nil
	}
	last := pt.Spans[len(pt.Spans)-1].To
	spec.After = make([][]byte, len(last))
	for i, v := range last {
		spec.After[i] = v
	}
	return nil
}

// apply records the emitted events' marks and returns the in-progress
// position to put on the last of them.
func (r *snapRun) apply(marks []snapMark) position {
	for _, m := range marks {
		if m.key == nil && !m.last {
			continue // a table without a key records only its end
		}
		name := r.names[m.table]
		t := r.tables[name]
		if t == nil {
			t = &snapTable{}
			r.tables[name] = t
		}
		if m.key != nil {
			to := make([]keyText, len(m.key))
			for i, v := range m.key {
				to[i] = keyText(v)
			}
			if n := len(t.Spans); n > 0 && uint64(t.Spans[n-1].At) == r.at {
				t.Spans[n-1].To = to
			} else {
				t.Spans = append(t.Spans, keySpan{At: lsnText(r.at), To: to})
			}
		}
		if m.last {
			r.finishTable(t)
		}
	}
	return r.position()
}

// finishTable marks t done: its last span (of this run) reaches the end.
func (r *snapRun) finishTable(t *snapTable) {
	if t.Done {
		return
	}
	t.Done = true
	if n := len(t.Spans); n > 0 && uint64(t.Spans[n-1].At) == r.at {
		t.Spans[n-1].To = nil
	} else {
		t.Spans = append(t.Spans, keySpan{At: lsnText(r.at)})
	}
	if len(t.Spans) == 1 && t.Spans[0].At == r.start {
		t.Spans = nil // whole table at start: the compact form
	}
}

// position returns the current in-progress position (a deep copy).
func (r *snapRun) position() position {
	sp := &snapPos{Start: r.start}
	if r.start != 0 {
		sp.Tables = make(map[string]*snapTable, len(r.tables))
		for name, t := range r.tables {
			c := *t
			c.Spans = append([]keySpan(nil), t.Spans...)
			sp.Tables[name] = &c
		}
	}
	return position{Snapshot: sp}
}

// finish returns the position at the end of the snapshot: stream from
// start, with the filter for spans read after start, if any.
func (r *snapRun) finish() position {
	done := position{LSN: lsnText(r.from)}
	if !r.resumed {
		return done
	}
	dd := &snapPos{Start: r.start, Tables: map[string]*snapTable{}}
	for _, name := range r.names {
		t := r.tables[name]
		if t == nil {
			t = &snapTable{}
			r.tables[name] = t
		}
		r.finishTable(t)
		if len(t.Spans) > 0 { // else: read whole at start, nothing to filter
			dd.Tables[name] = t
		}
	}
	if len(dd.Tables) > 0 {
		done.Dedup = dd
	}
	return done
}

// tempSnapshot creates a temporary logical slot with an exported snapshot on
// a new replication connection and returns the connection (closing it drops
// the slot; keep it idle until the readers imported the snapshot), the
// snapshot name and the slot's consistent point.
func (s *Source) tempSnapshot(ctx context.Context) (*pgconn.PgConn, string, uint64, error) {
	repl, err := s.connectReplication(ctx)
	if err != nil {
		return nil, "", 0, err
	}
	base := s.cfg.SlotName
	if len(base) > 40 {
		base = base[:40]
	}
	name := fmt.Sprintf("%s_resume_%x", strings.ToLower(base), uint32(time.Now().UnixNano()))
	res, err := pglogrepl.CreateReplicationSlot(ctx, repl, name, "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true, SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
	if err != nil {
		_ = repl.Close(context.Background())
		return nil, "", 0, fmt.Errorf("create temporary slot %s for the resumed snapshot: %w", name, err)
	}
	lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		_ = repl.Close(context.Background())
		return nil, "", 0, fmt.Errorf("temporary slot %s: consistent point: %w", name, err)
	}
	s.log.Info("resumed snapshot reads at a temporary slot's exported snapshot", "slot", name, obs.KeyLSN, res.ConsistentPoint)
	return repl, res.SnapshotName, uint64(lsn), nil
}

// dedupStamp makes the stream's positions carry the filter while the
// stream is before its until LSN, so that a restart filters the same way.
type dedupStamp struct {
	pos   *snapPos
	until uint64
}

// newStamp returns the stamp a session resuming from p must put on its
// positions, nil when none.
func newStamp(p *position) *dedupStamp {
	if p == nil || p.Snapshot != nil || p.Dedup == nil {
		return nil
	}
	return &dedupStamp{pos: p.Dedup, until: p.Dedup.until()}
}

// stampDedup adds the filter to the positions of b and to pos while they
// are before the stamp's until LSN, and drops the stamp once pos is past it.
func (s *Source) stampDedup(b event.Batch, pos *position) {
	st := s.stamp
	for i := range b {
		if b[i].Position == nil {
			continue
		}
		p, err := decodePosition(b[i].Position)
		if err != nil || p.Snapshot != nil || p.Dedup != nil || uint64(p.LSN) >= st.until {
			continue
		}
		p.Dedup = st.pos
		b[i].Position = p.encode()
	}
	if pos.Snapshot == nil && pos.Dedup == nil {
		if uint64(pos.LSN) < st.until {
			pos.Dedup = st.pos
		} else {
			s.stamp = nil
		}
	}
}

// dedup filters the stream's changes committed before until against the
// snapshot spans.
type dedup struct {
	start  uint64
	until  uint64
	tables map[string][]keySpan
	orders map[*Table]keyOrder // nil entry: cannot order, emit all
}

func newDedup(p *snapPos) *dedup {
	if p == nil {
		return nil
	}
	d := &dedup{start: uint64(p.Start), until: p.until(), tables: map[string][]keySpan{}, orders: map[*Table]keyOrder{}}
	for name, t := range p.Tables {
		d.tables[name] = t.spans(p.Start)
	}
	return d
}

// filter returns msg, a reduced form of it, or nil to drop it, for a change
// in the transaction committing at commit (< d.until).
func (d *dedup) filter(ctx context.Context, st *streamer, msg pglogrepl.Message) (pglogrepl.Message, error) {
	var rel uint32
	switch m := msg.(type) {
	case *pglogrepl.InsertMessage:
		rel = m.RelationID
	case *pglogrepl.InsertMessageV2:
		rel = m.RelationID
	case *pglogrepl.UpdateMessage:
		rel = m.RelationID
	case *pglogrepl.UpdateMessageV2:
		rel = m.RelationID
	case *pglogrepl.DeleteMessage:
		rel = m.RelationID
	case *pglogrepl.DeleteMessageV2:
		rel = m.RelationID
	default:
		return msg, nil
	}
	t := st.relations[rel]
	if t == nil {
		return msg, nil
	}
	spans, ok := d.tables[t.ID.String()]
	if !ok {
		return msg, nil
	}
	commit := st.commitLSN
	if len(spans) == 1 && spans[0].To == nil {
		return keepIf(msg, commit >= uint64(spans[0].At)), nil
	}
	ord, ok := d.orders[t]
	if !ok {
		var err error
		if ord, err = keyOrderFor(ctx, st.conn, t); err != nil {
			return nil, err
		}
		if ord == nil {
			st.s.log.Warn("cannot order the keys of a resumed table; its changes between the snapshot reads are emitted unfiltered",
				obs.KeyTable, t.ID.String())
		}
		d.orders[t] = ord
	}
	if ord == nil {
		return msg, nil
	}
	keep := func(tuple *pglogrepl.TupleData) (bool, error) {
		k := tupleKey(t, tuple)
		if k == nil {
			return true, nil
		}
		at, err := spanAt(spans, ord, k)
		if err != nil {
			return false, fmt.Errorf("table %s: order key for the resumed snapshot filter: %w", t.ID, err)
		}
		return commit >= at, nil
	}
	switch m := msg.(type) {
	case *pglogrepl.InsertMessage:
		ok, err := keep(m.Tuple)
		return keepIf(msg, ok), err
	case *pglogrepl.InsertMessageV2:
		ok, err := keep(m.Tuple)
		return keepIf(msg, ok), err
	case *pglogrepl.DeleteMessage:
		ok, err := keep(m.OldTuple)
		return keepIf(msg, ok), err
	case *pglogrepl.DeleteMessageV2:
		ok, err := keep(m.OldTuple)
		return keepIf(msg, ok), err
	case *pglogrepl.UpdateMessage:
		return d.update(msg, m, t, keep)
	case *pglogrepl.UpdateMessageV2:
		return d.update(msg, &m.UpdateMessage, t, keep)
	}
	return msg, nil
}

// update decides an UPDATE: when the key changes, the delete of the old key
// and the create of the new key are decided apart.
func (d *dedup) update(msg pglogrepl.Message, m *pglogrepl.UpdateMessage, t *Table, keep func(*pglogrepl.TupleData) (bool, error)) (pglogrepl.Message, error) {
	newKey := tupleKey(t, m.NewTuple)
	var oldKey [][]byte
	if m.OldTuple != nil {
		oldKey = tupleKey(t, m.OldTuple)
	}
	if oldKey == nil || newKey == nil || keyEqual(oldKey, newKey) {
		tuple := m.NewTuple
		if newKey == nil {
			tuple = m.OldTuple
		}
		ok, err := keep(tuple)
		return keepIf(msg, ok), err
	}
	keepOld, err := keep(m.OldTuple)
	if err != nil {
		return nil, err
	}
	keepNew, err := keep(m.NewTuple)
	if err != nil {
		return nil, err
	}
	switch {
	case keepOld && keepNew:
		return msg, nil
	case keepOld:
		return &pglogrepl.DeleteMessage{RelationID: m.RelationID, OldTupleType: m.OldTupleType, OldTuple: m.OldTuple}, nil
	case keepNew:
		return &pglogrepl.InsertMessage{RelationID: m.RelationID, Tuple: m.NewTuple}, nil
	}
	return nil, nil
}

func keepIf(msg pglogrepl.Message, ok bool) pglogrepl.Message {
	if ok {
		return msg
	}
	return nil
}

func keyEqual(a, b [][]byte) bool {
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// tupleKey returns the text key values of a pgoutput tuple, nil when a key
// column is not there as text (NULL in a key-only tuple, unchanged TOAST).
func tupleKey(t *Table, tuple *pglogrepl.TupleData) [][]byte {
	if tuple == nil || len(tuple.Columns) != len(t.Columns) || len(t.keyCols) == 0 {
		return nil
	}
	k := make([][]byte, len(t.keyCols))
	for i, ci := range t.keyCols {
		c := tuple.Columns[ci]
		if c.DataType != pglogrepl.TupleDataTypeText {
			return nil
		}
		k[i] = c.Data
	}
	return k
}

// spanAt returns the LSN of the span holding key k; a key after every
// span (a table not done, which cannot happen once the snapshot finished)
// counts as read at the start.
func spanAt(spans []keySpan, ord keyOrder, k [][]byte) (uint64, error) {
	for _, sp := range spans {
		if sp.To == nil {
			return uint64(sp.At), nil
		}
		c, err := ord.compare(k, sp.To)
		if err != nil {
			return 0, err
		}
		if c <= 0 {
			return uint64(sp.At), nil
		}
	}
	return 0, nil
}

// keyOrder compares primary keys given as text values, column by column,
// as Postgres' row comparison does.
type keyOrder []func(a, b []byte) (int, error)

func (o keyOrder) compare(a [][]byte, b []keyText) (int, error) {
	for i, cmp := range o {
		c, err := cmp(a[i], b[i])
		if err != nil || c != 0 {
			return c, err
		}
	}
	return 0, nil
}

// Type OIDs of the key types ordered in Go, and the C/POSIX collations.
const (
	oidBool        = 16
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidUUID        = 2950

	collDefault = 100
	collC       = 950
	collPOSIX   = 951
)

// keyOrderFor returns the ordering of t's primary key: in Go for the types
// listed in the file comment, by asking Postgres through q for the others.
// It returns nil when t has no key or its catalog no longer matches t.
func keyOrderFor(ctx context.Context, q Querier, t *Table) (keyOrder, error) {
	if len(t.keyCols) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT a.attname, a.atttypid, a.attcollation,
  COALESCE(c.collcollate, ''), COALESCE(c.collprovider::text, ''),
  (SELECT d.datcollate FROM pg_database d WHERE d.datname = current_database()),
  COALESCE((SELECT to_jsonb(d)->>'datlocprovider' FROM pg_database d WHERE d.datname = current_database()), 'c'),
  current_setting('DateStyle'), format_type(a.atttypid, a.atttypmod),
  COALESCE((SELECT quote_ident(n.nspname) || '.' || quote_ident(c.collname) FROM pg_namespace n WHERE n.oid = c.collnamespace), '')
FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, t.OID)
	if err != nil {
		return nil, fmt.Errorf("table %s: key collations: %w", t.ID, err)
	}
	type colInfo struct {
		typ, coll                           uint32
		collate, provider, dbCollate, dbPro string
		dateStyle, typeName, collName       string
	}
	info := map[string]colInfo{}
	for rows.Next() {
		var name string
		var ci colInfo
		if err := rows.Scan(&name, &ci.typ, &ci.coll, &ci.collate, &ci.provider, &ci.dbCollate, &ci.dbPro, &ci.dateStyle, &ci.typeName, &ci.collName); err != nil {
			rows.Close()
			return nil, fmt.Errorf("table %s: key collations: %w", t.ID, err)
		}
		info[name] = ci
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table %s: key collations: %w", t.ID, err)
	}
	ord := make(keyOrder, len(t.keyCols))
	for i, ci := range t.keyCols {
		col := t.Columns[ci]
		c, ok := info[col.Name]
		if !ok || c.typ != col.TypeOID {
			return nil, nil // the table changed under us
		}
		byteOrder := c.coll == collC || c.coll == collPOSIX ||
			c.coll == collDefault && (c.dbCollate == "C" || c.dbCollate == "POSIX") && c.dbPro == "c" ||
			c.provider == "c" && (c.collate == "C" || c.collate == "POSIX")
		iso := strings.HasPrefix(c.dateStyle, "ISO")
		switch {
		case c.typ == oidInt2 || c.typ == oidInt4 || c.typ == oidInt8:
			ord[i] = cmpInt
		case c.typ == oidOID:
			ord[i] = cmpUint
		case c.typ == oidNumeric:
			ord[i] = cmpNumeric
		case c.typ == oidUUID || c.typ == oidBool:
			ord[i] = cmpBytes
		case (c.typ == oidDate || c.typ == oidTimestamp || c.typ == oidTimestamptz) && iso:
			ord[i] = cmpTime
		case (c.typ == oidText || c.typ == oidVarchar || c.typ == oidName) && byteOrder:
			ord[i] = cmpBytes
		default:
			ord[i] = pgCompare(q, c.typeName, c.coll, c.collName)
		}
	}
	return ord, nil
}

// pgCompare orders values of a type (or collation) Go does not order by
// asking Postgres, one query per comparison: it is used only for changes
// committed between two snapshot reads of a resumed table. It must run on
// the goroutine that owns q.
func pgCompare(q Querier, typeName string, coll uint32, collName string) func(a, b []byte) (int, error) {
	expr := func(p string) string {
		e := p + "::" + typeName
		if coll != 0 && collName != "" {
			e += " COLLATE " + collName
		}
		return e
	}
	sql := "SELECT CASE WHEN " + expr("$1") + " < " + expr("$2") + " THEN -1 WHEN " + expr("$1") + " = " + expr("$2") + " THEN 0 ELSE 1 END"
	return func(a, b []byte) (int, error) {
		rows, err := q.Query(context.Background(), sql, string(a), string(b))
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		c := 0
		if rows.Next() {
			err = rows.Scan(&c)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		return c, err
	}
}

func cmpBytes(a, b []byte) (int, error) { return bytes.Compare(a, b), nil }

func cmpInt(a, b []byte) (int, error) {
	x, err := strconv.ParseInt(string(a), 10, 64)
	if err != nil {
		return 0, err
	}
	y, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, err
	}
	return cmp3(x, y), nil
}

func cmpUint(a, b []byte) (int, error) {
	x, err := strconv.ParseUint(string(a), 10, 64)
	if err != nil {
		return 0, err
	}
	y, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, err
	}
	return cmp3(x, y), nil
}

func cmp3[T int64 | uint64 | int](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// numericClass orders Postgres' special numeric values: -Infinity <
// finite < Infinity < NaN.
func numericClass(s string) int {
	switch s {
	case "-Infinity":
		return -1
	case "Infinity":
		return 1
	case "NaN":
		return 2
	}
	return 0
}

func cmpNumeric(a, b []byte) (int, error) {
	ca, cb := numericClass(string(a)), numericClass(string(b))
	if ca != cb || ca != 0 {
		return cmp3(ca, cb), nil
	}
	x, ok := new(big.Rat).SetString(string(a))
	if !ok {
		return 0, fmt.Errorf("bad numeric %q", a)
	}
	y, ok := new(big.Rat).SetString(string(b))
	if !ok {
		return 0, fmt.Errorf("bad numeric %q", b)
	}
	return x.Cmp(y), nil
}

func cmpTime(a, b []byte) (int, error) {
	ca, x, err := parseISOTime(string(a))
	if err != nil {
		return 0, err
	}
	cb, y, err := parseISOTime(string(b))
	if err != nil {
		return 0, err
	}
	if ca != cb || ca != 0 {
		return cmp3(ca, cb), nil
	}
	return cmp3(x, y), nil
}

var errBadTime = errors.New("not an ISO date or timestamp")

// parseISOTime parses a date, timestamp or timestamptz in DateStyle ISO
// output form ("2024-01-31", "2024-01-31 12:34:56.5+05:30", "0044-03-15
// BC", "infinity") into a class (-1 -infinity, 0 finite, 1 infinity) and
// microseconds since 1970-01-01 UTC.
func parseISOTime(s string) (int, int64, error) {
	switch s {
	case "infinity":
		return 1, 0, nil
	case "-infinity":
		return -1, 0, nil
	}
	bc := false
	if rest, ok := strings.CutSuffix(s, " BC"); ok {
		s, bc = rest, true
	}
	date, clock, _ := strings.Cut(s, " ")
	ys, rest, ok1 := strings.Cut(date, "-")
	ms, ds, ok2 := strings.Cut(rest, "-")
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("%w: %q", errBadTime, s)
	}
	y, err1 := strconv.ParseInt(ys, 10, 64)
	m, err2 := strconv.ParseInt(ms, 10, 64)
	d, err3 := strconv.ParseInt(ds, 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("%w: %q", errBadTime, s)
	}
	if bc {
		y = 1 - y
	}
	us := resumeCivilDays(y, m, d) * 86_400_000_000
	if clock == "" {
		return 0, us, nil
	}
	// Offset: the last '+' or '-' after the seconds.
	off := int64(0)
	if i := strings.IndexAny(clock, "+-"); i >= 0 {
		sign := int64(1)
		if clock[i] == '-' {
			sign = -1
		}
		parts := strings.Split(clock[i+1:], ":")
		var secs int64
		mul := []int64{3600, 60, 1}
		if len(parts) > 3 {
			return 0, 0, fmt.Errorf("%w: %q", errBadTime, s)
		}
		for j, p := range parts {
			v, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("%w: %q", errBadTime, s)
			}
			secs += v * mul[j]
		}
		off = sign * secs * 1_000_000
		clock = clock[:i]
	}
	hms, frac, _ := strings.Cut(clock, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 || len(frac) > 6 {
		return 0, 0, fmt.Errorf("%w: %q", errBadTime, s)
	}
	var secs int64
	for j, p := range parts {
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %q", errBadTime, s)
		}
		secs += v * []int64{3600, 60, 1}[j]
	}
	var micro int64
	if frac != "" {
		v, err := strconv.ParseInt((frac + "000000")[:6], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %q", errBadTime, s)
		}
		micro = v
	}
	return 0, us + secs*1_000_000 + micro - off, nil
}

// resumeCivilDays returns the days from 1970-01-01 to the proleptic
// Gregorian date y-m-d (astronomical year numbering).
func resumeCivilDays(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
