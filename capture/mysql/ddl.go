package mysql

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	pmysql "github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values in parsed DDL
	ptypes "github.com/pingcap/tidb/pkg/parser/types"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// ErrUnparseableDDL is returned (wrapped) when a DDL statement that changes
// a table cannot be parsed: decoding later rows of that table would risk
// using the wrong columns.
var ErrUnparseableDDL = errors.New("unparseable DDL statement")

// errUnknownTable: a DDL statement changes a table the model does not have
// (the schema history started after the table was created).
var errUnknownTable = errors.New("table not in the schema history")

// schemaDDL matches the statements that can change a table's shape; every
// other statement in a query event (BEGIN, GRANT, CREATE USER, routines,
// ...) is ignored without parsing.
var schemaDDL = regexp.MustCompile(`(?is)^\s*(?:/\*.*?\*/\s*)*(?:` +
	`ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE|` +
	`CREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMPORARY\s+)?TABLE|` +
	`DROP\s+(?:TEMPORARY\s+)?TABLES?|` +
	`RENAME\s+TABLES?|` +
	`DROP\s+(?:DATABASE|SCHEMA))\b`)

// mariadbSyntax rewrites MariaDB-only clauses the TiDB parser does not know
// and that do not change the resulting table: CREATE OR REPLACE (a create
// replaces the definition anyway), ALTER ONLINE, WAIT n / NOWAIT and RENAME
// TABLE IF EXISTS (a missing table is not in the model either).
var mariadbSyntax = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`(?is)^(\s*(?:/\*.*?\*/\s*)*CREATE\s+)OR\s+REPLACE\s+`), "$1"},
	{regexp.MustCompile(`(?is)^(\s*(?:/\*.*?\*/\s*)*ALTER\s+)ONLINE\s+`), "$1"},
	{regexp.MustCompile(`(?is)^(\s*(?:/\*.*?\*/\s*)*(?:ALTER\s+(?:IGNORE\s+)?TABLE|DROP\s+TABLE|RENAME\s+TABLE)\s+(?:IF\s+EXISTS\s+)?` +
		"(?:`[^`]*`|[^\\s`.]+)(?:\\.(?:`[^`]*`|[^\\s`.]+))?)\\s+(?:WAIT\\s+\\d+|NOWAIT)\\b"), "$1"},
	{regexp.MustCompile(`(?is)^(\s*(?:/\*.*?\*/\s*)*RENAME\s+TABLE\s+)IF\s+EXISTS\s+`), "$1"},
}

// ddlApplier applies DDL statements to a schema model. It is not safe for
// concurrent use (the parser is not).
type ddlApplier struct {
	p      *parser.Parser
	flavor string
	// tsNotNull: TIMESTAMP columns without NULL are NOT NULL
	// (explicit_defaults_for_timestamp=OFF).
	tsNotNull bool
	// tracked reports whether tables of a database are in the model.
	tracked func(db string) bool
	// dbCharset returns a database's default character set, for tables
	// created without one (may be nil: then unknown).
	dbCharset func(db string) string
}

func newDDLApplier(flavor string, tsNotNull bool, tracked func(string) bool) *ddlApplier {
	return &ddlApplier{p: parser.New(), flavor: flavor, tsNotNull: tsNotNull, tracked: tracked}
}

// apply parses sql (run with default database db) and applies it to m. It
// returns the tracked tables whose definitions changed, were created or
// dropped. Statements that cannot change a table return nothing.
func (a *ddlApplier) apply(m *schemaModel, db, sql string) ([]TableID, error) {
	if !schemaDDL.MatchString(sql) {
		return nil, nil
	}
	for _, r := range mariadbSyntax {
		sql = r.re.ReplaceAllString(sql, r.repl)
	}
	stmts, _, err := a.p.Parse(sql, "", "")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnparseableDDL, err)
	}
	var changed []TableID
	for _, st := range stmts {
		ids, err := a.applyStmt(m, db, st)
		if err != nil {
			return changed, err
		}
		changed = append(changed, ids...)
	}
	slices.SortFunc(changed, compareIDs)
	return slices.Compact(changed), nil
}

func (a *ddlApplier) id(db string, n *ast.TableName) TableID {
	if n.Schema.O != "" {
		db = n.Schema.O
	}
	return TableID{DB: db, Table: n.Name.O}
}

