package postgres

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-cdc/sluice/event"
)

// Headers Debezium adds to the delete and create of a primary-key change.
const (
	HeaderOldKey = "__debezium.oldkey"
	HeaderNewKey = "__debezium.newkey"
)

// Logical decoding message schemas (PostgresSchemaFactory).
func messageSchemas(binary BinaryMode) (key, value *event.Schema) {
	content := event.Bytes().Optional()
	if binary != BinaryBytes {
		content = event.String().Optional()
	}
	key = event.StructOf("io.debezium.connector.postgresql.MessageKey",
		event.NewField("prefix", event.String().Optional())).WithVersion(1)
	block := event.StructOf("io.debezium.connector.postgresql.Message",
		event.NewField("prefix", event.String().Optional()),
		event.NewField("content", content)).WithVersion(1)
	value = event.StructOf("io.debezium.connector.postgresql.MessageValue",
		event.NewField(event.FieldOp, event.String()),
		event.NewField(event.FieldTsMs, event.Int64().Optional()),
		event.NewField(event.FieldSource, sourceSchema),
		event.NewField(event.FieldTransaction, event.TransactionBlockSchema()),
		event.NewField(event.FieldMessage, block)).WithVersion(1)
	return key, value
}

// walMsg is one message from the replication connection, copied out of
// pgconn's receive buffer by the reader goroutine.
type walMsg struct {
	keepalive bool
	walStart  uint64
	walEnd    uint64
	data      []byte
}

// idleFlush is how long a partial batch waits for more messages before it
// is emitted while a transaction is still open.
const idleFlush = 20 * time.Millisecond

// streamer is the state of one replication session's main loop.
type streamer struct {
	s                *Source
	emit             func(context.Context, event.Batch) error
	conn             *pgx.Conn // catalog queries (main goroutine only)
	mapper           *TypeMapper
	topts            TableOptions
	si               sourceInfo
	relations        map[uint32]*Table // nil value: relation not captured
	msgKey, msgValue *event.Schema

	pending    event.Batch
	resume     uint64 // end LSN of the last fully emitted transaction
	lastCommit uint64
	keepalive  uint64

	// current transaction
	inTx       bool
	skipTx     bool
	xid        uint32
	commitLSN  uint64
	commitTime time.Time
	n          int64 // events of this transaction so far (numbered from 1)
	skipN      int64 // events 1..skipN were emitted before a restart
	tx         txTracker
	skipFrom   *txPosition
	inStream   bool
	dedup      *dedup // resumed-snapshot filter (resume.go); nil when off
}

func (st *streamer) curPosition() position {
	if st.inTx && !st.skipTx {
		return position{LSN: lsnText(st.resume), Tx: &txPosition{Xid: st.xid, Commit: lsnText(st.commitLSN), N: st.n}}
	}
	return position{LSN: lsnText(st.resume)}
}

// flush emits pending events; the last carries the current position.
func (st *streamer) flush(ctx context.Context, keep int) error {
	if len(st.pending) <= keep {
		return nil
	}
	out := st.pending[:len(st.pending)-keep]
	last := &out[len(out)-1]
	if last.Position == nil {
		p := st.curPosition()
		if st.inTx && !st.skipTx {
			p.Tx.N = st.n - int64(keep)
		}
		last.Position = p.encode()
	}
	pos, err := decodePosition(last.Position)
	if err != nil {
		return err
	}
	batch := make(event.Batch, len(out))
	copy(batch, out)
	rest := copy(st.pending, st.pending[len(out):])
	clear(st.pending[rest:])
	st.pending = st.pending[:rest]
	if err := st.s.emitBatch(ctx, st.emit, batch, pos); err != nil {
		return err
	}
	return nil
}

