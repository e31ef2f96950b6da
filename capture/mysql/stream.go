package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice/event"
)

// streamer is the state of one binlog read.
type streamer struct {
	s      *Source
	flavor string
	done   gmysql.GTIDSet     // transactions completely emitted
	tables map[TableID]*Table // built from model, dropped when it changes
	model  *schemaModel       // table definitions at the position read
	ddl    *ddlApplier
	hist   SchemaHistory
	// catalog reads a table's current definition, for tables the schema
	// history does not know (no history for the start position).
	catalog func(ctx context.Context, id TableID) (*tableDef, bool, error)

	// Current transaction.
	gtid   string
	txFile string
	txPos  uint32
	n      int64 // captured rows of the transaction seen so far
	thread int64
	query  string
	file   string
	inTx   bool // inside a transaction: only an XID or COMMIT ends it
	// lastFile and lastPos are the binlog coordinates of the start of the
	// last transaction read (informational, for heartbeat positions).
	lastFile string
	lastPos  uint32
	skipTx   string // transaction whose first skipN rows were emitted before the restart
	skipN    int64
	pending  event.Batch
	// filter drops the changes a resumed snapshot's later reads show
	// (chunk.go); nil when there is nothing to filter.
	filter *keyFilter
}

// filterProgress is what positions carry of the filter.
func (st *streamer) filterProgress() *snapProgress {
	if st.filter == nil {
		return nil
	}
	return st.filter.prog
}

// stream reads the binlog after from and emits change events until ctx ends.
// model holds the table definitions as of from; DDL read from the binlog
// updates it and is appended to hist.
func (s *Source) stream(ctx context.Context, from position, sc *schemaContext, emit func(context.Context, event.Batch) error) error {
	gset, err := gmysql.ParseGTIDSet(from.Flavor, from.GTIDs)
	if err != nil {
		return fmt.Errorf("%w: gtid set %q: %v", ErrBadPosition, from.GTIDs, err)
	}
	meta, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer meta.Close()

	host, port, _ := strings.Cut(s.addr, ":")
	if i := strings.LastIndexByte(s.addr, ':'); i >= 0 {
		host, port = strings.Trim(s.addr[:i], "[]"), s.addr[i+1:]
	}
	var portN uint16
	fmt.Sscan(port, &portN)
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:                s.serverID,
		Flavor:                  from.Flavor,
		Host:                    host,
		Port:                    portN,
		User:                    s.user,
		Password:                s.password,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         10 * time.Second,
		ReadTimeout:             60 * time.Second,
		MaxReconnectAttempts:    0,
		Logger:                  s.log.With("component", "binlog"),
	})
	defer syncer.Close()
	bs, err := syncer.StartSyncGTID(gset.Clone())
	if err != nil {
		return fmt.Errorf("start binlog stream after %q: %w", from.GTIDs, err)
	}
	st := &streamer{
		s: s, flavor: from.Flavor, done: gset, tables: map[TableID]*Table{},
		model: sc.model, ddl: sc.ddl, hist: sc.hist,
		skipTx: from.Tx, skipN: from.N, file: from.File, thread: -1,
		catalog: func(ctx context.Context, id TableID) (*tableDef, bool, error) {
			return loadTable(ctx, meta, id)
		},
	}
	st.lastFile, st.lastPos = from.File, from.Pos
	if st.filter, err = newKeyFilter(from.Flavor, from.Snap); err != nil {
		return err
	}
	if st.filter != nil && st.done.Contain(st.filter.until) {
		st.filter = nil
	}
	if st.filter != nil {
		s.log.Info("filtering the changes a resumed snapshot read", "tables", len(st.filter.tables), "until", st.filter.until.String())
	}
	charsets := map[string]string{}
	st.ddl.dbCharset = func(db string) string {
		cs, ok := charsets[db]
		if !ok {
			cs, _ = queryOne(meta, "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = "+quote(db))
			charsets[db] = cs
		}
		return cs
	}
	s.log.Info("streaming", "gtids", from.GTIDs, "tx", from.Tx, "skip", from.N)
	interval := time.Duration(s.cfg.HeartbeatIntervalMs) * time.Millisecond
	beatCtx, stopBeat := heartbeatTimer(ctx, interval)
	defer func() { stopBeat() }()
	for {
		wait := ctx
		if st.idle() {
			wait = beatCtx // also wakes up when a heartbeat is due
		}
		ev, err := bs.GetEvent(wait)
		switch {
		case err == nil:
			if err := st.handle(ctx, ev, emit); err != nil {
				if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
					return ctx.Err()
				}
				return err
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case wait != ctx && errors.Is(err, context.DeadlineExceeded):
			// A heartbeat is due.
		case isReadBinlogFatal(err):
			return fmt.Errorf("%w: the server cannot send the binlog after gtids %q: %v", ErrBinlogPurged, from.GTIDs, err)
		default:
			return fmt.Errorf("read binlog: %w", err)
		}
		if interval > 0 && beatCtx.Err() != nil && ctx.Err() == nil && st.idle() {
			if err := st.heartbeat(ctx, time.Now(), emit); err != nil {
				return err
			}
			stopBeat()
			beatCtx, stopBeat = heartbeatTimer(ctx, interval)
		}
	}
}

