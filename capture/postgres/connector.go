package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/event"
)

// Errors callers may branch on.
var (
	// ErrSlotMissing: a position is stored but the replication slot is gone,
	// so changes since that position are lost. Recreate the slot and take a
	// new snapshot (snapshot.mode always or when_needed does so by itself).
	ErrSlotMissing = errors.New("replication slot does not exist")
	// ErrPrerequisite: the server is not set up for logical replication or
	// the user lacks a privilege; the message names the fix.
	ErrPrerequisite = errors.New("postgres prerequisite not met")
)

// Options are the per-source settings from sluice.yaml.
type Options struct {
	Name        string                // source (connector) name from sluice.yaml
	TopicPrefix string                // topic.prefix; also Debezium's source.name
	URL         string                // postgres:// connection URL (never logged)
	Tables      []string              // "schema.table" list; empty = all (include/exclude lists apply)
	Logger      *slog.Logger          // nil discards
	Registerer  prometheus.Registerer // may be nil
	Start       event.Position        // last saved position (nil on first start)
	// AwaitSnapshotAck makes the source stream only once the snapshot's
	// end position is acked (saved): a crash after Kafka took stream events
	// but before that save would otherwise resume the snapshot, whose reads
	// would then follow newer changes of the same rows in Kafka. The caller
	// must ack what it saves (the daemon does).
	AwaitSnapshotAck bool
}

// Source is the PostgreSQL change-data-capture source.
type Source struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	typeOpts TypeOptions
	tables   filter
	explicit map[string]bool // opts.Tables, when given
	start    *position
	metrics  *metrics

	mu          sync.Mutex
	acked       position      // highest acked
	ackedCh     chan struct{} // closed (and replaced) when acked advances
	lastEmitted position      // last position handed to emit
	idle        uint64        // LSN confirmable when everything emitted is acked
	flushed     uint64        // LSN last confirmed to Postgres
	snapDone    bool          // a snapshot ran (or was not needed) in this process
	resumeFrom  *position
	stamp       *dedupStamp // filter carried on stream positions (resume.go)
}

// New validates cfg and opts. It starts no goroutines and does no I/O.
func New(cfg Config, opts Options) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, permanentError{fmt.Errorf("postgres config: %w", err)}
	}
	if opts.TopicPrefix == "" {
		return nil, permanentError{errors.New("postgres: topic prefix is required")}
	}
	if opts.URL == "" {
		return nil, permanentError{errors.New("postgres: connection URL is required")}
	}
	if _, err := pgconn.ParseConfig(opts.URL); err != nil {
		return nil, permanentError{urlError(err)}
	}
	to, err := cfg.TypeOptions()
	if err != nil {
		return nil, err
	}
	tf, err := newFilter(cfg.TableIncludeList, cfg.TableExcludeList)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, opts: opts, typeOpts: to, tables: tf, log: opts.Logger, ackedCh: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("connector", opts.Name)
	if len(opts.Tables) > 0 {
		s.explicit = make(map[string]bool, len(opts.Tables))
		for _, t := range opts.Tables {
			if _, _, ok := strings.Cut(t, "."); !ok {
				return nil, permanentError{fmt.Errorf("postgres: table %q must be schema.table", t)}
			}
			s.explicit[t] = true
		}
	}
	if opts.Start != nil {
		p, err := decodePosition(opts.Start)
		if err != nil {
			return nil, fmt.Errorf("postgres: start position: %w", err)
		}
		s.start = &p
		s.acked = p
		s.lastEmitted = p
	}
	if s.metrics, err = newMetrics(opts.Registerer, opts.Name); err != nil {
		return nil, err
	}
	return s, nil
}

// captured reports whether a table's changes are emitted.
func (s *Source) captured(id TableID) bool {
	if s.explicit != nil && !s.explicit[id.String()] {
		return false
	}
	return s.tables.match(id.String())
}

// Ack records that every event up to pos is durably stored. The stream
// confirms the corresponding LSN to Postgres on its next status update.
// It never moves backwards.
func (s *Source) Ack(_ context.Context, pos event.Position) error {
	p, err := decodePosition(pos)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.after(s.acked) {
		s.acked = p
		close(s.ackedCh)
		s.ackedCh = make(chan struct{})
	}
	return nil
}

