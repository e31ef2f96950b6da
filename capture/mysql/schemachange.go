package mysql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/sluice-cdc/sluice/event"
)

// Schema change events (include.schema.changes): every DDL statement the
// connector applies to its schema model is published to the topic
// <topic.prefix> with Debezium's schema change record, as its
// EventDispatcher builds it (SchemaFactory's schemaHistoryConnector*
// schemas and ConnectTableChangeSerializer's tableChanges).

// Schema names of the schema change record.
const (
	SchemaChangeKeyName   = "io.debezium.connector.mysql.SchemaChangeKey"
	SchemaChangeValueName = "io.debezium.connector.mysql.SchemaChangeValue"
)

// Table change types (tableChanges[].type).
const (
	TableChangeCreate = "CREATE"
	TableChangeAlter  = "ALTER"
	TableChangeDrop   = "DROP"
)

var (
	schemaChangeKeySchema = event.StructOf(SchemaChangeKeyName,
		event.NewField("databaseName", event.String())).WithVersion(1)

	historyColumnSchema = event.StructOf("io.debezium.connector.schema.Column",
		event.NewField("name", event.String()),
		event.NewField("jdbcType", event.Int32()),
		event.NewField("nativeType", event.Int32().Optional()),
		event.NewField("typeName", event.String()),
		event.NewField("typeExpression", event.String().Optional()),
		event.NewField("charsetName", event.String().Optional()),
		event.NewField("length", event.Int32().Optional()),
		event.NewField("scale", event.Int32().Optional()),
		event.NewField("position", event.Int32()),
		event.NewField("optional", event.Boolean().Optional()),
		event.NewField("autoIncremented", event.Boolean().Optional()),
		event.NewField("generated", event.Boolean().Optional()),
		event.NewField("comment", event.String().Optional()),
		event.NewField("defaultValueExpression", event.String().Optional()),
		event.NewField("enumValues", event.Array(event.String()).Optional()),
	).WithVersion(1)

	historyTableSchema = event.StructOf("io.debezium.connector.schema.Table",
		event.NewField("defaultCharsetName", event.String().Optional()),
		event.NewField("primaryKeyColumnNames", event.Array(event.String()).Optional()),
		event.NewField("columns", event.Array(historyColumnSchema)),
		event.NewField("comment", event.String().Optional()),
	).WithVersion(1).Optional()

	historyChangeSchema = event.StructOf("io.debezium.connector.schema.Change",
		event.NewField("type", event.String()),
		event.NewField("id", event.String()),
		event.NewField("table", historyTableSchema),
	).WithVersion(1)

	schemaChangeValueSchema = event.StructOf(SchemaChangeValueName,
		event.NewField("source", sourceSchema),
		event.NewField("ts_ms", event.Int64()),
		event.NewField("databaseName", event.String().Optional()),
		event.NewField("schemaName", event.String().Optional()),
		event.NewField("ddl", event.String().Optional()),
		event.NewField("tableChanges", event.Array(historyChangeSchema)),
	).WithVersion(1)
)

// SchemaChangeKeySchema and SchemaChangeValueSchema return the schemas of
// the records on the schema change topic.
func SchemaChangeKeySchema() *event.Schema   { return schemaChangeKeySchema }
func SchemaChangeValueSchema() *event.Schema { return schemaChangeValueSchema }

// tableChange is one entry of tableChanges: def is nil for a drop.
type tableChange struct {
	typ string
	id  TableID
	def *tableDef
}

// schemaChangeEvent builds the record of one DDL statement applied to
// database db. src is the statement's source block; now the processing
// time (the record's ts_ms).
func schemaChangeEvent(prefix, db, ddl string, changes []tableChange, src *event.Struct, now time.Time) event.Event {
	tcs := make([]any, 0, len(changes))
	for _, c := range changes {
		st := event.NewStruct(historyChangeSchema)
		st.SetAt(0, c.typ)
		st.SetAt(1, `"`+c.id.DB+`"."`+c.id.Table+`"`)
		if c.def != nil {
			st.SetAt(2, historyTable(c.def))
		}
		tcs = append(tcs, st)
	}
	v := event.NewStruct(schemaChangeValueSchema)
	v.SetAt(0, src)
	v.SetAt(1, now.UnixMilli())
	v.SetAt(2, db)
	if ddl != "" {
		v.SetAt(4, ddl)
	}
	v.SetAt(5, tcs)
	e := event.Event{
		Topic:       prefix,
		Key:         event.NewStruct(schemaChangeKeySchema, db),
		ValueSchema: schemaChangeValueSchema,
		Raw:         v,
	}
	e.SetTimestamp(now)
	return e
}