// heartbeatTimer returns a context that ends when the next heartbeat is
// due, one interval from now; with no interval, ctx itself.
func heartbeatTimer(ctx context.Context, interval time.Duration) (context.Context, context.CancelFunc) {
	if interval <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, interval)
}

func (st *streamer) handle(ctx context.Context, ev *replication.BinlogEvent, emit func(context.Context, event.Batch) error) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		st.begin(e.GTID.String(), h)
		// MariaDB logs no BEGIN: a group without FL_STANDALONE is a
		// transaction that ends with an XID or a COMMIT query.
		st.inTx = !e.IsStandalone()
	case *replication.GTIDEvent:
		next, err := e.GTIDNext()
		if err != nil {
			return fmt.Errorf("gtid event: %w", err)
		}
		st.begin(next.String(), h)
	case *replication.MariadbAnnotateRowsEvent:
		st.query = string(e.Query)
	case *replication.RowsQueryEvent:
		st.query = string(e.Query)
	case *replication.QueryEvent:
		q := strings.TrimSpace(string(e.Query))
		switch {
		case strings.EqualFold(q, "BEGIN"):
			st.thread = int64(e.SlaveProxyID)
			st.inTx = true
		case strings.EqualFold(q, "COMMIT"), strings.EqualFold(q, "ROLLBACK"): // non-transactional engines
			return st.commit(ctx, emit)
		default:
			// DDL, or another statement logged as a query.
			if err := st.schemaChange(ctx, h, string(e.Schema), q, int64(e.SlaveProxyID)); err != nil {
				return err
			}
			if st.inTx {
				// SAVEPOINT, ROLLBACK TO SAVEPOINT, the CREATE of a
				// CREATE ... SELECT: the transaction goes on.
				return nil
			}
			// A DDL is its own event group without an XID.
			return st.commit(ctx, emit)
		}
	case *replication.XIDEvent:
		return st.commit(ctx, emit)
	case *replication.RowsEvent:
		return st.rows(ctx, h, e, emit)
	}
	return nil
}

func (st *streamer) begin(gtid string, h *replication.EventHeader) {
	st.gtid = gtid
	st.n = 0
	st.thread = -1
	st.query = ""
	st.txFile = st.file
	st.txPos = h.LogPos - h.EventSize
	st.lastFile, st.lastPos = st.txFile, st.txPos
	if st.skipTx != "" && st.skipTx != gtid {
		// The partly emitted transaction is not the first one after the
		// stored set: nothing to skip (it was never ours to resume).
		st.skipTx, st.skipN = "", 0
	}
}

