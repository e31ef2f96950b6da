package mysql

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice/event"
)

// TableID names a table.
type TableID struct {
	DB    string `json:"db"`
	Table string `json:"table"`
}

func (id TableID) String() string { return id.DB + "." + id.Table }

// Table is a captured table's shape: its columns, their mappings, the key
// columns and the schemas Debezium builds for it.
type Table struct {
	ID        TableID
	Columns   []Column
	Maps      []Mapping
	Key       []int // indexes of the primary key columns, in key order
	Topic     string
	KeySchema *event.Schema // nil without a primary key
	RowSchema *event.Schema
	Envelope  *event.Schema
}

// NewTable builds a table's schemas from its columns (in ordinal order) and
// primary key column names (in key order).
func NewTable(prefix string, id TableID, cols []Column, key []string, o TypeOptions) (*Table, error) {
	t := &Table{ID: id, Columns: cols, Topic: prefix + "." + id.DB + "." + id.Table}
	fields := make([]event.Field, len(cols))
	for i, c := range cols {
		m, err := MapColumn(c, o)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		t.Maps = append(t.Maps, m)
		fields[i] = event.NewField(c.Name, m.Schema)
	}
	var keyFields []event.Field
	for _, k := range key {
		i := -1
		for j, c := range cols {
			if c.Name == k {
				i = j
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("table %s: key column %q is not a column", id, k)
		}
		t.Key = append(t.Key, i)
		keyFields = append(keyFields, event.NewField(k, t.Maps[i].Schema))
	}
	if len(keyFields) > 0 {
		t.KeySchema = event.StructOf(t.Topic+".Key", keyFields...)
	}
	t.RowSchema = event.StructOf(t.Topic+".Value", fields...).Optional()
	t.Envelope = event.EnvelopeSchema(event.EnvelopeName(t.Topic), t.RowSchema, sourceSchema)
	return t, nil
}

// row converts one row (binlog or snapshot values, in column order).
func (t *Table) row(vals []any) (*event.Struct, error) {
	if len(vals) != len(t.Columns) {
		return nil, fmt.Errorf("table %s: row has %d values, table has %d columns", t.ID, len(vals), len(t.Columns))
	}
	st := event.NewStruct(t.RowSchema)
	for i, v := range vals {
		cv, err := t.Maps[i].Convert(v)
		if err != nil {
			return nil, fmt.Errorf("table %s column %s: %w", t.ID, t.Columns[i].Name, err)
		}
		st.SetAt(i, cv)
	}
	return st, nil
}

// key returns the key struct of a converted row, nil without a key.
func (t *Table) key(row *event.Struct) *event.Struct {
	if t.KeySchema == nil || row == nil {
		return nil
	}
	k := event.NewStruct(t.KeySchema)
	for j, i := range t.Key {
		k.SetAt(j, row.At(i))
	}
	return k
}

// quote returns s as a MySQL string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)
	return "'" + r.Replace(s) + "'"
}

// quoteIdent returns s as a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func fieldText(r *gmysql.Resultset, row, col int) string {
	v := r.Values[row][col]
	switch v.Type {
	case gmysql.FieldValueTypeNull:
		return ""
	case gmysql.FieldValueTypeString:
		return string(v.AsString())
	case gmysql.FieldValueTypeUnsigned:
		return strconv.FormatUint(v.AsUint64(), 10)
	case gmysql.FieldValueTypeSigned:
		return strconv.FormatInt(v.AsInt64(), 10)
	}
	return fmt.Sprint(v.Value())
}

func fieldInt(r *gmysql.Resultset, row, col int) int {
	n, _ := strconv.Atoi(fieldText(r, row, col))
	return n
}

