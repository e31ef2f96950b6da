package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/sluice-cdc/sluice/internal/obs"
)

// Snapshot defaults (Debezium's snapshot.fetch.size and snapshot.max.threads).
const (
	DefaultSnapshotFetchSize  = 10240
	DefaultSnapshotMaxThreads = 1
	defaultProgressInterval   = 5 * time.Second
)

// ErrSnapshotTableMissing reports that a table to snapshot does not exist
// (any more) when its reader reaches it. Errors wrap it with the table name.
var ErrSnapshotTableMissing = errors.New("table does not exist")

// SnapshotTable is one table to read in the initial snapshot.
type SnapshotTable struct {
	Schema string
	Name   string
	// Columns are the column names in attnum order; each emitted row holds
	// one value per column, in this order.
	Columns []string
	// Key is the primary key, column names in key order (any unique,
	// NOT NULL column set works; key columns missing from Columns are read
	// for paging but not emitted). Empty means the table has no primary
	// key: it is read in one unordered pass (as Debezium does) and cannot
	// resume from a key.
	Key []string

	// Done marks a table already read completely by an earlier run over the
	// same exported snapshot: it is skipped.
	Done bool
	// After is the LastKey of the last chunk the connector completed (text
	// values, one per Key column); reading continues after it. Nil starts
	// from the beginning. Ignored for tables without a key.
	After [][]byte
}

// String returns "schema.table".
func (t SnapshotTable) String() string { return t.Schema + "." + t.Name }

// SnapshotChunk is a run of consecutive rows of one table, in primary-key
// order.
//
// A chunk and all slices it holds are freshly allocated and owned by the
// callback, which may retain them; values share one backing array per
// chunk, so retaining one value keeps the chunk's bytes alive.
type SnapshotChunk struct {
	Table int // index into SnapshotOptions.Tables
	// Rows holds one entry per row, each with one value per
	// SnapshotTable.Columns entry: the Postgres text representation (as
	// pgoutput sends it), nil for NULL.
	Rows  [][][]byte
	First bool // first chunk of this table in this run (also after a resume)
	Last  bool // the table is complete after this chunk
	// LastKey is the key of the last row in Rows (text values in Key order),
	// to persist once the chunk is acked and pass back as
	// SnapshotTable.After. It is the previous chunk's key (or the resume
	// key) when Rows is empty, and nil for tables without a key.
	LastKey [][]byte
}

// SnapshotOptions configures a [Snapshotter].
type SnapshotOptions struct {
	// Connector names the connector in logs and metric labels.
	Connector string
	// Connect opens a new, ordinary (non-replication) connection. Each
	// reader opens its own and closes it when done. The connections must use
	// the same TimeZone, DateStyle, IntervalStyle, extra_float_digits and
	// bytea_output as the replication connection, so that values read here
	// are byte-equal to what pgoutput sends.
	Connect func(ctx context.Context) (*pgx.Conn, error)
	// SnapshotName is the name returned by CREATE_REPLICATION_SLOT ...
	// (SNAPSHOT 'export') / EXPORT_SNAPSHOT.
	SnapshotName string
	Tables       []SnapshotTable
	// FetchSize is the number of rows per chunk (snapshot.fetch.size);
	// 0 means DefaultSnapshotFetchSize.
	FetchSize int
	// MaxThreads is the number of tables read in parallel, each reader on
	// its own connection (snapshot.max.threads); 0 means 1.
	MaxThreads int
	Logger     *slog.Logger          // nil discards
	Registerer prometheus.Registerer // nil registers no metrics
	// ProgressInterval is the minimum time between two progress log lines
	// of one table; 0 means 5s.
	ProgressInterval time.Duration
}

