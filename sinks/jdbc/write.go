package jdbc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/sinks/sink"
)

// Flush writes every buffered operation in one transaction. See the
// package documentation for what happens when the target refuses a row.
func (s *Sink) Flush(ctx context.Context) error {
	if len(s.buf) == 0 {
		return nil
	}
	if err := s.prepareTables(ctx, s.buf); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error { return s.writeBatch(ctx, tx, s.buf) })
	if err == nil {
		s.dropBuffered(len(s.buf))
		return nil
	}
	if !isDataError(s.d, err) {
		// The tables may have changed under the sink: look again next time.
		clear(s.tables)
		return fmt.Errorf("jdbc sink: write batch: %w", err)
	}
	s.log.DebugContext(ctx, "jdbc sink: batch refused, retrying row by row", "error", err)
	// Find the refused record: apply the operations one at a time.
	for i := range s.buf {
		o := s.buf[i : i+1]
		err := s.inTx(ctx, func(tx *sql.Tx) error { return s.writeOps(ctx, tx, o) })
		if err == nil {
			continue
		}
		if isDataError(s.d, err) {
			rec, table := s.buf[i].rec, s.buf[i].table
			s.dropBuffered(i + 1)
			return &sink.RecordError{Record: rec, Err: fmt.Errorf("table %s: %w", table, err)}
		}
		s.dropBuffered(i)
		return fmt.Errorf("jdbc sink: write row: %w", err)
	}
	s.dropBuffered(len(s.buf))
	return nil
}

// dropBuffered removes the first n buffered operations.
func (s *Sink) dropBuffered(n int) {
	k := copy(s.buf, s.buf[n:])
	clear(s.buf[k:]) // release the records
	s.buf = s.buf[:k]
}

func (s *Sink) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// prepareTables creates and evolves the tables of ops before the data
// transaction (MySQL commits implicitly on DDL).
func (s *Sink) prepareTables(ctx context.Context, ops []op) error {
	var order []tableID
	sets := map[tableID][]*colSet{}
	seen := map[tableID]map[string]bool{}
	for i := range ops {
		o := &ops[i]
		if seen[o.table] == nil {
			seen[o.table] = map[string]bool{}
			order = append(order, o.table)
		}
		if !seen[o.table][o.cols.sig] {
			seen[o.table][o.cols.sig] = true
			sets[o.table] = append(sets[o.table], o.cols)
		}
	}
	for _, id := range order {
		// A missing table is created by the first set that writes rows;
		// deletes from it are skipped.
		ss := sets[id]
		if err := s.ensure(ctx, id, ss); err != nil {
			// Another task may have changed the table meanwhile: describe
			// it again on the retry.
			delete(s.tables, id)
			return fmt.Errorf("jdbc sink: %w", err)
		}
	}
	return nil
}

// writeBatch writes ops: in upsert mode reduced to the last operation per
// key, otherwise in order.
func (s *Sink) writeBatch(ctx context.Context, tx *sql.Tx, ops []op) error {
	if s.cfg.InsertMode != InsertModeUpsert {
		return s.writeOps(ctx, tx, ops)
	}
	type tk struct {
		t   tableID
		key string
	}
	last := make(map[tk]int, len(ops))
	for i := range ops {
		last[tk{ops[i].table, ops[i].key}] = i
	}
	reduced := make([]op, 0, len(last))
	// Deletes first, then upserts: after the reduction no two operations
	// share a key, so their order no longer matters.
	for _, del := range []bool{true, false} {
		for i := range ops {
			if last[tk{ops[i].table, ops[i].key}] == i && (ops[i].kind == opDelete) == del {
				reduced = append(reduced, ops[i])
			}
		}
	}
	return s.writeOps(ctx, tx, reduced)
}

