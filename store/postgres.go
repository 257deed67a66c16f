package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lib/pq"

	"github.com/immunis/immunis/migrations"
	"github.com/immunis/immunis/search"
)

// OpenPostgres connects to PostgreSQL (lib/pq) at url.
func OpenPostgres(ctx context.Context, url string, maxConns int) (*DB, error) {
	db, err := sql.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if maxConns <= 0 {
		maxConns = 32
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return &DB{read: db, write: db, dialect: postgres{}}, nil
}

type postgres struct{}

func (postgres) name() search.Dialect { return search.Postgres }

func (postgres) lock(ctx context.Context, tx *sql.Tx, key int64) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key)
	return err
}

func (postgres) liveSQL() string {
	return `SELECT deleted FROM resource WHERE type = $1 AND id = $2 FOR SHARE`
}

func (postgres) retryable(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	return false
}

// The index rows travel as one array per column and are unnested in one
// statement, so a write is a single round trip whatever the resource holds.
const pgIndexInserts = `
tok AS (INSERT INTO idx_token (rid, param, system, code, text)
        SELECT w.rid, u.* FROM w, unnest($8::int[], $9::text[], $10::text[], $11::text[]) u),
str AS (INSERT INTO idx_string (rid, param, norm, exact)
        SELECT w.rid, u.* FROM w, unnest($12::int[], $13::text[], $14::text[]) u),
dat AS (INSERT INTO idx_date (rid, param, lo, hi)
        SELECT w.rid, u.* FROM w, unnest($15::int[], $16::bigint[], $17::bigint[]) u),
ref AS (INSERT INTO idx_ref (rid, param, ref_type, ref_id, url)
        SELECT w.rid, u.* FROM w, unnest($18::int[], $19::text[], $20::text[], $21::text[]) u),
num AS (INSERT INTO idx_number (rid, param, value, lo, hi)
        SELECT w.rid, u.* FROM w, unnest($22::int[], $23::float8[], $24::float8[], $25::float8[]) u),
qty AS (INSERT INTO idx_quantity (rid, param, system, code, value, lo, hi)
        SELECT w.rid, u.* FROM w, unnest($26::int[], $27::text[], $28::text[], $29::float8[], $30::float8[], $31::float8[]) u),
uri AS (INSERT INTO idx_uri (rid, param, uri)
        SELECT w.rid, u.* FROM w, unnest($32::int[], $33::text[]) u),
cmp AS (INSERT INTO compartment (rid, patient_id)
        SELECT w.rid, u.* FROM w, unnest($34::text[]) u)
SELECT rid FROM w`

const pgCreate = `WITH w AS (
    INSERT INTO resource (type, id, version, last_updated, deleted, method, content)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING rid),` + pgIndexInserts

const pgUpdate = `WITH cur AS (SELECT rid FROM resource WHERE type = $1 AND id = $2),
h AS (INSERT INTO resource_history (rid, version, type, id, last_updated, deleted, method, content)
      SELECT rid, version, type, id, last_updated, deleted, method, content FROM resource WHERE rid = (SELECT rid FROM cur)),
d1 AS (DELETE FROM idx_token WHERE rid = (SELECT rid FROM cur)),
d2 AS (DELETE FROM idx_string WHERE rid = (SELECT rid FROM cur)),
d3 AS (DELETE FROM idx_date WHERE rid = (SELECT rid FROM cur)),
d4 AS (DELETE FROM idx_ref WHERE rid = (SELECT rid FROM cur)),
d5 AS (DELETE FROM idx_number WHERE rid = (SELECT rid FROM cur)),
d6 AS (DELETE FROM idx_quantity WHERE rid = (SELECT rid FROM cur)),
d7 AS (DELETE FROM idx_uri WHERE rid = (SELECT rid FROM cur)),
d8 AS (DELETE FROM compartment WHERE rid = (SELECT rid FROM cur)),
w AS (UPDATE resource SET version = $3, last_updated = $4, deleted = $5, method = $6, content = $7::jsonb
      WHERE rid = (SELECT rid FROM cur) AND version = $35 RETURNING rid),` + pgIndexInserts