// Snapshotter reads the initial snapshot of a set of tables at the
// consistent point of a replication slot.
//
// # Consistency
//
// The connector creates the slot on its replication connection with
// CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export') and passes the snapshot
// name. Every reader connection runs
//
//	BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
//	SET TRANSACTION SNAPSHOT '<name>'
//
// and reads all its tables in that one transaction, so every table is seen
// exactly as of the slot's consistent point: the snapshot plus the stream
// from that point hold every committed change exactly once. Postgres only
// lets a snapshot be imported while the exporting transaction is open; for
// a replication slot that means while the replication connection stays idle
// (no other command sent, not closed). The connector must keep it idle until
// [Snapshotter.Imported] is closed; after that it may START_REPLICATION,
// and the readers keep their imported snapshots until they finish (the
// stream's changes must still reach the output after the snapshot rows of
// the same table). To be able to resume a failed Run over the same
// snapshot (see Resume), it keeps the connection idle until Run returns.
//
// Readers take no table locks up front: each table is locked (ACCESS
// SHARE, until the reader's transaction ends) only when its first chunk is
// read. TRUNCATE or a table-rewriting ALTER TABLE committed between the
// export and that first read is not MVCC-safe in Postgres and makes the
// snapshot see the table as empty or changed; a dropped table fails with
// [ErrSnapshotTableMissing].
//
// # Resume
//
// SnapshotTable.Done and SnapshotTable.After restart a snapshot after the
// last completed chunk. This is consistent only when the new Snapshotter
// imports the SAME exported snapshot, i.e. while the exporting replication
// connection is still alive and idle (for example a reader connection broke
// and Run failed, but the process and its replication connection live on).
// After a process crash the exported snapshot is gone: reading the rest of a
// table in a new snapshot would mix two points in time, and rows changed in
// between would be emitted by the old stream position and again by the new
// snapshot in a backwards order. So after a crash the connector must start
// the snapshot over from zero (with a new slot), unless it implements
// watermark-based deduplication of the stream against the snapshot.
//
// # Delivery
//
// Run calls emit from its own goroutine only: calls are serialized, never
// concurrent, so the connector sees one ordered stream of chunks. With
// MaxThreads > 1 chunks of different tables interleave, but the chunks of
// one table arrive in key order, from First to Last. Emit may block for
// back-pressure; at most about 2×MaxThreads chunks are buffered, so memory
// stays bounded by the fetch size whatever the table size. Every table that
// is not Done yields at least one chunk (an empty table yields one empty
// chunk with First and Last set).
type Snapshotter struct {
	opts     SnapshotOptions
	log      *slog.Logger
	metrics  *snapshotMetrics
	imported chan struct{}
	ran      atomic.Bool
}