// add appends one event of the current transaction (or a standalone one),
// emitting the pending batch first when it is full.
func (st *streamer) add(ctx context.Context, e event.Event) error {
	if e.Op != event.OpMessage && st.s.cfg.skipped(byte(e.Op)) {
		return nil // skipped.operations: not emitted, not counted
	}
	if st.inTx {
		st.n++
		if st.n <= st.skipN {
			return nil
		}
	}
	if len(st.pending) >= st.s.cfg.MaxBatchSize {
		if err := st.flushFull(ctx); err != nil {
			return err
		}
	}
	st.pending = append(st.pending, e)
	return nil
}

func (st *streamer) flushFull(ctx context.Context) error {
	// The event being added is not pending yet, so the position is that of
	// event n-1.
	if st.inTx && !st.skipTx {
		last := &st.pending[len(st.pending)-1]
		last.Position = position{LSN: lsnText(st.resume), Tx: &txPosition{Xid: st.xid, Commit: lsnText(st.commitLSN), N: st.n - 1}}.encode()
	}
	return st.flush(ctx, 0)
}

func (s *Source) emitBatch(ctx context.Context, emit func(context.Context, event.Batch) error, b event.Batch, pos position) error {
	if s.stamp != nil {
		s.stampDedup(b, &pos)
	}
	if err := emit(ctx, b); err != nil {
		return fatal(fmt.Errorf("emit: %w", err))
	}
	s.metrics.events.Add(float64(len(b)))
	s.emitted(pos)
	s.mu.Lock()
	s.resumeFrom = &pos
	s.mu.Unlock()
	return nil
}

// stream runs START_REPLICATION and the receive loop until ctx ends or an
// error.
func (s *Source) stream(ctx context.Context, repl *pgconn.PgConn, conn *pgx.Conn, emit func(context.Context, event.Batch) error,
	db string, from *position, startLSN uint64) error {
	args := []string{
		fmt.Sprintf("proto_version '%d'", s.cfg.ProtoVersion),
		"publication_names '" + escapeLiteral(s.cfg.PublicationName) + "'",
		"messages 'true'",
	}
	if err := pglogrepl.StartReplication(ctx, repl, s.cfg.SlotName, pglogrepl.LSN(startLSN),
		pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication, PluginArgs: args}); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" {
			return fmt.Errorf("start replication: slot %s is in use by another process: %w", s.cfg.SlotName, err)
		}
		return fmt.Errorf("start replication on slot %s: %w", s.cfg.SlotName, err)
	}
	s.log.Info("streaming started", "slot", s.cfg.SlotName, "lsn", pglogrepl.LSN(startLSN).String())

	st := &streamer{
		s: s, emit: emit, conn: conn,
		mapper:    NewTypeMapper(NewTypeCatalog(conn), s.typeOpts, s.log),
		topts:     s.tableOptions(),
		si:        sourceInfo{name: s.opts.TopicPrefix, db: db},
		relations: make(map[uint32]*Table),
	}
	st.msgKey, st.msgValue = messageSchemas(s.typeOpts.Binary)
	if from != nil {
		st.resume = uint64(from.LSN)
		st.lastCommit = uint64(from.LSN)
		st.skipFrom = from.Tx
		st.dedup = newDedup(from.Dedup)
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan walMsg, 256)
	readErr := make(chan error, 1)
	replyNow := make(chan struct{}, 1)
	go func() { readErr <- readLoop(repl, msgs, replyNow) }()
	statusErr := make(chan error, 1)
	go func() { statusErr <- s.statusLoop(sctx, repl, replyNow) }()
	defer func() {
		cancel()
		<-statusErr
		_ = repl.Conn().Close() // unblocks readLoop
		for range msgs {
			// Unblocks a readLoop waiting on a full channel; it closes
			// msgs when it returns.
		}
		<-readErr
	}()

	var hbC <-chan time.Time
	if s.cfg.HeartbeatIntervalMs > 0 {
		t := time.NewTicker(time.Duration(s.cfg.HeartbeatIntervalMs) * time.Millisecond)
		defer t.Stop()
		hbC = t.C
	}
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	idleArmed := false
	for {
		if len(st.pending) > 0 && !idleArmed {
			idle.Reset(idleFlush)
			idleArmed = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-statusErr:
			statusErr <- err // for the deferred wait
			return err
		case err := <-readErr:
			readErr <- err
			// Drain what was read before the error.
			for len(msgs) > 0 {
				if e := st.handle(ctx, <-msgs, len(msgs) == 0); e != nil {
					return e
				}
			}
			return err
		case m := <-msgs:
			if err := st.handle(ctx, m, len(msgs) == 0); err != nil {
				return err
			}
		case <-idle.C:
			idleArmed = false
			keep := 0
			if st.inTx && len(st.pending) > 0 && st.pending[len(st.pending)-1].Position == nil {
				// The newest pending event belongs to the open transaction:
				// hold it back so that COMMIT has an event to carry the end
				// LSN. (When it carries a position, it ends an earlier
				// transaction or a full batch, and everything can go.)
				keep = 1
			}
			if err := st.flush(ctx, keep); err != nil {
				return err
			}
		case now := <-hbC:
			if err := st.heartbeat(ctx, now); err != nil {
				return err
			}
		}
	}
}