// commit ends the current transaction: its GTID joins the done set and the
// pending events are emitted, the last one carrying the new resume point.
func (st *streamer) commit(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	if st.gtid != "" {
		if err := st.done.Update(st.gtid); err != nil {
			return fmt.Errorf("gtid %s: %w", st.gtid, err)
		}
	}
	if st.skipTx == st.gtid {
		st.skipTx, st.skipN = "", 0
	}
	if st.filter != nil && st.done.Contain(st.filter.until) {
		st.s.log.Info("the stream passed the resumed snapshot's reads; no more filtering", "gtids", st.done.String())
		st.filter = nil
	}
	st.gtid, st.n, st.inTx = "", 0, false
	if len(st.pending) == 0 {
		return nil
	}
	st.pending[len(st.pending)-1].Position = position{Flavor: st.flavor, GTIDs: st.done.String(), File: st.txFile, Pos: st.txPos, Snap: st.filterProgress()}.encode()
	return st.flush(ctx, emit)
}

func (st *streamer) flush(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	b := st.pending
	st.pending = nil
	return emit(ctx, b)
}

// schemaChange applies a query event's statement to the schema model and,
// when it changed a tracked table, appends the change to the schema history
// before the transaction's position can be emitted.
func (st *streamer) schemaChange(ctx context.Context, h *replication.EventHeader, db, q string, thread int64) error {
	var before map[TableID]bool
	if st.s.cfg.IncludeSchemaChanges && schemaDDL.MatchString(q) {
		before = make(map[TableID]bool, len(st.model.tables))
		for id := range st.model.tables {
			before[id] = true
		}
	}
	parsed := true
	ids, err := st.ddl.apply(st.model, db, q)
	if err != nil {
		parsed = false
		// The statement's tables can no longer be trusted: forget them so
		// that their next rows are decoded with the catalog's definition,
		// which is right while the stream keeps up with the server.
		forgot := st.forget(db, q)
		st.s.log.Warn("schema history: DDL not applied; affected tables will be read from the catalog",
			"error", err, "db", db, "tables", len(forgot))
		ids = forgot
	}
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		delete(st.tables, id)
	}
	at := st.done.Clone()
	if st.gtid != "" {
		if err := at.Update(st.gtid); err != nil {
			return fmt.Errorf("gtid %s: %w", st.gtid, err)
		}
	}
	rec := st.model.record(ids)
	rec.GTIDs, rec.Flavor, rec.File, rec.Pos = at.String(), st.flavor, st.txFile, st.txPos
	rec.TsMs, rec.DB, rec.DDL = int64(h.Timestamp)*1000, db, q
	if err := st.hist.Append(ctx, rec); err != nil {
		return fmt.Errorf("schema history: %w", err)
	}
	st.s.log.Info("schema change", "db", db, "tables", len(ids), "gtid", st.gtid)
	if !st.s.cfg.IncludeSchemaChanges {
		return nil
	}
	// The schema change events count as items of the transaction, so a
	// restart inside it skips them like rows.
	st.n++
	if st.skipTx != "" && st.skipTx == st.gtid && st.n <= st.skipN {
		return nil
	}
	now := time.Now()
	for _, g := range groupChanges(ids, before, st.model, parsed) {
		src := sourceBlock(st.s.opts.TopicPrefix, sourcePos{
			ts: time.Unix(int64(h.Timestamp), 0), db: g.db, table: g.tables, serverID: h.ServerID, gtid: st.gtid,
			file: st.txFile, pos: st.txPos, thread: thread,
		})
		ev := schemaChangeEvent(st.s.opts.TopicPrefix, g.db, q, g.changes, src, now)
		ev.Position = position{Flavor: st.flavor, GTIDs: st.done.String(), Tx: st.gtid, N: st.n, File: st.txFile, Pos: st.txPos, Snap: st.filterProgress()}.encode()
		st.pending = append(st.pending, ev)
	}
	return nil
}

