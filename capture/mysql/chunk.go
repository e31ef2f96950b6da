package mysql

// Chunked, resumable snapshot.
//
// # Chunks
//
// The snapshot reads a table with an integer primary key (every key column
// TINYINT..BIGINT, signed or not) in key order, snapshot.fetch.size rows
// per SELECT ... WHERE (k1, k2) > (last key) ORDER BY k1, k2 LIMIT n, all
// inside the consistent-snapshot transaction. Every batch's position
// records, per table, how far the rows it holds go (snapProgress), so the
// position Kafka acknowledged last says which chunks are delivered. Other
// tables (no primary key, or a key of another type) are read in one
// streaming SELECT and recorded only once complete.
//
// # Resume after a crash
//
// The first run reads every table at the GTID set G1 its global read lock
// fixed, and the stream is to start at G1. After a crash the consistent
// snapshot at G1 is gone: what is left can only be read in a new
// consistent snapshot at a later G2, which already holds the transactions
// G2 \ G1, and the stream from G1 would then deliver those changes after
// the newer rows read at G2: a key's versions would go backwards. As the
// Postgres source does, a resumed run therefore records for every table
// the key ranges it read and the GTID set each was read at ("spans"): the
// keys up to the last acknowledged key of a partly read table were read at
// G1, the rest at G2 (a third run adds a span at G3, and so on). The stream
// still starts at G1 (so nothing after G1 is lost) and drops a row change
// whose key lies in a span read at Gk when Gk contains the change's
// transaction: the read at Gk already shows its effect. Per key the output
// is the read at Gk followed by exactly the changes after it, so versions
// never go backwards and none is lost. GTID membership is exact, and the
// key comparison is exact for integer keys (the reason only they resume by
// chunk). The stream positions carry the spans until the stream has read
// past every Gk; then the filter is gone.
//
// A partly read table that cannot resume by chunk (no primary key, or a
// key of another type) is read again whole at G2 with one span at G2: its
// rows read at G1 before the crash are delivered twice, and a row deleted
// between G1 and G2 keeps its G1 read without a delete (the delete is in
// G2, so dropped): such tables are at-least-once, as in Debezium, which
// restarts them. A table done before the crash is not read again; a table
// not begun is read whole at G2. A resumed run reads the tables' shapes
// from the catalog at G2 for the rows it reads, and the stream decodes with
// the schema history from G1 as before; it needs that history (the
// snapshot record at G1) and the binlog after G1, and otherwise starts the
// snapshot over. An UPDATE that changes a primary key from a span where it
// is kept to one where it is dropped (or back) becomes the plain delete of
// the old key or the plain create of the new one, without Debezium's
// key-change headers. While the filter is active the stream positions
// carry the spans of every table read after the first snapshot; they are
// small for a few tables, and gone once the stream passes the last
// snapshot's GTID set.

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// snapProgress is the snapshot progress a position carries: during the
// snapshot (position.Snapshot), the spans of every table read so far; in
// the stream after a resumed snapshot, the spans of the tables whose
// changes are still filtered.
type snapProgress struct {
	// Start is the GTID set the stream starts from (the first run's
	// snapshot), with its binlog coordinates.
	Start  string                `json:"start"`
	File   string                `json:"file,omitempty"`
	Pos    uint32                `json:"pos,omitempty"`
	Tables map[string]*snapTable `json:"tables,omitempty"` // by "db.table"
}

// snapTable is one table's progress: spans in key order. Span i covers the
// keys after span i-1's To (from the start for i = 0) up to its own To,
// inclusive; To is nil on the last span of a done table.
type snapTable struct {
	Spans []snapSpan `json:"spans"`
	Done  bool       `json:"done,omitempty"`
}

// snapSpan is a key range and the GTID set it was read at.
type snapSpan struct {
	At string   `json:"at"`
	To []string `json:"to,omitempty"` // decimal key values
}

