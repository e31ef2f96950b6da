package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Querier is the part of a pgx connection or pool the type catalog needs.
// *pgx.Conn, *pgxpool.Pool and pgx.Tx all satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Type kinds (pg_type.typtype).
const (
	KindBase       byte = 'b'
	KindComposite  byte = 'c'
	KindDomain     byte = 'd'
	KindEnum       byte = 'e'
	KindPseudo     byte = 'p'
	KindRange      byte = 'r'
	KindMultirange byte = 'm'
)

// TypeInfo describes one Postgres type as pg_type knows it.
type TypeInfo struct {
	OID       uint32
	Name      string // pg_type.typname, e.g. "int4", "_int4", "citext"
	Namespace string // schema, e.g. "pg_catalog", "public"
	Kind      byte   // pg_type.typtype: KindBase, KindDomain, KindEnum, ...
	Category  byte   // pg_type.typcategory: 'A' array, 'N' numeric, 'E' enum, ...
	// ElemOID is the element type of an array type (category 'A'), else 0.
	ElemOID uint32
	// BaseOID and BaseTypmod are a domain's underlying type and its modifier
	// (pg_type.typbasetype, typtypmod); zero and -1 otherwise.
	BaseOID    uint32
	BaseTypmod int32
	// EnumLabels holds an enum's labels in pg_enum.enumsortorder order.
	EnumLabels []string
}

// IsArray reports whether t is an array type.
func (t *TypeInfo) IsArray() bool { return t.Category == 'A' && t.ElemOID != 0 }

