package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/lib/pq"

	"github.com/immunis/immunis/migrations"
	"github.com/immunis/immunis/search"
)

// OpenPostgres connects to PostgreSQL (lib/pq) at url.
func OpenPostgres(ctx context.Context, url string, maxConns int) (*DB, error) {
	db, err := sql.Open("postgres", withBinaryParameters(url))
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
	return &DB{read: db, write: db, dialect: &postgres{db: db}}, nil
}

// withBinaryParameters turns on lib/pq's binary_parameters unless the URL
// says otherwise: a statement with arguments then costs one round trip
// instead of two (prepare, then execute). Every write is a few statements,
// so this nearly halves their latency.
func withBinaryParameters(dsn string) string {
	if strings.Contains(dsn, "binary_parameters") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if strings.Contains(dsn, "?") {
			return dsn + "&binary_parameters=yes"
		}
		return dsn + "?binary_parameters=yes"
	}
	return dsn + " binary_parameters=yes"
}

// postgres is the PostgreSQL dialect. The write statements are prepared
// once per connection and reused: they are fixed texts (rows travel as
// arrays), so PostgreSQL plans them once instead of on every write.
type postgres struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// stmt returns query prepared for use inside tx.
func (p *postgres) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	st := p.stmts[query]
	if st == nil {
		var err error
		if st, err = p.db.PrepareContext(ctx, query); err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		if p.stmts == nil {
			p.stmts = map[string]*sql.Stmt{}
		}
		p.stmts[query] = st
	}
	p.mu.Unlock()
	return tx.StmtContext(ctx, st), nil
}

func (p *postgres) name() search.Dialect { return search.Postgres }

func (p *postgres) lock(ctx context.Context, tx *sql.Tx, key int64) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key)
	return err
}

func (p *postgres) liveSQL() string {
	return `SELECT deleted FROM resource WHERE type = $1 AND id = $2 FOR SHARE`
}

func (p *postgres) retryable(err error) bool {
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

func (p *postgres) put(ctx context.Context, tx *sql.Tx, v *Version) error {
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
	st, err := p.stmt(ctx, tx, query)
	if err != nil {
		return err
	}
	var rid int64
	if err := st.QueryRowContext(ctx, args...).Scan(&rid); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("version %d is no longer current", v.Prev.Version)
		}
		return err
	}
	return nil
}

// indexCols holds index rows as one array per column, the shape unnest
// takes: a whole batch of rows travels in a fixed number of parameters.
type indexCols struct {
	trid, tp   []int64
	ts, tc, tt []string
	srid, sp   []int64
	sn, se     []string
	drid, dp   []int64
	dl, dh     []int64
	rrid, rp   []int64
	rt, ri, ru []string
	nrid, np   []int64
	nv, nl, nh []float64
	qrid, qp   []int64
	qs, qc     []string
	qv, ql, qh []float64
	urid, up   []int64
	uu         []string
	crid       []int64
	cp         []string
}

func (c *indexCols) add(rid int64, ix *search.Index) {
	if ix == nil {
		return
	}
	for _, r := range ix.Tokens {
		c.trid, c.tp, c.ts, c.tc, c.tt = append(c.trid, rid), append(c.tp, int64(r.Param)), append(c.ts, r.System), append(c.tc, r.Code), append(c.tt, r.Text)
	}
	for _, r := range ix.Strings {
		c.srid, c.sp, c.sn, c.se = append(c.srid, rid), append(c.sp, int64(r.Param)), append(c.sn, r.Norm), append(c.se, r.Exact)
	}
	for _, r := range ix.Dates {
		c.drid, c.dp, c.dl, c.dh = append(c.drid, rid), append(c.dp, int64(r.Param)), append(c.dl, r.Lo), append(c.dh, r.Hi)
	}
	for _, r := range ix.Refs {
		c.rrid, c.rp, c.rt, c.ri, c.ru = append(c.rrid, rid), append(c.rp, int64(r.Param)), append(c.rt, r.Type), append(c.ri, r.ID), append(c.ru, r.URL)
	}
	for _, r := range ix.Numbers {
		c.nrid, c.np, c.nv, c.nl, c.nh = append(c.nrid, rid), append(c.np, int64(r.Param)), append(c.nv, r.Value), append(c.nl, r.Lo), append(c.nh, r.Hi)
	}
	for _, r := range ix.Quantities {
		c.qrid, c.qp, c.qs, c.qc = append(c.qrid, rid), append(c.qp, int64(r.Param)), append(c.qs, r.System), append(c.qc, r.Code)
		c.qv, c.ql, c.qh = append(c.qv, r.Value), append(c.ql, r.Lo), append(c.qh, r.Hi)
	}
	for _, r := range ix.URIs {
		c.urid, c.up, c.uu = append(c.urid, rid), append(c.up, int64(r.Param)), append(c.uu, r.URI)
	}
	for _, p := range ix.Compartments {
		c.crid, c.cp = append(c.crid, rid), append(c.cp, p)
	}
}

// args returns the 27 column arrays of the single-resource statements
// ($8…$34, rid comes from the CTE).
func (c *indexCols) args() []any {
	return []any{
		pq.Array(c.tp), pq.Array(c.ts), pq.Array(c.tc), pq.Array(c.tt),
		pq.Array(c.sp), pq.Array(c.sn), pq.Array(c.se),
		pq.Array(c.dp), pq.Array(c.dl), pq.Array(c.dh),
		pq.Array(c.rp), pq.Array(c.rt), pq.Array(c.ri), pq.Array(c.ru),
		pq.Array(c.np), pq.Array(c.nv), pq.Array(c.nl), pq.Array(c.nh),
		pq.Array(c.qp), pq.Array(c.qs), pq.Array(c.qc), pq.Array(c.qv), pq.Array(c.ql), pq.Array(c.qh),
		pq.Array(c.up), pq.Array(c.uu),
		pq.Array(c.cp),
	}
}