// changeGroup is the schema change event of one database.
type changeGroup struct {
	db      string
	tables  string // comma-separated table names, source.table
	changes []tableChange
}

// groupChanges turns the tables one statement changed into one event per
// database, as Debezium groups a statement's changes by database: CREATE
// for a table the model did not have before, DROP for one it no longer
// has, ALTER otherwise. Tables forgotten after a statement that did not
// parse get no entry (their new shape is unknown).
func groupChanges(ids []TableID, before map[TableID]bool, m *schemaModel, parsed bool) []changeGroup {
	var out []changeGroup
	idx := map[string]int{}
	for _, id := range ids {
		i, ok := idx[id.DB]
		if !ok {
			i = len(out)
			idx[id.DB] = i
			out = append(out, changeGroup{db: id.DB})
		}
		g := &out[i]
		if g.tables != "" {
			g.tables += ","
		}
		g.tables += id.Table
		if !parsed {
			continue
		}
		d := m.tables[id]
		switch {
		case d == nil:
			g.changes = append(g.changes, tableChange{typ: TableChangeDrop, id: id})
		case !before[id]:
			g.changes = append(g.changes, tableChange{typ: TableChangeCreate, id: id, def: d})
		default:
			g.changes = append(g.changes, tableChange{typ: TableChangeAlter, id: id, def: d})
		}
	}
	return out
}

// forget drops from the model every table of db, or named in q, whose
// definition an unapplied statement may have changed.
func (st *streamer) forget(db, q string) []TableID {
	var out []TableID
	for id := range st.model.tables {
		if id.DB == db && strings.Contains(q, id.Table) || strings.Contains(q, id.DB) && strings.Contains(q, id.Table) {
			delete(st.model.tables, id)
			out = append(out, id)
		}
	}
	return out
}

// table returns the schema for a rows event: the schema history's
// definition, or the catalog's for a table the history does not know. The
// column count (and names, when the server logs them) must agree.
func (st *streamer) table(ctx context.Context, id TableID, tm *replication.TableMapEvent) (*Table, error) {
	t := st.tables[id]
	if t == nil {
		d := st.model.tables[id]
		if d == nil {
			var ok bool
			var err error
			d, ok, err = st.catalog(ctx, id)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("%w: table %s: rows in the binlog, but the table is neither in the schema history nor in the catalog", ErrSchemaMismatch, id)
			}
			st.s.log.Warn("schema history has no definition; using the catalog's", "table", id.String())
			st.model.tables[id] = d
		}
		var err error
		if t, err = NewTable(st.s.opts.TopicPrefix, id, d.Columns, d.Key, st.s.types); err != nil {
			return nil, err
		}
		st.tables[id] = t
	}
	if len(t.Columns) != int(tm.ColumnCount) {
		return nil, fmt.Errorf("%w: table %s: binlog rows have %d columns, the schema history has %d", ErrSchemaMismatch, id, tm.ColumnCount, len(t.Columns))
	}
	if len(tm.ColumnName) == len(t.Columns) {
		for i, n := range tm.ColumnName {
			if !strings.EqualFold(string(n), t.Columns[i].Name) {
				return nil, fmt.Errorf("%w: table %s: binlog column %d is %q, the schema history says %q", ErrSchemaMismatch, id, i+1, n, t.Columns[i].Name)
			}
		}
	}
	return t, nil
}