// historyTable renders a table definition as Debezium's
// io.debezium.connector.schema.Table.
func historyTable(d *tableDef) *event.Struct {
	t := event.NewStruct(historyTableSchema)
	if d.Charset != "" {
		t.SetAt(0, d.Charset)
	}
	pk := make([]any, len(d.Key))
	for i, k := range d.Key {
		pk[i] = k
	}
	t.SetAt(1, pk)
	cols := make([]any, len(d.Columns))
	for i, c := range d.Columns {
		cols[i] = historyColumn(c, i+1)
	}
	t.SetAt(2, cols)
	if d.Comment != "" {
		t.SetAt(3, d.Comment)
	}
	return t
}

// jdbcTypes maps DATA_TYPE to the java.sql.Types code Debezium's MySQL DDL
// parser gives the type (MySqlAntlrDdlParser's data type entries).
var jdbcTypes = map[string]int32{
	"bit": -7, "tinyint": -6, "smallint": 5, "mediumint": 4, "int": 4, "integer": 4, "bigint": -5,
	"float": 6, "double": 8, "real": 7, "decimal": 3, "numeric": 2,
	"date": 91, "time": 92, "datetime": 93, "timestamp": 2014, "year": 4,
	"char": 1, "varchar": 12, "tinytext": 12, "text": 12, "mediumtext": 12, "longtext": 12,
	"binary": -2, "varbinary": -3, "tinyblob": 2004, "blob": 2004, "mediumblob": 2004, "longblob": 2004,
	"enum": 1, "set": 1, "bool": 16, "boolean": 16,
}

// historyColumn renders a column as Debezium's
// io.debezium.connector.schema.Column: the type name and its length and
// scale as the DDL writes them (COLUMN_TYPE: "int(11) unsigned" is INT
// UNSIGNED of length 11), 1-based position.
func historyColumn(c Column, pos int) *event.Struct {
	st := event.NewStruct(historyColumnSchema)
	base, args, attrs := splitColumnType(c)
	name := strings.ToUpper(base)
	for _, a := range attrs {
		if a == "unsigned" || a == "zerofill" {
			name += " " + strings.ToUpper(a)
		}
	}
	jdbc, ok := jdbcTypes[base]
	if !ok {
		jdbc = 1111 // OTHER: JSON, GEOMETRY and the spatial types
	}
	st.SetAt(0, c.Name)
	st.SetAt(1, jdbc)
	st.SetAt(3, name)
	st.SetAt(4, name)
	if c.Charset != "" && c.Charset != "binary" && isTextType(base) {
		st.SetAt(5, c.Charset)
	}
	var length, scale any
	switch base {
	case "enum":
		length = int32(1)
	case "set":
		length = int32(max(0, 2*len(enumValues(c.ColumnType))-1))
	default:
		if len(args) > 0 {
			if n, err := strconv.Atoi(args[0]); err == nil {
				length = int32(n)
			}
			if len(args) > 1 {
				if n, err := strconv.Atoi(args[1]); err == nil {
					scale = int32(n)
				}
			}
		}
		switch {
		case base == "bit" && length == nil:
			length = int32(1)
		case (base == "decimal" || base == "numeric") && length == nil:
			length, scale = int32(10), int32(0)
		case (base == "decimal" || base == "numeric") && scale == nil:
			scale = int32(0)
		}
	}
	if length != nil {
		st.SetAt(6, length)
	}
	if scale != nil {
		st.SetAt(7, scale)
	}
	st.SetAt(8, int32(pos))
	st.SetAt(9, c.Nullable)
	st.SetAt(10, c.AutoIncrement)
	st.SetAt(11, c.Generated || c.AutoIncrement)
	if c.Comment != "" {
		st.SetAt(12, c.Comment)
	}
	if c.Default != nil {
		st.SetAt(13, *c.Default)
	}
	if base == "enum" || base == "set" {
		vals := enumValues(c.ColumnType)
		ev := make([]any, len(vals))
		for i, v := range vals {
			ev[i] = v
		}
		st.SetAt(14, ev)
	}
	return st
}