func (a *ddlApplier) applyStmt(m *schemaModel, db string, st ast.StmtNode) ([]TableID, error) {
	switch s := st.(type) {
	case *ast.CreateTableStmt:
		if s.TemporaryKeyword != ast.TemporaryNone {
			return nil, nil // not logged in row format, never has row events
		}
		id := a.id(db, s.Table)
		if !a.tracked(id.DB) {
			return nil, nil
		}
		if s.IfNotExists && m.tables[id] != nil {
			return nil, nil
		}
		if s.ReferTable != nil {
			src := m.tables[a.id(db, s.ReferTable)]
			if src == nil {
				return nil, fmt.Errorf("CREATE TABLE %s LIKE %s: %w", id, a.id(db, s.ReferTable), errUnknownTable)
			}
			m.tables[id] = src.clone()
			return []TableID{id}, nil
		}
		if s.Select != nil && len(s.Cols) == 0 {
			// Row-based binlogs log CREATE ... SELECT with its columns;
			// without them the shape is unknown.
			return nil, fmt.Errorf("%w: CREATE TABLE %s ... SELECT without a column list", ErrUnparseableDDL, id)
		}
		d := &tableDef{}
		a.tableOptions(d, s.Options)
		if d.Charset == "" && a.dbCharset != nil {
			d.Charset = a.dbCharset(id.DB)
		}
		for _, cd := range s.Cols {
			c, pk := a.column(cd)
			if c.Charset == "" && isTextType(c.DataType) {
				c.Charset = d.Charset
			}
			d.Columns = append(d.Columns, c)
			if pk {
				d.Key = []string{c.Name}
			}
		}
		for _, c := range s.Constraints {
			if c.Tp == ast.ConstraintPrimaryKey {
				d.Key = keyNames(c)
			}
		}
		d.setKey(d.Key)
		m.tables[id] = d
		return []TableID{id}, nil
	case *ast.DropTableStmt:
		if s.IsView || s.TemporaryKeyword != ast.TemporaryNone {
			return nil, nil
		}
		var out []TableID
		for _, n := range s.Tables {
			id := a.id(db, n)
			if m.tables[id] != nil {
				delete(m.tables, id)
				out = append(out, id)
			}
		}
		return out, nil
	case *ast.RenameTableStmt:
		var out []TableID
		for _, tt := range s.TableToTables {
			from, to := a.id(db, tt.OldTable), a.id(db, tt.NewTable)
			out = append(out, m.rename(from, to, a.tracked(to.DB))...)
		}
		return out, nil
	case *ast.DropDatabaseStmt:
		var out []TableID
		for id := range m.tables {
			if id.DB == s.Name.O {
				delete(m.tables, id)
				out = append(out, id)
			}
		}
		slices.SortFunc(out, compareIDs)
		return out, nil
	case *ast.AlterTableStmt:
		return a.alter(m, db, s)
	}
	return nil, nil
}

// rename moves a table's definition; the target is kept only when tracked.
func (m *schemaModel) rename(from, to TableID, keep bool) []TableID {
	d := m.tables[from]
	if d == nil {
		return nil
	}
	delete(m.tables, from)
	if keep {
		m.tables[to] = d
		return []TableID{from, to}
	}
	return []TableID{from}
}

