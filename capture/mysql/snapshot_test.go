package mysql

import (
	"context"
	"testing"

	"github.com/sluice-cdc/sluice/event"
)

const typesDDL = `CREATE TABLE types (
	id INT PRIMARY KEY,
	ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT UNSIGNED, mi MEDIUMINT, iu INT UNSIGNED, bu BIGINT UNSIGNED,
	f FLOAT, d DOUBLE, dec1 DECIMAL(10,3),
	c CHAR(3), v VARCHAR(10), tx TEXT, bn BINARY(2), vb VARBINARY(4), bl BLOB,
	dt DATE, tm TIME(3), dtm DATETIME, dtm6 DATETIME(6), ts TIMESTAMP(3) NULL, yr YEAR,
	e ENUM('s','m','l'), st SET('a','b','c'), b1 BIT(1), b12 BIT(12)
)`

const typesRow = `(1, -8, 200, 65535, -8388608, 4294967295, 18446744073709551615,
	1.5, -2.25, 1234567.891,
	'abc', 'héllo', 'long text', 0x0102, 0xdeadbeef, 0x00ff,
	'2024-02-29', '-12:34:56.789', '2001-02-03 04:05:06', '2001-02-03 04:05:06.000007', '2038-01-19 03:14:07.499', 2024,
	'm', 'a,c', b'1', b'101010101010')`

const typesAfter = `{"id":1,"ti":-8,"tu":200,"si":65535,"mi":-8388608,"iu":4294967295,"bu":-1,` +
	`"f":1.5,"d":-2.25,"dec1":"SZYC0w==",` +
	`"c":"abc","v":"héllo","tx":"long text","bn":"AQI=","vb":"3q2+7w==","bl":"AP8=",` +
	`"dt":19782,"tm":-45296789000,"dtm":981173106000,"dtm6":981173106000007,"ts":"2038-01-19T03:14:07.499Z","yr":2024,` +
	`"e":"m","st":"a,c","b1":true,"b12":"qgo="}`

// TestTypesSnapshotAndStream reads a row of every supported type through the
// snapshot (text protocol) and the binlog: both must give the same values.
func TestTypesSnapshotAndStream(t *testing.T) {
	e := newMyEnv(t, typesDDL, "INSERT INTO types VALUES "+typesRow)
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	r := startSource(t, cfg, e.options())
	snap := r.wait(t, 1)
	e.exec("INSERT INTO types VALUES " + typesRow[:1] + "2" + typesRow[2:])
	got := r.wait(t, 2)
	checkEvents(t, got[:1], e.db, []string{
		`srv.D.types r key={"id":1} before=null after=` + typesAfter + ` src=D.types/last`,
	})
	want2 := `srv.D.types c key={"id":2} before=null after={"id":2` + typesAfter[len(`{"id":1`):] + ` src=D.types/false`
	checkEvents(t, got[1:], e.db, []string{want2})
	if snap[0].Position == nil {
		t.Fatal("the last snapshot event has no position")
	}
	p, err := decodePosition(snap[0].Position)
	if err != nil || p.Snapshot || p.GTIDs == "" {
		t.Errorf("last snapshot position = %+v, %v; want the stream's start", p, err)
	}
}

// TestSnapshotThenStream checks the snapshot markers, that rows committed
// after the snapshot arrive once as changes, and that a restart from the
// last snapshot position neither snapshots again nor loses the changes.
func TestSnapshotThenStream(t *testing.T) {
	e := newMyEnv(t,
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)",
		"CREATE TABLE b (id INT PRIMARY KEY, v INT)",
		"INSERT INTO a VALUES (1, 10), (2, 20), (3, 30)",
		"INSERT INTO b VALUES (1, 100)",
	)
	cfg := e.config()
	cfg.SnapshotMode = SnapshotInitial
	r := startSource(t, cfg, e.options())
	got := r.wait(t, 4)
	checkEvents(t, got, e.db, []string{
		`srv.D.a r key={"id":1} before=null after={"id":1,"v":10} src=D.a/first`,
		`srv.D.a r key={"id":2} before=null after={"id":2,"v":20} src=D.a/true`,
		`srv.D.a r key={"id":3} before=null after={"id":3,"v":30} src=D.a/last_in_data_collection`,
		`srv.D.b r key={"id":1} before=null after={"id":1,"v":100} src=D.b/last`,
	})
	start := got[3].Position
	r.stop(t)

	e.exec("UPDATE a SET v = 11 WHERE id = 1")
	e.exec("INSERT INTO b VALUES (2, 200)")
	opts := e.options()
	opts.Start = start
	r2 := startSource(t, cfg, opts)
	checkEvents(t, r2.wait(t, 2), e.db, []string{
		`srv.D.a u key={"id":1} before={"id":1,"v":10} after={"id":1,"v":11} src=D.a/false`,
		`srv.D.b c key={"id":2} before=null after={"id":2,"v":200} src=D.b/false`,
	})
}

// TestResumeInsideTransaction restarts from the position of every event of
// a multi-row transaction in turn: the restarted stream must continue with
// exactly the next event.
func TestResumeInsideTransaction(t *testing.T) {
	e := newMyEnv(t, "CREATE TABLE r (id INT PRIMARY KEY)")
	start := e.binlogEnd()
	e.exec("BEGIN")
	e.exec("INSERT INTO r VALUES (1), (2), (3)")
	e.exec("INSERT INTO r VALUES (4)")
	e.exec("COMMIT")
	e.exec("INSERT INTO r VALUES (5)")
	opts := e.options()
	opts.Start = start
	all := startSource(t, e.config(), opts).wait(t, 5)
	for i, ev := range all {
		if ev.Position == nil {
			t.Fatalf("event %d has no position", i)
		}
		opts.Start = ev.Position
		if err := (&Source{}).Ack(context.Background(), ev.Position); err != nil {
			t.Fatalf("Ack(%s): %v", ev.Position, err)
		}
		if i == len(all)-1 {
			break
		}
		r := startSource(t, e.config(), opts)
		next := r.wait(t, 1)[0]
		r.stop(t)
		if w, g := describe(t, all[i+1], e.db), describe(t, next, e.db); g != w {
			t.Errorf("after event %d (%s): got %s, want %s", i, ev.Position, g, w)
		}
	}
	var ids []any
	for _, ev := range all {
		ids = append(ids, ev.After.Get("id"))
	}
	if !event.ValueEqual(ids, []any{int32(1), int32(2), int32(3), int32(4), int32(5)}) {
		t.Errorf("ids = %v", ids)
	}
}
