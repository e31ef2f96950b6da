package jdbc

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialectKind is one of the supported targets.
type dialectKind int

const (
	postgres dialectKind = iota + 1
	mariadb
	sqliteDB
)

func (d dialectKind) String() string {
	switch d {
	case postgres:
		return "postgres"
	case mariadb:
		return "mysql"
	case sqliteDB:
		return "sqlite"
	}
	return "unknown"
}

// open opens a database handle for a connection.url (JDBC URL or native
// DSN) with connection.user/connection.password applied.
func open(rawURL, user, password string) (*sql.DB, dialectKind, error) {
	u := rawURL
	switch {
	case strings.HasPrefix(u, "jdbc:postgresql:"):
		u = "postgres:" + strings.TrimPrefix(u, "jdbc:postgresql:")
		return openPostgres(u, user, password, true)
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return openPostgres(u, user, password, false)
	case strings.HasPrefix(u, "jdbc:mysql:"), strings.HasPrefix(u, "jdbc:mariadb:"):
		_, rest, _ := strings.Cut(strings.TrimPrefix(u, "jdbc:"), ":")
		return openMySQLURL("mysql:"+rest, user, password)
	case strings.HasPrefix(u, "mysql://"), strings.HasPrefix(u, "mariadb://"):
		return openMySQLURL(u, user, password)
	case strings.HasPrefix(u, "jdbc:sqlite:"):
		return openSQLite(strings.TrimPrefix(u, "jdbc:sqlite:"))
	case strings.HasPrefix(u, "sqlite:"):
		return openSQLite(strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "//"))
	case strings.HasPrefix(u, "file:"):
		return openSQLite(u)
	case strings.Contains(u, "@tcp(") || strings.Contains(u, "@unix(") || strings.HasPrefix(u, "tcp("):
		cfg, err := mysql.ParseDSN(u)
		if err != nil {
			return nil, 0, fmt.Errorf("parse mysql dsn: %w", err)
		}
		return openMySQL(cfg, user, password)
	case strings.Contains(u, "host=") || strings.Contains(u, "dbname="):
		return openPostgres(u, user, password, false)
	case strings.HasSuffix(u, ".db") || strings.HasSuffix(u, ".sqlite") || strings.HasSuffix(u, ".sqlite3") || u == ":memory:":
		return openSQLite(u)
	}
	return nil, 0, fmt.Errorf("connection.url: unsupported url %q (want jdbc:postgresql:, jdbc:mysql:, jdbc:mariadb:, jdbc:sqlite: or a native dsn)", redact(rawURL))
}

// redact hides the password of a URL (userinfo or password parameter) for
// error messages.
func redact(s string) string {
	prefix := ""
	if rest, ok := strings.CutPrefix(s, "jdbc:"); ok {
		if kind, tail, ok := strings.Cut(rest, ":"); ok {
			prefix, s = "jdbc:", kind+":"+tail
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		if i := strings.Index(s, "@"); i > 0 {
			return prefix + "…" + s[i:] // native MySQL DSN: user:pass@tcp(…)
		}
		return prefix + s
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return prefix + u.String()
}

// jdbcPostgresParams maps the PgJDBC parameters pgx understands (under
// its own name); other JDBC parameters are dropped, as pgx would send them
// to the server as settings.
var jdbcPostgresParams = map[string]string{
	"sslmode": "sslmode", "sslrootcert": "sslrootcert", "sslcert": "sslcert", "sslkey": "sslkey",
	"sslpassword": "sslpassword", "connectTimeout": "connect_timeout", "connect_timeout": "connect_timeout",
	"ApplicationName": "application_name", "application_name": "application_name",
	"currentSchema": "search_path", "options": "options", "targetServerType": "target_session_attrs",
}

func openPostgres(dsn, user, password string, jdbc bool) (*sql.DB, dialectKind, error) {
	if jdbc {
		// JDBC spells a few parameters differently; pgx rejects none of
		// these but would send unknown ones to the server as settings.
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			if v := q.Get("user"); v != "" && user == "" {
				user = v
			}
			if v := q.Get("password"); v != "" && password == "" {
				password = v
			}
			out := url.Values{}
			for k, vs := range q {
				if name, ok := jdbcPostgresParams[k]; ok && len(vs) > 0 {
					out.Set(name, vs[0])
				}
			}
			if q.Get("ssl") == "true" && out.Get("sslmode") == "" {
				out.Set("sslmode", "require")
			}
			if out.Get("target_session_attrs") == "master" || out.Get("target_session_attrs") == "primary" {
				out.Set("target_session_attrs", "read-write")
			}
			u.RawQuery = out.Encode()
			dsn = u.String()
		}
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, 0, fmt.Errorf("parse postgres url: %w", err)
	}
	if user != "" {
		cfg.User = user
	}
	if password != "" {
		cfg.Password = password
	}
	return stdlib.OpenDB(*cfg), postgres, nil
}

func openMySQLURL(raw, user, password string) (*sql.DB, dialectKind, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, 0, fmt.Errorf("parse mysql url: %w", err)
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = u.Host + ":3306"
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
	}
	q := u.Query()
	if v := q.Get("user"); v != "" {
		cfg.User = v
	}
	if v := q.Get("password"); v != "" {
		cfg.Passwd = v
	}
	return openMySQL(cfg, user, password)
}

func openMySQL(cfg *mysql.Config, user, password string) (*sql.DB, dialectKind, error) {
	if user != "" {
		cfg.User = user
	}
	if password != "" {
		cfg.Passwd = password
	}
	// The sink formats every time value itself, so the driver's loc never
	// shifts one; interpolating saves a prepare round trip per statement.
	cfg.Loc = time.UTC
	cfg.InterpolateParams = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("mysql config: %w", err)
	}
	return sql.OpenDB(conn), mariadb, nil
}

func openSQLite(path string) (*sql.DB, dialectKind, error) {
	if path == "" {
		return nil, 0, errors.New("connection.url: sqlite url has no path")
	}
	dsn := path
	if !strings.Contains(dsn, "_pragma=busy_timeout") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "_pragma=busy_timeout(10000)"
	}
	if !strings.HasPrefix(dsn, "file:") && strings.Contains(dsn, "?") {
		dsn = "file:" + dsn
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, 0, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One writer at a time is all SQLite allows; one connection also keeps
	// a :memory: database alive across statements.
	db.SetMaxOpenConns(1)
	return db, sqliteDB, nil
}

// quote quotes an identifier for the dialect.
func (d dialectKind) quote(name string) string {
	if d == mariadb {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// placeholder returns the n-th (1-based) bind parameter.
func (d dialectKind) placeholder(b *strings.Builder, n int) {
	if d == postgres {
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
		return
	}
	b.WriteByte('?')
}

// maxParams bounds the bind parameters of one statement (SQLite's default
// limit is 32766, Postgres and MySQL allow 65535).
const maxParams = 30000

// isDataError reports whether err is the target refusing the data of a row
// (constraint violation, invalid or out-of-range value) rather than a
// failure of the connection or the statement as a whole.
func isDataError(d dialectKind, err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")
	}
	if d == postgres && strings.Contains(err.Error(), "failed to encode args[") {
		// pgx refused a value for the parameter's type before sending
		// (its error type is unexported).
		return true
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1048, 1062, 1216, 1217, 1264, 1265, 1292, 1366, 1406, 1451, 1452, 1690, 3819, 4025, 1367, 1411:
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG:
			return true
		}
	}
	return false
}
