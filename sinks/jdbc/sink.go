package jdbc

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/event"
	"github.com/sluice-cdc/sluice/sinks/sink"
)

// ErrSchemaChange is wrapped by the errors of schema changes the sink
// cannot apply to a table (auto.evolve off, a new required column without
// default, a field whose type does not fit the existing column).
var ErrSchemaChange = errors.New("incompatible schema change")

// Sink writes records into one database. It is not safe for concurrent
// use: one task drives it.
type Sink struct {
	cfg    Config
	db     *sql.DB
	d      dialectKind
	log    *slog.Logger
	conv   converter
	buf    []op
	tables map[tableID]*table
}

var _ sink.Sink = (*Sink)(nil)

// Option configures New.
type Option func(*Sink)

// WithLogger sets the logger (default: slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Sink) { s.log = l } }

// New parses cfg, opens the database and checks that it answers.
func New(ctx context.Context, cfg map[string]string, opts ...Option) (*Sink, error) {
	c, err := ParseConfig(cfg)
	if err != nil {
		return nil, err
	}
	return Open(ctx, c, opts...)
}

// Open is New with a parsed Config.
func Open(ctx context.Context, c Config, opts ...Option) (*Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	db, d, err := open(c.URL, c.User, c.Password)
	if err != nil {
		return nil, fmt.Errorf("jdbc sink: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("jdbc sink: connect to %s %s: %w", d, redact(c.URL), err)
	}
	if c.DBTimezone == nil {
		c.DBTimezone = time.UTC
	}
	s := &Sink{cfg: c, db: db, d: d, log: slog.Default(), conv: converter{d: d, tz: c.DBTimezone}, tables: map[tableID]*table{}}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// DB returns the database handle (for tests and health checks).
func (s *Sink) DB() *sql.DB { return s.db }

// Close closes the database handle; buffered records are dropped (the task
// flushes before closing).
func (s *Sink) Close() error { return s.db.Close() }

// opKind is what an operation does to its row.
type opKind int

const (
	opInsert opKind = iota + 1
	opUpsert
	opUpdate
	opDelete
)

// op is one buffered row operation.
type op struct {
	rec   sink.Record
	table tableID
	kind  opKind
	cols  *colSet // columns written (pk columns only for deletes)
	vals  []any   // driver values in cols order
	key   string  // pk values encoded, for collapsing; "" without pk
}

// column is one SQL column of a record.
type column struct {
	name   string
	schema *event.Schema
	typ    colType
	pk     bool
}

// colSet is the ordered columns of a group of rows: pk columns first.
type colSet struct {
	cols []column
	npk  int
	del  bool   // the key columns of deletes
	sig  string // names joined, to group rows into one statement
}

func newColSet(cols []column) *colSet {
	cs := &colSet{cols: cols}
	names := make([]string, len(cols))
	for i, c := range cols {
		if c.pk {
			cs.npk++
		}
		names[i] = fmt.Sprintf("%s\x01%d.%d.%d.%d.%t.%t", c.name, c.typ.kind, c.typ.unit, c.typ.scale, c.typ.precision, c.pk, c.schema.IsOptional())
	}
	cs.sig = strings.Join(names, "\x00")
	return cs
}

// Put converts records into row operations and buffers them. A record that
// cannot be mapped comes back as a *sink.RecordError and nothing of recs is
// buffered.
func (s *Sink) Put(_ context.Context, recs []sink.Record) error {
	start := len(s.buf)
	for i := range recs {
		o, skip, err := s.toOp(recs[i])
		if err != nil {
			clear(s.buf[start:])
			s.buf = s.buf[:start]
			return &sink.RecordError{Record: recs[i], Err: err}
		}
		if !skip {
			s.buf = append(s.buf, o)
		}
	}
	return nil
}

// Buffered returns the number of buffered operations.
func (s *Sink) Buffered() int { return len(s.buf) }

// toOp maps one record; skip is true for records that write nothing.
func (s *Sink) toOp(r sink.Record) (o op, skip bool, err error) {
	o.rec = r
	o.table = s.tableFor(r.Topic)
	value, vschema := r.Value, r.ValueSchema
	isDelete := value == nil
	if !isDelete {
		if vschema == nil {
			return o, false, errors.New("value has no schema: the JDBC sink needs schemas (JSON with schemas.enable=true, or Avro)")
		}
		if vschema.Type() != event.TypeStruct {
			return o, false, fmt.Errorf("value schema is %v, not a struct", vschema)
		}
		st, ok := value.(*event.Struct)
		if !ok {
			return o, false, fmt.Errorf("value of Go type %T for struct schema", value)
		}
		if isEnvelope(vschema) {
			opv, _ := st.Get(event.FieldOp).(string)
			switch opv {
			case "c", "r", "u":
				after, ok := st.Get(event.FieldAfter).(*event.Struct)
				if !ok {
					return o, false, fmt.Errorf("debezium op %q without after", opv)
				}
				value, vschema = after, after.Schema()
			case "d":
				isDelete = true
			default:
				return o, true, nil // t, m: nothing to write
			}
		}
	}
	if isDelete {
		if !s.cfg.DeleteEnabled {
			return o, true, nil
		}
		cols, vals, err := s.keyColumns(r)
		if err != nil {
			return o, false, err
		}
		o.kind, o.cols, o.vals = opDelete, newColSet(cols), vals
		o.cols.del = true
		o.cols.sig += "\x00delete"
		o.key = encodeKey(vals)
		return o, false, nil
	}
	cols, vals, err := s.rowColumns(r, value.(*event.Struct), vschema)
	if err != nil {
		return o, false, err
	}
	o.cols, o.vals = newColSet(cols), vals
	switch s.cfg.InsertMode {
	case InsertModeUpsert:
		o.kind = opUpsert
	case InsertModeUpdate:
		o.kind = opUpdate
	default:
		o.kind = opInsert
	}
	if o.cols.npk > 0 {
		o.key = encodeKey(vals[:o.cols.npk])
	}
	return o, false, nil
}

func isEnvelope(s *event.Schema) bool {
	return s.FieldIndex(event.FieldOp) >= 0 && s.FieldIndex(event.FieldAfter) >= 0 &&
		s.FieldIndex(event.FieldBefore) >= 0 && s.FieldByName(event.FieldAfter).Type() == event.TypeStruct
}

func encodeKey(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		fmt.Fprintf(&b, "%T\x00%v\x00", v, v)
	}
	return b.String()
}

// keyColumns returns the primary key columns and values of a record.
func (s *Sink) keyColumns(r sink.Record) ([]column, []any, error) {
	switch s.cfg.PKMode {
	case PKModeKafka:
		names := s.cfg.PKFields
		if len(names) == 0 {
			names = []string{"__connect_topic", "__connect_partition", "__connect_offset"}
		}
		topic := r.OriginalTopic
		if topic == "" {
			topic = r.Topic
		}
		cols := []column{
			{name: names[0], schema: event.String(), typ: colType{kind: kString}, pk: true},
			{name: names[1], schema: event.Int32(), typ: colType{kind: kInt32}, pk: true},
			{name: names[2], schema: event.Int64(), typ: colType{kind: kInt64}, pk: true},
		}
		return cols, []any{topic, int64(r.Partition), r.Offset}, nil
	case PKModeRecordKey:
		if r.Key == nil {
			return nil, nil, errors.New("pk.mode record_key: record has a null key")
		}
		if r.KeySchema == nil {
			return nil, nil, errors.New("pk.mode record_key: key has no schema")
		}
		if r.KeySchema.Type() != event.TypeStruct {
			name := "__connect_key"
			if len(s.cfg.PKFields) > 0 {
				name = s.cfg.PKFields[0]
			}
			t, err := typeOf(r.KeySchema)
			if err != nil {
				return nil, nil, fmt.Errorf("key: %w", err)
			}
			v, err := s.conv.value(t, r.KeySchema, r.Key)
			if err != nil {
				return nil, nil, fmt.Errorf("key: %w", err)
			}
			return []column{{name: name, schema: r.KeySchema, typ: t, pk: true}}, []any{v}, nil
		}
		st, ok := r.Key.(*event.Struct)
		if !ok {
			return nil, nil, fmt.Errorf("key of Go type %T for struct schema", r.Key)
		}
		return s.structColumns(st, r.KeySchema, s.cfg.PKFields, true, "key")
	}
	return nil, nil, nil
}

// structColumns maps the named fields of st (all when names is empty).
func (s *Sink) structColumns(st *event.Struct, sc *event.Schema, names []string, pk bool, what string) ([]column, []any, error) {
	var cols []column
	var vals []any
	add := func(i int) error {
		f := sc.Field(i)
		t, err := typeOf(f.Schema)
		if err != nil {
			return fmt.Errorf("%s field %s: %w", what, f.Name, err)
		}
		v, err := s.conv.value(t, f.Schema, st.At(i))
		if err != nil {
			return fmt.Errorf("%s field %s: %w", what, f.Name, err)
		}
		if v == nil && pk {
			return fmt.Errorf("%s field %s: null primary key value", what, f.Name)
		}
		cols = append(cols, column{name: f.Name, schema: f.Schema, typ: t, pk: pk})
		vals = append(vals, v)
		return nil
	}
	if len(names) == 0 {
		for i := range sc.NumFields() {
			if err := add(i); err != nil {
				return nil, nil, err
			}
		}
		return cols, vals, nil
	}
	for _, n := range names {
		i := sc.FieldIndex(n)
		if i < 0 {
			return nil, nil, fmt.Errorf("pk.fields: %s has no field %s", what, n)
		}
		if err := add(i); err != nil {
			return nil, nil, err
		}
	}
	return cols, vals, nil
}

// rowColumns maps a record to pk columns then value columns.
func (s *Sink) rowColumns(r sink.Record, row *event.Struct, rs *event.Schema) ([]column, []any, error) {
	var cols []column
	var vals []any
	taken := map[string]bool{}
	switch s.cfg.PKMode {
	case PKModeKafka, PKModeRecordKey:
		kc, kv, err := s.keyColumns(r)
		if err != nil {
			return nil, nil, err
		}
		cols, vals = kc, kv
	case PKModeRecordValue:
		kc, kv, err := s.structColumns(row, rs, s.cfg.PKFields, true, "value")
		if err != nil {
			return nil, nil, err
		}
		cols, vals = kc, kv
	}
	for _, c := range cols {
		taken[c.name] = true
	}
	var white map[string]bool
	if len(s.cfg.FieldsWhitelist) > 0 {
		white = make(map[string]bool, len(s.cfg.FieldsWhitelist))
		for _, n := range s.cfg.FieldsWhitelist {
			white[n] = true
		}
	}
	for i := range rs.NumFields() {
		f := rs.Field(i)
		if taken[f.Name] || (white != nil && !white[f.Name]) {
			continue
		}
		t, err := typeOf(f.Schema)
		if err != nil {
			return nil, nil, fmt.Errorf("value field %s: %w", f.Name, err)
		}
		v, err := s.conv.value(t, f.Schema, row.At(i))
		if err != nil {
			return nil, nil, fmt.Errorf("value field %s: %w", f.Name, err)
		}
		cols = append(cols, column{name: f.Name, schema: f.Schema, typ: t})
		vals = append(vals, v)
	}
	if len(cols) == 0 {
		return nil, nil, errors.New("record maps to no column")
	}
	return cols, vals, nil
}