func (s *Source) tableOptions() TableOptions {
	return TableOptions{TopicPrefix: s.opts.TopicPrefix, ColumnInclude: s.cfg.ColumnIncludeList,
		ColumnExclude: s.cfg.ColumnExcludeList, UnavailableValue: s.cfg.UnavailableValue}
}

func escapeLiteral(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// readLoop receives replication messages without per-message contexts
// (ReceiveMessage with context.Background sets up no watcher); it ends when
// the connection is closed.
func readLoop(repl *pgconn.PgConn, out chan<- walMsg, replyNow chan<- struct{}) error {
	defer close(out)
	for {
		msg, err := repl.ReceiveMessage(context.Background())
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parse keepalive: %w", err)
				}
				if ka.ReplyRequested {
					select {
					case replyNow <- struct{}{}:
					default:
					}
				}
				out <- walMsg{keepalive: true, walEnd: uint64(ka.ServerWALEnd)}
			case pglogrepl.XLogDataByteID:
				x, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parse xlogdata: %w", err)
				}
				data := make([]byte, len(x.WALData))
				copy(data, x.WALData)
				out <- walMsg{walStart: uint64(x.WALStart), walEnd: uint64(x.ServerWALEnd), data: data}
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyDone:
			return fmt.Errorf("replication stream ended by server: %w", io.EOF)
		}
	}
}