func (a *ddlApplier) alter(m *schemaModel, db string, s *ast.AlterTableStmt) ([]TableID, error) {
	id := a.id(db, s.Table)
	if !a.tracked(id.DB) {
		return nil, nil
	}
	old := m.tables[id]
	if old == nil {
		return nil, fmt.Errorf("ALTER TABLE %s: %w", id, errUnknownTable)
	}
	d := old.clone()
	rename := id
	for _, sp := range s.Specs {
		switch sp.Tp {
		case ast.AlterTableOption:
			a.tableOptions(d, sp.Options)
		case ast.AlterTableAddColumns:
			for _, cd := range sp.NewColumns {
				c, pk := a.column(cd)
				if c.Charset == "" && isTextType(c.DataType) {
					c.Charset = d.Charset
				}
				if d.index(c.Name) >= 0 {
					if sp.IfNotExists {
						continue
					}
					return nil, fmt.Errorf("ALTER TABLE %s: column %s already exists", id, c.Name)
				}
				if err := d.insert(c, sp.Position, -1); err != nil {
					return nil, fmt.Errorf("ALTER TABLE %s: %w", id, err)
				}
				if pk {
					d.setKey([]string{c.Name})
				}
			}
		case ast.AlterTableDropColumn:
			name := sp.OldColumnName.Name.O
			i := d.index(name)
			if i < 0 {
				if sp.IfExists {
					continue
				}
				return nil, fmt.Errorf("ALTER TABLE %s: no column %s to drop", id, name)
			}
			d.Columns = slices.Delete(d.Columns, i, i+1)
			d.Key = slices.DeleteFunc(d.Key, func(k string) bool { return strings.EqualFold(k, name) })
		case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
			oldName := sp.NewColumns[0].Name.Name.O
			if sp.Tp == ast.AlterTableChangeColumn {
				oldName = sp.OldColumnName.Name.O
			}
			i := d.index(oldName)
			if i < 0 {
				if sp.IfExists {
					continue
				}
				return nil, fmt.Errorf("ALTER TABLE %s: no column %s to change", id, oldName)
			}
			c, pk := a.column(sp.NewColumns[0])
			if c.Charset == "" && isTextType(c.DataType) {
				c.Charset = d.Charset
			}
			for _, k := range d.Key {
				if strings.EqualFold(k, oldName) {
					c.Nullable = false // still in the primary key
				}
			}
			if err := d.insert(c, sp.Position, i); err != nil {
				return nil, fmt.Errorf("ALTER TABLE %s: %w", id, err)
			}
			d.renameKey(oldName, c.Name)
			if pk {
				d.setKey([]string{c.Name})
			}
		case ast.AlterTableRenameColumn:
			oldName, newName := sp.OldColumnName.Name.O, sp.NewColumnName.Name.O
			i := d.index(oldName)
			if i < 0 {
				return nil, fmt.Errorf("ALTER TABLE %s: no column %s to rename", id, oldName)
			}
			d.Columns[i].Name = newName
			d.renameKey(oldName, newName)
		case ast.AlterTableAddConstraint:
			if sp.Constraint != nil && sp.Constraint.Tp == ast.ConstraintPrimaryKey {
				d.setKey(keyNames(sp.Constraint))
			}
		case ast.AlterTableDropPrimaryKey:
			d.Key = nil
		case ast.AlterTableDropIndex:
			if strings.EqualFold(sp.Name, "PRIMARY") { // DROP INDEX `PRIMARY`
				d.Key = nil
			}
		case ast.AlterTableRenameTable:
			rename = a.id(db, sp.NewTable)
		}
	}
	m.tables[id] = d
	if rename != id {
		return m.rename(id, rename, a.tracked(rename.DB)), nil
	}
	return []TableID{id}, nil
}

func keyNames(c *ast.Constraint) []string {
	var out []string
	for _, k := range c.Keys {
		if k.Column != nil {
			out = append(out, k.Column.Name.O)
		}
	}
	return out
}

func (d *tableDef) index(name string) int {
	return slices.IndexFunc(d.Columns, func(c Column) bool { return strings.EqualFold(c.Name, name) })
}

// insert puts c at the position pos says; replace is the index of the
// column c replaces (-1 to add).
func (d *tableDef) insert(c Column, pos *ast.ColumnPosition, replace int) error {
	at := replace
	if replace >= 0 {
		d.Columns = slices.Delete(d.Columns, replace, replace+1)
	} else {
		at = len(d.Columns)
	}
	if pos != nil {
		switch pos.Tp {
		case ast.ColumnPositionFirst:
			at = 0
		case ast.ColumnPositionAfter:
			j := d.index(pos.RelativeColumn.Name.O)
			if j < 0 {
				return fmt.Errorf("no column %s to place %s after", pos.RelativeColumn.Name.O, c.Name)
			}
			at = j + 1
		}
	}
	d.Columns = slices.Insert(d.Columns, at, c)
	return nil
}

// setKey makes names the primary key; key columns are NOT NULL.
// Names that are not columns are left out (the server rejects such a
// statement, so it is never in the binlog).
func (d *tableDef) setKey(names []string) {
	d.Key = nil
	for _, k := range names {
		if i := d.index(k); i >= 0 {
			d.Columns[i].Nullable = false
			d.Key = append(d.Key, d.Columns[i].Name)
		}
	}
}

