package outbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// UUID is an event id. The zero UUID means "generate one" to Write and Emit.
type UUID [16]byte

// NewUUID returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then
// random bits, so ids sort roughly by creation time and index well.
func NewUUID() (UUID, error) {
	var u UUID
	if _, err := rand.Read(u[6:]); err != nil {
		return UUID{}, fmt.Errorf("generate event id: %w", err)
	}
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
	copy(u[:6], ms[2:])
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u, nil
}

// ParseUUID parses the canonical 8-4-4-4-12 hex form.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("uuid %q: want 8-4-4-4-12 hex digits", s)
	}
	if _, err := hex.Decode(u[:], []byte(strings.ReplaceAll(s, "-", ""))); err != nil {
		return u, fmt.Errorf("uuid %q: %w", s, err)
	}
	return u, nil
}

// String returns the canonical lower-case form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// IsZero reports whether u is the zero UUID.
func (u UUID) IsZero() bool { return u == UUID{} }

// Event is one outbox event a service writes with its business change.
type Event struct {
	// ID is the event id, the "id" header; zero generates a UUIDv7.
	ID UUID
	// AggregateType routes the event (topic outbox.event.<AggregateType>).
	AggregateType string
	// AggregateID is the Kafka record key.
	AggregateID string
	// Type is the event type, e.g. OrderCreated.
	Type string
	// Payload is the record value: json.RawMessage or []byte are JSON text
	// used as is, anything else is encoded with encoding/json; nil is a
	// null payload (a tombstone with route.tombstone.on.empty.payload).
	Payload any
	// TracingSpanContext fills the tracingspancontext column when set.
	TracingSpanContext string
	// Fields are extra columns (table) or keys (message), which
	// table.fields.additional.placement can put in headers or the value.
	Fields map[string]any
}

// Execer is what Write and Emit need of the caller's transaction:
// *sql.Tx has it (and *sql.Conn, *sql.DB outside a transaction); wrap a
// pgx.Tx with Pgx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// PgxExecer is the Exec method of pgx.Tx (and pgx.Conn, pgxpool.Pool).
type PgxExecer interface {
	Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
}

// Pgx adapts a pgx transaction to Execer.
func Pgx(tx PgxExecer) Execer { return pgxExecer{tx} }

type pgxExecer struct{ tx PgxExecer }

func (p pgxExecer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tag, err := p.tx.Exec(ctx, query, args...)
	return pgxResult(tag), err
}

type pgxResult pgconn.CommandTag

func (r pgxResult) LastInsertId() (int64, error) {
	return 0, errors.New("pgx: LastInsertId is not supported")
}
func (r pgxResult) RowsAffected() (int64, error) { return pgconn.CommandTag(r).RowsAffected(), nil }

// Dialect is the SQL a Writer speaks to the outbox table.
type Dialect int

const (
	// Postgres: $n placeholders, "quoted" identifiers, the timestamp from
	// the column default; Emit writes logical decoding messages.
	Postgres Dialect = iota
	// MySQL covers MySQL and MariaDB: ? placeholders, `quoted`
	// identifiers, the timestamp set to UTC_TIMESTAMP(6) (a DATETIME is read
	// as UTC); there are no logical decoding messages, so Emit fails.
	MySQL
)

// String returns "postgres" or "mysql".
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return fmt.Sprintf("Dialect(%d)", int(d))
}

// ErrEmitUnsupported is returned by Emit on a dialect without logical
// decoding messages (MySQL): use Write and an outbox table there.
var ErrEmitUnsupported = errors.New("logical decoding messages are Postgres-only")

