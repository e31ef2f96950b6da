package mysql

import (
	"errors"
	"fmt"
	"testing"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

func TestMissing(t *testing.T) {
	const u1, u2 = "3e11fa47-71ca-11e1-9e33-c80aa9429562", "4f22fa47-71ca-11e1-9e33-c80aa9429562"
	for _, tt := range []struct {
		flavor, from, purged string
		want                 bool
	}{
		{gmysql.MariaDBFlavor, "0-1-10", "", false},
		{gmysql.MariaDBFlavor, "0-1-10", "0-1-10", false},
		{gmysql.MariaDBFlavor, "0-1-10", "0-1-11", true},
		{gmysql.MariaDBFlavor, "0-2-12", "0-1-11", false}, // failover: a new server id in the domain
		{gmysql.MariaDBFlavor, "0-1-10", "0-1-5,1-1-3", true},
		{gmysql.MariaDBFlavor, "0-1-10,1-1-3", "0-1-5,1-1-3", false},
		{gmysql.MySQLFlavor, u1 + ":1-100", "", false},
		{gmysql.MySQLFlavor, u1 + ":1-100", u1 + ":1-50", false},
		{gmysql.MySQLFlavor, u1 + ":1-40", u1 + ":1-50", true},
		{gmysql.MySQLFlavor, u1 + ":1-100", u1 + ":1-50," + u2 + ":1-2", true},
	} {
		from, err := gmysql.ParseGTIDSet(tt.flavor, tt.from)
		if err != nil {
			t.Fatal(err)
		}
		purged, err := gmysql.ParseGTIDSet(tt.flavor, tt.purged)
		if err != nil {
			t.Fatal(err)
		}
		if got := missing(tt.flavor, from, purged); got != tt.want {
			t.Errorf("missing(%s, %q, %q) = %v, want %v", tt.flavor, tt.from, tt.purged, got, tt.want)
		}
	}
}

// TestPurgedBinlog purges the binlog a stored position needs (this
// package's tests are the only users of the test server's binlog): a start
// from it fails with a permanent error naming the position and what the
// server has, and with snapshot.mode=when_needed snapshots again and
// streams on.
func TestPurgedBinlog(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE p (id INT PRIMARY KEY)")
	old := e.binlogEnd()
	e.exec("INSERT INTO p VALUES (1)")
	p, _ := decodePosition(old)
	current, startOfCurrent := e.purgeBinlogs(p.GTIDs)
	e.exec("INSERT INTO p VALUES (2)")

	opts := e.options()
	opts.Start = old
	src, err := New(e.config(), opts)
	if err != nil {
		t.Fatal(err)
	}
	err = runUntilError(t, src)
	want := fmt.Sprintf(`mysql binlog needed by the stored position has been purged: stored position gtids %q; the oldest binlog on the server is %s, which starts after gtids %q (use snapshot.mode=when_needed to snapshot again)`,
		p.GTIDs, current, startOfCurrent)
	if !errors.Is(err, ErrBinlogPurged) || err.Error() != want {
		t.Errorf("Run = %v\nwant %s", err, want)
	}

	cfg := e.config()
	cfg.SnapshotMode = SnapshotWhenNeeded
	run := startSource(t, cfg, opts)
	snap := run.wait(t, 2)
	e.exec("INSERT INTO p VALUES (3)")
	checkEvents(t, append(snap, run.wait(t, 3)[2]), e.db, []string{
		`srv.D.p r key={"id":1} before=null after={"id":1} src=D.p/first`,
		`srv.D.p r key={"id":2} before=null after={"id":2} src=D.p/last`,
		`srv.D.p c key={"id":3} before=null after={"id":3} src=D.p/false`,
	})
}

// purgeBinlogs rotates and purges the binlog until the oldest file starts
// after the GTID set gtids (MariaDB keeps a file until its binlog
// checkpoint, so one PURGE may not be enough), and returns the oldest file
// and the GTID state at its start.
func (e *myEnv) purgeBinlogs(gtids string) (oldest, start string) {
	e.t.Helper()
	need, err := gmysql.ParseGTIDSet(gmysql.MariaDBFlavor, gtids)
	if err != nil {
		e.t.Fatal(err)
	}
	for range 300 {
		e.exec("FLUSH BINARY LOGS")
		r, err := e.conn.Execute("SHOW MASTER STATUS")
		if err != nil {
			e.t.Fatal(err)
		}
		current := fieldText(r.Resultset, 0, 0)
		r.Close()
		e.exec("PURGE BINARY LOGS TO '" + current + "'")
		a, err := readAvailability(e.conn, gmysql.MariaDBFlavor)
		if err != nil {
			e.t.Fatal(err)
		}
		purged, err := gmysql.ParseGTIDSet(gmysql.MariaDBFlavor, a.purged)
		if err != nil {
			e.t.Fatal(err)
		}
		if missing(gmysql.MariaDBFlavor, need, purged) {
			return a.oldestFile, a.purged
		}
		time.Sleep(100 * time.Millisecond) // wait for the binlog checkpoint
	}
	e.t.Fatalf("the binlog after %s could not be purged", gtids)
	return "", ""
}