func (p *snapProgress) clone() *snapProgress {
	if p == nil {
		return nil
	}
	c := *p
	c.Tables = make(map[string]*snapTable, len(p.Tables))
	for k, t := range p.Tables {
		tc := &snapTable{Done: t.Done, Spans: make([]snapSpan, len(t.Spans))}
		copy(tc.Spans, t.Spans)
		c.Tables[k] = tc
	}
	return &c
}

// filtering returns the progress of the tables whose stream changes must be
// filtered (a span read after Start), nil when there are none.
func (p *snapProgress) filtering() *snapProgress {
	out := &snapProgress{Start: p.Start, File: p.File, Pos: p.Pos, Tables: map[string]*snapTable{}}
	for k, t := range p.Tables {
		for _, s := range t.Spans {
			if s.At != p.Start {
				out.Tables[k] = t
				break
			}
		}
	}
	if len(out.Tables) == 0 {
		return nil
	}
	return out
}

// intKeyTable reports whether every primary key column of t is an integer:
// such a table is read in chunks and resumes after the last chunk.
func intKeyTable(t *Table) bool {
	if len(t.Key) == 0 {
		return false
	}
	for _, i := range t.Key {
		if intBits(t.Columns[i].DataType) == 0 {
			return false
		}
	}
	return true
}

// intBits returns the width of an integer DATA_TYPE, 0 for other types.
func intBits(dataType string) uint {
	switch dataType {
	case "tinyint":
		return 8
	case "smallint":
		return 16
	case "mediumint":
		return 24
	case "int", "integer":
		return 32
	case "bigint":
		return 64
	}
	return 0
}

// keyNum returns an integer key value as a number: text protocol values
// (int64, uint64, decimal bytes) and binlog values, which hold unsigned
// columns in signed Go integers of the column's width.
func keyNum(c Column, v any) (*big.Int, error) {
	n := new(big.Int)
	switch x := v.(type) {
	case int8:
		n.SetInt64(int64(x))
	case int16:
		n.SetInt64(int64(x))
	case int32:
		n.SetInt64(int64(x))
	case int64:
		n.SetInt64(x)
	case int:
		n.SetInt64(int64(x))
	case uint8:
		n.SetUint64(uint64(x))
	case uint16:
		n.SetUint64(uint64(x))
	case uint32:
		n.SetUint64(uint64(x))
	case uint64:
		n.SetUint64(x)
	case []byte:
		if _, ok := n.SetString(string(x), 10); !ok {
			return nil, fmt.Errorf("column %s: key value %q is not an integer", c.Name, x)
		}
	case string:
		if _, ok := n.SetString(x, 10); !ok {
			return nil, fmt.Errorf("column %s: key value %q is not an integer", c.Name, x)
		}
	default:
		return nil, fmt.Errorf("column %s: key value of type %T is not an integer", c.Name, v)
	}
	if n.Sign() < 0 && c.Unsigned() {
		n.Add(n, new(big.Int).Lsh(big.NewInt(1), intBits(c.DataType)))
	}
	return n, nil
}

// rowKey returns the integer key of a row (raw values in column order).
func rowKey(t *Table, vals []any) ([]*big.Int, error) {
	out := make([]*big.Int, len(t.Key))
	for j, i := range t.Key {
		if vals[i] == nil {
			return nil, fmt.Errorf("table %s: NULL in primary key column %s", t.ID, t.Columns[i].Name)
		}
		n, err := keyNum(t.Columns[i], vals[i])
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", t.ID, err)
		}
		out[j] = n
	}
	return out, nil
}

func keyText(k []*big.Int) []string {
	out := make([]string, len(k))
	for i, n := range k {
		out[i] = n.String()
	}
	return out
}

func parseKey(s []string) ([]*big.Int, error) {
	out := make([]*big.Int, len(s))
	for i, v := range s {
		n, ok := new(big.Int).SetString(v, 10)
		if !ok {
			return nil, fmt.Errorf("%w: snapshot key value %q", ErrBadPosition, v)
		}
		out[i] = n
	}
	return out, nil
}