func (postgres) put(ctx context.Context, tx *sql.Tx, v *Version) error {
	n := v.New
	var content any
	if !n.Deleted {
		content = string(n.Body)
	}
	args := []any{n.Type, n.ID, n.Version, n.LastUpdated.UnixMicro(), n.Deleted, n.Method, content}
	args = append(args, indexArrays(v.Index)...)
	query := pgCreate
	if v.Prev != nil {
		query = pgUpdate
		args = append(args, v.Prev.Version)
	}
	var rid int64
	if err := tx.QueryRowContext(ctx, query, args...).Scan(&rid); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("version %d is no longer current", v.Prev.Version)
		}
		return err
	}
	return nil
}

// indexArrays flattens index rows into the 27 column arrays ($8…$34).
func indexArrays(ix *search.Index) []any {
	if ix == nil {
		ix = &search.Index{}
	}
	var (
		tp         []int64
		ts, tc, tt []string
		sp         []int64
		sn, se     []string
		dp         []int64
		dl, dh     []int64
		rp         []int64
		rt, ri, ru []string
		np         []int64
		nv, nl, nh []float64
		qp         []int64
		qs, qc     []string
		qv, ql, qh []float64
		up         []int64
		uu         []string
		cp         []string
	)
	for _, r := range ix.Tokens {
		tp, ts, tc, tt = append(tp, int64(r.Param)), append(ts, r.System), append(tc, r.Code), append(tt, r.Text)
	}
	for _, r := range ix.Strings {
		sp, sn, se = append(sp, int64(r.Param)), append(sn, r.Norm), append(se, r.Exact)
	}
	for _, r := range ix.Dates {
		dp, dl, dh = append(dp, int64(r.Param)), append(dl, r.Lo), append(dh, r.Hi)
	}
	for _, r := range ix.Refs {
		rp, rt, ri, ru = append(rp, int64(r.Param)), append(rt, r.Type), append(ri, r.ID), append(ru, r.URL)
	}
	for _, r := range ix.Numbers {
		np, nv, nl, nh = append(np, int64(r.Param)), append(nv, r.Value), append(nl, r.Lo), append(nh, r.Hi)
	}
	for _, r := range ix.Quantities {
		qp, qs, qc = append(qp, int64(r.Param)), append(qs, r.System), append(qc, r.Code)
		qv, ql, qh = append(qv, r.Value), append(ql, r.Lo), append(qh, r.Hi)
	}
	for _, r := range ix.URIs {
		up, uu = append(up, int64(r.Param)), append(uu, r.URI)
	}
	cp = append(cp, ix.Compartments...)
	return []any{
		pq.Array(tp), pq.Array(ts), pq.Array(tc), pq.Array(tt),
		pq.Array(sp), pq.Array(sn), pq.Array(se),
		pq.Array(dp), pq.Array(dl), pq.Array(dh),
		pq.Array(rp), pq.Array(rt), pq.Array(ri), pq.Array(ru),
		pq.Array(np), pq.Array(nv), pq.Array(nl), pq.Array(nh),
		pq.Array(qp), pq.Array(qs), pq.Array(qc), pq.Array(qv), pq.Array(ql), pq.Array(qh),
		pq.Array(up), pq.Array(uu),
		pq.Array(cp),
	}
}

// migrationLockKey is the advisory lock every replica takes before
// migrating, so two starting together apply each migration once.
const migrationLockKey = 0x1d6d_0001

func (postgres) migrate(ctx context.Context, db *sql.DB) error {
	list, err := migrations.List("postgres")
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("migrate: take lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLockKey)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migration (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return applyMigrations(ctx, conn, list)
}

// applyMigrations runs each pending migration in its own transaction and
// records it.
func applyMigrations(ctx context.Context, conn *sql.Conn, list []migrations.Migration) error {
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, `SELECT version FROM schema_migration`)
	if err != nil {
		return fmt.Errorf("migrate: read applied: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	for _, m := range list {
		if applied[m.Version] {
			continue
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migration (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate %s: record: %w", m.Name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate %s: commit: %w", m.Name, err)
		}
	}
	return nil
}
