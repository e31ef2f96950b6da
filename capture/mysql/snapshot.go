package mysql

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice/event"
)

// snapshot reads every captured table inside one consistent-snapshot
// transaction and emits op=r events. With snapshot.locking.mode=minimal a
// global read lock is held only while the transaction starts and the binlog
// position is read, so the rows and the position agree. It returns the
// position streaming starts from, which the last snapshot event carries,
// and the schema model at that position; earlier events carry the
// snapshot's progress, from which a restart resumes (prev, chunk.go).
func (s *Source) snapshot(ctx context.Context, flavor string, hist SchemaHistory, emit func(context.Context, event.Batch) error, prev *snapProgress) (position, *schemaModel, error) {
	lock, err := s.connect(ctx)
	if err != nil {
		return position{}, nil, err
	}
	defer lock.Close()
	snap, err := s.connect(ctx)
	if err != nil {
		return position{}, nil, err
	}
	defer snap.Close()

	locked := false
	if s.cfg.SnapshotLockingMode == LockingMinimal {
		if _, err := lock.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
			return position{}, nil, fmt.Errorf("%w: global read lock: %v", ErrPrerequisite, err)
		}
		locked = true
	}
	unlock := func() {
		if locked {
			locked = false
			if _, err := lock.Execute("UNLOCK TABLES"); err != nil {
				s.log.Warn("unlock tables", "error", err)
			}
		}
	}
	defer unlock()
	for _, q := range []string{
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"START TRANSACTION WITH CONSISTENT SNAPSHOT",
	} {
		if _, err := snap.Execute(q); err != nil {
			return position{}, nil, fmt.Errorf("snapshot: %s: %w", q, err)
		}
	}
	at, err := readPosition(lock, flavor)
	if err != nil {
		return position{}, nil, err
	}
	// The catalog is not transactional: read it while the lock holds.
	start := at
	var model, streamModel *schemaModel
	if prev != nil {
		if streamModel, err = s.resumeModel(ctx, hist, flavor, prev); err != nil {
			return position{}, nil, err
		}
		if streamModel == nil {
			prev = nil
		} else {
			// The rows read now are decoded with today's shapes; the
			// history keeps its snapshot record at the stream's start.
			defs, err := readCatalog(ctx, lock, s.filter.database, nil)
			if err != nil {
				return position{}, nil, err
			}
			model = &schemaModel{tables: defs}
			start = position{Flavor: flavor, GTIDs: prev.Start, File: prev.File, Pos: prev.Pos}
		}
	}
	var schemaEvents []event.Event
	if prev == nil {
		if model, err = s.captureSchema(ctx, lock, at, hist); err != nil {
			return position{}, nil, err
		}
		streamModel = model
		if s.cfg.IncludeSchemaChanges {
			if schemaEvents, err = s.snapshotSchemaEvents(lock, model, at); err != nil {
				return position{}, nil, err
			}
		}
	}
	unlock()
	prog := prev.clone()
	if prog == nil {
		prog = &snapProgress{Start: at.GTIDs, File: at.File, Pos: at.Pos, Tables: map[string]*snapTable{}}
		s.log.Info("snapshot started", "gtids", at.GTIDs, "file", at.File, "pos", at.Pos)
	} else {
		s.log.Info("snapshot resumed in a new consistent snapshot; the stream starts at the first one and filters what the new reads show",
			"gtids", at.GTIDs, "stream_gtids", prev.Start, "tables_started", len(prev.Tables))
	}

	var ids []TableID
	for id := range model.tables {
		if t := prog.Tables[id.String()]; s.filter.table(id.DB, id.Table) && (t == nil || !t.Done) {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareIDs)
	var tables []*Table
	for _, id := range ids {
		d := model.tables[id]
		t, err := NewTable(s.opts.TopicPrefix, id, d.Columns, d.Key, s.types)
		if err != nil {
			return position{}, nil, err
		}
		tables = append(tables, t)
	}

	sr := &snapshotReader{s: s, emit: emit, from: start, run: at.GTIDs, prog: prog, now: time.Now(), batch: schemaEvents}
	for ti, t := range tables {
		if err := sr.readTable(ctx, snap, t, ti == len(tables)-1); err != nil {
			return position{}, nil, err
		}
	}
	// The held-back last row gets the stream position.
	if err := sr.finish(ctx); err != nil {
		return position{}, nil, err
	}
	if _, err := snap.Execute("COMMIT"); err != nil {
		return position{}, nil, fmt.Errorf("snapshot: commit: %w", err)
	}
	s.log.Info("snapshot done", "tables", len(tables), "rows", sr.rows)
	return sr.final(), streamModel, nil
}

