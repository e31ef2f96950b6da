package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/daemon"
	"github.com/sluice-cdc/sluice/internal/obs"
	"github.com/sluice-cdc/sluice/publish"
)

// Defaults for [Options].
const (
	DefaultConfigFile = "examples/demo.yaml"
	DefaultDatabase   = "sluice_demo"
	DefaultTimeout    = 60 * time.Second
)

// Options configures a demo run.
type Options struct {
	// ConfigFile is the sluice.yaml of the demo; it should read the
	// database URL from ${SLUICE_DEMO_PG_URL} and the brokers from
	// ${SLUICE_DEMO_BROKERS}.
	ConfigFile string
	// PGURL connects to any database of a Postgres server as a user that
	// may create databases and replicate (the demo database is created
	// next to it).
	PGURL string
	// Brokers lists real Kafka brokers; empty uses the embedded broker.
	Brokers []string
	// Database is the demo database, dropped and created on each run.
	Database string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Stdout receives one line per change event; Stderr the progress.
	Stdout, Stderr io.Writer
}

// The schema and rows of the demo, and the workload applied once the
// snapshot has been read. want lists the events expected on each table's
// topic, in order, as op:key ("T" is the tombstone after a delete).
const schemaSQL = `
CREATE SCHEMA inventory;
CREATE TABLE inventory.customers (
	id         integer PRIMARY KEY,
	first_name text NOT NULL,
	last_name  text NOT NULL,
	email      text NOT NULL UNIQUE
);
ALTER TABLE inventory.customers REPLICA IDENTITY FULL;
CREATE TABLE inventory.orders (
	id          integer PRIMARY KEY,
	customer_id integer NOT NULL REFERENCES inventory.customers (id),
	product     text NOT NULL,
	quantity    integer NOT NULL,
	ordered_on  date NOT NULL,
	total       numeric(10,2) NOT NULL
);
INSERT INTO inventory.customers VALUES
	(1001, 'Sally', 'Thomas', 'sally.thomas@acme.com'),
	(1002, 'George', 'Bailey', 'gbailey@foobar.com'),
	(1003, 'Edward', 'Walker', 'ed@walker.com');
INSERT INTO inventory.orders VALUES
	(10001, 1001, 'scooter', 1, '2024-01-16', 249.90),
	(10002, 1002, 'car battery', 2, '2024-01-17', 119.00);
`

var workload = []string{
	`INSERT INTO inventory.customers VALUES (1004, 'Anne', 'Kretchmar', 'annek@noanswer.org')`,
	`UPDATE inventory.customers SET email = 'sally@acme.com' WHERE id = 1001`,
	`INSERT INTO inventory.orders VALUES (10003, 1004, 'hammer', 1, '2024-02-19', 19.99)`,
	`UPDATE inventory.orders SET quantity = 3, total = 59.97 WHERE id = 10003`,
	`DELETE FROM inventory.orders WHERE id = 10003`,
	`DELETE FROM inventory.customers WHERE id = 1004`,
	// Two tables in one transaction.
	`BEGIN; UPDATE inventory.orders SET quantity = 2 WHERE id = 10001; UPDATE inventory.customers SET last_name = 'Bailey-Hatch' WHERE id = 1002; COMMIT`,
}

var want = map[string][]string{
	"inventory.customers": {
		`r:{"id":1001}`, `r:{"id":1002}`, `r:{"id":1003}`,
		`c:{"id":1004}`, `u:{"id":1001}`, `d:{"id":1004}`, `T:{"id":1004}`, `u:{"id":1002}`,
	},
	"inventory.orders": {
		`r:{"id":10001}`, `r:{"id":10002}`,
		`c:{"id":10003}`, `u:{"id":10003}`, `d:{"id":10003}`, `T:{"id":10003}`, `u:{"id":10001}`,
	},
}

const snapshotEvents = 5 // rows inserted by schemaSQL

