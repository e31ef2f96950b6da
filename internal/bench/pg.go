package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Table is a benchmark table: its schema holds nothing else.
type Table struct {
	Schema string
	Name   string
}

// String returns schema.name.
func (t Table) String() string { return t.Schema + "." + t.Name }

// Ident returns the quoted identifier.
func (t Table) Ident() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// CreateTable creates t's schema and t: a bigint primary key and a few
// typical columns (integer, text, numeric, timestamptz).
func CreateTable(ctx context.Context, pool *pgxpool.Pool, t Table) error {
	for _, q := range []string{
		"CREATE SCHEMA " + pgx.Identifier{t.Schema}.Sanitize(),
		"CREATE TABLE " + t.Ident() + ` (
			id bigint PRIMARY KEY,
			k integer NOT NULL,
			name text NOT NULL,
			amount numeric(12,2),
			updated_at timestamptz NOT NULL DEFAULT now())`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("create %s: %w", t, err)
		}
	}
	return nil
}

// InsertRows inserts rows ids from..to (inclusive) in one transaction.
func InsertRows(ctx context.Context, pool *pgxpool.Pool, t Table, from, to int) error {
	q := "INSERT INTO " + t.Ident() + ` (id, k, name, amount, updated_at)
		SELECT g, g % 1000, 'name-' || g, g * 0.01, now() FROM generate_series($1::bigint, $2::bigint) g`
	if _, err := pool.Exec(ctx, q, from, to); err != nil {
		return fmt.Errorf("insert %d..%d into %s: %w", from, to, t, err)
	}
	return nil
}

// InsertSingle inserts row id alone, in its own (autocommit) transaction.
func InsertSingle(ctx context.Context, conn *pgxpool.Pool, t Table, id int64) error {
	q := "INSERT INTO " + t.Ident() + " (id, k, name, amount, updated_at) VALUES ($1, $2, $3, $4, now())"
	_, err := conn.Exec(ctx, q, id, id%1000, fmt.Sprintf("name-%d", id), float64(id)*0.01)
	return err
}

// UpdateEach runs n single-row UPDATE transactions over ids 1..rows, inside
// the server (a procedure that commits after each row), so the client's
// round trips do not limit how fast the backlog is written.
func UpdateEach(ctx context.Context, pool *pgxpool.Pool, t Table, n, rows int) error {
	proc := pgx.Identifier{t.Schema, "update_each"}.Sanitize()
	create := "CREATE PROCEDURE " + proc + `(n bigint, nrows bigint) LANGUAGE plpgsql AS $$
		BEGIN
			FOR i IN 1..n LOOP
				UPDATE ` + t.Ident() + ` SET k = k + 1, updated_at = now() WHERE id = 1 + (i % nrows);
				COMMIT;
			END LOOP;
		END $$`
	if _, err := pool.Exec(ctx, create); err != nil {
		return fmt.Errorf("create %s: %w", proc, err)
	}
	if _, err := pool.Exec(ctx, fmt.Sprintf("CALL %s(%d, %d)", proc, n, rows)); err != nil {
		return fmt.Errorf("call %s: %w", proc, err)
	}
	return nil
}

// CreatePublication creates a publication for t.
func CreatePublication(ctx context.Context, pool *pgxpool.Pool, name string, t Table) error {
	if _, err := pool.Exec(ctx, "CREATE PUBLICATION "+pgx.Identifier{name}.Sanitize()+" FOR TABLE "+t.Ident()); err != nil {
		return fmt.Errorf("create publication %s: %w", name, err)
	}
	return nil
}

// DropPublication drops a publication if it exists.
func DropPublication(ctx context.Context, pool *pgxpool.Pool, name string) error {
	if _, err := pool.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("drop publication %s: %w", name, err)
	}
	return nil
}

// CreateSlot creates a pgoutput logical slot and returns its start LSN.
func CreateSlot(ctx context.Context, pool *pgxpool.Pool, name string) (string, error) {
	var lsn string
	err := pool.QueryRow(ctx, "SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", name).Scan(&lsn)
	if err != nil {
		return "", fmt.Errorf("create slot %s: %w", name, err)
	}
	return lsn, nil
}

// DropSlot drops slot name if it exists, waiting up to 15 s for its
// consumer to disconnect and then terminating the walsender.
func DropSlot(ctx context.Context, pool *pgxpool.Pool, name string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		var active bool
		var pid *int32
		err := pool.QueryRow(ctx, "SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1", name).Scan(&active, &pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("drop slot %s: %w", name, err)
		}
		if !active {
			if _, err := pool.Exec(ctx, "SELECT pg_drop_replication_slot($1)", name); err != nil {
				return fmt.Errorf("drop slot %s: %w", name, err)
			}
			return nil
		}
		if time.Now().After(deadline) && pid != nil {
			_, _ = pool.Exec(ctx, "SELECT pg_terminate_backend($1)", *pid)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop slot %s: %w", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// SlotActive reports whether a client streams from slot name.
func SlotActive(ctx context.Context, pool *pgxpool.Pool, name string) (bool, error) {
	var active bool
	err := pool.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", name).Scan(&active)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return active, err
}

// CurrentLSN returns pg_current_wal_lsn().
func CurrentLSN(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var lsn string
	if err := pool.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return "", fmt.Errorf("current lsn: %w", err)
	}
	return lsn, nil
}

// WALBytes returns the bytes of WAL between two LSNs.
func WALBytes(ctx context.Context, pool *pgxpool.Pool, from, to string) (int64, error) {
	var n int64
	if err := pool.QueryRow(ctx, "SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint", to, from).Scan(&n); err != nil {
		return 0, fmt.Errorf("wal diff: %w", err)
	}
	return n, nil
}

// RecvLogicalPath finds pg_recvlogical: SLUICE_PG_RECVLOGICAL, Debian's
// PostgreSQL 15 location, or PATH.
func RecvLogicalPath() (string, error) {
	if p := os.Getenv("SLUICE_PG_RECVLOGICAL"); p != "" {
		return p, nil
	}
	if p := "/usr/lib/postgresql/15/bin/pg_recvlogical"; fileExists(p) {
		return p, nil
	}
	p, err := exec.LookPath("pg_recvlogical")
	if err != nil {
		return "", fmt.Errorf("pg_recvlogical not found (set SLUICE_PG_RECVLOGICAL): %w", err)
	}
	return p, nil
}

// RecvLogical drains slot with pg_recvlogical (pgoutput, proto_version 1,
// publication pub) into /dev/null until endLSN and returns its usage.
func RecvLogical(ctx context.Context, bin, url, slot, pub, endLSN, logDir string) (Usage, error) {
	args := []string{
		"-d", url, "--slot", slot, "--start", "--no-loop",
		"-f", "/dev/null", "-E", endLSN, "-s", "1",
		"-o", "proto_version=1", "-o", "publication_names=" + pub,
	}
	p, err := StartProcess(bin, args, filepath.Join(logDir, "pg_recvlogical.log"))
	if err != nil {
		return Usage{}, err
	}
	select {
	case <-p.Exited():
	case <-ctx.Done():
		p.Stop(time.Second)
		return Usage{}, ctx.Err()
	}
	u, err := p.Wait()
	if err != nil {
		return u, fmt.Errorf("pg_recvlogical: %w: %s", err, p.LogTail(2000))
	}
	return u, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