// WriterConfig configures a Writer.
type WriterConfig struct {
	// Dialect is the database the transactions go to; default Postgres.
	Dialect Dialect
	// Table is the outbox table, optionally qualified (schema.table on
	// Postgres, database.table on MySQL); default "outbox"
	// (migrations/001_outbox.postgres.sql, migrations/002_outbox.mysql.sql).
	Table string
	// DeleteAfterInsert deletes each row right after inserting it, in the
	// same transaction: the insert is still captured from the log, and the
	// table stays empty.
	DeleteAfterInsert bool
	// Prefix is the logical decoding message prefix Emit uses; default
	// "outbox" (the router's message.prefix default).
	Prefix string
}

// Writer writes outbox events inside callers' transactions. The zero value
// is not ready; use NewWriter. A Writer is safe for concurrent use.
type Writer struct {
	dialect       Dialect
	table, prefix string
	deleteAfter   bool
}

// NewWriter returns a Writer for cfg.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	w := &Writer{dialect: cfg.Dialect, table: cfg.Table, prefix: cfg.Prefix, deleteAfter: cfg.DeleteAfterInsert}
	if w.dialect != Postgres && w.dialect != MySQL {
		return nil, fmt.Errorf("outbox writer: unknown %v", w.dialect)
	}
	if w.table == "" {
		w.table = "outbox"
	}
	if w.prefix == "" {
		w.prefix = DefaultMessagePrefix
	}
	parts := strings.Split(w.table, ".")
	for _, part := range parts {
		if len(parts) > 2 || !validIdent(part) {
			return nil, fmt.Errorf("outbox writer: table %q: want [schema.]name of letters, digits and _", w.table)
		}
	}
	return w, nil
}

var defaultWriter = &Writer{table: "outbox", prefix: DefaultMessagePrefix}

// Write inserts ev into the table "outbox" inside tx, with the defaults of
// WriterConfig. It returns the event id.
func Write(ctx context.Context, tx Execer, ev Event) (UUID, error) {
	return defaultWriter.Write(ctx, tx, ev)
}

// Emit emits ev as a transactional logical decoding message with prefix
// "outbox" inside tx. It returns the event id.
func Emit(ctx context.Context, tx Execer, ev Event) (UUID, error) {
	return defaultWriter.Emit(ctx, tx, ev)
}

// Write inserts ev into the outbox table inside tx (and deletes it again
// when DeleteAfterInsert is set). Nothing reaches Kafka unless tx commits.
// It returns the event id.
func (w *Writer) Write(ctx context.Context, tx Execer, ev Event) (UUID, error) {
	id, payload, err := prepare(&ev)
	if err != nil {
		return id, err
	}
	cols := []string{"id", "aggregatetype", "aggregateid", "type", "payload"}
	args := []any{id.String(), ev.AggregateType, ev.AggregateID, ev.Type, nil}
	if payload != nil {
		args[4] = *payload
	}
	if ev.TracingSpanContext != "" {
		cols = append(cols, "tracingspancontext")
		args = append(args, ev.TracingSpanContext)
	}
	for _, k := range sortedKeys(ev.Fields) {
		if !validIdent(k) {
			return id, fmt.Errorf("outbox event %s: field %q: want letters, digits and _", id, k)
		}
		cols = append(cols, k)
		args = append(args, ev.Fields[k])
	}
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = w.placeholder(i + 1)
	}
	if w.dialect == MySQL {
		// A DATETIME has no zone and Debezium reads it as UTC; the
		// column default would use the session's time zone.
		cols = append(cols, "timestamp")
		ph = append(ph, "UTC_TIMESTAMP(6)")
	}
	q := "INSERT INTO " + w.table + " (" + w.quote(cols...) + ") VALUES (" + strings.Join(ph, ", ") + ")"
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return id, fmt.Errorf("insert outbox event %s into %s: %w", id, w.table, err)
	}
	if w.deleteAfter {
		q := "DELETE FROM " + w.table + " WHERE " + w.quote("id") + " = " + w.placeholder(1)
		if _, err := tx.ExecContext(ctx, q, id.String()); err != nil {
			return id, fmt.Errorf("delete outbox event %s from %s: %w", id, w.table, err)
		}
	}
	return id, nil
}