// NewSnapshotter checks opts and registers the metrics. It does no I/O and
// starts no goroutines.
func NewSnapshotter(opts SnapshotOptions) (*Snapshotter, error) {
	if opts.Connect == nil {
		return nil, errors.New("snapshot: no Connect function")
	}
	if opts.SnapshotName == "" {
		return nil, errors.New("snapshot: no exported snapshot name")
	}
	if opts.FetchSize < 0 || opts.MaxThreads < 0 {
		return nil, fmt.Errorf("snapshot: negative fetch size (%d) or max threads (%d)", opts.FetchSize, opts.MaxThreads)
	}
	if opts.FetchSize == 0 {
		opts.FetchSize = DefaultSnapshotFetchSize
	}
	if opts.MaxThreads == 0 {
		opts.MaxThreads = DefaultSnapshotMaxThreads
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = defaultProgressInterval
	}
	for _, t := range opts.Tables {
		if t.Schema == "" || t.Name == "" {
			return nil, fmt.Errorf("snapshot: table %q: empty schema or name", t.String())
		}
		if len(t.Key) > 0 && t.After != nil && len(t.After) != len(t.Key) {
			return nil, fmt.Errorf("snapshot %s: resume key has %d values, key has %d columns", t, len(t.After), len(t.Key))
		}
		for _, v := range t.After {
			if v == nil && len(t.Key) > 0 {
				return nil, fmt.Errorf("snapshot %s: resume key holds NULL", t)
			}
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newSnapshotMetrics(opts.Registerer, opts.Connector)
	if err != nil {
		return nil, err
	}
	return &Snapshotter{
		opts:     opts,
		log:      log.With(obs.KeyConnector, opts.Connector),
		metrics:  m,
		imported: make(chan struct{}),
	}, nil
}

// Imported is closed once every reader connection has imported the
// exported snapshot (at once when no table needs reading), before the first
// chunk is emitted; from then on the exporting replication connection may
// be used again. It is never closed when Run fails before all readers
// imported, so wait on it together with Run's return.
func (s *Snapshotter) Imported() <-chan struct{} { return s.imported }

// snapChunkMsg carries a chunk from a reader to the emitting goroutine.
type snapChunkMsg struct {
	SnapshotChunk
	estimate int64
}

// Run reads every table not marked Done and hands its rows to emit in
// chunks (see [Snapshotter] for order and concurrency). It returns nil once
// all tables are read and emitted, the first error of a reader or of emit
// (wrapped with the table name), or ctx's error. A Snapshotter runs once.
func (s *Snapshotter) Run(ctx context.Context, emit func(context.Context, SnapshotChunk) error) error {
	if s.ran.Swap(true) {
		return errors.New("snapshot: Run called twice")
	}
	var todo []int
	for i, t := range s.opts.Tables {
		if !t.Done {
			todo = append(todo, i)
		}
	}
	s.metrics.remaining.Set(float64(len(todo)))
	workers := min(s.opts.MaxThreads, len(todo))
	if workers == 0 {
		close(s.imported)
		return nil
	}
	s.log.Info("snapshot starting", "tables", len(todo), "threads", workers, "fetch_size", s.opts.FetchSize)

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(wctx)
	out := make(chan snapChunkMsg, workers)
	var pending atomic.Int32
	pending.Store(int32(workers))
	var next atomic.Int32
	for range workers {
		g.Go(func() error {
			return s.reader(gctx, out, &pending, func() (int, bool) {
				n := int(next.Add(1)) - 1
				if n >= len(todo) {
					return 0, false
				}
				return todo[n], true
			})
		})
	}
	done := make(chan error, 1)
	go func() {
		done <- g.Wait()
		close(out)
	}()

	prog := make(map[int]*snapProgress)
	var emitErr error
	for msg := range out {
		if emitErr != nil {
			continue // drain until the readers have stopped
		}
		if err := ctx.Err(); err != nil {
			emitErr = err
			continue
		}
		t := s.opts.Tables[msg.Table]
		p := prog[msg.Table]
		if p == nil {
			p = &snapProgress{start: time.Now(), estimate: msg.estimate, counter: s.metrics.rows.WithLabelValues(s.opts.Connector, t.String())}
			p.lastLog = p.start
			prog[msg.Table] = p
		}
		if err := emit(ctx, msg.SnapshotChunk); err != nil {
			emitErr = fmt.Errorf("snapshot %s: %w", t, err)
			cancel()
			continue
		}
		p.rows += int64(len(msg.Rows))
		p.counter.Add(float64(len(msg.Rows)))
		now := time.Now()
		if msg.Last {
			s.metrics.remaining.Dec()
			elapsed := now.Sub(p.start)
			s.log.Info("snapshot table done", obs.KeyTable, t.String(), "rows", p.rows,
				"seconds", elapsed.Seconds(), "rows_per_second", snapRate(p.rows, elapsed))
			delete(prog, msg.Table)
		} else if now.Sub(p.lastLog) >= s.opts.ProgressInterval {
			p.lastLog = now
			s.log.Info("snapshot progress", obs.KeyTable, t.String(), "rows", p.rows, "estimated_rows", p.estimate,
				"rows_per_second", snapRate(p.rows, now.Sub(p.start)))
		}
	}
	err := <-done
	if emitErr != nil {
		return emitErr
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return err
	}
	s.log.Info("snapshot complete", "tables", len(todo))
	return nil
}

type snapProgress struct {
	start, lastLog time.Time
	rows, estimate int64
	counter        prometheus.Counter
}

func snapRate(rows int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(rows) / d.Seconds()
}

// reader opens one connection, imports the snapshot and reads tables from
// next until none are left.
func (s *Snapshotter) reader(ctx context.Context, out chan<- snapChunkMsg, pending *atomic.Int32, next func() (int, bool)) error {
	conn, err := s.opts.Connect(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	// idle_in_transaction_session_timeout would kill a reader whose
	// transaction waits on back-pressure; statement_timeout a long no-key
	// pass. Both are off for this transaction only.
	sql := "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " + snapQuoteLiteral(s.opts.SnapshotName) +
		"; SET LOCAL idle_in_transaction_session_timeout = 0; SET LOCAL statement_timeout = 0"
	if _, err := conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("snapshot: import snapshot %q: %w", s.opts.SnapshotName, err)
	}
	if pending.Add(-1) == 0 {
		close(s.imported)
	}
	// Read nothing before every reader holds the snapshot: Imported then
	// precedes the first chunk, and a reader that cannot import fails the
	// run before any row is handed on.
	select {
	case <-s.imported:
	case <-ctx.Done():
		return ctx.Err()
	}
	r := snapReader{s: s, conn: conn, out: out}
	for {
		i, ok := next()
		if !ok {
			break
		}
		if err := r.read(ctx, i); err != nil {
			return fmt.Errorf("snapshot %s: %w", s.opts.Tables[i], err)
		}
	}
	_, err = conn.PgConn().Exec(ctx, "COMMIT").ReadAll()
	return err
}

// snapReader reads the tables of one reader connection; its scratch
// buffers are reused across chunks and tables.
type snapReader struct {
	s     *Snapshotter
	conn  *pgx.Conn
	out   chan<- snapChunkMsg
	ends  []int // per value: end offset in the arena, -1 for NULL
	key   [][]byte
	arena int // capacity hint for the next arena
}

func (r *snapReader) read(ctx context.Context, idx int) error {
	t := r.s.opts.Tables[idx]
	ident := pgx.Identifier{t.Schema, t.Name}.Sanitize()

	var oid uint32
	var reltuples float64
	err := r.conn.QueryRow(ctx, "SELECT c.oid, c.reltuples::float8 FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)", ident).Scan(&oid, &reltuples)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrSnapshotTableMissing
	}
	if err != nil {
		return fmt.Errorf("look up table: %w", snapWrapMissing(err))
	}

	// Key column types: keyset arguments are sent as text typed with the
	// column's own type, so any key type compares exactly as stored.
	keyOIDs := make([]uint32, len(t.Key))
	for i, k := range t.Key {
		err := r.conn.QueryRow(ctx, "SELECT atttypid FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped", oid, k).Scan(&keyOIDs[i])
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("key column %q does not exist", k)
		}
		if err != nil {
			return fmt.Errorf("look up key column %q: %w", k, snapWrapMissing(err))
		}
	}

	estimate := int64(reltuples)
	if reltuples < 0 { // never vacuumed or analyzed
		if err := r.conn.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&estimate); err != nil {
			return fmt.Errorf("count rows: %w", snapWrapMissing(err))
		}
	}
	r.s.metrics.estimated.WithLabelValues(r.s.opts.Connector, t.String()).Set(float64(estimate))
	r.s.log.Info("snapshot table starting", obs.KeyTable, t.String(), "estimated_rows", estimate, "resume", t.After != nil && len(t.Key) > 0)

	// Select list: the table's columns, then any key column missing from
	// them (needed for LastKey, not emitted).
	cols := make([]string, 0, len(t.Columns)+len(t.Key))
	pos := make(map[string]int, len(t.Columns))
	for i, c := range t.Columns {
		cols = append(cols, pgx.Identifier{c}.Sanitize())
		pos[c] = i
	}
	keyIdx := make([]int, len(t.Key))
	for i, k := range t.Key {
		p, ok := pos[k]
		if !ok {
			p = len(cols)
			cols = append(cols, pgx.Identifier{k}.Sanitize())
			pos[k] = p
		}
		keyIdx[i] = p
	}
	width := len(cols)
	base := "SELECT " + strings.Join(cols, ", ") + " FROM " + ident

	c := snapChunkBuilder{r: r, table: idx, ncol: len(t.Columns), width: width, estimate: estimate, first: true}
	if len(t.Key) == 0 {
		return r.readAll(ctx, base, &c)
	}

	keys := make([]string, len(t.Key))
	params := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = pgx.Identifier{k}.Sanitize()
		params[i] = "$" + strconv.Itoa(i+1)
	}
	order := " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(r.s.opts.FetchSize+1)
	firstSQL := base + order
	nextSQL := base + " WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(params, ", ") + ")" + order

	var after [][]byte
	if t.After != nil {
		r.key = r.key[:0]
		for _, v := range t.After {
			r.key = append(r.key, append([]byte(nil), v...))
		}
		after = r.key
		c.lastKey = snapCloneKey(after)
	}
	for {
		var rr *pgconn.ResultReader
		if after == nil {
			rr = r.conn.PgConn().ExecParams(ctx, firstSQL, nil, nil, nil, nil)
		} else {
			rr = r.conn.PgConn().ExecParams(ctx, nextSQL, after, keyOIDs, nil, nil)
		}
		c.reset()
		more := false
		for rr.NextRow() {
			if c.n == r.s.opts.FetchSize {
				more = true
				break
			}
			c.add(rr.Values())
		}
		if _, err := rr.Close(); err != nil {
			return fmt.Errorf("read chunk: %w", snapWrapMissing(err))
		}
		chunk := c.build(!more)
		if c.n > 0 {
			chunk.LastKey = make([][]byte, len(keyIdx))
			last := (c.n - 1) * width
			for i, p := range keyIdx {
				chunk.LastKey[i] = c.value(last + p)
			}
			c.lastKey = chunk.LastKey
		}
		if err := c.send(ctx, chunk); err != nil {
			return err
		}
		if !more {
			return nil
		}
		r.key = r.key[:0]
		for _, v := range chunk.LastKey {
			r.key = append(r.key, append([]byte(nil), v...))
		}
		after = r.key
	}
}