// builtinTypes seeds every catalog with the pg_catalog types the value
// mapping handles, so built-in columns never need a catalog query. Their OIDs
// are fixed by Postgres (src/include/catalog/pg_type.dat); generated from a
// Postgres 15 pg_type.
var builtinTypes = [...]struct {
	oid      uint32
	name     string
	category byte
	elem     uint32
}{
	{16, "bool", 'B', 0},
	{17, "bytea", 'U', 0},
	{18, "char", 'Z', 0},
	{19, "name", 'S', 18},
	{20, "int8", 'N', 0},
	{21, "int2", 'N', 0},
	{22, "int2vector", 'A', 21},
	{23, "int4", 'N', 0},
	{25, "text", 'S', 0},
	{26, "oid", 'N', 0},
	{27, "tid", 'U', 0},
	{28, "xid", 'U', 0},
	{29, "cid", 'U', 0},
	{30, "oidvector", 'A', 26},
	{114, "json", 'U', 0},
	{142, "xml", 'U', 0},
	{143, "_xml", 'A', 142},
	{199, "_json", 'A', 114},
	{600, "point", 'G', 701},
	{601, "lseg", 'G', 600},
	{602, "path", 'G', 0},
	{603, "box", 'G', 600},
	{604, "polygon", 'G', 0},
	{628, "line", 'G', 701},
	{629, "_line", 'A', 628},
	{650, "cidr", 'I', 0},
	{651, "_cidr", 'A', 650},
	{700, "float4", 'N', 0},
	{701, "float8", 'N', 0},
	{718, "circle", 'G', 0},
	{719, "_circle", 'A', 718},
	{774, "macaddr8", 'U', 0},
	{775, "_macaddr8", 'A', 774},
	{790, "money", 'N', 0},
	{791, "_money", 'A', 790},
	{829, "macaddr", 'U', 0},
	{869, "inet", 'I', 0},
	{1000, "_bool", 'A', 16},
	{1001, "_bytea", 'A', 17},
	{1002, "_char", 'A', 18},
	{1003, "_name", 'A', 19},
	{1005, "_int2", 'A', 21},
	{1007, "_int4", 'A', 23},
	{1009, "_text", 'A', 25},
	{1010, "_tid", 'A', 27},
	{1011, "_xid", 'A', 28},
	{1012, "_cid", 'A', 29},
	{1014, "_bpchar", 'A', 1042},
	{1015, "_varchar", 'A', 1043},
	{1016, "_int8", 'A', 20},
	{1017, "_point", 'A', 600},
	{1018, "_lseg", 'A', 601},
	{1019, "_path", 'A', 602},
	{1020, "_box", 'A', 603},
	{1021, "_float4", 'A', 700},
	{1022, "_float8", 'A', 701},
	{1027, "_polygon", 'A', 604},
	{1028, "_oid", 'A', 26},
	{1040, "_macaddr", 'A', 829},
	{1041, "_inet", 'A', 869},
	{1042, "bpchar", 'S', 0},
	{1043, "varchar", 'S', 0},
	{1082, "date", 'D', 0},
	{1083, "time", 'D', 0},
	{1114, "timestamp", 'D', 0},
	{1115, "_timestamp", 'A', 1114},
	{1182, "_date", 'A', 1082},
	{1183, "_time", 'A', 1083},
	{1184, "timestamptz", 'D', 0},
	{1185, "_timestamptz", 'A', 1184},
	{1186, "interval", 'T', 0},
	{1187, "_interval", 'A', 1186},
	{1231, "_numeric", 'A', 1700},
	{1266, "timetz", 'D', 0},
	{1270, "_timetz", 'A', 1266},
	{1560, "bit", 'V', 0},
	{1561, "_bit", 'A', 1560},
	{1562, "varbit", 'V', 0},
	{1563, "_varbit", 'A', 1562},
	{1700, "numeric", 'N', 0},
	{2205, "regclass", 'N', 0},
	{2206, "regtype", 'N', 0},
	{2210, "_regclass", 'A', 2205},
	{2211, "_regtype", 'A', 2206},
	{2949, "_txid_snapshot", 'A', 2970},
	{2950, "uuid", 'U', 0},
	{2951, "_uuid", 'A', 2950},
	{2970, "txid_snapshot", 'U', 0},
	{3220, "pg_lsn", 'U', 0},
	{3221, "_pg_lsn", 'A', 3220},
	{3614, "tsvector", 'U', 0},
	{3615, "tsquery", 'U', 0},
	{3643, "_tsvector", 'A', 3614},
	{3645, "_tsquery", 'A', 3615},
	{3802, "jsonb", 'U', 0},
	{3807, "_jsonb", 'A', 3802},
	{3904, "int4range", 'R', 0},
	{3905, "_int4range", 'A', 3904},
	{3906, "numrange", 'R', 0},
	{3907, "_numrange", 'A', 3906},
	{3908, "tsrange", 'R', 0},
	{3909, "_tsrange", 'A', 3908},
	{3910, "tstzrange", 'R', 0},
	{3911, "_tstzrange", 'A', 3910},
	{3912, "daterange", 'R', 0},
	{3913, "_daterange", 'A', 3912},
	{3926, "int8range", 'R', 0},
	{3927, "_int8range", 'A', 3926},
	{4072, "jsonpath", 'U', 0},
	{4073, "_jsonpath", 'A', 4072},
	{4451, "int4multirange", 'R', 0},
	{4532, "nummultirange", 'R', 0},
	{4533, "tsmultirange", 'R', 0},
	{4534, "tstzmultirange", 'R', 0},
	{4535, "datemultirange", 'R', 0},
	{4536, "int8multirange", 'R', 0},
	{6150, "_int4multirange", 'A', 4451},
	{6151, "_nummultirange", 'A', 4532},
	{6152, "_tsmultirange", 'A', 4533},
	{6153, "_tstzmultirange", 'A', 4534},
	{6155, "_datemultirange", 'A', 4535},
	{6157, "_int8multirange", 'A', 4536},
}

// TypeCatalog resolves type OIDs to TypeInfo, loading user types (enums,
// domains, extension types such as citext or hstore, their arrays) from the
// database on first use and caching them. A miss always goes to the database,
// so an enum created while streaming resolves as soon as a column uses it;
// Forget drops a cached entry whose definition changed (ALTER TYPE ... ADD
// VALUE). It is safe for concurrent use.
type TypeCatalog struct {
	q     Querier
	mu    sync.RWMutex
	types map[uint32]*TypeInfo
}