// Emit emits ev with pg_logical_emit_message(true, prefix, content) inside
// tx: no table, nothing to clean up. The content is a JSON object with the
// outbox column names (id, aggregatetype, aggregateid, type, payload,
// timestamp in Unix milliseconds, tracingspancontext, then Fields), which
// Sluice's router reads like a row of the outbox table. It returns the
// event id.
func (w *Writer) Emit(ctx context.Context, tx Execer, ev Event) (UUID, error) {
	if w.dialect != Postgres {
		return UUID{}, fmt.Errorf("emit outbox event on %v: %w", w.dialect, ErrEmitUnsupported)
	}
	id, payload, err := prepare(&ev)
	if err != nil {
		return id, err
	}
	var b strings.Builder
	b.WriteString("{")
	put := func(k string, v any) error {
		kb, _ := json.Marshal(k)
		vb, ok := v.(json.RawMessage)
		if !ok {
			var err error
			if vb, err = json.Marshal(v); err != nil {
				return fmt.Errorf("outbox event %s: field %s: %w", id, k, err)
			}
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
		return nil
	}
	var raw any = json.RawMessage("null")
	if payload != nil {
		raw = json.RawMessage(*payload)
	}
	fields := []struct {
		k string
		v any
	}{{"id", id.String()}, {"aggregatetype", ev.AggregateType}, {"aggregateid", ev.AggregateID},
		{"type", ev.Type}, {"payload", raw}, {"timestamp", time.Now().UnixMilli()}}
	if ev.TracingSpanContext != "" {
		fields = append(fields, struct {
			k string
			v any
		}{"tracingspancontext", ev.TracingSpanContext})
	}
	for _, f := range fields {
		if err := put(f.k, f.v); err != nil {
			return id, err
		}
	}
	for _, k := range sortedKeys(ev.Fields) {
		if err := put(k, ev.Fields[k]); err != nil {
			return id, err
		}
	}
	b.WriteString("}")
	if _, err := tx.ExecContext(ctx, "SELECT pg_logical_emit_message(true, $1::text, $2::text)", w.prefix, b.String()); err != nil {
		return id, fmt.Errorf("emit outbox event %s: %w", id, err)
	}
	return id, nil
}

// prepare fills a zero id and encodes the payload (nil for a null one).
func prepare(ev *Event) (UUID, *string, error) {
	id := ev.ID
	if id.IsZero() {
		var err error
		if id, err = NewUUID(); err != nil {
			return id, nil, err
		}
	}
	if ev.AggregateType == "" || ev.AggregateID == "" || ev.Type == "" {
		return id, nil, fmt.Errorf("outbox event %s: AggregateType, AggregateID and Type are required", id)
	}
	var text string
	switch p := ev.Payload.(type) {
	case nil:
		return id, nil, nil
	case json.RawMessage:
		text = string(p)
	case []byte:
		text = string(p)
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return id, nil, fmt.Errorf("outbox event %s: encode payload: %w", id, err)
		}
		text = string(b)
	}
	if !json.Valid([]byte(text)) {
		return id, nil, fmt.Errorf("outbox event %s: payload is not valid JSON", id)
	}
	return id, &text, nil
}

func validIdent(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// quote quotes column names (checked by validIdent) and joins them with
// ", ". The table name stays unquoted, so Postgres folds it to lower case
// as it does in the migration.
func (w *Writer) quote(ids ...string) string {
	q := `"`
	if w.dialect == MySQL {
		q = "`"
	}
	out := make([]string, len(ids))
	for i, c := range ids {
		out[i] = q + c + q
	}
	return strings.Join(out, ", ")
}

// placeholder returns the n-th (from 1) bind parameter.
func (w *Writer) placeholder(n int) string {
	if w.dialect == MySQL {
		return "?"
	}
	return "$" + strconv.Itoa(n)
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
