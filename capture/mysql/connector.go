package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/event"
)

// ErrPrerequisite is returned (wrapped) when the server cannot be captured
// as configured: binlog off or not in ROW format with full row images, GTIDs
// off, or missing privileges. A restart does not help.
var ErrPrerequisite = errors.New("mysql prerequisite not met")

// Options are what the wiring gives a source besides its Config.
type Options struct {
	Name        string   // source (connector) name from sluice.yaml
	TopicPrefix string   // topic.prefix; also Debezium's source.name
	URL         string   // mysql://user:password@host:port/db (never log it)
	Tables      []string // "database.table" list (empty = all, then the include/exclude lists apply)
	Logger      *slog.Logger
	Registerer  prometheus.Registerer // may be nil
	Start       event.Position        // last saved position (nil on first start)
	// History stores the schema history. Nil means a FileHistory at
	// schema.history.internal.file.filename, or without that key at
	// DefaultHistoryFile(DataDir, Name); with neither key nor DataDir, a
	// MemoryHistory (a restart then uses the catalog's current schemas).
	History SchemaHistory
	// DataDir is the daemon's data.dir: the default home of the schema
	// history file. Empty means no default file.
	DataDir string
}

// DefaultHistoryFile is where the schema history lives when
// schema.history.internal.file.filename is not set:
// <dataDir>/<name>.mysql-schema-history.jsonl.
func DefaultHistoryFile(dataDir, name string) string {
	return filepath.Join(dataDir, name+".mysql-schema-history.jsonl")
}

// Source is the MySQL/MariaDB capture connector.
type Source struct {
	cfg      Config
	opts     Options
	types    TypeOptions
	filter   *filter
	log      *slog.Logger
	serverID uint32
	start    *position // decoded Options.Start

	addr, user, password, db string

	memHistory *MemoryHistory // the fallback history, kept across Run calls

	mu    sync.Mutex
	acked event.Position
}

// New validates cfg and opts; it starts no goroutines and does no I/O.
func New(cfg Config, opts Options) (*Source, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.TopicPrefix == "" {
		return nil, errors.New("mysql: topic prefix is required")
	}
	types, err := cfg.TypeOptions()
	if err != nil {
		return nil, err
	}
	f, err := newFilter(cfg, opts.Tables)
	if err != nil {
		return nil, err
	}
	s := &Source{cfg: cfg, opts: opts, types: types, filter: f, log: opts.Logger, serverID: cfg.serverID(opts.Name)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("connector", opts.Name)
	if opts.Start != nil {
		p, err := decodePosition(opts.Start)
		if err != nil {
			return nil, err
		}
		s.start = &p
	}
	if err := s.parseURL(opts.URL); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Source) parseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "mysql" && u.Scheme != "mariadb") {
		return errors.New("mysql: url must be mysql://user:password@host:port/database") // never echo it
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return errors.New("mysql: url has a bad port")
	}
	s.addr = net.JoinHostPort(host, port)
	s.user = u.User.Username()
	s.password, _ = u.User.Password()
	s.db = strings.TrimPrefix(u.Path, "/")
	return nil
}

// Ack records that every event up to pos is durably in Kafka and its
// position saved. MySQL keeps no state for a binlog reader, so nothing is
// sent to the server; Ack rejects positions that are not this connector's.
func (s *Source) Ack(_ context.Context, pos event.Position) error {
	if _, err := decodePosition(pos); err != nil {
		return err
	}
	s.mu.Lock()
	s.acked = append(s.acked[:0], pos...)
	s.mu.Unlock()
	return nil
}

// Acked returns the last acknowledged position (nil before the first Ack).
func (s *Source) Acked() event.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(event.Position(nil), s.acked...)
}

// connect opens a session in UTC (TIMESTAMP values are then read in UTC).
func (s *Source) connect(ctx context.Context) (*client.Conn, error) {
	c, err := client.ConnectWithContext(ctx, s.addr, s.user, s.password, s.db, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", s.addr, err)
	}
	if _, err := c.Execute("SET time_zone = '+00:00'"); err != nil {
		c.Close()
		return nil, fmt.Errorf("set session time zone: %w", err)
	}
	return c, nil
}

func queryOne(c *client.Conn, q string) (string, error) {
	r, err := c.Execute(q)
	if err != nil {
		return "", fmt.Errorf("%s: %w", q, err)
	}
	defer r.Close()
	if r.RowNumber() == 0 {
		return "", nil
	}
	return fieldText(r.Resultset, 0, 0), nil
}

// flavor returns "mariadb" or "mysql" and checks the binlog settings.
func (s *Source) checkServer(c *client.Conn) (string, error) {
	version, err := queryOne(c, "SELECT VERSION()")
	if err != nil {
		return "", err
	}
	flavor := gmysql.MySQLFlavor
	if strings.Contains(strings.ToLower(version), "mariadb") {
		flavor = gmysql.MariaDBFlavor
	}
	checks := [][2]string{
		{"@@log_bin", "1"},
		{"@@binlog_format", "ROW"},
		{"@@binlog_row_image", "FULL"},
	}
	if flavor == gmysql.MySQLFlavor {
		checks = append(checks, [2]string{"@@gtid_mode", "ON"})
	}
	for _, ch := range checks {
		v, err := queryOne(c, "SELECT "+ch[0])
		if err != nil {
			return "", err
		}
		if !strings.EqualFold(v, ch[1]) {
			return "", fmt.Errorf("%w: %s is %q, want %s", ErrPrerequisite, ch[0], v, ch[1])
		}
	}
	return flavor, nil
}

