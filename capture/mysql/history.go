package mysql

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// HistoryTable is one table's definition in a schema history record.
type HistoryTable struct {
	DB      string   `json:"db"`
	Table   string   `json:"table"`
	Columns []Column `json:"columns"`
	Key     []string `json:"key,omitempty"`     // primary key column names, in key order
	Charset string   `json:"charset,omitempty"` // default character set of the table
	Comment string   `json:"comment,omitempty"`
}

// HistoryRecord is one entry of the schema history: the definitions of the
// tables a DDL statement changed (or, for a snapshot record, of every
// tracked table), as of the binlog position GTIDs.
type HistoryRecord struct {
	// GTIDs is the set of transactions executed when the record applies:
	// the DDL's own GTID is in it. A restart from a position whose GTID set
	// contains GTIDs replays the record.
	GTIDs  string `json:"gtids"`
	Flavor string `json:"flavor"`
	File   string `json:"file,omitempty"` // binlog coordinates (informational)
	Pos    uint32 `json:"pos,omitempty"`
	TsMs   int64  `json:"ts_ms,omitempty"`
	DB     string `json:"db,omitempty"`  // default database of the statement
	DDL    string `json:"ddl,omitempty"` // the statement (empty for a snapshot)
	// Snapshot marks a record holding every tracked table: it replaces the
	// whole model rather than updating it.
	Snapshot bool           `json:"snapshot,omitempty"`
	Tables   []HistoryTable `json:"tables,omitempty"`  // created or changed tables, full definitions
	Dropped  []TableID      `json:"dropped,omitempty"` // dropped (or renamed away) tables
}

// SchemaHistory stores schema history records durably. Append must not
// return before the record would survive a crash: the connector emits no
// position past a DDL before its record is appended. Load returns every
// record in append order. Records may repeat (a DDL re-read after a crash
// is appended again); replaying a repeat is harmless.
type SchemaHistory interface {
	Load(ctx context.Context) ([]HistoryRecord, error)
	Append(ctx context.Context, r HistoryRecord) error
}

// FileHistory is a SchemaHistory in a local file of JSON lines, the
// equivalent of Debezium's FileSchemaHistory
// (schema.history.internal.file.filename). Each Append is fsynced.
type FileHistory struct {
	Path string
	mu   sync.Mutex
}

// Load reads every record. A torn last line (a crash during Append) is
// dropped and cut from the file so that later appends start on a fresh line.
func (h *FileHistory) Load(ctx context.Context) ([]HistoryRecord, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, err := os.ReadFile(h.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read schema history: %w", err)
	}
	if n := bytes.LastIndexByte(b, '\n') + 1; n < len(b) {
		if err := os.Truncate(h.Path, int64(n)); err != nil {
			return nil, fmt.Errorf("cut torn schema history record: %w", err)
		}
		b = b[:n]
	}
	var out []HistoryRecord
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<30)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r HistoryRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("schema history %s:%d: %w", h.Path, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// Append writes r as one line and syncs the file.
func (h *FileHistory) Append(ctx context.Context, r HistoryRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode schema history record: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
		return fmt.Errorf("schema history directory: %w", err)
	}
	f, err := os.OpenFile(h.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open schema history: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append schema history: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync schema history: %w", err)
	}
	return f.Close()
}

// MemoryHistory is a SchemaHistory that lives as long as the value: for
// tests, and the fallback when no history store is configured (a restart
// then decodes with the catalog's current schemas).
type MemoryHistory struct {
	mu      sync.Mutex
	records []HistoryRecord
}

// Load returns a copy of the records.
func (h *MemoryHistory) Load(context.Context) ([]HistoryRecord, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.records), nil
}

// Append keeps r.
func (h *MemoryHistory) Append(_ context.Context, r HistoryRecord) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}

// tableDef is a table's shape in the schema model.
type tableDef struct {
	Columns []Column
	Key     []string
	Charset string // default character set (schema change events only)
	Comment string
}

func (d *tableDef) clone() *tableDef {
	c := *d
	c.Columns, c.Key = slices.Clone(d.Columns), slices.Clone(d.Key)
	return &c
}

// schemaModel is the in-memory schema of every tracked table at the
// binlog position being read.
type schemaModel struct {
	tables map[TableID]*tableDef
}

func newSchemaModel() *schemaModel { return &schemaModel{tables: map[TableID]*tableDef{}} }

// apply replays one record.
func (m *schemaModel) apply(r HistoryRecord) {
	if r.Snapshot {
		clear(m.tables)
	}
	for _, id := range r.Dropped {
		delete(m.tables, id)
	}
	for _, t := range r.Tables {
		m.tables[TableID{DB: t.DB, Table: t.Table}] = &tableDef{Columns: slices.Clone(t.Columns), Key: slices.Clone(t.Key), Charset: t.Charset, Comment: t.Comment}
	}
}

// record returns the history record for the tables in ids (their current
// definitions, or dropped when the model no longer has them).
func (m *schemaModel) record(ids []TableID) HistoryRecord {
	var r HistoryRecord
	seen := map[TableID]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if d := m.tables[id]; d != nil {
			r.Tables = append(r.Tables, HistoryTable{DB: id.DB, Table: id.Table, Columns: d.Columns, Key: d.Key, Charset: d.Charset, Comment: d.Comment})
		} else {
			r.Dropped = append(r.Dropped, id)
		}
	}
	return r
}

// snapshotRecord returns a record of every table in the model.
func (m *schemaModel) snapshotRecord() HistoryRecord {
	ids := make([]TableID, 0, len(m.tables))
	for id := range m.tables {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	r := m.record(ids)
	r.Snapshot = true
	return r
}

func compareIDs(a, b TableID) int {
	if a.DB != b.DB {
		return compareStrings(a.DB, b.DB)
	}
	return compareStrings(a.Table, b.Table)
}

// replayHistory builds the model as of the GTID set at: every record whose
// GTID set at contains is applied, in order. found is false when no record
// applies (no history, or a position older than all of it).
func replayHistory(records []HistoryRecord, flavor string, at gmysql.GTIDSet) (m *schemaModel, found bool, err error) {
	m = newSchemaModel()
	for i, r := range records {
		if r.Flavor != "" && r.Flavor != flavor {
			continue
		}
		set, err := gmysql.ParseGTIDSet(flavor, r.GTIDs)
		if err != nil {
			return nil, false, fmt.Errorf("schema history record %d: gtid set %q: %w", i+1, r.GTIDs, err)
		}
		if !at.Contain(set) {
			continue
		}
		m.apply(r)
		found = true
	}
	return m, found, nil
}
