package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/event"
)

// isPermanent is the daemon's test (internal/daemon.IsPermanent): an error
// with a Permanent() bool method that returns true is not retried.
func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// newRole creates a login role with password "right" and extra attributes,
// dropped (with its privileges) when the test ends. It returns the role name
// and a URL connecting as the role with the given password.
func (e *pgEnv) newRole(attrs, password string) (string, string) {
	e.t.Helper()
	role := "r_" + e.slot
	e.exec(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'right' %s", role, attrs))
	e.t.Cleanup(func() {
		ctx := context.Background()
		_, _ = e.conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		for range 50 {
			_, err := e.conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", e.slot)
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		_, _ = e.conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+e.pub)
		_, _ = e.conn.Exec(ctx, "DROP SCHEMA "+e.schema+" CASCADE")
		_, _ = e.conn.Exec(ctx, "DROP OWNED BY "+role)
		if _, err := e.conn.Exec(ctx, "DROP ROLE "+role); err != nil {
			e.t.Errorf("drop role %s: %v", role, err)
		}
	})
	u, err := url.Parse(e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	return role, u.String()
}

// runErr runs a source until it fails, which it must do within a minute.
func runErr(t *testing.T, cfg Config, opts Options) error {
	t.Helper()
	src, err := New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = src.Run(ctx, func(context.Context, event.Batch) error { return nil })
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Run = %v, want an error before the deadline", err)
	}
	return err
}

// checkErr asserts err wraps want, is permanent and says every fragment.
func checkErr(t *testing.T, err, want error, fragments ...string) {
	t.Helper()
	if want != nil && !errors.Is(err, want) {
		t.Errorf("error %q does not wrap %q", err, want)
	}
	if !isPermanent(err) {
		t.Errorf("error %q is not permanent", err)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not say %q", err, f)
		}
	}
}

func TestErrorWrongPassword(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t)
	role, u := e.newRole("REPLICATION", "wrong")
	err := runErr(t, e.config(), Options{Name: "t", TopicPrefix: "p", URL: u})
	checkErr(t, err, ErrPrerequisite, fmt.Sprintf(`password authentication failed for user "%s"`, role),
		"check the user and password in the connection URL")
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q shows the password", err)
	}
}

func TestErrorNoDatabase(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t)
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/nodb_" + e.slot
	err = runErr(t, e.config(), Options{Name: "t", TopicPrefix: "p", URL: u.String()})
	checkErr(t, err, ErrPrerequisite, fmt.Sprintf(`database "nodb_%s" does not exist: check the database name in the connection URL`, e.slot))
}

func TestErrorNoReplication(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)")
	role, u := e.newRole("", "right")
	err := runErr(t, e.config(), Options{Name: "t", TopicPrefix: "p", URL: u})
	checkErr(t, err, ErrPrerequisite, fmt.Sprintf(`role "%s" lacks the REPLICATION attribute`, role),
		fmt.Sprintf("ALTER ROLE %s REPLICATION", role))
}

// TestErrorPublicationPermission: a replication role that owns no table
// cannot create a filtered publication, nor (not being a superuser) one FOR
// ALL TABLES.
func TestErrorPublicationPermission(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)")
	role, u := e.newRole("REPLICATION", "right")
	e.exec("GRANT USAGE ON SCHEMA $S TO " + role)
	e.exec("GRANT SELECT ON ALL TABLES IN SCHEMA $S TO " + role)
	cfg := e.config()
	err := runErr(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: u})
	checkErr(t, err, ErrPrerequisite, fmt.Sprintf(`no permission to create publication "%s": permission denied for database sluice`, e.pub),
		fmt.Sprintf(`have a superuser run CREATE PUBLICATION "%s" FOR TABLE "%s"."a"`, e.pub, e.schema))

	e.exec("GRANT CREATE ON DATABASE sluice TO " + role)
	err = runErr(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: u})
	checkErr(t, err, ErrPrerequisite, fmt.Sprintf(`no permission to create publication "%s"`, e.pub),
		"must be owner of table a",
		fmt.Sprintf(`CREATE PUBLICATION "%s" FOR TABLE "%s"."a"`, e.pub, e.schema))

	cfg.PublicationAutocreate = PublicationAllTables
	err = runErr(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: u})
	checkErr(t, err, ErrPrerequisite, "must be superuser to create FOR ALL TABLES publication",
		fmt.Sprintf(`CREATE PUBLICATION "%s" FOR ALL TABLES`, e.pub))
}