// splitColumnType splits COLUMN_TYPE into its base type, the arguments in
// parentheses (not for enum and set) and the attribute words after them.
func splitColumnType(c Column) (base string, args, attrs []string) {
	ct := strings.ToLower(strings.TrimSpace(c.ColumnType))
	if ct == "" {
		return strings.ToLower(c.DataType), nil, nil
	}
	rest := ct
	if i := strings.IndexAny(ct, "( "); i >= 0 {
		base, rest = ct[:i], ct[i:]
	} else {
		base, rest = ct, ""
	}
	if strings.HasPrefix(rest, "(") {
		j := strings.LastIndexByte(rest, ')')
		if j < 0 {
			j = len(rest) - 1
		}
		if base != "enum" && base != "set" {
			for _, a := range strings.Split(rest[1:j], ",") {
				args = append(args, strings.TrimSpace(a))
			}
		}
		rest = rest[j+1:]
	}
	attrs = strings.Fields(rest)
	return base, args, attrs
}

// snapshotSchemaEvents reads, under the snapshot's global read lock, the
// statements Debezium's snapshot records for the tables of the captured
// databases and returns their schema change events (source.snapshot
// true): the server character set, DROP TABLE IF EXISTS for every table,
// then per database DROP DATABASE IF EXISTS, CREATE DATABASE, USE and
// each table's SHOW CREATE TABLE.
func (s *Source) snapshotSchemaEvents(c *client.Conn, m *schemaModel, from position) ([]event.Event, error) {
	ids := make([]TableID, 0, len(m.tables))
	for id := range m.tables {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	now := time.Now()
	var out []event.Event
	add := func(db, table, ddl string, changes []tableChange) {
		src := sourceBlock(s.opts.TopicPrefix, sourcePos{
			ts: now, snapshot: SnapshotTrue, db: db, table: table, file: from.File, pos: from.Pos, thread: -1,
		})
		out = append(out, schemaChangeEvent(s.opts.TopicPrefix, db, ddl, changes, src, now))
	}
	r, err := c.Execute("SELECT @@character_set_server, @@collation_server")
	if err != nil {
		return nil, fmt.Errorf("read server character set: %w", err)
	}
	add("", "", "SET character_set_server="+fieldText(r.Resultset, 0, 0)+", collation_server="+fieldText(r.Resultset, 0, 1), nil)
	r.Close()
	for _, id := range ids {
		add(id.DB, id.Table, "DROP TABLE IF EXISTS "+quoteIdent(id.DB)+"."+quoteIdent(id.Table),
			[]tableChange{{typ: TableChangeDrop, id: id}})
	}
	for i := 0; i < len(ids); {
		db := ids[i].DB
		locale := ""
		r, err := c.Execute("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = " + quote(db))
		if err != nil {
			return nil, fmt.Errorf("read database %s character set: %w", db, err)
		}
		if r.RowNumber() > 0 {
			locale = " CHARSET " + fieldText(r.Resultset, 0, 0) + " COLLATE " + fieldText(r.Resultset, 0, 1)
		}
		r.Close()
		add(db, "", "DROP DATABASE IF EXISTS "+quoteIdent(db), nil)
		add(db, "", "CREATE DATABASE "+quoteIdent(db)+locale, nil)
		add(db, "", "USE "+quoteIdent(db), nil)
		for ; i < len(ids) && ids[i].DB == db; i++ {
			id := ids[i]
			r, err := c.Execute("SHOW CREATE TABLE " + quoteIdent(id.DB) + "." + quoteIdent(id.Table))
			if err != nil {
				return nil, fmt.Errorf("show create table %s: %w", id, err)
			}
			ddl := ""
			if r.RowNumber() > 0 && len(r.Values[0]) > 1 {
				ddl = fieldText(r.Resultset, 0, 1)
			}
			r.Close()
			add(id.DB, id.Table, ddl, []tableChange{{typ: TableChangeCreate, id: id, def: m.tables[id]}})
		}
	}
	return out, nil
}