// readAll reads a table without a key in one pass, cutting the stream into
// chunks.
func (r *snapReader) readAll(ctx context.Context, sql string, c *snapChunkBuilder) error {
	rr := r.conn.PgConn().ExecParams(ctx, sql, nil, nil, nil, nil)
	c.reset()
	for rr.NextRow() {
		if c.n == r.s.opts.FetchSize {
			// The current row stays valid in rr while the full chunk is sent.
			if err := c.send(ctx, c.build(false)); err != nil {
				rr.Close()
				return err
			}
			c.reset()
		}
		c.add(rr.Values())
	}
	if _, err := rr.Close(); err != nil {
		return fmt.Errorf("read rows: %w", snapWrapMissing(err))
	}
	return c.send(ctx, c.build(true))
}

// snapChunkBuilder accumulates the rows of one chunk: values are copied into one
// arena and sliced out when the chunk is complete, three allocations per
// chunk instead of one per value.
type snapChunkBuilder struct {
	r           *snapReader
	table       int
	ncol, width int
	estimate    int64
	first       bool
	n           int
	arena       []byte
	lastKey     [][]byte
}

func (c *snapChunkBuilder) reset() {
	c.n = 0
	c.r.ends = c.r.ends[:0]
	c.arena = make([]byte, 0, max(c.r.arena, 4096))
}