// resumeModel returns the schema model at an interrupted snapshot's start
// from the schema history, or nil (logged) when the history does not reach
// back to it: the snapshot then starts over.
func (s *Source) resumeModel(ctx context.Context, hist SchemaHistory, flavor string, prev *snapProgress) (*schemaModel, error) {
	recs, err := hist.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema history: %w", err)
	}
	at, err := gmysql.ParseGTIDSet(flavor, prev.Start)
	if err != nil {
		return nil, fmt.Errorf("%w: gtid set %q: %v", ErrBadPosition, prev.Start, err)
	}
	m, found, err := replayHistory(recs, flavor, at)
	if err != nil {
		return nil, err
	}
	if !found {
		s.log.Warn("cannot resume the interrupted snapshot: the schema history has nothing at its start; starting over", "gtids", prev.Start)
		return nil, nil
	}
	return m, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// snapshotReader holds back one event so that it can mark the first and last
// rows of each table and of the whole snapshot as Debezium does, and keeps
// the progress the positions of its batches carry.
type snapshotReader struct {
	s     *Source
	emit  func(context.Context, event.Batch) error
	from  position // where the stream starts (the first run's snapshot)
	run   string   // the GTID set this run reads at
	prog  *snapProgress
	now   time.Time
	batch event.Batch
	held  *event.Event
	hkey  []string // key of the held event (chunked tables)
	first bool     // the held event is the first of its table
	rows  int64
	last  bool // the held event's table is the last table
	// The table being read: its name and the spans of earlier runs kept.
	table string
	base  []snapSpan
}

// final is the position the stream starts from.
func (sr *snapshotReader) final() position {
	p := sr.from
	p.Snap = sr.prog.filtering()
	return p
}

func (sr *snapshotReader) inProgress() event.Position {
	return position{Flavor: sr.from.Flavor, Snapshot: true, Snap: sr.prog.clone()}.encode()
}

func (sr *snapshotReader) readTable(ctx context.Context, c *client.Conn, t *Table, lastTable bool) error {
	cols := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		cols[i] = quoteIdent(col.Name)
	}
	name := t.ID.String()
	chunked := intKeyTable(t)
	var after []*big.Int
	sr.table, sr.base = name, nil
	if tp := sr.prog.Tables[name]; chunked && tp != nil && len(tp.Spans) > 0 && tp.Spans[len(tp.Spans)-1].To != nil {
		var err error
		if after, err = parseKey(tp.Spans[len(tp.Spans)-1].To); err != nil {
			return err
		}
		sr.base = tp.Spans
		sr.s.log.Info("snapshot table resumes after its last delivered chunk", "table", name, "after", strings.Join(tp.Spans[len(tp.Spans)-1].To, ","))
	}
	delete(sr.prog.Tables, name)
	firstInTable := true
	vals := make([]any, len(t.Columns))
	var lastKey []*big.Int
	var res gmysql.Result
	onRow := func(row []gmysql.FieldValue) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := range row {
			switch row[i].Type {
			case gmysql.FieldValueTypeNull:
				vals[i] = nil
			case gmysql.FieldValueTypeString:
				vals[i] = append([]byte(nil), row[i].AsString()...) // the buffer is reused
			default:
				vals[i] = row[i].Value()
			}
		}
		after, err := t.row(vals)
		if err != nil {
			return err
		}
		var key []string
		if chunked {
			k, err := rowKey(t, vals)
			if err != nil {
				return err
			}
			lastKey, key = k, keyText(k)
		}
		ev := event.Event{
			Op:          event.OpRead,
			After:       after,
			Topic:       t.Topic,
			Key:         t.key(after),
			ValueSchema: t.Envelope,
		}
		ev.SetTimestamp(time.Now())
		ev.Source = sourceBlock(sr.s.opts.TopicPrefix, sourcePos{
			ts: sr.now, db: t.ID.DB, table: t.ID.Table, file: sr.from.File, pos: sr.from.Pos, thread: -1,
			snapshot: SnapshotTrue,
		})
		if err := sr.push(ctx, ev, key, firstInTable, false); err != nil {
			return err
		}
		firstInTable = false
		sr.rows++
		return nil
	}
	if !chunked {
		q := "SELECT " + joinComma(cols) + " FROM " + quoteIdent(t.ID.DB) + "." + quoteIdent(t.ID.Table)
		if err := c.ExecuteSelectStreaming(q, &res, onRow, nil); err != nil {
			return fmt.Errorf("snapshot %s: %w", t.ID, err)
		}
	} else {
		size := sr.s.cfg.SnapshotFetchSize
		for {
			n := sr.rows
			if err := c.ExecuteSelectStreaming(chunkQuery(t, joinComma(cols), after, size), &res, onRow, nil); err != nil {
				return fmt.Errorf("snapshot %s: %w", t.ID, err)
			}
			if sr.rows-n < int64(size) {
				break
			}
			after = lastKey
		}
	}
	sr.last = lastTable
	// The table ended: the held event is its last row.
	return sr.push(ctx, event.Event{}, nil, false, true)
}

