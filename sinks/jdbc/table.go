package jdbc

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
)

// tableID names a table: Schema is "" unless table.name.format qualifies it.
type tableID struct {
	Schema, Name string
}

func (t tableID) String() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// tableFor applies table.name.format: dots in the format qualify the
// table, dots from the topic stay in the name.
func (s *Sink) tableFor(topic string) tableID {
	const mark = "\x00"
	f := strings.ReplaceAll(s.cfg.TableNameFormat, "${topic}", mark)
	if schema, name, ok := strings.Cut(f, "."); ok {
		return tableID{Schema: strings.ReplaceAll(schema, mark, topic), Name: strings.ReplaceAll(name, mark, topic)}
	}
	return tableID{Name: strings.ReplaceAll(f, mark, topic)}
}

// ident renders an identifier per quote.sql.identifiers.
func (s *Sink) ident(name string) string {
	if s.cfg.QuoteIdentifiers {
		return s.d.quote(name)
	}
	return name
}

func (s *Sink) tableName(t tableID) string {
	if t.Schema == "" {
		return s.ident(t.Name)
	}
	return s.ident(t.Schema) + "." + s.ident(t.Name)
}

// fold is how the database stores an unquoted name.
func (s *Sink) fold(name string) string {
	if !s.cfg.QuoteIdentifiers && s.d == postgres {
		return strings.ToLower(name)
	}
	return name
}

// dbColumn is an existing column.
type dbColumn struct {
	dataType string
	family   family
	width    int
}

// table is what the sink knows of one table.
type table struct {
	cols    map[string]dbColumn // by folded (and for MySQL/SQLite lower-cased) name
	checked map[string]bool     // colSet signatures already checked
}

func (s *Sink) colKey(name string) string {
	if s.d != postgres {
		return strings.ToLower(name) // MySQL and SQLite column names ignore case
	}
	return s.fold(name)
}

// describe reads a table's columns; nil when the table does not exist.
func (s *Sink) describe(ctx context.Context, t tableID) (map[string]dbColumn, error) {
	var rows *sql.Rows
	var err error
	name, schema := s.fold(t.Name), s.fold(t.Schema)
	switch s.d {
	case postgres:
		rows, err = s.db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = COALESCE(NULLIF($1, ''), current_schema()) AND table_name = $2`, schema, name)
	case mariadb:
		rows, err = s.db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = COALESCE(NULLIF(?, ''), DATABASE()) AND table_name = ?`, schema, name)
	case sqliteDB:
		if schema == "" {
			schema = "main"
		}
		rows, err = s.db.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?, ?)`, name, schema)
	}
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", t, err)
	}
	defer rows.Close()
	var cols map[string]dbColumn
	for rows.Next() {
		var cn, dt string
		if err := rows.Scan(&cn, &dt); err != nil {
			return nil, fmt.Errorf("describe table %s: %w", t, err)
		}
		if cols == nil {
			cols = map[string]dbColumn{}
		}
		c := dbColumn{dataType: dt}
		if s.d != sqliteDB {
			c.family, c.width = columnFamily(s.d, dt)
		}
		cols[s.colKey(cn)] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe table %s: %w", t, err)
	}
	return cols, nil
}

// ensure makes the table fit every column set: created with auto.create,
// missing columns added with auto.evolve, types checked.
func (s *Sink) ensure(ctx context.Context, id tableID, sets []*colSet) error {
	tb := s.tables[id]
	if tb == nil {
		cols, err := s.describe(ctx, id)
		if err != nil {
			return err
		}
		tb = &table{cols: cols, checked: map[string]bool{}}
		s.tables[id] = tb
	}
	for _, cs := range sets {
		if tb.checked[cs.sig] {
			continue
		}
		if tb.cols == nil && cs.del {
			// Deleting from a missing table deletes nothing; but another
			// task may have created it since we looked.
			cols, err := s.describe(ctx, id)
			if err != nil {
				return err
			}
			if tb.cols = cols; cols == nil {
				continue
			}
		}
		if tb.cols == nil {
			if err := s.create(ctx, id, cs); err != nil {
				return err
			}
			cols, err := s.describe(ctx, id)
			if err != nil {
				return err
			}
			tb.cols = cols
		}
		for _, c := range cs.cols {
			have, ok := tb.cols[s.colKey(c.name)]
			if ok {
				if !c.typ.fits(have.family, have.width) {
					return fmt.Errorf("table %s column %s: is %s, field %s needs %s: %w",
						id, c.name, have.dataType, c.schema, sqlType(s.d, c.typ, c.pk), ErrSchemaChange)
				}
				continue
			}
			if err := s.addColumn(ctx, id, c); err != nil {
				return err
			}
			tb.cols[s.colKey(c.name)] = dbColumn{dataType: sqlType(s.d, c.typ, c.pk), family: c.typ.family(), width: c.typ.intBytes()}
		}
		tb.checked[cs.sig] = true
	}
	return nil
}

func (s *Sink) create(ctx context.Context, id tableID, cs *colSet) error {
	if !s.cfg.AutoCreate {
		return fmt.Errorf("table %s does not exist and auto.create is false: %w", id, ErrSchemaChange)
	}
	var b strings.Builder
	b.WriteString("CREATE TABLE IF NOT EXISTS ")
	b.WriteString(s.tableName(id))
	b.WriteString(" (")
	var pks []string
	for i, c := range cs.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.columnDef(c))
		if c.pk {
			pks = append(pks, s.ident(c.name))
		}
	}
	if len(pks) > 0 {
		b.WriteString(", PRIMARY KEY (" + strings.Join(pks, ", ") + ")")
	}
	b.WriteString(")")
	s.log.InfoContext(ctx, "jdbc sink: create table", slog.String("table", id.String()))
	if _, err := s.db.ExecContext(ctx, b.String()); err != nil {
		return fmt.Errorf("create table %s: %w", id, err)
	}
	return nil
}

func (s *Sink) columnDef(c column) string {
	def := s.ident(c.name) + " " + sqlType(s.d, c.typ, c.pk)
	if lit, ok := defaultLiteral(c.typ, c.schema); ok && !c.pk {
		def += " DEFAULT " + lit
	}
	if c.pk || !c.schema.IsOptional() {
		def += " NOT NULL"
	} else {
		def += " NULL"
	}
	return def
}

func (s *Sink) addColumn(ctx context.Context, id tableID, c column) error {
	if !s.cfg.AutoEvolve {
		return fmt.Errorf("table %s has no column %s and auto.evolve is false: %w", id, c.name, ErrSchemaChange)
	}
	if c.pk {
		return fmt.Errorf("table %s: cannot add primary key column %s: %w", id, c.name, ErrSchemaChange)
	}
	if _, hasDef := defaultLiteral(c.typ, c.schema); !c.schema.IsOptional() && !hasDef {
		return fmt.Errorf("table %s: cannot add column %s: field is required and has no default: %w", id, c.name, ErrSchemaChange)
	}
	stmt := "ALTER TABLE " + s.tableName(id) + " ADD COLUMN " + s.columnDef(c)
	s.log.InfoContext(ctx, "jdbc sink: add column", slog.String("table", id.String()), slog.String("column", c.name))
	if _, err := s.db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("alter table %s add column %s: %w", id, c.name, err)
	}
	return nil
}
