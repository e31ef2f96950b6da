package mysql

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice/event"
)

// snapshot reads every captured table inside one consistent-snapshot
// transaction and emits op=r events. With snapshot.locking.mode=minimal a
// global read lock is held only while the transaction starts and the binlog
// position is read, so the rows and the position agree. It returns the
// position streaming starts from, which the last snapshot event carries;
// earlier events carry a snapshot position that makes a restart snapshot
// again.
func (s *Source) snapshot(ctx context.Context, flavor string, hist SchemaHistory, emit func(context.Context, event.Batch) error) (position, *schemaModel, error) {
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
	from, err := readPosition(lock, flavor)
	if err != nil {
		return position{}, nil, err
	}
	// The catalog is not transactional: read it while the lock holds.
	model, err := s.captureSchema(ctx, lock, from, hist)
	if err != nil {
		return position{}, nil, err
	}
	var schemaEvents []event.Event
	if s.cfg.IncludeSchemaChanges {
		if schemaEvents, err = s.snapshotSchemaEvents(lock, model, from); err != nil {
			return position{}, nil, err
		}
	}
	unlock()
	s.log.Info("snapshot started", "gtids", from.GTIDs, "file", from.File, "pos", from.Pos)

	var ids []TableID
	for id := range model.tables {
		if s.filter.table(id.DB, id.Table) {
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

	inProgress := position{Flavor: flavor, Snapshot: true}.encode()
	sr := &snapshotReader{s: s, emit: emit, from: from, now: time.Now(), batch: schemaEvents}
	for ti, t := range tables {
		if err := sr.readTable(ctx, snap, t, ti == len(tables)-1, inProgress); err != nil {
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
	return from, model, nil
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
// rows of each table and of the whole snapshot as Debezium does.
type snapshotReader struct {
	s     *Source
	emit  func(context.Context, event.Batch) error
	from  position
	now   time.Time
	batch event.Batch
	held  *event.Event
	first bool // the held event is the first of its table
	rows  int64
	last  bool // the held event's table is the last table
}

func (sr *snapshotReader) readTable(ctx context.Context, c *client.Conn, t *Table, lastTable bool, inProgress event.Position) error {
	cols := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		cols[i] = quoteIdent(col.Name)
	}
	q := "SELECT " + joinComma(cols) + " FROM " + quoteIdent(t.ID.DB) + "." + quoteIdent(t.ID.Table)
	var res gmysql.Result
	firstInTable := true
	vals := make([]any, len(t.Columns))
	err := c.ExecuteSelectStreaming(q, &res, func(row []gmysql.FieldValue) error {
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
		if err := sr.push(ctx, ev, firstInTable, false, inProgress); err != nil {
			return err
		}
		firstInTable = false
		sr.rows++
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", t.ID, err)
	}
	sr.last = lastTable
	// The table ended: the held event is its last row.
	return sr.push(ctx, event.Event{}, false, true, inProgress)
}

// push releases the held event (marking it last in its table when
// tableEnd) and holds ev, unless ev is empty.
func (sr *snapshotReader) push(ctx context.Context, ev event.Event, firstInTable, tableEnd bool, inProgress event.Position) error {
	if h := sr.held; h != nil && tableEnd {
		mark := SnapshotLastInCollection
		if sr.first {
			mark = SnapshotTrue // a one-row table: first wins, as Debezium marks it
		}
		if sr.last {
			mark = SnapshotLast
			h.Position = sr.from.encode()
		}
		if mark != SnapshotTrue || sr.last {
			h.Source.Set("snapshot", mark)
		}
		sr.batch = append(sr.batch, *h)
		sr.held = nil
		if sr.last {
			return sr.flush(ctx)
		}
		return nil
	}
	if tableEnd {
		return nil
	}
	if h := sr.held; h != nil {
		sr.batch = append(sr.batch, *h)
		if len(sr.batch) >= sr.s.cfg.MaxBatchSize {
			sr.batch[len(sr.batch)-1].Position = inProgress
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
	sr.held, sr.first = &ev, firstInTable
	return nil
}

func (sr *snapshotReader) flush(ctx context.Context) error {
	if len(sr.batch) == 0 {
		return nil
	}
	if sr.batch[len(sr.batch)-1].Position == nil {
		sr.batch[len(sr.batch)-1].Position = position{Flavor: sr.from.Flavor, Snapshot: true}.encode()
	}
	b := sr.batch
	sr.batch = nil
	return sr.emit(ctx, b)
}

// finish flushes what is left (the last table may have been empty).
func (sr *snapshotReader) finish(ctx context.Context) error {
	if n := len(sr.batch); n > 0 && sr.batch[n-1].Position == nil {
		sr.batch[n-1].Position = sr.from.encode()
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