// add appends an event to the batch and records how far the table's rows
// in the batch go.
func (sr *snapshotReader) add(ev event.Event, key []string) {
	sr.batch = append(sr.batch, ev)
	if key == nil {
		return
	}
	tp := sr.prog.Tables[sr.table]
	if tp == nil {
		tp = &snapTable{Spans: append(slices.Clone(sr.base), snapSpan{At: sr.run})}
		sr.prog.Tables[sr.table] = tp
	}
	tp.Spans[len(tp.Spans)-1].To = key
}

// tableDone records that every row of the current table is in the batch.
func (sr *snapshotReader) tableDone() {
	tp := sr.prog.Tables[sr.table]
	if tp == nil {
		tp = &snapTable{Spans: append(slices.Clone(sr.base), snapSpan{At: sr.run})}
		sr.prog.Tables[sr.table] = tp
	}
	tp.Spans[len(tp.Spans)-1].To = nil
	tp.Done = true
}

// push releases the held event (marking it last in its table when
// tableEnd) and holds ev, unless ev is empty.
func (sr *snapshotReader) push(ctx context.Context, ev event.Event, key []string, firstInTable, tableEnd bool) error {
	if tableEnd {
		h := sr.held
		if h != nil {
			mark := SnapshotLastInCollection
			if sr.first {
				mark = SnapshotTrue // a one-row table: first wins, as Debezium marks it
			}
			if sr.last {
				mark = SnapshotLast
			}
			if mark != SnapshotTrue || sr.last {
				h.Source.Set("snapshot", mark)
			}
			sr.add(*h, sr.hkey)
			sr.held, sr.hkey = nil, nil
		}
		sr.tableDone()
		if sr.last {
			if n := len(sr.batch); n > 0 {
				sr.batch[n-1].Position = sr.final().encode()
			}
			return sr.flush(ctx)
		}
		return nil
	}
	if h := sr.held; h != nil {
		sr.add(*h, sr.hkey)
		if len(sr.batch) >= sr.s.cfg.MaxBatchSize {
			sr.batch[len(sr.batch)-1].Position = sr.inProgress()
			if err := sr.flush(ctx); err != nil {
				return err
			}
		}
	}
	if firstInTable {
		mark := SnapshotFirstInCollection
		if sr.rows == 0 {
			mark = SnapshotFirst
		}
		ev.Source.Set("snapshot", mark)
	}
	sr.held, sr.hkey, sr.first = &ev, key, firstInTable
	return nil
}

func (sr *snapshotReader) flush(ctx context.Context) error {
	if len(sr.batch) == 0 {
		return nil
	}
	if sr.batch[len(sr.batch)-1].Position == nil {
		sr.batch[len(sr.batch)-1].Position = sr.inProgress()
	}
	b := sr.batch
	sr.batch = nil
	return sr.emit(ctx, b)
}

// finish flushes what is left (the last table may have been empty).
func (sr *snapshotReader) finish(ctx context.Context) error {
	if n := len(sr.batch); n > 0 && sr.batch[n-1].Position == nil {
		sr.batch[n-1].Position = sr.final().encode()
	}
	return sr.flush(ctx)
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