func (st *streamer) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent, emit func(context.Context, event.Batch) error) error {
	id := TableID{DB: string(e.Table.Schema), Table: string(e.Table.Table)}
	if !st.s.filter.table(id.DB, id.Table) {
		return nil
	}
	t, err := st.table(ctx, id, e.Table)
	if err != nil {
		return err
	}
	var op event.Op
	step := 1
	switch h.EventType {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2:
		op = event.OpCreate
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2:
		op, step = event.OpUpdate, 2
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2:
		op = event.OpDelete
	default:
		return nil // partial JSON updates and others: not captured yet
	}
	ts := time.Unix(int64(h.Timestamp), 0)
	for i := 0; i+step <= len(e.Rows); i += step {
		st.n++
		if st.skipTx != "" && st.skipTx == st.gtid && st.n <= st.skipN {
			continue
		}
		keepOld, keepNew := true, true
		if st.filter != nil {
			// Each image decides for its key (chunk.go): the new one for
			// a create, the deleted one for a delete, both for an update.
			var err error
			if keepNew, err = st.filter.keep(t, st.gtid, e.Rows[i+step-1]); err != nil {
				return err
			}
			keepOld = keepNew
			if step == 2 {
				if keepOld, err = st.filter.keep(t, st.gtid, e.Rows[i]); err != nil {
					return err
				}
			}
			if !keepOld && !keepNew {
				continue
			}
		}
		src := sourcePos{
			ts: ts, db: id.DB, table: id.Table, serverID: h.ServerID, gtid: st.gtid,
			file: st.txFile, pos: st.txPos, row: int32(i / step), thread: st.thread,
		}
		if st.s.cfg.IncludeQuery {
			src.query = st.query
		}
		evs, err := st.change(t, op, e.Rows[i:i+step], src)
		if err != nil {
			return err
		}
		if keepOld != keepNew && len(evs) == 2 {
			// A key change across spans: only the half whose key's read
			// does not show it, without the key-change header.
			if keepNew {
				evs = evs[1:]
			} else {
				evs = evs[:1]
			}
			evs[0].Headers = nil
		}
		// Every event of this row shares the resume point "n rows of gtid".
		evs[len(evs)-1].Position = position{Flavor: st.flavor, GTIDs: st.done.String(), Tx: st.gtid, N: st.n, File: st.txFile, Pos: st.txPos, Snap: st.filterProgress()}.encode()
		st.pending = append(st.pending, evs...)
		if len(st.pending) >= st.s.cfg.MaxBatchSize {
			if err := st.flush(ctx, emit); err != nil {
				return err
			}
		}
	}
	return nil
}

// change builds the events of one row change: one event, or for an update
// that changes the primary key a delete and a create as Debezium emits them.
func (st *streamer) change(t *Table, op event.Op, rows [][]any, src sourcePos) ([]event.Event, error) {
	now := time.Now()
	mk := func(op event.Op, before, after *event.Struct, key *event.Struct) event.Event {
		ev := event.Event{
			Op: op, Before: before, After: after, Topic: t.Topic, Key: key, ValueSchema: t.Envelope,
			Source: sourceBlock(st.s.opts.TopicPrefix, src),
		}
		ev.SetTimestamp(now)
		return ev
	}
	switch op {
	case event.OpCreate:
		after, err := t.row(rows[0])
		if err != nil {
			return nil, err
		}
		return []event.Event{mk(op, nil, after, t.key(after))}, nil
	case event.OpDelete:
		before, err := t.row(rows[0])
		if err != nil {
			return nil, err
		}
		return []event.Event{mk(op, before, nil, t.key(before))}, nil
	}
	before, err := t.row(rows[0])
	if err != nil {
		return nil, err
	}
	after, err := t.row(rows[1])
	if err != nil {
		return nil, err
	}
	oldKey, newKey := t.key(before), t.key(after)
	if oldKey == nil || oldKey.Equal(newKey) {
		return []event.Event{mk(op, before, after, newKey)}, nil
	}
	del := mk(event.OpDelete, before, nil, oldKey)
	del.Headers = []event.Header{{Key: HeaderNewKey, Schema: t.KeySchema, Value: newKey}}
	cre := mk(event.OpCreate, nil, after, newKey)
	cre.Headers = []event.Header{{Key: HeaderOldKey, Schema: t.KeySchema, Value: oldKey}}
	return []event.Event{del, cre}, nil
}