func (c *snapChunkBuilder) add(vals [][]byte) {
	for _, v := range vals {
		if v == nil {
			c.r.ends = append(c.r.ends, -1)
			continue
		}
		c.arena = append(c.arena, v...)
		c.r.ends = append(c.r.ends, len(c.arena))
	}
	c.n++
}

// value returns value i (row-major over width columns) from the arena.
func (c *snapChunkBuilder) value(i int) []byte {
	end := c.r.ends[i]
	if end < 0 {
		return nil
	}
	start := 0
	for j := i - 1; j >= 0; j-- {
		if e := c.r.ends[j]; e >= 0 {
			start = e
			break
		}
	}
	return c.arena[start:end:end]
}

func (c *snapChunkBuilder) build(last bool) SnapshotChunk {
	ch := SnapshotChunk{Table: c.table, First: c.first, Last: last, LastKey: c.lastKey}
	c.first = false
	if c.n == 0 {
		return ch
	}
	// Size the next arena like this one, with some room to avoid a regrow.
	c.r.arena = len(c.arena) + len(c.arena)/8
	vals := make([][]byte, c.n*c.ncol)
	rows := make([][][]byte, c.n)
	start := 0
	for i := range c.n {
		row := vals[i*c.ncol : (i+1)*c.ncol : (i+1)*c.ncol]
		ends := c.r.ends[i*c.width : (i+1)*c.width]
		for j, end := range ends {
			if end < 0 {
				continue
			}
			if j < c.ncol {
				row[j] = c.arena[start:end:end]
			}
			start = end
		}
		rows[i] = row
	}
	ch.Rows = rows
	return ch
}