// statusLoop sends standby status updates every status.update.interval.ms
// (and at once when the server asks), and refreshes the slot-lag metric and
// runs heartbeat.action.query on its own connection.
func (s *Source) statusLoop(ctx context.Context, repl *pgconn.PgConn, replyNow <-chan struct{}) error {
	every := time.Duration(s.cfg.StatusUpdateIntervalMs) * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	var hb <-chan time.Time
	if s.cfg.HeartbeatIntervalMs > 0 {
		ht := time.NewTicker(time.Duration(s.cfg.HeartbeatIntervalMs) * time.Millisecond)
		defer ht.Stop()
		hb = ht.C
	}
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	side := func() {
		if conn == nil || conn.IsClosed() {
			c, err := s.connectNormal(ctx)
			if err != nil {
				s.log.Warn("status connection failed", "error", err)
				return
			}
			conn = c
		}
		var lag int64
		if err := conn.QueryRow(ctx, `SELECT COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::int8
FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.SlotName).Scan(&lag); err == nil {
			s.metrics.slotLag.Set(float64(lag))
		} else if ctx.Err() == nil {
			s.log.Warn("slot lag query failed", "error", err)
		}
	}
	send := func() error {
		lsn := s.confirmable()
		if err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: pglogrepl.LSN(lsn)}); err != nil {
			return fmt.Errorf("send standby status: %w", err)
		}
		return nil
	}
	if err := send(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-replyNow:
			if err := send(); err != nil {
				return err
			}
		case <-t.C:
			if err := send(); err != nil {
				return err
			}
			side()
		case <-hb:
			if s.cfg.HeartbeatActionQuery != "" {
				if conn == nil {
					side()
				}
				if conn != nil {
					if _, err := conn.Exec(ctx, s.cfg.HeartbeatActionQuery); err != nil && ctx.Err() == nil {
						s.log.Warn("heartbeat.action.query failed", "error", err)
					}
				}
			}
		}
	}
}

// heartbeat emits a heartbeat record when nothing is pending. Outside a
// transaction it carries the latest keepalive LSN, so that acking it lets
// the slot advance on an idle or filtered-out database.
func (st *streamer) heartbeat(ctx context.Context, now time.Time) error {
	if err := st.flush(ctx, 0); err != nil {
		return err
	}
	p := st.curPosition()
	if !st.inTx && st.keepalive > uint64(p.LSN) {
		p.LSN = lsnText(st.keepalive)
		st.resume = st.keepalive
	}
	e := event.Heartbeat(st.s.opts.TopicPrefix, now, p.encode())
	return st.s.emitBatch(ctx, st.emit, event.Batch{e}, p)
}

// handle processes one replication message. caughtUp says no further
// message is buffered.
func (st *streamer) handle(ctx context.Context, m walMsg, caughtUp bool) error {
	if m.keepalive {
		if !st.inTx && m.walEnd > st.keepalive {
			st.keepalive = m.walEnd
			if len(st.pending) == 0 {
				st.s.setIdle(m.walEnd)
			}
		}
		return nil
	}
	if len(m.data) == 0 {
		return nil
	}
	var msg pglogrepl.Message
	var err error
	if st.s.cfg.ProtoVersion >= 2 {
		msg, err = pglogrepl.ParseV2(m.data, st.inStream)
	} else {
		msg, err = pglogrepl.Parse(m.data)
	}
	if err != nil {
		return fmt.Errorf("decode pgoutput message %q at %s: %w", m.data[0], pglogrepl.LSN(m.walStart), err)
	}
	if st.dedup != nil && st.inTx && st.commitLSN < st.dedup.until {
		// A change the resumed snapshot may already show (resume.go).
		if msg, err = st.dedup.filter(ctx, st, msg); err != nil || msg == nil {
			return err
		}
	}
	switch msg := msg.(type) {
	case *pglogrepl.BeginMessage:
		st.begin(msg)
		return st.txBegin(ctx, m.walStart)
	case *pglogrepl.CommitMessage:
		return st.commit(ctx, msg, caughtUp)
	case *pglogrepl.RelationMessage:
		return st.relation(ctx, msg)
	case *pglogrepl.RelationMessageV2:
		return st.relation(ctx, &msg.RelationMessage)
	case *pglogrepl.InsertMessage:
		return st.insert(ctx, msg, m.walStart)
	case *pglogrepl.InsertMessageV2:
		return st.insert(ctx, &msg.InsertMessage, m.walStart)
	case *pglogrepl.UpdateMessage:
		return st.update(ctx, msg, m.walStart)
	case *pglogrepl.UpdateMessageV2:
		return st.update(ctx, &msg.UpdateMessage, m.walStart)
	case *pglogrepl.DeleteMessage:
		return st.delete(ctx, msg, m.walStart)
	case *pglogrepl.DeleteMessageV2:
		return st.delete(ctx, &msg.DeleteMessage, m.walStart)
	case *pglogrepl.TruncateMessage:
		return st.truncate(ctx, msg, m.walStart)
	case *pglogrepl.TruncateMessageV2:
		return st.truncate(ctx, &msg.TruncateMessage, m.walStart)
	case *pglogrepl.LogicalDecodingMessage:
		return st.message(ctx, msg, caughtUp)
	case *pglogrepl.LogicalDecodingMessageV2:
		return st.message(ctx, &msg.LogicalDecodingMessage, caughtUp)
	case *pglogrepl.StreamStartMessageV2, *pglogrepl.StreamStopMessageV2, *pglogrepl.StreamCommitMessageV2, *pglogrepl.StreamAbortMessageV2:
		return fatal(fmt.Errorf("unexpected streamed-transaction message %T: streaming is not requested", msg))
	default:
		// Type and Origin messages carry nothing Sluice emits.
	}
	return nil
}

func (st *streamer) begin(m *pglogrepl.BeginMessage) {
	st.inTx = true
	st.xid = m.Xid
	st.commitLSN = uint64(m.FinalLSN)
	st.commitTime = m.CommitTime
	st.n = 0
	st.skipN = 0
	// A transaction that committed before the resume point was emitted in
	// full already (the server may resend it when the confirmed LSN lags).
	st.skipTx = st.commitLSN < st.resume
	if p := st.skipFrom; p != nil && p.Xid == m.Xid && uint64(p.Commit) == st.commitLSN {
		st.skipN = p.N
	}
	st.tx.begin(m.Xid)
}

func (st *streamer) commit(ctx context.Context, m *pglogrepl.CommitMessage, caughtUp bool) error {
	if err := st.txEnd(ctx, m); err != nil {
		return err
	}
	end := uint64(m.TransactionEndLSN)
	wasSkipped := st.skipTx
	st.inTx = false
	st.skipTx = false
	st.skipFrom = nil
	if wasSkipped {
		return nil
	}
	st.resume = end
	st.lastCommit = end
	if len(st.pending) > 0 {
		st.pending[len(st.pending)-1].Position = position{LSN: lsnText(end)}.encode()
	} else {
		// Nothing of this transaction is pending (empty, filtered out, or
		// already emitted before a restart): confirm once all is acked.
		st.s.setIdle(end)
	}
	if caughtUp || len(st.pending) >= st.s.cfg.MaxBatchSize {
		return st.flush(ctx, 0)
	}
	return nil
}

func (st *streamer) relation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	id := TableID{Schema: m.Namespace, Name: m.RelationName}
	if !st.s.captured(id) {
		st.relations[m.RelationID] = nil
		return nil
	}
	t, err := tableFromRelation(ctx, st.conn, st.mapper, m, st.topts)
	if err != nil {
		return err
	}
	st.relations[m.RelationID] = t
	return nil
}

func (st *streamer) table(oid uint32) (*Table, bool, error) {
	t, ok := st.relations[oid]
	if !ok {
		return nil, false, fmt.Errorf("change for relation %d before its Relation message", oid)
	}
	return t, t != nil, nil
}

func (st *streamer) newEvent(t *Table, op event.Op, lsn uint64) event.Event {
	e := event.Event{Op: op, Topic: t.Topic, ValueSchema: t.ValueSchema}
	e.Source = st.si.build(sourcePos{ts: st.commitTime, schema: t.ID.Schema, table: t.ID.Name,
		txID: int64(st.xid), lsn: lsn, lastCommit: st.lastCommit})
	e.SetTimestamp(time.Now())
	if st.s.cfg.ProvideTxMetadata {
		e.Transaction = st.tx.event(t.ID.String(), lsn)
	}
	return e
}

func (st *streamer) insert(ctx context.Context, m *pglogrepl.InsertMessage, lsn uint64) error {
	t, ok, err := st.table(m.RelationID)
	if err != nil || !ok || st.skipTx {
		return err
	}
	after, err := t.tupleRow(m.Tuple)
	if err != nil {
		return err
	}
	e := st.newEvent(t, event.OpCreate, lsn)
	e.After = after
	e.Key = t.Key(after)
	return st.add(ctx, e)
}

func (st *streamer) update(ctx context.Context, m *pglogrepl.UpdateMessage, lsn uint64) error {
	t, ok, err := st.table(m.RelationID)
	if err != nil || !ok || st.skipTx {
		return err
	}
	after, err := t.tupleRow(m.NewTuple)
	if err != nil {
		return err
	}
	var before *event.Struct
	if m.OldTuple != nil {
		if before, err = t.tupleRow(m.OldTuple); err != nil {
			return err
		}
	}
	newKey := t.Key(after)
	if m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey || (m.OldTupleType == pglogrepl.UpdateMessageTupleTypeOld && newKey != nil) {
		oldKey := t.Key(before)
		if oldKey != nil && newKey != nil && !oldKey.Equal(newKey) {
			// Primary key change: Debezium emits a delete of the old key
			// (then its tombstone, added by the wiring) and a create of
			// the new key, linked by headers.
			del := st.newEvent(t, event.OpDelete, lsn)
			del.Before = before
			del.Key = oldKey
			del.Headers = []event.Header{{Key: HeaderNewKey, Schema: t.KeySchema, Value: newKey}}
			if err := st.add(ctx, del); err != nil {
				return err
			}
			cr := st.newEvent(t, event.OpCreate, lsn)
			cr.After = after
			cr.Key = newKey
			cr.Headers = []event.Header{{Key: HeaderOldKey, Schema: t.KeySchema, Value: oldKey}}
			return st.add(ctx, cr)
		}
	}
	e := st.newEvent(t, event.OpUpdate, lsn)
	if m.OldTupleType == pglogrepl.UpdateMessageTupleTypeOld {
		e.Before = before // REPLICA IDENTITY FULL: the whole old row
	}
	e.After = after
	e.Key = newKey
	return st.add(ctx, e)
}

func (st *streamer) delete(ctx context.Context, m *pglogrepl.DeleteMessage, lsn uint64) error {
	t, ok, err := st.table(m.RelationID)
	if err != nil || !ok || st.skipTx {
		return err
	}
	before, err := t.tupleRow(m.OldTuple)
	if err != nil {
		return err
	}
	e := st.newEvent(t, event.OpDelete, lsn)
	e.Before = before
	e.Key = t.Key(before)
	return st.add(ctx, e)
}

func (st *streamer) truncate(ctx context.Context, m *pglogrepl.TruncateMessage, lsn uint64) error {
	if st.skipTx {
		return nil
	}
	for _, oid := range m.RelationIDs {
		t, ok, err := st.table(oid)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := st.add(ctx, st.newEvent(t, event.OpTruncate, lsn)); err != nil {
			return err
		}
	}
	return nil
}

func (st *streamer) message(ctx context.Context, m *pglogrepl.LogicalDecodingMessage, caughtUp bool) error {
	lsn := uint64(m.LSN)
	content := any(m.Content)
	switch st.s.typeOpts.Binary {
	case BinaryBase64:
		content = base64.StdEncoding.EncodeToString(m.Content)
	case BinaryBase64URLSafe:
		content = base64.URLEncoding.EncodeToString(m.Content)
	case BinaryHex:
		content = hex.EncodeToString(m.Content)
	default:
		content = append([]byte(nil), m.Content...)
	}
	e := event.Event{Op: event.OpMessage, Topic: st.s.opts.TopicPrefix + ".message", ValueSchema: st.msgValue,
		Key: event.NewStruct(st.msgKey, m.Prefix), Message: &event.Message{Prefix: m.Prefix, Content: content}}
	e.SetTimestamp(time.Now())
	if m.Transactional {
		if !st.inTx || st.skipTx {
			return nil
		}
		e.Source = st.si.build(sourcePos{ts: st.commitTime, txID: int64(st.xid), lsn: lsn, lastCommit: st.lastCommit})
		if st.s.cfg.ProvideTxMetadata {
			e.Transaction = st.tx.event(messageCollection, lsn)
		}
		return st.add(ctx, e)
	}
	// Non-transactional: emitted at once, a resume point of its own.
	if lsn <= st.resume {
		return nil
	}
	e.Source = st.si.build(sourcePos{ts: time.Now(), txID: -1, lsn: lsn, lastCommit: st.lastCommit})
	st.resume = lsn
	e.Position = position{LSN: lsnText(lsn)}.encode()
	if err := st.add(ctx, e); err != nil {
		return err
	}
	if caughtUp {
		return st.flush(ctx, 0)
	}
	return nil
}