func (d *tableDef) renameKey(from, to string) {
	for i, k := range d.Key {
		if strings.EqualFold(k, from) {
			d.Key[i] = to
		}
	}
}

// column converts a parsed column definition into the Column
// information_schema would describe, and reports an inline PRIMARY KEY.
func (a *ddlApplier) column(cd *ast.ColumnDef) (Column, bool) {
	ft := cd.Tp
	tp := ft.GetType()
	cs := ft.GetCharset()
	c := Column{
		Name:       cd.Name.Name.O,
		DataType:   ptypes.TypeToStr(tp, cs),
		ColumnType: ft.InfoSchemaStr(),
		Nullable:   true,
	}
	if cs == "binary" || isTextType(c.DataType) && cs != "" {
		c.Charset = cs
	}
	switch tp {
	case pmysql.TypeNewDecimal:
		c.Precision, c.Scale = ft.GetFlen(), ft.GetDecimal()
		if c.Precision < 0 {
			c.Precision = 10
		}
		if c.Scale < 0 {
			c.Scale = 0
		}
	case pmysql.TypeBit:
		c.Precision = max(ft.GetFlen(), 1)
	case pmysql.TypeDatetime, pmysql.TypeTimestamp, pmysql.TypeDuration:
		c.FSP = max(ft.GetDecimal(), 0)
	case pmysql.TypeYear:
		c.ColumnType = "year(4)"
	case pmysql.TypeJSON:
		if a.flavor == gmysql.MariaDBFlavor {
			// MariaDB's JSON is an alias of LONGTEXT (with a check).
			c.DataType, c.ColumnType, c.Charset = "longtext", "longtext", ""
		}
	}
	if tp == pmysql.TypeTimestamp && a.tsNotNull {
		c.Nullable = false
	}
	pk := false
	for _, o := range cd.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			c.Nullable = false
		case ast.ColumnOptionNull:
			c.Nullable = true
		case ast.ColumnOptionPrimaryKey:
			c.Nullable, pk = false, true
		case ast.ColumnOptionAutoIncrement, ast.ColumnOptionOnUpdate:
			// Debezium marks ON UPDATE columns auto-incremented and
			// generated too.
			c.AutoIncrement, c.Generated = true, true
		case ast.ColumnOptionGenerated:
			c.Generated = true
		case ast.ColumnOptionComment:
			if v, ok := o.Expr.(ast.ValueExpr); ok {
				c.Comment = fmt.Sprint(v.GetValue())
			}
		case ast.ColumnOptionDefaultValue:
			c.Default = defaultExpr(o.Expr)
		}
	}
	if pmysql.HasNotNullFlag(ft.GetFlag()) {
		c.Nullable = false
	}
	return c, pk
}

// tableOptions applies CHARSET, COLLATE and COMMENT table options.
func (a *ddlApplier) tableOptions(d *tableDef, opts []*ast.TableOption) {
	for _, o := range opts {
		switch o.Tp {
		case ast.TableOptionCharset:
			if o.StrValue != "" && !o.Default {
				d.Charset = strings.ToLower(o.StrValue)
			}
		case ast.TableOptionCollate:
			if cs, _, ok := strings.Cut(strings.ToLower(o.StrValue), "_"); ok && d.Charset == "" {
				d.Charset = cs
			}
		case ast.TableOptionComment:
			d.Comment = o.StrValue
		}
	}
}

// isTextType reports whether a DATA_TYPE holds characters in a charset.
func isTextType(dataType string) bool {
	switch dataType {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return true
	}
	return false
}

// defaultExpr renders a DEFAULT clause's expression as Debezium's
// defaultValueExpression: a literal's value, the text of an expression,
// nil for DEFAULT NULL.
func defaultExpr(e ast.ExprNode) *string {
	if v, ok := e.(ast.ValueExpr); ok {
		if v.GetValue() == nil {
			return nil
		}
		s := fmt.Sprint(v.GetValue())
		return &s
	}
	var b strings.Builder
	if err := e.Restore(format.NewRestoreCtx(format.DefaultRestoreFlags, &b)); err != nil {
		return nil
	}
	s := b.String()
	return &s
}