// writeOps writes ops in order, grouping consecutive operations of the
// same kind, table and columns into multi-row statements.
func (s *Sink) writeOps(ctx context.Context, tx *sql.Tx, ops []op) error {
	for i := 0; i < len(ops); {
		j := i + 1
		for j < len(ops) && ops[j].kind == ops[i].kind && ops[j].table == ops[i].table && ops[j].cols.sig == ops[i].cols.sig {
			j++
		}
		if err := s.writeRun(ctx, tx, ops[i:j]); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// writeRun writes operations of one kind, table and column set.
func (s *Sink) writeRun(ctx context.Context, tx *sql.Tx, run []op) error {
	cs := run[0].cols
	per := max(1, min(s.cfg.BatchSize, maxParams/max(1, len(cs.cols))))
	if run[0].kind == opUpdate {
		per = 1
	}
	if s.d == postgres && run[0].kind != opUpdate && run[0].kind != opDelete {
		// One array per column: the statement text and its plan do not
		// depend on the row count, and the bind is as large as the data.
		per = s.cfg.BatchSize
	}
	for len(run) > 0 {
		n := min(per, len(run))
		if n > 1 {
			n = fitBytes(run[:n])
		}
		chunk := run[:n]
		run = run[n:]
		var query string
		args := make([]any, 0, n*len(cs.cols))
		switch chunk[0].kind {
		case opInsert, opUpsert:
			query = s.insertSQL(chunk[0].table, cs, n, chunk[0].kind == opUpsert)
			if s.d == postgres {
				for i := range cs.cols {
					col := make([]any, n)
					for r, o := range chunk {
						col[r] = o.vals[i]
					}
					args = append(args, col)
				}
				break
			}
			for _, o := range chunk {
				args = append(args, o.vals...)
			}
		case opUpdate:
			query = s.updateSQL(chunk[0].table, cs)
			args = append(args, chunk[0].vals[cs.npk:]...)
			args = append(args, chunk[0].vals[:cs.npk]...)
		case opDelete:
			if tb := s.tables[chunk[0].table]; tb == nil || tb.cols == nil {
				continue
			}
			query = s.deleteSQL(chunk[0].table, cs, n)
			for _, o := range chunk {
				args = append(args, o.vals...)
			}
		default:
			return errors.New("unknown operation")
		}
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) insertSQL(t tableID, cs *colSet, rows int, upsert bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(s.tableName(t))
	b.WriteString(" (")
	for i, c := range cs.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.ident(c.name))
	}
	if s.d == postgres {
		b.WriteString(") SELECT * FROM unnest(")
		for i, c := range cs.cols {
			if i > 0 {
				b.WriteString(", ")
			}
			s.d.placeholder(&b, i+1)
			if c.typ.textBound() {
				// Parsed by the server, so a bad value is a data error
				// (SQLSTATE 22…) naming the row, not a client encode error.
				b.WriteString("::TEXT[]")
			}
			b.WriteString("::" + sqlType(s.d, c.typ, c.pk) + "[]")
		}
		b.WriteByte(')')
		return s.conflictClause(&b, cs, upsert)
	}
	b.WriteString(") VALUES ")
	n := 0
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for i := range cs.cols {
			if i > 0 {
				b.WriteByte(',')
			}
			n++
			s.d.placeholder(&b, n)
		}
		b.WriteByte(')')
	}
	return s.conflictClause(&b, cs, upsert)
}

// conflictClause ends an insert as an upsert on the primary key.
func (s *Sink) conflictClause(b *strings.Builder, cs *colSet, upsert bool) string {
	if !upsert || cs.npk == 0 {
		return b.String()
	}
	rest := cs.cols[cs.npk:]
	switch s.d {
	case mariadb:
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		if len(rest) == 0 {
			c := s.ident(cs.cols[0].name)
			b.WriteString(c + "=" + c)
		}
		for i, c := range rest {
			if i > 0 {
				b.WriteString(", ")
			}
			q := s.ident(c.name)
			b.WriteString(q + "=VALUES(" + q + ")")
		}
	default:
		b.WriteString(" ON CONFLICT (")
		for i, c := range cs.cols[:cs.npk] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s.ident(c.name))
		}
		if len(rest) == 0 {
			b.WriteString(") DO NOTHING")
			return b.String()
		}
		b.WriteString(") DO UPDATE SET ")
		for i, c := range rest {
			if i > 0 {
				b.WriteString(", ")
			}
			q := s.ident(c.name)
			b.WriteString(q + "=excluded." + q)
		}
	}
	return b.String()
}

func (s *Sink) updateSQL(t tableID, cs *colSet) string {
	var b strings.Builder
	b.WriteString("UPDATE " + s.tableName(t) + " SET ")
	n := 0
	for i, c := range cs.cols[cs.npk:] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.ident(c.name) + "=")
		n++
		s.d.placeholder(&b, n)
	}
	b.WriteString(" WHERE ")
	for i, c := range cs.cols[:cs.npk] {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(s.ident(c.name) + "=")
		n++
		s.d.placeholder(&b, n)
	}
	return b.String()
}

func (s *Sink) deleteSQL(t tableID, cs *colSet, rows int) string {
	var b strings.Builder
	b.WriteString("DELETE FROM " + s.tableName(t) + " WHERE ")
	n := 0
	if len(cs.cols) == 1 {
		b.WriteString(s.ident(cs.cols[0].name) + " IN (")
		for r := range rows {
			if r > 0 {
				b.WriteByte(',')
			}
			n++
			s.d.placeholder(&b, n)
		}
		b.WriteByte(')')
		return b.String()
	}
	for r := range rows {
		if r > 0 {
			b.WriteString(" OR ")
		}
		b.WriteByte('(')
		for i, c := range cs.cols {
			if i > 0 {
				b.WriteString(" AND ")
			}
			b.WriteString(s.ident(c.name) + "=")
			n++
			s.d.placeholder(&b, n)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// maxStatementBytes bounds the values of one statement, well under
// MariaDB's default max_allowed_packet (16 MiB).
const maxStatementBytes = 4 << 20

// fitBytes returns how many of ops (at least one) fit maxStatementBytes.
func fitBytes(ops []op) int {
	size := 0
	for i, o := range ops {
		for _, v := range o.vals {
			switch x := v.(type) {
			case string:
				size += len(x) + 8
			case []byte:
				size += 2*len(x) + 8 // hex when interpolated
			default:
				size += 16
			}
		}
		if size > maxStatementBytes && i > 0 {
			return i
		}
	}
	return len(ops)
}