// waitAcked blocks until a position at or after p is acked, that is saved
// by the caller (see [Source.Ack]), or ctx ends.
func (s *Source) waitAcked(ctx context.Context, p position) error {
	for {
		s.mu.Lock()
		ok, ch := !p.after(s.acked), s.ackedCh
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// confirmable returns the LSN that may be confirmed to Postgres now, never
// less than what was confirmed before.
func (s *Source) confirmable() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := uint64(s.acked.LSN)
	if s.acked.Snapshot != nil {
		c = 0
	}
	if !s.lastEmitted.after(s.acked) && s.idle > c {
		c = s.idle
	}
	if c > s.flushed {
		s.flushed = c
	}
	return s.flushed
}

func (s *Source) emitted(p position) {
	s.mu.Lock()
	s.lastEmitted = p
	s.mu.Unlock()
}

func (s *Source) setIdle(lsn uint64) {
	s.mu.Lock()
	if lsn > s.idle {
		s.idle = lsn
	}
	s.mu.Unlock()
}

// urlError explains why a connection URL does not parse without echoing it
// (pgconn's message quotes it, with the password masked but the rest shown).
func urlError(err error) error {
	reason := err.Error()
	if i := strings.LastIndex(reason, "`: "); i >= 0 {
		reason = reason[i+3:]
	}
	return fmt.Errorf("postgres: cannot parse connection URL: %s (want postgres://user:password@host:port/database?sslmode=... or key=value pairs)", reason)
}

// permanentError is an error the daemon must not retry: it has the
// Permanent() bool method the daemon looks for.
type permanentError struct{ err error }

func (p permanentError) Error() string   { return p.err.Error() }
func (p permanentError) Unwrap() error   { return p.err }
func (p permanentError) Permanent() bool { return true }

// markPermanent marks the errors no restart can fix: missing prerequisites
// (auth, privileges, settings, tables), a lost slot, a foreign position.
func markPermanent(err error) error {
	if errors.Is(err, ErrPrerequisite) || errors.Is(err, ErrSlotMissing) || errors.Is(err, ErrBadPosition) {
		return permanentError{err}
	}
	return err
}

// permanent marks an error that a reconnect cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

func fatal(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// retriable reports whether err is a lost or refused connection that a
// reconnect may fix.
func retriable(err error) bool {
	var p permanent
	if errors.As(err, &p) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, crash, cannot connect now
			strings.HasPrefix(pgErr.Code, "53"): // insufficient resources
			return true
		}
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	return pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "receive message failed")
}

// Backoff bounds for reconnecting.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// Run connects, checks prerequisites, creates the slot and publication when
// missing, snapshots per snapshot.mode, then streams until ctx ends or a
// fatal error. Lost connections are retried with capped exponential
// backoff, resuming after the last emitted event. Run returns ctx.Err() on
// cancellation; with snapshot.mode initial_only it returns nil once the
// snapshot is emitted.
func (s *Source) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	backoff := minBackoff
	for {
		start := time.Now()
		err := s.session(ctx, emit)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil || !retriable(err) {
			return markPermanent(unwrapPermanent(err))
		}
		if time.Since(start) > time.Minute {
			backoff = minBackoff
		}
		s.log.Warn("postgres connection lost; reconnecting", "error", err, "backoff", backoff)
		s.metrics.reconnects.Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = nextBackoff(backoff)
	}
}

// nextBackoff doubles the reconnect delay up to maxBackoff.
func nextBackoff(b time.Duration) time.Duration { return min(b*2, maxBackoff) }

func unwrapPermanent(err error) error {
	var p permanent
	if errors.As(err, &p) && p.err != nil {
		if p == err { //nolint:errorlint // exact wrapper
			return p.err
		}
	}
	return err
}

// connConfig returns the settings shared by all connections: text output
// must be byte-equal between snapshot (SELECT) and stream (pgoutput).
func (s *Source) connConfig(replication bool) (*pgconn.Config, error) {
	cfg, err := pgconn.ParseConfig(s.opts.URL)
	if err != nil {
		return nil, errors.New("cannot parse connection URL")
	}
	for k, v := range map[string]string{
		"DateStyle": "ISO", "IntervalStyle": "postgres", "extra_float_digits": "3",
		"bytea_output": "hex", "TimeZone": "UTC", "application_name": "sluice-" + s.opts.Name,
	} {
		if _, ok := cfg.RuntimeParams[k]; !ok {
			cfg.RuntimeParams[k] = v
		}
	}
	if replication {
		cfg.RuntimeParams["replication"] = "database"
	} else {
		delete(cfg.RuntimeParams, "replication")
	}
	return cfg, nil
}