// NewTypeCatalog returns a catalog seeded with the built-in types that loads
// other types through q. q may be nil for a catalog of built-ins and types
// added with Add (tests, tools).
func NewTypeCatalog(q Querier) *TypeCatalog {
	c := &TypeCatalog{q: q, types: make(map[uint32]*TypeInfo, len(builtinTypes)+32)}
	for _, b := range builtinTypes {
		t := &TypeInfo{OID: b.oid, Name: b.name, Namespace: "pg_catalog", Kind: KindBase, Category: b.category, BaseTypmod: -1}
		switch {
		case b.category == 'A':
			t.ElemOID = b.elem
		case b.category == 'R' && len(b.name) > 5 && b.name[len(b.name)-5:] == "range":
			t.Kind = KindRange
			if len(b.name) > 10 && b.name[len(b.name)-10:] == "multirange" {
				t.Kind = KindMultirange
			}
		}
		c.types[b.oid] = t
	}
	return c
}

// Add stores t in the cache, replacing any entry with the same OID.
func (c *TypeCatalog) Add(t TypeInfo) {
	c.mu.Lock()
	c.types[t.OID] = &t
	c.mu.Unlock()
}

// Forget drops the cached entry for oid so the next lookup reloads it.
// Built-in types are kept.
func (c *TypeCatalog) Forget(oid uint32) {
	c.mu.Lock()
	if t, ok := c.types[oid]; ok && t.Namespace != "pg_catalog" {
		delete(c.types, oid)
	}
	c.mu.Unlock()
}

// ErrUnknownType is returned (wrapped) when an OID is not in pg_type.
var ErrUnknownType = fmt.Errorf("unknown type oid")

// Lookup returns the type for oid, loading it and the types it depends on
// (domain base types, array elements) when they are not cached.
func (c *TypeCatalog) Lookup(ctx context.Context, oid uint32) (*TypeInfo, error) {
	return c.lookup(ctx, oid, 0)
}

func (c *TypeCatalog) lookup(ctx context.Context, oid uint32, depth int) (*TypeInfo, error) {
	c.mu.RLock()
	t, ok := c.types[oid]
	c.mu.RUnlock()
	if ok {
		return t, nil
	}
	if depth > 32 {
		return nil, fmt.Errorf("type %d: dependency chain too deep", oid)
	}
	if c.q == nil {
		return nil, fmt.Errorf("type %d: %w (no connection to load it)", oid, ErrUnknownType)
	}
	t, err := c.load(ctx, oid)
	if err != nil {
		return nil, err
	}
	for _, dep := range [...]uint32{t.BaseOID, t.ElemOID} {
		if dep != 0 {
			if _, err := c.lookup(ctx, dep, depth+1); err != nil {
				return nil, fmt.Errorf("type %s: %w", t.Name, err)
			}
		}
	}
	c.mu.Lock()
	c.types[oid] = t
	c.mu.Unlock()
	return t, nil
}

const typeQuery = `SELECT t.oid, t.typname::text, n.nspname::text, t.typtype::text, t.typcategory::text,
	t.typelem, t.typbasetype, t.typtypmod,
	COALESCE((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '{}')
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.oid = $1`

func (c *TypeCatalog) load(ctx context.Context, oid uint32) (*TypeInfo, error) {
	rows, err := c.q.Query(ctx, typeQuery, oid)
	if err != nil {
		return nil, fmt.Errorf("load type %d: %w", oid, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load type %d: %w", oid, err)
		}
		return nil, fmt.Errorf("type %d: %w", oid, ErrUnknownType)
	}
	var (
		t              TypeInfo
		kind, category string
		elem           uint32
	)
	if err := rows.Scan(&t.OID, &t.Name, &t.Namespace, &kind, &category, &elem, &t.BaseOID, &t.BaseTypmod, &t.EnumLabels); err != nil {
		return nil, fmt.Errorf("load type %d: %w", oid, err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load type %d: %w", oid, err)
	}
	if kind != "" {
		t.Kind = kind[0]
	}
	if category != "" {
		t.Category = category[0]
	}
	if t.Category == 'A' {
		t.ElemOID = elem
	}
	if t.Kind != KindDomain {
		t.BaseOID, t.BaseTypmod = 0, -1
	}
	return &t, nil
}