// TestErrorNoSelect: with the publication made by an administrator, a
// replication role without SELECT on a captured table cannot snapshot it;
// the error names the table and the GRANT, before a slot is created.
func TestErrorNoSelect(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)", "CREATE TABLE $S.b (id int PRIMARY KEY)")
	role, u := e.newRole("REPLICATION", "right")
	e.exec("GRANT USAGE ON SCHEMA $S TO " + role)
	e.exec("GRANT SELECT ON $S.a TO " + role)
	e.exec(fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE $S.a, $S.b", e.pub))
	cfg := e.config()
	cfg.PublicationAutocreate = PublicationDisabled
	cfg.SnapshotMode = SnapshotInitial
	err := runErr(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: u})
	checkErr(t, err, ErrPrerequisite, fmt.Sprintf(`role "%s" has no SELECT privilege on table "%s"."b"`, role, e.schema),
		fmt.Sprintf(`GRANT SELECT ON "%s"."b" TO %s`, e.schema, role))
	var n int
	if err := e.conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", e.slot).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d slots named %s after the failed start (%v), want none", n, e.slot, err)
	}
}

func TestErrorTableMissing(t *testing.T) {
	t.Parallel()
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)")
	err := runErr(t, e.config(), Options{Name: "t", TopicPrefix: "p", URL: e.url, Tables: []string{e.schema + ".a", e.schema + ".nope"}})
	checkErr(t, err, ErrPrerequisite, fmt.Sprintf("configured table %s.nope: table does not exist", e.schema), "check the tables list, or create it")
	if !errors.Is(err, ErrTableMissing) {
		t.Errorf("error %q does not wrap ErrTableMissing", err)
	}
}

// TestErrorConfig: New rejects an unparsable URL or invalid settings with a
// permanent error that does not echo the URL.
func TestErrorConfig(t *testing.T) {
	cases := []struct {
		url    string
		mutate func(*Config)
		want   []string
	}{
		{"postgres://u:secret@host:notaport/db", nil, []string{"cannot parse connection URL: invalid port"}},
		{"postgres://u:secret@[::1/db", nil, []string{"cannot parse connection URL: failed to parse as URL"}},
		{"postgres://u:secret@h/db?sslmode=bogus", nil, []string{"cannot parse connection URL: failed to configure TLS (sslmode is invalid)"}},
		{"postgres://u:secret@h/db", func(c *Config) { c.SkippedOperations = List{"x"} }, []string{`skipped.operations[0]: unknown operation "x" (want c, u, d, t or none)`}},
		{"postgres://u:secret@h/db", func(c *Config) { c.SkippedOperations = List{"none", "c"} }, []string{`skipped.operations[0]: "none" cannot be combined`}},
		{"postgres://u:secret@h/db", func(c *Config) { c.SlotName = "Bad-Name" }, []string{`slot.name: "Bad-Name" is not a valid slot name`}},
	}
	if _, err := New(DefaultConfig(), Options{Name: "t", TopicPrefix: "p", URL: "postgres://h/db", Tables: []string{"orders"}}); err == nil {
		t.Error("New accepted table \"orders\" without a schema")
	} else {
		checkErr(t, err, nil, `table "orders" must be schema.table`)
	}
	for _, tc := range cases {
		cfg := DefaultConfig()
		if tc.mutate != nil {
			tc.mutate(&cfg)
		}
		_, err := New(cfg, Options{Name: "t", TopicPrefix: "p", URL: tc.url})
		if err == nil {
			t.Errorf("New(%s) succeeded", tc.url)
			continue
		}
		checkErr(t, err, nil, tc.want...)
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows the password", err)
		}
	}
}