// Run runs the demo and returns nil when every expected event arrived.
func Run(ctx context.Context, o Options) error {
	o.defaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	started := time.Now()
	progress := func(format string, args ...any) {
		fmt.Fprintf(o.Stderr, "demo: "+format+"\n", args...)
	}

	demoURL, err := withDatabase(o.PGURL, o.Database)
	if err != nil {
		return err
	}
	brokers := strings.Join(o.Brokers, ",")
	if brokers == "" {
		brokers = publish.Embedded
	}
	env := map[string]string{"SLUICE_DEMO_PG_URL": demoURL, "SLUICE_DEMO_BROKERS": brokers}
	lookup := func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
	data, err := os.ReadFile(o.ConfigFile)
	if err != nil {
		return fmt.Errorf("read demo config: %w", err)
	}
	cfg, err := daemon.Decode(config.Loader{LookupEnv: lookup}, o.ConfigFile, data)
	if err != nil {
		return err
	}
	if len(cfg.Sources) != 1 || cfg.Sources[0].Kind() != daemon.Postgres {
		return fmt.Errorf("%s: the demo needs exactly one postgres source", o.ConfigFile)
	}
	src := cfg.Sources[0]
	slot := src.Postgres.SlotName

	progress("recreating database %s (slot %s)", o.Database, slot)
	if err := resetDatabase(ctx, o.PGURL, o.Database, slot); err != nil {
		return err
	}
	if err := execAll(ctx, demoURL, schemaSQL); err != nil {
		return fmt.Errorf("create demo schema: %w", err)
	}
	if err := os.RemoveAll(cfg.OffsetsFile()); err != nil {
		return fmt.Errorf("reset demo offsets: %w", err)
	}
	defer func() {
		// An inactive slot would keep WAL forever.
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		if err := dropSlot(dctx, o.PGURL, slot); err != nil {
			progress("could not drop slot %s: %v", slot, err)
		}
	}()

	if cfg.Kafka.IsEmbedded() {
		e, err := publish.StartEmbedded()
		if err != nil {
			return err
		}
		defer e.Close()
		cfg.Kafka.Brokers = e.Addrs()
		progress("embedded Kafka broker at %s (in memory)", strings.Join(cfg.Kafka.Brokers, ","))
	} else {
		progress("Kafka brokers %s", strings.Join(cfg.Kafka.Brokers, ","))
	}

	topics := map[string]string{} // topic → table
	for _, t := range src.Tables {
		topics[src.TopicPrefix+"."+t] = t
	}
	cl, err := newConsumer(ctx, cfg.Kafka.Brokers, topics)
	if err != nil {
		return err
	}
	defer cl.Close()

	log, err := obs.NewLogger(o.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	d, err := daemon.New(cfg, daemon.WithLogger(log), daemon.WithoutHTTP())
	if err != nil {
		return err
	}
	dctx, stopDaemon := context.WithCancel(ctx)
	defer stopDaemon()
	var daemonErr error
	daemonDone := make(chan struct{})
	go func() {
		daemonErr = d.Run(dctx)
		close(daemonDone)
	}()
	// Polling stops as soon as the daemon does.
	pollCtx, cancelPoll := context.WithCancel(ctx)
	defer cancelPoll()
	go func() {
		select {
		case <-daemonDone:
			cancelPoll()
		case <-pollCtx.Done():
		}
	}()
	progress("sluice running; change events follow as: topic key value")

	got := map[string][]string{}
	total := 0
	for _, w := range want {
		total += len(w)
	}
	count := func() int {
		n := 0
		for _, g := range got {
			n += len(g)
		}
		return n
	}
	// waitFor consumes and prints records until n have arrived.
	waitFor := func(n int) error {
		for count() < n {
			fs := cl.PollFetches(pollCtx)
			select {
			case <-daemonDone:
				if daemonErr == nil {
					return errors.New("sluice stopped early")
				}
				return fmt.Errorf("sluice: %w", daemonErr)
			default:
			}
			if ctx.Err() != nil {
				return fmt.Errorf("timed out after %s with %d of %d events (got %q, want %q)",
					o.Timeout, count(), total, got, want)
			}
			fs.EachError(func(t string, p int32, err error) {
				progress("fetch %s[%d]: %v", t, p, err)
			})
			fs.EachRecord(func(r *kgo.Record) {
				value := "null"
				op := "T"
				if r.Value != nil {
					value = string(r.Value)
					var v struct {
						Op string `json:"op"`
					}
					if err := json.Unmarshal(r.Value, &v); err == nil {
						op = v.Op
					}
				}
				key := string(r.Key)
				if r.Key == nil {
					key = "null"
				}
				fmt.Fprintf(o.Stdout, "%s %s %s\n", r.Topic, key, value)
				table := topics[r.Topic]
				got[table] = append(got[table], op+":"+key)
			})
		}
		return nil
	}

	if err := waitFor(snapshotEvents); err != nil {
		return err
	}
	progress("snapshot read; running the workload (inserts, updates, deletes)")
	for _, stmt := range workload {
		if err := execAll(ctx, demoURL, stmt); err != nil {
			return fmt.Errorf("workload: %w", err)
		}
	}
	if err := waitFor(total); err != nil {
		return err
	}
	stopDaemon()
	<-daemonDone
	if daemonErr != nil {
		return fmt.Errorf("sluice shutdown: %w", daemonErr)
	}
	for table, w := range want {
		if !slices.Equal(got[table], w) {
			return fmt.Errorf("events on %s (op:key):\n got  %q\n want %q", table, got[table], w)
		}
	}
	progress("OK: %d change events in %.1fs; sluice stopped cleanly", total, time.Since(started).Seconds())
	return nil
}

func (o *Options) defaults() {
	if o.ConfigFile == "" {
		o.ConfigFile = DefaultConfigFile
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
}

// withDatabase returns u with its database replaced by db.
func withDatabase(u, db string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
		return "", errors.New("demo: the Postgres URL must be a postgres:// URL")
	}
	if strings.TrimPrefix(p.Path, "/") == db {
		return "", fmt.Errorf("demo: the Postgres URL must name another database than %s, which the demo drops", db)
	}
	p.Path = "/" + db
	return p.String(), nil
}

// resetDatabase drops the demo's slot and database and creates the
// database again.
func resetDatabase(ctx context.Context, adminURL, db, slot string) error {
	if err := dropSlot(ctx, adminURL, slot); err != nil {
		return err
	}
	ident := pgx.Identifier{db}.Sanitize()
	return execAll(ctx, adminURL,
		"DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)",
		"CREATE DATABASE "+ident)
}

// dropSlot drops the replication slot if it exists and is not in use.
func dropSlot(ctx context.Context, adminURL, slot string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, slot); err != nil {
		return fmt.Errorf("drop replication slot %s (is another demo running?): %w", slot, err)
	}
	return nil
}

// execAll runs each SQL string (each may hold several statements) on a new
// connection.
func execAll(ctx context.Context, dbURL string, sqls ...string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.Background())
	for _, s := range sqls {
		if _, err := conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// newConsumer reads the demo topics from their current end (earlier runs
// on a real cluster left records there), or from the start of topics that
// do not exist yet.
func newConsumer(ctx context.Context, brokers []string, topics map[string]string) (*kgo.Client, error) {
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, names...)
	adm.Close()
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %v: %w", names, err)
	}
	start := map[string]map[int32]kgo.Offset{}
	for _, t := range names {
		start[t] = map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			start[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(start),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	return cl, nil
}
