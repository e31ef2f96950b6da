package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-cdc/sluice/event"
)

// ErrTableMissing is returned (wrapped) when a table does not exist.
var ErrTableMissing = errors.New("table does not exist")

// TableID names a table.
type TableID struct {
	Schema, Name string
}

// String returns "schema.table", the form Debezium's include lists match.
func (id TableID) String() string { return id.Schema + "." + id.Name }

// TableColumn is one column of a captured table, in attnum order.
type TableColumn struct {
	Name     string
	TypeOID  uint32
	TypeMod  int32
	Optional bool
	// KeyPos is the 1-based position in the primary key, 0 when the column
	// is not part of it.
	KeyPos int
	// Included is false for columns removed by column.include.list /
	// column.exclude.list; their values are read but dropped.
	Included bool
	// DefaultExpr is the column's DEFAULT expression as pg_get_expr shows
	// it ("" when none); its value, when Debezium would parse it, becomes
	// the field schema's default.
	DefaultExpr string

	conv     ColumnConverter
	rowIndex int // field index in the row schema; -1 when excluded
}

// TableOptions are the connector settings a Table depends on.
type TableOptions struct {
	TopicPrefix string
	// ColumnInclude and ColumnExclude are column.include.list and
	// column.exclude.list (anchored regexps against schema.table.column).
	ColumnInclude, ColumnExclude List
	// UnavailableValue replaces unchanged TOASTed values
	// (unavailable.value.placeholder); "" means DefaultUnavailableValue.
	UnavailableValue string
}

// Table is a captured table with its Debezium schemas and converters. It is
// immutable once built; a DDL change produces a new Table.
type Table struct {
	ID              TableID
	OID             uint32
	Topic           string
	Columns         []TableColumn
	ReplicaIdentity byte // 'd' default, 'f' full, 'i' index, 'n' nothing

	KeySchema   *event.Schema // nil when the table has no primary key
	RowSchema   *event.Schema // required row struct; the envelope makes it optional
	ValueSchema *event.Schema // the envelope

	keyCols     []int // column indexes in key order
	placeholder string
}

// catalogColumn is what pg_attribute / pg_index say about one column.
type catalogColumn struct {
	name    string
	typeOID uint32
	typeMod int32
	notNull bool
	keyPos  int
	def     string
}

const catalogColumnsSQL = `SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull,
  -- int2vector subscripts start at 0: +1 makes the first key column 1.
  COALESCE((SELECT array_position(i.indkey::int2[], a.attnum) + 1 FROM pg_index i
            WHERE i.indrelid = a.attrelid AND i.indisprimary), 0),
  -- Generated columns (attgenerated, Postgres 12+) have an expression,
  -- not a default; to_jsonb reads the flag on older versions too.
  COALESCE((SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
            WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum
              AND COALESCE(to_jsonb(a)->>'attgenerated', '') = ''), '')
FROM pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`