func (s *Source) connectNormal(ctx context.Context) (*pgx.Conn, error) {
	pc, err := s.connConfig(false)
	if err != nil {
		return nil, fatal(err)
	}
	cc, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cc.Config = *pc
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, classifyConnectError(err)
	}
	return conn, nil
}

func (s *Source) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	pc, err := s.connConfig(true)
	if err != nil {
		return nil, fatal(err)
	}
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, classifyConnectError(err)
	}
	return conn, nil
}

// classifyConnectError turns authentication and authorization failures into
// clear permanent errors.
func classifyConnectError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01":
			return fatal(fmt.Errorf("%w: %s: check the user and password in the connection URL", ErrPrerequisite, pgErr.Message))
		case "28000":
			if strings.Contains(pgErr.Message, "replication") {
				return fatal(fmt.Errorf("%w: pg_hba.conf does not allow replication connections for this user: %s (add a \"host replication <user> <address> scram-sha-256\" line and reload Postgres)", ErrPrerequisite, pgErr.Message))
			}
			return fatal(fmt.Errorf("%w: connection rejected: %s (check pg_hba.conf and the user's LOGIN attribute)", ErrPrerequisite, pgErr.Message))
		case "3D000":
			return fatal(fmt.Errorf("%w: %s: check the database name in the connection URL", ErrPrerequisite, pgErr.Message))
		case "42501":
			return fatal(fmt.Errorf("%w: %s: grant the REPLICATION attribute (ALTER ROLE <user> REPLICATION)", ErrPrerequisite, pgErr.Message))
		}
	}
	return fmt.Errorf("connect: %w", err)
}

// serverSettings are what the prerequisite checks look at.
type serverSettings struct {
	User          string // current_user
	WalLevel      string
	Superuser     bool
	Replication   bool
	MaxSlots      int
	ServerVersion int
}

// checkSettings validates server settings and role attributes, naming the
// fix for each problem.
func checkSettings(st serverSettings) error {
	var errs []error
	if st.WalLevel != "logical" {
		errs = append(errs, fmt.Errorf("%w: wal_level is %q, logical decoding needs wal_level=logical (ALTER SYSTEM SET wal_level = logical; then restart Postgres)", ErrPrerequisite, st.WalLevel))
	}
	if !st.Superuser && !st.Replication {
		if st.User == "" {
			errs = append(errs, fmt.Errorf("%w: the user lacks the REPLICATION attribute: ALTER ROLE <user> REPLICATION", ErrPrerequisite))
		} else {
			errs = append(errs, fmt.Errorf("%w: role %q lacks the REPLICATION attribute: ALTER ROLE %s REPLICATION", ErrPrerequisite, st.User, roleIdent(st.User)))
		}
	}
	if st.MaxSlots == 0 {
		errs = append(errs, fmt.Errorf("%w: max_replication_slots is 0; set it to at least 1 and restart Postgres", ErrPrerequisite))
	}
	if st.ServerVersion != 0 && st.ServerVersion < 100000 {
		errs = append(errs, fmt.Errorf("%w: Postgres %d does not have pgoutput; version 10 or later is required", ErrPrerequisite, st.ServerVersion/10000))
	}
	return errors.Join(errs...)
}

func (s *Source) checkPrerequisites(ctx context.Context, conn *pgx.Conn) error {
	var st serverSettings
	err := conn.QueryRow(ctx, `SELECT current_user, current_setting('wal_level'), r.rolsuper, r.rolreplication,
  current_setting('max_replication_slots')::int, current_setting('server_version_num')::int
FROM pg_roles r WHERE r.rolname = current_user`).Scan(&st.User, &st.WalLevel, &st.Superuser, &st.Replication, &st.MaxSlots, &st.ServerVersion)
	if err != nil {
		return fmt.Errorf("read server settings: %w", err)
	}
	return fatal(checkSettings(st))
}

// roleIdent spells a role name for a suggested SQL command.
func roleIdent(r string) string {
	if identRE.MatchString(r) && (r[0] < '0' || r[0] > '9') {
		return r
	}
	return quoteIdent(r)
}