// TestCheckSettingsMessages covers each server setting problem; the test
// cluster itself runs with wal_level=logical.
func TestCheckSettingsMessages(t *testing.T) {
	ok := serverSettings{User: "cdc", WalLevel: "logical", Replication: true, MaxSlots: 10, ServerVersion: 150000}
	cases := []struct {
		name   string
		mutate func(*serverSettings)
		want   string
	}{
		{"wal_level", func(s *serverSettings) { s.WalLevel = "replica" },
			`wal_level is "replica", logical decoding needs wal_level=logical (ALTER SYSTEM SET wal_level = logical; then restart Postgres)`},
		{"replication", func(s *serverSettings) { s.Replication = false },
			`role "cdc" lacks the REPLICATION attribute: ALTER ROLE cdc REPLICATION`},
		{"superuser needs no attribute", func(s *serverSettings) { s.Replication = false; s.Superuser = true }, ""},
		{"slots", func(s *serverSettings) { s.MaxSlots = 0 },
			"max_replication_slots is 0; set it to at least 1 and restart Postgres"},
		{"version", func(s *serverSettings) { s.ServerVersion = 90600 },
			"Postgres 9 does not have pgoutput; version 10 or later is required"},
	}
	for _, tc := range cases {
		st := ok
		tc.mutate(&st)
		err := checkSettings(st)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrPrerequisite) || err.Error() != ErrPrerequisite.Error()+": "+tc.want {
			t.Errorf("%s: got %v\nwant %s: %s", tc.name, err, ErrPrerequisite, tc.want)
		}
	}
}

// TestSkippedOperations: skipped.operations c,u drops creates and updates
// (including the create half of a primary-key change); deletes stay, and
// truncates are dropped by Debezium's default.
func TestSkippedOperations(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil || !DefaultConfig().skipped('t') || DefaultConfig().skipped('c') {
		t.Fatalf("Debezium's default skipped.operations is t: %v", err)
	}
	for doc, want := range map[string]string{"skipped.operations: none": "", "skipped.operations: c, d": "cd", "skipped.operations: [u]": "u", "{}": "t"} {
		cfg := DefaultConfig()
		if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
		got := ""
		for _, op := range "cudt" {
			if cfg.skipped(byte(op)) {
				got += string(op)
			}
		}
		if got != want {
			t.Errorf("%s skips %q, want %q", doc, got, want)
		}
	}
	e := newPGEnv(t, "CREATE TABLE $S.a (id int PRIMARY KEY)")
	cfg := e.config()
	cfg.SkippedOperations = List{"c", "u", "t"}
	r := startSource(t, cfg, Options{Name: "t", TopicPrefix: "p", URL: e.url})
	waitSlot(t, e)
	e.exec("INSERT INTO $S.a VALUES (1), (2)")
	e.exec("UPDATE $S.a SET id = 3 WHERE id = 2")
	e.exec("TRUNCATE $S.a")
	e.exec("INSERT INTO $S.a VALUES (4)")
	e.exec("DELETE FROM $S.a WHERE id = 4")
	got := r.wait(t, 2)
	checkEvents(t, got, e.schema, []string{
		`p.S.a d key={"id":2} before={"id":2} after=null __debezium.newkey={"id":3} src=S.a/false`,
		`p.S.a d key={"id":4} before={"id":4} after=null src=S.a/false`,
	})
	e.exec("DELETE FROM $S.a WHERE id = 1") // gone already: nothing
	e.exec("INSERT INTO $S.a VALUES (5)")
	e.exec("DELETE FROM $S.a WHERE id = 5")
	got = r.wait(t, 3)
	checkEvents(t, got[2:], e.schema, []string{`p.S.a d key={"id":5} before={"id":5} after=null src=S.a/false`})
}
