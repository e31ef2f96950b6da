package mysql

import (
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/client"
	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// ErrBinlogPurged is returned (wrapped) when the binlog after a stored
// position is no longer on the server (PURGE BINARY LOGS, expire_logs_days,
// binlog_expire_logs_seconds): streaming would skip transactions. A restart
// does not help; snapshot.mode=when_needed takes a new snapshot instead.
var ErrBinlogPurged = errors.New("mysql binlog needed by the stored position has been purged")

// binlogAvailability is what the server still has.
type binlogAvailability struct {
	oldestFile string // first file of SHOW BINARY LOGS
	// purged is the GTID state before the oldest file (MariaDB:
	// BINLOG_GTID_POS(oldest, 4)) or gtid_purged (MySQL): transactions the
	// server can no longer send.
	purged string
}

func readAvailability(c *client.Conn, flavor string) (binlogAvailability, error) {
	var a binlogAvailability
	r, err := c.Execute("SHOW BINARY LOGS")
	if err != nil {
		return a, fmt.Errorf("show binary logs: %w", err)
	}
	defer r.Close()
	if r.RowNumber() == 0 {
		return a, fmt.Errorf("%w: binary log is off (SHOW BINARY LOGS is empty)", ErrPrerequisite)
	}
	a.oldestFile = fieldText(r.Resultset, 0, 0)
	if flavor == gmysql.MariaDBFlavor {
		a.purged, err = queryOne(c, "SELECT BINLOG_GTID_POS("+quote(a.oldestFile)+", 4)")
	} else {
		a.purged, err = queryOne(c, "SELECT @@GLOBAL.gtid_purged")
	}
	return a, err
}

// missing reports whether streaming after the GTID set from would need
// transactions in purged.
func missing(flavor string, from, purged gmysql.GTIDSet) bool {
	if flavor != gmysql.MariaDBFlavor {
		return !from.Contain(purged)
	}
	// MariaDB: per replication domain, the stored position must be at or
	// after the oldest file's start (server ids may differ after a
	// failover; sequence numbers grow across a domain).
	f, p := from.(*gmysql.MariadbGTIDSet), purged.(*gmysql.MariadbGTIDSet)
	maxSeq := func(s map[uint32]*gmysql.MariadbGTID) (n uint64) {
		for _, g := range s {
			n = max(n, g.SequenceNumber)
		}
		return n
	}
	for domain, ps := range p.Sets {
		if maxSeq(f.Sets[domain]) < maxSeq(ps) {
			return true
		}
	}
	return false
}

// checkAvailable returns an ErrBinlogPurged error when the server no longer
// has the binlog after from, naming the position and what the server has.
func checkAvailable(c *client.Conn, from position) error {
	a, err := readAvailability(c, from.Flavor)
	if err != nil {
		return err
	}
	fset, err := gmysql.ParseGTIDSet(from.Flavor, from.GTIDs)
	if err != nil {
		return fmt.Errorf("%w: gtid set %q: %v", ErrBadPosition, from.GTIDs, err)
	}
	pset, err := gmysql.ParseGTIDSet(from.Flavor, a.purged)
	if err != nil {
		return fmt.Errorf("server gtid set %q: %w", a.purged, err)
	}
	if missing(from.Flavor, fset, pset) {
		return purgedError(from, a)
	}
	return nil
}

func purgedError(from position, a binlogAvailability) error {
	at := fmt.Sprintf("gtids %q", from.GTIDs)
	if from.File != "" {
		at += fmt.Sprintf(" (binlog %s:%d)", from.File, from.Pos)
	}
	return fmt.Errorf("%w: stored position %s; the oldest binlog on the server is %s, which starts after gtids %q (use snapshot.mode=when_needed to snapshot again)",
		ErrBinlogPurged, at, a.oldestFile, a.purged)
}

// isReadBinlogFatal reports the server's refusal to send the binlog from a
// position (error 1236: purged, or a GTID the server never had).
func isReadBinlogFatal(err error) bool {
	var me *gmysql.MyError
	return errors.As(err, &me) && me.Code == gmysql.ER_MASTER_FATAL_ERROR_READING_BINLOG
}