func loadCatalogColumns(ctx context.Context, q Querier, oid uint32) ([]catalogColumn, error) {
	rows, err := q.Query(ctx, catalogColumnsSQL, oid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []catalogColumn
	for rows.Next() {
		var c catalogColumn
		var keyPos int32
		if err := rows.Scan(&c.name, &c.typeOID, &c.typeMod, &c.notNull, &keyPos, &c.def); err != nil {
			return nil, err
		}
		c.keyPos = int(keyPos)
		out = append(out, c)
	}
	return out, rows.Err()
}

// LoadTable builds a Table from the catalog alone (the snapshot path, and
// prerequisite checks): columns in attnum order, nullability and primary key
// from pg_attribute and pg_index. It wraps ErrTableMissing when the table
// does not exist.
func LoadTable(ctx context.Context, q Querier, mapper *TypeMapper, id TableID, opts TableOptions) (*Table, error) {
	rows, err := q.Query(ctx, `SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, id.Schema, id.Name)
	if err != nil {
		return nil, fmt.Errorf("look up table %s: %w", id, err)
	}
	var oid uint32
	var ident string
	found := false
	for rows.Next() {
		if err := rows.Scan(&oid, &ident); err != nil {
			rows.Close()
			return nil, fmt.Errorf("look up table %s: %w", id, err)
		}
		found = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up table %s: %w", id, err)
	}
	if !found {
		return nil, fmt.Errorf("table %s: %w", id, ErrTableMissing)
	}
	cat, err := loadCatalogColumns(ctx, q, oid)
	if err != nil {
		return nil, fmt.Errorf("load columns of %s: %w", id, err)
	}
	cols := make([]TableColumn, len(cat))
	for i, c := range cat {
		cols[i] = TableColumn{Name: c.name, TypeOID: c.typeOID, TypeMod: c.typeMod, Optional: !c.notNull, KeyPos: c.keyPos, DefaultExpr: c.def}
	}
	var ri byte = 'd'
	if ident != "" {
		ri = ident[0]
	}
	return buildTable(ctx, mapper, id, oid, ri, cols, opts)
}

// tableFromRelation builds a Table from a pgoutput Relation message, with
// nullability and primary key from the catalog (a column the catalog does
// not know, e.g. after a later DROP COLUMN, is optional and not a key).
func tableFromRelation(ctx context.Context, q Querier, mapper *TypeMapper, rel *pglogrepl.RelationMessage, opts TableOptions) (*Table, error) {
	id := TableID{Schema: rel.Namespace, Name: rel.RelationName}
	cat, err := loadCatalogColumns(ctx, q, rel.RelationID)
	if err != nil {
		return nil, fmt.Errorf("load columns of %s: %w", id, err)
	}
	byName := make(map[string]catalogColumn, len(cat))
	for _, c := range cat {
		byName[c.name] = c
	}
	cols := make([]TableColumn, len(rel.Columns))
	for i, rc := range rel.Columns {
		c := TableColumn{Name: rc.Name, TypeOID: rc.DataType, TypeMod: rc.TypeModifier, Optional: true}
		if cc, ok := byName[rc.Name]; ok && cc.typeOID == rc.DataType {
			c.Optional = !cc.notNull
			c.KeyPos = cc.keyPos
			c.DefaultExpr = cc.def
		}
		cols[i] = c
	}
	return buildTable(ctx, mapper, id, rel.RelationID, rel.ReplicaIdentity, cols, opts)
}

func buildTable(ctx context.Context, mapper *TypeMapper, id TableID, oid uint32, ri byte, cols []TableColumn, opts TableOptions) (*Table, error) {
	colFilter, err := newFilter(opts.ColumnInclude, opts.ColumnExclude)
	if err != nil {
		return nil, fmt.Errorf("column filter: %w", err)
	}
	t := &Table{
		ID:              id,
		OID:             oid,
		Topic:           topicName(opts.TopicPrefix, id),
		Columns:         cols,
		ReplicaIdentity: ri,
		placeholder:     opts.UnavailableValue,
	}
	if t.placeholder == "" {
		t.placeholder = DefaultUnavailableValue
	}
	var rowFields []event.Field
	type keyCol struct{ pos, idx int }
	var keys []keyCol
	for i := range t.Columns {
		c := &t.Columns[i]
		conv, err := mapper.Column(ctx, id.String(), Column{Name: c.Name, TypeOID: c.TypeOID, TypeMod: c.TypeMod, Optional: c.Optional})
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", id, c.Name, err)
		}
		if def, ok := columnDefault(c.TypeOID, c.DefaultExpr, conv); ok {
			conv.Schema = conv.Schema.WithDefault(def)
		}
		c.conv = conv
		c.rowIndex = -1
		// Key columns are always kept: Debezium's column filters apply to
		// the value only.
		c.Included = colFilter.match(id.String()+"."+c.Name) || c.KeyPos > 0
		if c.Included {
			c.rowIndex = len(rowFields)
			rowFields = append(rowFields, event.NewField(c.Name, conv.Schema))
		}
		if c.KeyPos > 0 {
			keys = append(keys, keyCol{c.KeyPos, i})
		}
	}
	prefix := opts.TopicPrefix + "." + id.Schema + "." + id.Name
	t.RowSchema = event.StructOf(prefix+".Value", rowFields...)
	if len(keys) > 0 {
		// Order by key position.
		for i := 1; i < len(keys); i++ {
			for j := i; j > 0 && keys[j].pos < keys[j-1].pos; j-- {
				keys[j], keys[j-1] = keys[j-1], keys[j]
			}
		}
		fields := make([]event.Field, len(keys))
		for i, k := range keys {
			t.keyCols = append(t.keyCols, k.idx)
			fields[i] = event.NewField(t.Columns[k.idx].Name, t.Columns[k.idx].conv.Schema)
		}
		t.KeySchema = event.StructOf(prefix+".Key", fields...)
	}
	t.ValueSchema = event.EnvelopeSchema(event.EnvelopeName(t.Topic), t.RowSchema, sourceSchema)
	return t, nil
}

// topicName returns Debezium's data topic "<prefix>.<schema>.<table>", with
// characters Kafka does not allow in topic names replaced by '_' as
// Debezium's topic naming strategy does.
func topicName(prefix string, id TableID) string {
	return prefix + "." + sanitizeTopic(id.Schema) + "." + sanitizeTopic(id.Name)
}

func sanitizeTopic(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !topicChar(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []byte(s)
	for i := range b {
		if !topicChar(b[i]) {
			b[i] = '_'
		}
	}
	return string(b)
}

func topicChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// Row converts one row given as text values, one per Columns entry (nil for
// NULL), into a row struct of RowSchema. This is what the snapshot calls.
func (t *Table) Row(values [][]byte) (*event.Struct, error) {
	if len(values) != len(t.Columns) {
		return nil, fmt.Errorf("table %s: row has %d values, want %d", t.ID, len(values), len(t.Columns))
	}
	row := event.NewStruct(t.RowSchema)
	for i := range t.Columns {
		c := &t.Columns[i]
		if c.rowIndex < 0 {
			continue
		}
		v, err := t.convert(c, values[i])
		if err != nil {
			return nil, err
		}
		row.SetAt(c.rowIndex, v)
	}
	return row, nil
}

func (t *Table) convert(c *TableColumn, text []byte) (any, error) {
	if text == nil {
		return fallback(c.conv.Schema), nil
	}
	v, err := c.conv.Convert(text)
	if err != nil {
		return nil, fmt.Errorf("table %s column %s: %w", t.ID, c.Name, err)
	}
	return v, nil
}

// tupleRow converts a pgoutput tuple. Unchanged TOASTed values ('u') become
// the unavailable-value placeholder.
func (t *Table) tupleRow(tuple *pglogrepl.TupleData) (*event.Struct, error) {
	if tuple == nil || len(tuple.Columns) != len(t.Columns) {
		n := 0
		if tuple != nil {
			n = len(tuple.Columns)
		}
		return nil, fmt.Errorf("table %s: tuple has %d columns, relation has %d", t.ID, n, len(t.Columns))
	}
	row := event.NewStruct(t.RowSchema)
	for i, tc := range tuple.Columns {
		c := &t.Columns[i]
		if c.rowIndex < 0 {
			continue
		}
		var v any
		var err error
		switch tc.DataType {
		case pglogrepl.TupleDataTypeNull:
			v = fallback(c.conv.Schema)
		case pglogrepl.TupleDataTypeToast:
			v = placeholderValue(c.conv.Schema, t.placeholder)
		case pglogrepl.TupleDataTypeText:
			v, err = t.convert(c, tc.Data)
		default:
			err = fmt.Errorf("table %s column %s: unsupported tuple data type %q", t.ID, c.Name, tc.DataType)
		}
		if err != nil {
			return nil, err
		}
		row.SetAt(c.rowIndex, v)
	}
	return row, nil
}

// Key returns the key struct for a row built by Row, nil when the table has
// no primary key.
func (t *Table) Key(row *event.Struct) *event.Struct {
	if t.KeySchema == nil || row == nil {
		return nil
	}
	key := event.NewStruct(t.KeySchema)
	for i, ci := range t.keyCols {
		key.SetAt(i, row.At(t.Columns[ci].rowIndex))
	}
	return key
}

// fallback is the value Debezium's converters use for a NULL in a required
// field (the schema default, else the type's zero), as happens for the
// non-key columns of a REPLICA IDENTITY DEFAULT delete.
func fallback(s *event.Schema) any {
	if s.IsOptional() {
		return nil
	}
	if d := s.Default(); d != nil {
		return d
	}
	switch s.Type() {
	case event.TypeInt8:
		return int8(0)
	case event.TypeInt16:
		return int16(0)
	case event.TypeInt32:
		return int32(0)
	case event.TypeInt64:
		return int64(0)
	case event.TypeFloat32:
		return float32(0)
	case event.TypeFloat64:
		return float64(0)
	case event.TypeBoolean:
		return false
	case event.TypeString:
		return ""
	case event.TypeBytes:
		if s.Name() == event.LogicalDecimal {
			return event.DecimalBytes(new(big.Int))
		}
		return []byte{}
	case event.TypeArray:
		return []any{}
	case event.TypeMap:
		return map[string]any{}
	case event.TypeStruct:
		st := event.NewStruct(s)
		for i, f := range s.Fields() {
			st.SetAt(i, fallback(f.Schema))
		}
		return st
	}
	return nil
}

// placeholderValue is what Debezium emits for an unchanged TOASTed value of
// a column with schema s (UnchangedToastedPlaceholder): the placeholder
// string, its bytes, a one-element array of either, an array of its bytes as
// numbers for integer arrays, a one-entry map for hstore; other types (which
// Postgres hardly ever TOASTs) get the field's fallback.
func placeholderValue(s *event.Schema, p string) any {
	switch s.Type() {
	case event.TypeString:
		if s.Name() == NameJSON {
			// hstore in json mode and json columns: Debezium keeps the
			// plain placeholder for json/jsonb, and a JSON object for
			// hstore; we cannot tell the two apart from the schema, and
			// json is far more common.
			return p
		}
		return p
	case event.TypeBytes:
		if s.Name() == event.LogicalDecimal {
			return fallback(s)
		}
		return []byte(p)
	case event.TypeArray:
		switch items := s.Items(); items.Type() {
		case event.TypeString:
			return []any{p}
		case event.TypeBytes:
			return []any{[]byte(p)}
		case event.TypeInt32:
			out := make([]any, len(p))
			for i := 0; i < len(p); i++ {
				out[i] = int32(int8(p[i]))
			}
			return out
		case event.TypeInt64:
			out := make([]any, len(p))
			for i := 0; i < len(p); i++ {
				out[i] = int64(int8(p[i]))
			}
			return out
		}
	case event.TypeMap:
		return map[string]any{p: p}
	}
	return fallback(s)
}

// quoteIdent quotes a Postgres identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// Column defaults, as Debezium's PostgresDefaultValueConverter derives them:
// a literal default (raw, like 12 or true, or quoted and cast, like
// '-1'::integer) is converted like a value of the column; a function call or
// CURRENT_TIMESTAMP-style default gets a fixed placeholder of the type (so a
// serial column's default is 0 and now()'s is the epoch); anything else, a
// NULL default, a type Debezium does not parse, or a value that would be a
// struct (variable-scale numeric) gives no default.

// defaultPlaceholders maps the types Debezium parses defaults for to the
// text standing in for a function-call default; "" with ok=false types
// (bit, varbit) get none, since Debezium's placeholders for them do not
// convert.
var defaultPlaceholders = map[uint32]struct {
	text string
	ok   bool
}{
	16:   {"false", true},                                // bool
	1042: {"", true},                                     // bpchar
	1043: {"", true},                                     // varchar
	25:   {"", true},                                     // text
	1700: {"0.0", true},                                  // numeric
	700:  {"0.0", true},                                  // float4
	701:  {"0.0", true},                                  // float8
	21:   {"0", true},                                    // int2 (smallserial)
	23:   {"0", true},                                    // int4 (serial)
	20:   {"0", true},                                    // int8 (bigserial)
	114:  {"{}", true},                                   // json
	3802: {"{}", true},                                   // jsonb
	142:  {"", true},                                     // xml
	2950: {"00000000-0000-0000-0000-000000000000", true}, // uuid
	1082: {"1970-01-01", true},                           // date
	1083: {"00:00:00", true},                             // time
	1114: {"1970-01-01 00:00:00", true},                  // timestamp
	1184: {"1970-01-01 00:00:00+00", true},               // timestamptz
	1186: {"00:00:00", true},                             // interval
	1560: {},                                             // bit
	1562: {},                                             // varbit
}

// functionDefault matches a default that calls a function, such as
// nextval('t_id_seq'::regclass) or (now() + '1 day'::interval).
var functionDefault = regexp.MustCompile(`^\(?[A-Za-z0-9_.]+\(.*\)`)

// currentDateTimes are the SQL-standard functions Postgres shows without
// parentheses.
var currentDateTimes = map[string]bool{"current_timestamp": true, "current_time": true, "current_date": true,
	"localtime": true, "localtimestamp": true}

// defaultText returns the text form of a default expression's value for a
// column of type oid, and whether there is one.
func defaultText(oid uint32, expr string) (string, bool) {
	ph, known := defaultPlaceholders[oid]
	expr = strings.TrimSpace(expr)
	if !known || expr == "" {
		return "", false
	}
	if functionDefault.MatchString(expr) || currentDateTimes[strings.ToLower(expr)] {
		return ph.text, ph.ok
	}
	if expr == "NULL" || strings.HasPrefix(expr, "NULL::") {
		return "", false
	}
	q := strings.IndexByte(expr, '\'')
	if q < 0 {
		return expr, true // raw: 12, 1.5, true
	}
	if oid == 1560 || oid == 1562 {
		// B'101'::"bit"
		if q != 1 || (expr[0] != 'B' && expr[0] != 'b') {
			return "", false
		}
	} else if q != 0 {
		return "", false // E'..' escapes or an expression around a literal
	}
	// The quoted literal, with '' standing for one quote.
	var b strings.Builder
	for i := q + 1; i < len(expr); i++ {
		if expr[i] == '\'' {
			if i+1 < len(expr) && expr[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			rest := expr[i+1:]
			if rest != "" && !strings.HasPrefix(rest, "::") {
				return "", false // more expression after the literal
			}
			return b.String(), true
		}
		b.WriteByte(expr[i])
	}
	return "", false
}

// columnDefault returns the schema default for a column whose DEFAULT is
// expr, converted like a value of the column.
func columnDefault(oid uint32, expr string, conv ColumnConverter) (any, bool) {
	if conv.Unknown || conv.Convert == nil {
		return nil, false
	}
	text, ok := defaultText(oid, expr)
	if !ok {
		return nil, false
	}
	v, err := conv.Convert([]byte(text))
	if err != nil || v == nil {
		return nil, false
	}
	if _, isStruct := v.(*event.Struct); isStruct {
		return nil, false // Kafka Connect cannot have struct defaults (KAFKA-12694)
	}
	return v, true
}
