package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// ErrSchemaMismatch is returned (wrapped) when binlog rows disagree with the
// schema history (column count, or names when the server logs them): the
// history is incomplete or was lost, and decoding would put values under
// the wrong fields.
var ErrSchemaMismatch = errors.New("binlog rows do not match the schema history")

// schemaContext is the schema state the stream starts with.
type schemaContext struct {
	model *schemaModel
	ddl   *ddlApplier
	hist  SchemaHistory
}

// history returns the configured schema history store.
func (s *Source) history() SchemaHistory {
	switch {
	case s.opts.History != nil:
		return s.opts.History
	case s.cfg.SchemaHistoryFile != "":
		return &FileHistory{Path: s.cfg.SchemaHistoryFile}
	case s.opts.DataDir != "":
		return &FileHistory{Path: DefaultHistoryFile(s.opts.DataDir, s.historyName())}
	}
	if s.memHistory == nil {
		s.log.Warn("no schema history store (schema.history.internal.file.filename or a data dir): a restart decodes old binlog events with the catalog's current table schemas")
		s.memHistory = &MemoryHistory{}
	}
	return s.memHistory
}

// historyName names the default history file: the source name, or the
// topic prefix when the source has no name.
func (s *Source) historyName() string {
	if s.opts.Name != "" {
		return s.opts.Name
	}
	return s.opts.TopicPrefix
}

// newSchemaContext reads the server settings DDL parsing depends on.
func (s *Source) newSchemaContext(c *client.Conn, flavor string, m *schemaModel) *schemaContext {
	tsNotNull := false
	if v, err := queryOne(c, "SELECT @@explicit_defaults_for_timestamp"); err == nil {
		tsNotNull = v == "0" || strings.EqualFold(v, "OFF")
	}
	return &schemaContext{model: m, ddl: newDDLApplier(flavor, tsNotNull, s.filter.database), hist: s.history()}
}

// captureSchema reads every tracked table's definition from the catalog,
// which must not change meanwhile (under the global read lock, or with
// snapshot.locking.mode=none at the operator's risk), and appends it to the
// schema history as a snapshot record at position at.
func (s *Source) captureSchema(ctx context.Context, c *client.Conn, at position, hist SchemaHistory) (*schemaModel, error) {
	defs, err := readCatalog(ctx, c, s.filter.database, nil)
	if err != nil {
		return nil, err
	}
	m := &schemaModel{tables: defs}
	rec := m.snapshotRecord()
	rec.GTIDs, rec.Flavor, rec.File, rec.Pos = at.GTIDs, at.Flavor, at.File, at.Pos
	if err := hist.Append(ctx, rec); err != nil {
		return nil, fmt.Errorf("schema history: %w", err)
	}
	return m, nil
}

// resumeSchema rebuilds the schema model as of a stored position from the
// schema history.
func (s *Source) resumeSchema(ctx context.Context, hist SchemaHistory, from position) (*schemaModel, error) {
	recs, err := hist.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema history: %w", err)
	}
	at, err := gmysql.ParseGTIDSet(from.Flavor, from.GTIDs)
	if err != nil {
		return nil, fmt.Errorf("%w: gtid set %q: %v", ErrBadPosition, from.GTIDs, err)
	}
	m, found, err := replayHistory(recs, from.Flavor, at)
	if err != nil {
		return nil, err
	}
	if !found {
		s.log.Warn("the schema history has nothing at or before the stored position; table schemas come from the catalog", "records", len(recs))
	}
	return m, nil
}