// checkSelect makes sure the snapshot can read every captured table, before
// a slot is created for it.
func (s *Source) checkSelect(ctx context.Context, conn *pgx.Conn, tables []TableID) error {
	for _, t := range tables {
		name := quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
		var ok bool
		var user string
		if err := conn.QueryRow(ctx, "SELECT has_table_privilege($1::regclass, 'SELECT'), current_user", name).Scan(&ok, &user); err != nil {
			return fmt.Errorf("check SELECT privilege on %s: %w", name, err)
		}
		if !ok {
			return fatal(fmt.Errorf("%w: role %q has no SELECT privilege on table %s, which the snapshot reads: GRANT SELECT ON %s TO %s",
				ErrPrerequisite, user, name, name, roleIdent(user)))
		}
	}
	return nil
}

// listTables returns the captured tables: the explicit list (each must
// exist) or every ordinary table matching the include/exclude lists.
func (s *Source) listTables(ctx context.Context, conn *pgx.Conn) ([]TableID, error) {
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var all []TableID
	for rows.Next() {
		var id TableID
		if err := rows.Scan(&id.Schema, &id.Name); err != nil {
			rows.Close()
			return nil, err
		}
		all = append(all, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	if s.explicit != nil {
		exists := make(map[string]bool, len(all))
		for _, id := range all {
			exists[id.String()] = true
		}
		var out []TableID
		for _, t := range s.opts.Tables {
			if !exists[t] {
				return nil, fatal(fmt.Errorf("%w: configured table %s: %w (check the tables list, or create it)", ErrPrerequisite, t, ErrTableMissing))
			}
			sch, name, _ := strings.Cut(t, ".")
			id := TableID{sch, name}
			if s.tables.match(t) {
				out = append(out, id)
			}
		}
		return out, nil
	}
	var out []TableID
	for _, id := range all {
		if s.captured(id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// ensurePublication creates the publication when missing (per
// publication.autocreate.mode), and in filtered mode keeps its table list
// equal to the captured tables.
func (s *Source) ensurePublication(ctx context.Context, conn *pgx.Conn, tables []TableID) error {
	name := s.cfg.PublicationName
	var allTables bool
	err := conn.QueryRow(ctx, `SELECT puballtables FROM pg_publication WHERE pubname = $1`, name).Scan(&allTables)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("look up publication %s: %w", name, err)
	}
	var list []string
	for _, t := range tables {
		list = append(list, quoteIdent(t.Schema)+"."+quoteIdent(t.Name))
	}
	var sql string
	switch {
	case s.cfg.PublicationAutocreate == PublicationDisabled:
		if !exists {
			return fatal(fmt.Errorf("%w: publication %q does not exist and publication.autocreate.mode is disabled: create it (CREATE PUBLICATION %s FOR ALL TABLES)", ErrPrerequisite, name, quoteIdent(name)))
		}
		return nil
	case s.cfg.PublicationAutocreate == PublicationAllTables:
		if exists {
			return nil
		}
		sql = "CREATE PUBLICATION " + quoteIdent(name) + " FOR ALL TABLES"
	default: // filtered
		if len(list) == 0 {
			return fatal(fmt.Errorf("%w: publication.autocreate.mode is filtered but no table is captured", ErrPrerequisite))
		}
		if exists && allTables {
			return nil
		}
		if exists {
			sql = "ALTER PUBLICATION " + quoteIdent(name) + " SET TABLE " + strings.Join(list, ", ")
		} else {
			sql = "CREATE PUBLICATION " + quoteIdent(name) + " FOR TABLE " + strings.Join(list, ", ")
		}
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return fatal(fmt.Errorf("%w: no permission to create publication %q: %s; have a superuser run %s (then publication.autocreate.mode disabled suffices), or grant what is missing",
				ErrPrerequisite, name, pgErr.Message, sql))
		}
		if errors.As(err, &pgErr) && pgErr.Code == "42710" {
			return nil // created concurrently
		}
		return fmt.Errorf("create publication %s: %w", name, err)
	}
	s.log.Info("created publication", "publication", name, "mode", s.cfg.PublicationAutocreate)
	return nil
}

type slotInfo struct {
	exists    bool
	confirmed uint64
	plugin    string
	active    bool
}

func (s *Source) lookupSlot(ctx context.Context, conn *pgx.Conn) (slotInfo, error) {
	var si slotInfo
	var lsn *string
	var plugin *string
	err := conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text, plugin, active FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()`,
		s.cfg.SlotName).Scan(&lsn, &plugin, &si.active)
	if errors.Is(err, pgx.ErrNoRows) {
		return si, nil
	}
	if err != nil {
		return si, fmt.Errorf("look up slot %s: %w", s.cfg.SlotName, err)
	}
	si.exists = true
	if plugin != nil {
		si.plugin = *plugin
	}
	if lsn != nil {
		v, err := pglogrepl.ParseLSN(*lsn)
		if err != nil {
			return si, fmt.Errorf("slot %s confirmed_flush_lsn: %w", s.cfg.SlotName, err)
		}
		si.confirmed = uint64(v)
	}
	if si.plugin != "pgoutput" {
		return si, fatal(fmt.Errorf("%w: slot %s uses plugin %q, Sluice needs pgoutput: drop it or set another slot.name", ErrPrerequisite, s.cfg.SlotName, si.plugin))
	}
	return si, nil
}

func (s *Source) database(ctx context.Context, conn *pgx.Conn) (string, error) {
	var db string
	err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db)
	return db, err
}

// needSnapshot decides whether this session reads a snapshot.
func (s *Source) needSnapshot(resume *position, slotExists bool) bool {
	switch s.cfg.SnapshotMode {
	case SnapshotNoData:
		return false
	case SnapshotAlways:
		return !s.snapDone
	case SnapshotWhenNeeded:
		return !slotExists || resume == nil || resume.Snapshot != nil
	default: // initial, initial_only
		return resume == nil || resume.Snapshot != nil
	}
}

// session runs one connection's worth of work: checks, slot, snapshot and
// streaming.
func (s *Source) session(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	conn, err := s.connectNormal(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := s.checkPrerequisites(ctx, conn); err != nil {
		return err
	}
	db, err := s.database(ctx, conn)
	if err != nil {
		return fmt.Errorf("read database name: %w", err)
	}
	tables, err := s.listTables(ctx, conn)
	if err != nil {
		return err
	}
	if err := s.ensurePublication(ctx, conn, tables); err != nil {
		return err
	}
	slot, err := s.lookupSlot(ctx, conn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	resume := s.resumeFrom
	if resume == nil {
		resume = s.start
	}
	s.mu.Unlock()
	if !slot.exists && resume != nil && resume.Snapshot == nil {
		switch s.cfg.SnapshotMode {
		case SnapshotAlways, SnapshotWhenNeeded:
			s.log.Warn("replication slot is missing; starting over with a snapshot", "slot", s.cfg.SlotName)
			resume = nil
		default:
			return fatal(fmt.Errorf("slot %q (stored position %s): %w; changes since then are lost: set snapshot.mode to when_needed to re-snapshot, or start without a stored position",
				s.cfg.SlotName, pglogrepl.LSN(resume.LSN), ErrSlotMissing))
		}
	}
	s.stamp = newStamp(resume)
	var interrupted *snapPos // progress of the snapshot this session resumes
	if slot.exists && resume != nil && resume.Snapshot != nil && s.needSnapshot(resume, true) {
		if interrupted, err = s.resumable(resume, slot); err != nil {
			return err
		}
	}
	fresh := resume == nil || resume.Snapshot != nil || s.cfg.SnapshotMode == SnapshotAlways
	if interrupted == nil && slot.exists && fresh && s.needSnapshot(resume, true) {
		// No stored position, the last run stopped inside the initial
		// snapshot, or snapshot.mode is always (a new snapshot on every
		// start, which summarises everything before it): what Sluice still
		// needs from this slot is covered by the new snapshot. Its exported
		// snapshot (if any) is gone, and a snapshot taken now would be later
		// than the slot's consistent point, so streaming from the slot would
		// replay changes the new snapshot already shows, older than them.
		// Re-creating the slot loses nothing Sluice published and gives a
		// snapshot that matches the new consistent point exactly.
		s.log.Warn("re-creating the replication slot so that the initial snapshot matches its start point",
			"slot", s.cfg.SlotName, "interrupted", resume != nil)
		if slot.active {
			return fmt.Errorf("replication slot %s is still in use by another connection; retrying", s.cfg.SlotName)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", s.cfg.SlotName); err != nil {
			return fmt.Errorf("drop replication slot %s of the interrupted snapshot: %w", s.cfg.SlotName, err)
		}
		slot = slotInfo{}
	}
	if s.cfg.SnapshotMode == SnapshotInitialOnly && resume != nil && resume.Snapshot == nil {
		s.log.Info("snapshot.mode initial_only: snapshot already done, nothing to stream")
		return nil
	}
	snap := s.needSnapshot(resume, slot.exists)
	if snap {
		if err := s.checkSelect(ctx, conn, tables); err != nil {
			return err
		}
	}

	repl, err := s.connectReplication(ctx)
	if err != nil {
		return err
	}
	defer repl.Close(context.Background())

	var snapName string
	consistent := slot.confirmed
	if !slot.exists {
		action := "NOEXPORT_SNAPSHOT"
		if snap {
			action = "EXPORT_SNAPSHOT"
		}
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.cfg.SlotName, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{SnapshotAction: action, Mode: pglogrepl.LogicalReplication})
		if err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "42501" {
				return fatal(fmt.Errorf("%w: cannot create replication slot %s: %s (ALTER ROLE <user> REPLICATION)", ErrPrerequisite, s.cfg.SlotName, pgErr.Message))
			}
			return fmt.Errorf("create replication slot %s: %w", s.cfg.SlotName, err)
		}
		lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
		if err != nil {
			return fmt.Errorf("create replication slot %s: consistent point: %w", s.cfg.SlotName, err)
		}
		consistent = uint64(lsn)
		snapName = res.SnapshotName
		s.log.Info("created replication slot", "slot", s.cfg.SlotName, "lsn", res.ConsistentPoint)
	}

	if snap {
		done, err := s.snapshot(ctx, emit, conn, db, tables, snapName, consistent, interrupted)
		if err != nil {
			return err
		}
		resume = &done
		s.mu.Lock()
		s.resumeFrom = resume
		s.mu.Unlock()
		if s.cfg.SnapshotMode == SnapshotInitialOnly {
			return nil
		}
		if s.opts.AwaitSnapshotAck {
			if err := s.waitAcked(ctx, done); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	s.snapDone = true
	s.mu.Unlock()
	start := consistent
	if resume != nil && uint64(resume.LSN) > start {
		start = uint64(resume.LSN)
	}
	return s.stream(ctx, repl, conn, emit, db, resume, start)
}

// snapshot reads the captured tables at the slot's consistent point (the
// exported snapshot when the slot was just created, else a snapshot exported
// from an ordinary transaction, in which case events between the slot's
// position and now may appear twice, as in Debezium) and emits op=r events.
// With interrupted, it reads what that snapshot left at a new exported
// snapshot instead (resume.go). It returns the position to stream from.
func (s *Source) snapshot(ctx context.Context, emit func(context.Context, event.Batch) error, conn *pgx.Conn,
	db string, ids []TableID, snapName string, consistent uint64, interrupted *snapPos) (position, error) {
	mapper := NewTypeMapper(NewTypeCatalog(conn), s.typeOpts, s.log)
	topts := s.tableOptions()
	tables := make([]*Table, len(ids))
	specs := make([]SnapshotTable, len(ids))
	run := newSnapRun(consistent, consistent, snapName != "" || interrupted != nil, interrupted)
	for i, id := range ids {
		t, err := LoadTable(ctx, conn, mapper, id, topts)
		if err != nil {
			if errors.Is(err, ErrTableMissing) {
				return position{}, fatal(err)
			}
			return position{}, err
		}
		tables[i] = t
		spec := SnapshotTable{Schema: id.Schema, Name: id.Name}
		for _, c := range t.Columns {
			spec.Columns = append(spec.Columns, c.Name)
		}
		for _, ci := range t.keyCols {
			spec.Key = append(spec.Key, t.Columns[ci].Name)
		}
		if err := run.prepare(ctx, conn, t, &spec); err != nil {
			return position{}, err
		}
		specs[i] = spec
	}
	if interrupted != nil {
		tmp, name, at, err := s.tempSnapshot(ctx)
		if err != nil {
			return position{}, err
		}
		defer tmp.Close(context.Background()) // drops the temporary slot
		snapName, run.at = name, at
	}
	var export *pgx.Conn
	if snapName == "" {
		c, err := s.connectNormal(ctx)
		if err != nil {
			return position{}, err
		}
		export = c
		defer export.Close(context.Background())
		if _, err := export.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return position{}, fmt.Errorf("snapshot: begin: %w", err)
		}
		if err := export.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapName); err != nil {
			return position{}, fmt.Errorf("snapshot: export: %w", err)
		}
	}
	sn, err := NewSnapshotter(SnapshotOptions{
		Connector: s.opts.Name, Connect: func(ctx context.Context) (*pgx.Conn, error) { return s.connectNormal(ctx) },
		SnapshotName: snapName, Tables: specs, FetchSize: s.cfg.SnapshotFetchSize, MaxThreads: s.cfg.SnapshotMaxThreads,
		Logger: s.log, Registerer: s.opts.Registerer,
	})
	if err != nil {
		return position{}, fatal(err)
	}
	if interrupted == nil && run.start != 0 {
		// Record the snapshot's start before reading anything: a crash from
		// here on resumes (nothing read yet: every table at a new point)
		// instead of re-creating the slot, which would lose the logical
		// messages and short-lived rows committed since it was created.
		start := run.apply(nil)
		if err := s.emitBatch(ctx, emit, event.Batch{{Position: start.encode()}}, start); err != nil {
			return position{}, err
		}
	}
	si := sourceInfo{name: s.opts.TopicPrefix, db: db}
	var pending event.Batch
	var marks []snapMark // progress each pending event adds, in step with pending
	first := true
	flush := func(ctx context.Context, keep int) error {
		if len(pending) <= keep {
			return nil
		}
		out := make(event.Batch, len(pending)-keep)
		copy(out, pending)
		inProgress := run.apply(marks[:len(out)])
		out[len(out)-1].Position = inProgress.encode()
		n := copy(pending, pending[len(out):])
		clear(pending[n:])
		pending = pending[:n]
		n = copy(marks, marks[len(out):])
		clear(marks[n:])
		marks = marks[:n]
		return s.emitBatch(ctx, emit, out, inProgress)
	}
	err = sn.Run(ctx, func(ctx context.Context, ch SnapshotChunk) error {
		t := tables[ch.Table]
		now := time.Now()
		for i, vals := range ch.Rows {
			row, err := t.Row(vals)
			if err != nil {
				return err
			}
			mark := SnapshotTrue
			switch {
			case first:
				mark = SnapshotFirst
			case ch.First && i == 0:
				mark = SnapshotFirstInCollection
			}
			if ch.Last && i == len(ch.Rows)-1 {
				mark = SnapshotLastInCollection
			}
			first = false
			e := event.Event{Op: event.OpRead, Topic: t.Topic, ValueSchema: t.ValueSchema, After: row, Key: t.Key(row)}
			e.Source = si.build(sourcePos{ts: now, snapshot: mark, schema: t.ID.Schema, table: t.ID.Name, txID: -1, lsn: run.at})
			e.SetTimestamp(now)
			// Keep one event back: the very last one is marked "last".
			if len(pending) > s.cfg.MaxBatchSize {
				if err := flush(ctx, 1); err != nil {
					return err
				}
			}
			pending = append(pending, e)
			m := snapMark{table: ch.Table, last: ch.Last && i == len(ch.Rows)-1}
			if len(t.keyCols) > 0 {
				m.key = make([][]byte, len(t.keyCols))
				for j, ci := range t.keyCols {
					m.key[j] = vals[ci]
				}
			}
			marks = append(marks, m)
		}
		return nil
	})
	if export != nil {
		_, _ = export.Exec(context.Background(), "COMMIT")
	}
	if err != nil {
		return position{}, err
	}
	done := run.finish()
	s.stamp = newStamp(&done)
	if len(pending) > 0 {
		last := &pending[len(pending)-1]
		last.Source.Set("snapshot", SnapshotLast)
		last.Position = done.encode()
		for len(pending) > 0 {
			n := min(len(pending), s.cfg.MaxBatchSize)
			out := make(event.Batch, n)
			copy(out, pending[:n])
			pending = pending[n:]
			pos := done
			if len(pending) > 0 {
				pos = run.apply(marks[:n])
				out[n-1].Position = pos.encode()
			}
			marks = marks[n:]
			if err := s.emitBatch(ctx, emit, out, pos); err != nil {
				return position{}, err
			}
		}
	} else {
		// Nothing read: a mark carries the snapshot's end, so that it is
		// saved before streaming starts (Options.AwaitSnapshotAck).
		if err := s.emitBatch(ctx, emit, event.Batch{{Position: done.encode()}}, done); err != nil {
			return position{}, err
		}
		s.setIdle(consistent)
	}
	return done, nil
}