// Run connects, snapshots per snapshot.mode, then streams the binlog until
// ctx ends or a fatal error. It hands batches to emit in binlog order; the
// last event of every batch carries a position. Run returns ctx.Err() on
// cancellation.
func (s *Source) Run(ctx context.Context, emit func(context.Context, event.Batch) error) error {
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	flavor, err := s.checkServer(c)
	if err != nil {
		c.Close()
		return err
	}
	sc := s.newSchemaContext(c, flavor, nil)
	resume := s.start != nil && !s.start.Snapshot && s.cfg.SnapshotMode != SnapshotAlways
	if resume {
		if s.start.Flavor != "" && s.start.Flavor != flavor {
			c.Close()
			return fmt.Errorf("%w: position was taken on %s, server is %s", ErrBadPosition, s.start.Flavor, flavor)
		}
		p := *s.start
		p.Flavor = flavor
		if err := checkAvailable(c, p); err != nil {
			if !errors.Is(err, ErrBinlogPurged) || s.cfg.SnapshotMode != SnapshotWhenNeeded {
				c.Close()
				return err
			}
			s.log.Warn("the binlog after the stored position is gone; taking a new snapshot (snapshot.mode=when_needed)", "error", err)
			resume = false
		}
	}
	// An interrupted snapshot resumes after its delivered chunks when the
	// binlog after its start is still there (chunk.go).
	var prev *snapProgress
	if st := s.start; st != nil && st.Snapshot && st.Snap != nil && s.cfg.SnapshotMode != SnapshotAlways && s.cfg.SnapshotMode != SnapshotNoData {
		if st.Flavor != "" && st.Flavor != flavor {
			c.Close()
			return fmt.Errorf("%w: position was taken on %s, server is %s", ErrBadPosition, st.Flavor, flavor)
		}
		switch err := checkAvailable(c, position{Flavor: flavor, GTIDs: st.Snap.Start}); {
		case err == nil:
			prev = st.Snap
		case errors.Is(err, ErrBinlogPurged):
			s.log.Warn("cannot resume the interrupted snapshot: the binlog after its start is gone; starting over", "error", err)
		default:
			c.Close()
			return err
		}
	}
	c.Close()
	var from position
	switch {
	case resume:
		from = *s.start
		from.Flavor = flavor
		if sc.model, err = s.resumeSchema(ctx, sc.hist, from); err != nil {
			return err
		}
	case s.cfg.SnapshotMode == SnapshotNoData:
		if from, sc.model, err = s.schemaOnly(ctx, flavor, sc.hist, emit); err != nil {
			return err
		}
	default:
		if from, sc.model, err = s.snapshot(ctx, flavor, sc.hist, emit, prev); err != nil {
			return err
		}
		if s.cfg.SnapshotMode == SnapshotInitialOnly {
			return nil
		}
	}
	from.Flavor = flavor
	return s.stream(ctx, from, sc, emit)
}

// schemaOnly reads the binlog end and the tracked tables' schemas (under the
// global read lock with snapshot.locking.mode=minimal, so they agree) and
// records the schemas in the history; with include.schema.changes it
// publishes the snapshot's schema statements (schemachange.go).
func (s *Source) schemaOnly(ctx context.Context, flavor string, hist SchemaHistory, emit func(context.Context, event.Batch) error) (position, *schemaModel, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return position{}, nil, err
	}
	defer c.Close()
	locked := false
	if s.cfg.SnapshotLockingMode == LockingMinimal {
		if _, err := c.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
			return position{}, nil, fmt.Errorf("%w: global read lock: %v", ErrPrerequisite, err)
		}
		locked = true
	}
	defer func() {
		if locked {
			c.Execute("UNLOCK TABLES")
		}
	}()
	from, err := readPosition(c, flavor)
	if err != nil {
		return position{}, nil, err
	}
	m, err := s.captureSchema(ctx, c, from, hist)
	if err != nil {
		return position{}, nil, err
	}
	if !s.cfg.IncludeSchemaChanges {
		return from, m, nil
	}
	// The schema statements of the snapshot, as Debezium publishes them
	// in no_data mode too; emitted after the lock is released, the last
	// carrying the stream's start.
	evs, err := s.snapshotSchemaEvents(c, m, from)
	if err != nil {
		return position{}, nil, err
	}
	if locked {
		locked = false
		if _, err := c.Execute("UNLOCK TABLES"); err != nil {
			return position{}, nil, fmt.Errorf("unlock tables: %w", err)
		}
	}
	evs[len(evs)-1].Position = from.encode()
	if err := emit(ctx, evs); err != nil {
		return position{}, nil, err
	}
	return from, m, nil
}

func readPosition(c *client.Conn, flavor string) (position, error) {
	p := position{Flavor: flavor}
	var err error
	if flavor == gmysql.MariaDBFlavor {
		p.GTIDs, err = queryOne(c, "SELECT @@GLOBAL.gtid_binlog_pos")
	} else {
		p.GTIDs, err = queryOne(c, "SELECT @@GLOBAL.gtid_executed")
	}
	if err != nil {
		return p, err
	}
	r, err := c.Execute("SHOW MASTER STATUS")
	if err != nil {
		return p, fmt.Errorf("show master status: %w", err)
	}
	defer r.Close()
	if r.RowNumber() == 0 {
		return p, fmt.Errorf("%w: binary log is off (SHOW MASTER STATUS is empty)", ErrPrerequisite)
	}
	p.File = fieldText(r.Resultset, 0, 0)
	pos, _ := strconv.ParseUint(fieldText(r.Resultset, 0, 1), 10, 32)
	p.Pos = uint32(pos)
	return p, nil
}