// argsWithRID returns the 35 column arrays of the batch statement, each
// table's rows with their own rid column.
func (c *indexCols) argsWithRID() []any {
	return []any{
		pq.Array(c.trid), pq.Array(c.tp), pq.Array(c.ts), pq.Array(c.tc), pq.Array(c.tt),
		pq.Array(c.srid), pq.Array(c.sp), pq.Array(c.sn), pq.Array(c.se),
		pq.Array(c.drid), pq.Array(c.dp), pq.Array(c.dl), pq.Array(c.dh),
		pq.Array(c.rrid), pq.Array(c.rp), pq.Array(c.rt), pq.Array(c.ri), pq.Array(c.ru),
		pq.Array(c.nrid), pq.Array(c.np), pq.Array(c.nv), pq.Array(c.nl), pq.Array(c.nh),
		pq.Array(c.qrid), pq.Array(c.qp), pq.Array(c.qs), pq.Array(c.qc), pq.Array(c.qv), pq.Array(c.ql), pq.Array(c.qh),
		pq.Array(c.urid), pq.Array(c.up), pq.Array(c.uu),
		pq.Array(c.crid), pq.Array(c.cp),
	}
}

// indexArrays flattens one resource's index rows ($8…$34).
func indexArrays(ix *search.Index) []any {
	var c indexCols
	c.add(0, ix)
	return c.args()
}

// pgCreateMany inserts many new resources and all their index rows in one
// statement; rids were reserved from the sequence first.
const pgCreateMany = `WITH
w AS (INSERT INTO resource (rid, type, id, version, last_updated, deleted, method, content)
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::boolean[], $7::text[], $8::jsonb[])),
tok AS (INSERT INTO idx_token (rid, param, system, code, text)
        SELECT * FROM unnest($9::bigint[], $10::int[], $11::text[], $12::text[], $13::text[])),
str AS (INSERT INTO idx_string (rid, param, norm, exact)
        SELECT * FROM unnest($14::bigint[], $15::int[], $16::text[], $17::text[])),
dat AS (INSERT INTO idx_date (rid, param, lo, hi)
        SELECT * FROM unnest($18::bigint[], $19::int[], $20::bigint[], $21::bigint[])),
ref AS (INSERT INTO idx_ref (rid, param, ref_type, ref_id, url)
        SELECT * FROM unnest($22::bigint[], $23::int[], $24::text[], $25::text[], $26::text[])),
num AS (INSERT INTO idx_number (rid, param, value, lo, hi)
        SELECT * FROM unnest($27::bigint[], $28::int[], $29::float8[], $30::float8[], $31::float8[])),
qty AS (INSERT INTO idx_quantity (rid, param, system, code, value, lo, hi)
        SELECT * FROM unnest($32::bigint[], $33::int[], $34::text[], $35::text[], $36::float8[], $37::float8[], $38::float8[])),
uri AS (INSERT INTO idx_uri (rid, param, uri)
        SELECT * FROM unnest($39::bigint[], $40::int[], $41::text[])),
cmp AS (INSERT INTO compartment (rid, patient_id)
        SELECT * FROM unnest($42::bigint[], $43::text[]))
SELECT 1`

func (p *postgres) createMany(ctx context.Context, tx *sql.Tx, vs []*Version) error {
	rows, err := tx.QueryContext(ctx, `SELECT nextval('resource_rid_seq') FROM generate_series(1, $1)`, len(vs))
	if err != nil {
		return fmt.Errorf("reserve ids: %w", err)
	}
	rids := make([]int64, 0, len(vs))
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return err
		}
		rids = append(rids, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var (
		types, ids, methods, contents []string
		versions, times               []int64
		deleted                       []bool
		c                             indexCols
	)
	for i, v := range vs {
		n := v.New
		types, ids, methods = append(types, n.Type), append(ids, n.ID), append(methods, n.Method)
		versions, times, deleted = append(versions, n.Version), append(times, n.LastUpdated.UnixMicro()), append(deleted, n.Deleted)
		contents = append(contents, string(n.Body))
		c.add(rids[i], v.Index)
	}
	args := append([]any{pq.Array(rids), pq.Array(types), pq.Array(ids), pq.Array(versions), pq.Array(times),
		pq.Array(deleted), pq.Array(methods), pq.Array(contents)}, c.argsWithRID()...)
	st, err := p.stmt(ctx, tx, pgCreateMany)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// migrationLockKey is the advisory lock every replica takes before
// migrating, so two starting together apply each migration once.
const migrationLockKey = 0x1d6d_0001

func (p *postgres) migrate(ctx context.Context, db *sql.DB) error {
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

const pgLiveMany = `SELECT id, deleted FROM resource WHERE type = $1 AND id = ANY($2::text[]) FOR SHARE`

// liveMany checks many ids with one prepared statement.
func (p *postgres) liveMany(ctx context.Context, tx *sql.Tx, typ string, ids []string) (map[string]bool, error) {
	st, err := p.stmt(ctx, tx, pgLiveMany)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, typ, pq.Array(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]bool, len(ids))
	for rows.Next() {
		var id string
		var deleted bool
		if err := rows.Scan(&id, &deleted); err != nil {
			return nil, err
		}
		out[id] = !deleted
	}
	return out, rows.Err()
}