// readCatalog reads from information_schema the definitions of the base
// tables of every database tracked accepts, or only of table only when it
// is not nil.
func readCatalog(ctx context.Context, c *client.Conn, tracked func(db string) bool, only *TableID) (map[TableID]*tableDef, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	where := "t.TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
	if only != nil {
		where = "t.TABLE_SCHEMA = " + quote(only.DB) + " AND t.TABLE_NAME = " + quote(only.Table)
	}
	res, err := c.Execute(`SELECT c.TABLE_SCHEMA, c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE,
		COALESCE(c.NUMERIC_PRECISION, 0), COALESCE(c.NUMERIC_SCALE, 0), COALESCE(c.DATETIME_PRECISION, 0),
		COALESCE(c.CHARACTER_SET_NAME, ''), c.EXTRA, c.COLUMN_COMMENT, c.COLUMN_DEFAULT IS NULL, COALESCE(c.COLUMN_DEFAULT, ''),
		COALESCE(t.TABLE_COLLATION, ''), t.TABLE_COMMENT
		FROM information_schema.TABLES t JOIN information_schema.COLUMNS c
		ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
		WHERE t.TABLE_TYPE = 'BASE TABLE' AND ` + where + `
		ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	defer res.Close()
	out := map[TableID]*tableDef{}
	for i := 0; i < res.RowNumber(); i++ {
		id := TableID{DB: fieldText(res.Resultset, i, 0), Table: fieldText(res.Resultset, i, 1)}
		if !tracked(id.DB) {
			continue
		}
		d := out[id]
		if d == nil {
			coll := fieldText(res.Resultset, i, 14)
			cs, _, _ := strings.Cut(coll, "_")
			d = &tableDef{Charset: cs, Comment: fieldText(res.Resultset, i, 15)}
			out[id] = d
		}
		extra := strings.ToUpper(fieldText(res.Resultset, i, 10))
		var def *string
		if fieldText(res.Resultset, i, 12) != "1" {
			def = catalogDefault(fieldText(res.Resultset, i, 13))
		}
		d.Columns = append(d.Columns, Column{
			AutoIncrement: strings.Contains(extra, "AUTO_INCREMENT") || strings.Contains(extra, "ON UPDATE"),
			Generated: strings.Contains(extra, "AUTO_INCREMENT") || strings.Contains(extra, "ON UPDATE") ||
				strings.Contains(extra, "VIRTUAL GENERATED") || strings.Contains(extra, "STORED GENERATED") || strings.Contains(extra, "PERSISTENT GENERATED"),
			Comment:    fieldText(res.Resultset, i, 11),
			Default:    def,
			Name:       fieldText(res.Resultset, i, 2),
			DataType:   strings.ToLower(fieldText(res.Resultset, i, 3)),
			ColumnType: fieldText(res.Resultset, i, 4),
			Nullable:   fieldText(res.Resultset, i, 5) == "YES",
			Precision:  fieldInt(res.Resultset, i, 6),
			Scale:      fieldInt(res.Resultset, i, 7),
			FSP:        fieldInt(res.Resultset, i, 8),
			Charset:    fieldText(res.Resultset, i, 9),
		})
	}
	kres, err := c.Execute(`SELECT s.TABLE_SCHEMA, s.TABLE_NAME, s.COLUMN_NAME FROM information_schema.STATISTICS s
		JOIN information_schema.TABLES t ON s.TABLE_SCHEMA = t.TABLE_SCHEMA AND s.TABLE_NAME = t.TABLE_NAME
		WHERE s.INDEX_NAME = 'PRIMARY' AND ` + where + `
		ORDER BY s.TABLE_SCHEMA, s.TABLE_NAME, s.SEQ_IN_INDEX`)
	if err != nil {
		return nil, fmt.Errorf("read primary keys: %w", err)
	}
	defer kres.Close()
	for i := 0; i < kres.RowNumber(); i++ {
		id := TableID{DB: fieldText(kres.Resultset, i, 0), Table: fieldText(kres.Resultset, i, 1)}
		if d := out[id]; d != nil {
			d.Key = append(d.Key, fieldText(kres.Resultset, i, 2))
		}
	}
	return out, nil
}

// loadTable reads one table's definition from information_schema. ok is
// false when the table does not exist.
func loadTable(ctx context.Context, c *client.Conn, id TableID) (d *tableDef, ok bool, err error) {
	defs, err := readCatalog(ctx, c, func(string) bool { return true }, &id)
	if err != nil {
		return nil, false, fmt.Errorf("table %s: %w", id, err)
	}
	d = defs[id]
	return d, d != nil, nil
}

// catalogDefault turns information_schema.COLUMNS.COLUMN_DEFAULT into the
// expression Debezium reports as defaultValueExpression: MariaDB quotes
// string literals ('abc') and spells a missing default NULL, MySQL gives
// the bare value.
func catalogDefault(s string) *string {
	if s == "NULL" {
		return nil
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return &s
}