// compareKeys orders two keys of the same table as MySQL orders the row
// constructors (k1, k2, ...).
func compareKeys(a, b []*big.Int) int {
	for i := range min(len(a), len(b)) {
		if c := a[i].Cmp(b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// chunkQuery returns the SELECT of the chunk after key after (nil: from
// the start) of an integer-keyed table.
func chunkQuery(t *Table, cols string, after []*big.Int, limit int) string {
	keys := make([]string, len(t.Key))
	for j, i := range t.Key {
		keys[j] = quoteIdent(t.Columns[i].Name)
	}
	q := "SELECT " + cols + " FROM " + quoteIdent(t.ID.DB) + "." + quoteIdent(t.ID.Table)
	if after != nil {
		if len(keys) == 1 {
			q += " WHERE " + keys[0] + " > " + after[0].String()
		} else {
			q += " WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(keyText(after), ", ") + ")"
		}
	}
	return q + " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(limit)
}

// keyFilter drops the stream changes a resumed snapshot's later reads
// already show (see the top of this file).
type keyFilter struct {
	flavor string
	prog   *snapProgress // as carried in positions
	tables map[TableID][]filterSpan
	until  gmysql.GTIDSet // every span's GTID set: once done holds it, no filter
	// The current transaction's GTID as a set, parsed once.
	gtid    string
	gtidSet gmysql.GTIDSet
}

type filterSpan struct {
	at gmysql.GTIDSet
	to []*big.Int // nil: to the end
}

func newKeyFilter(flavor string, p *snapProgress) (*keyFilter, error) {
	if p == nil || len(p.Tables) == 0 {
		return nil, nil
	}
	until, err := gmysql.ParseGTIDSet(flavor, p.Start)
	if err != nil {
		return nil, fmt.Errorf("%w: gtid set %q: %v", ErrBadPosition, p.Start, err)
	}
	f := &keyFilter{flavor: flavor, prog: p, tables: map[TableID][]filterSpan{}, until: until}
	for name, t := range p.Tables {
		db, table, ok := strings.Cut(name, ".")
		if !ok {
			return nil, fmt.Errorf("%w: snapshot table %q", ErrBadPosition, name)
		}
		var spans []filterSpan
		for _, s := range t.Spans {
			at, err := gmysql.ParseGTIDSet(flavor, s.At)
			if err != nil {
				return nil, fmt.Errorf("%w: gtid set %q: %v", ErrBadPosition, s.At, err)
			}
			if !until.Contain(at) {
				if err := until.Update(s.At); err != nil {
					return nil, fmt.Errorf("%w: gtid set %q: %v", ErrBadPosition, s.At, err)
				}
			}
			var to []*big.Int
			if s.To != nil {
				if to, err = parseKey(s.To); err != nil {
					return nil, err
				}
			}
			spans = append(spans, filterSpan{at: at, to: to})
		}
		f.tables[TableID{DB: db, Table: table}] = spans
	}
	return f, nil
}

// keep reports whether the change of the row with raw values vals of table
// t in transaction gtid is emitted.
func (f *keyFilter) keep(t *Table, gtid string, vals []any) (bool, error) {
	spans := f.tables[t.ID]
	if len(spans) == 0 || gtid == "" {
		return true, nil
	}
	span := spans[len(spans)-1]
	if len(spans) > 1 || span.to != nil {
		if !intKeyTable(t) {
			return true, nil // the key changed type since: keep (at least once)
		}
		k, err := rowKey(t, vals)
		if err != nil {
			return false, err
		}
		span = filterSpan{}
		for _, s := range spans {
			if s.to == nil || compareKeys(k, s.to) <= 0 {
				span = s
				break
			}
		}
		if span.at == nil {
			return true, nil // past every span read: a later chunk (cannot happen once done)
		}
	}
	if f.gtid != gtid {
		set, err := gmysql.ParseGTIDSet(f.flavor, gtid)
		if err != nil {
			return false, fmt.Errorf("gtid %s: %w", gtid, err)
		}
		f.gtid, f.gtidSet = gtid, set
	}
	return !span.at.Contain(f.gtidSet), nil
}