func (c *snapChunkBuilder) send(ctx context.Context, ch SnapshotChunk) error {
	select {
	case c.r.out <- snapChunkMsg{SnapshotChunk: ch, estimate: c.estimate}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func snapCloneKey(k [][]byte) [][]byte {
	out := make([][]byte, len(k))
	for i, v := range k {
		out[i] = append([]byte{}, v...)
	}
	return out
}

// snapWrapMissing marks Postgres' undefined_table error (the table was dropped
// while the snapshot ran) with ErrSnapshotTableMissing.
func snapWrapMissing(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return fmt.Errorf("%w: %w", ErrSnapshotTableMissing, err)
	}
	return err
}

// snapQuoteLiteral quotes s as an SQL string literal.
func snapQuoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// snapshotMetrics are the snapshot's Prometheus collectors. Registering a
// collector that already exists reuses it, so several snapshotters (or a
// restarted one) share series.
type snapshotMetrics struct {
	rows      *prometheus.CounterVec // connector, table
	estimated *prometheus.GaugeVec   // connector, table
	remaining prometheus.Gauge       // for this connector
}

func newSnapshotMetrics(reg prometheus.Registerer, connector string) (*snapshotMetrics, error) {
	rows := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: obs.Namespace, Subsystem: "snapshot", Name: "rows_total",
		Help: "Rows read by the initial snapshot and handed on.",
	}, []string{obs.KeyConnector, obs.KeyTable})
	estimated := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: obs.Namespace, Subsystem: "snapshot", Name: "rows_estimated",
		Help: "Estimated rows of a table being snapshotted (pg_class.reltuples, or count(*) when never analyzed).",
	}, []string{obs.KeyConnector, obs.KeyTable})
	remaining := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: obs.Namespace, Subsystem: "snapshot", Name: "tables_remaining",
		Help: "Tables the running snapshot has not finished yet.",
	}, []string{obs.KeyConnector})
	if reg != nil {
		var err error
		rows = obs.Reuse(reg, rows, &err)
		estimated = obs.Reuse(reg, estimated, &err)
		remaining = obs.Reuse(reg, remaining, &err)
		if err != nil {
			return nil, err
		}
	}
	return &snapshotMetrics{rows: rows, estimated: estimated, remaining: remaining.WithLabelValues(connector)}, nil
}
