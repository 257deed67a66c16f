package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
)

// DB is the Store over database/sql, shared by both dialects; the few
// statements that differ live in dialect values (postgres.go, sqlite.go).
type DB struct {
	read    *sql.DB // queries
	write   *sql.DB // write transactions (SQLite: one connection)
	dialect dialect
	Log     *slog.Logger
}

// dialect is what differs between PostgreSQL and SQLite.
type dialect interface {
	name() search.Dialect
	// lock takes a transaction-scoped lock on key.
	lock(ctx context.Context, tx *sql.Tx, key int64) error
	// liveSQL checks a resource exists and keeps it from changing.
	liveSQL() string
	// put writes a version and its index rows.
	put(ctx context.Context, tx *sql.Tx, v *Version) error
	// createMany writes many new resources (no previous version).
	createMany(ctx context.Context, tx *sql.Tx, vs []*Version) error
	// retryable reports whether a failed transaction may be run again.
	retryable(err error) bool
	// migrate applies migrations under a cross-process lock.
	migrate(ctx context.Context, db *sql.DB) error
}

// Dialect implements Store.
func (db *DB) Dialect() search.Dialect { return db.dialect.name() }

// Close closes the connection pools.
func (db *DB) Close() error {
	if c, ok := db.dialect.(interface{ close() }); ok {
		c.close() // background work of the dialect first
	}
	err := db.read.Close()
	if db.write != db.read {
		err = errors.Join(err, db.write.Close())
	}
	return err
}

// Migrate implements Store.
func (db *DB) Migrate(ctx context.Context) error { return db.dialect.migrate(ctx, db.write) }

const readSQL = `SELECT ` + search.ResourceColumns + ` FROM resource r WHERE r.type = $1 AND r.id = $2`

// Read implements Store.
func (db *DB) Read(ctx context.Context, typ, id string) (*fhir.Resource, error) {
	return readOne(ctx, db.read, typ, id)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readOne(ctx context.Context, q queryer, typ, id string) (*fhir.Resource, error) {
	rows, err := q.QueryContext(ctx, readSQL, typ, id)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", typ, id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read %s/%s: %w", typ, id, err)
		}
		return nil, ErrNotFound
	}
	r, _, err := scanResource(rows, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", typ, id, err)
	}
	return r, rows.Err()
}

// VRead implements Store.
func (db *DB) VRead(ctx context.Context, typ, id string, version int64) (*fhir.Resource, error) {
	r, err := db.Read(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if r.Version == version {
		return r, nil
	}
	if version > r.Version || version < 1 {
		return nil, ErrNotFound
	}
	rows, err := db.read.QueryContext(ctx, `SELECT r.rid, r.type, r.id, r.version, r.last_updated, r.deleted, r.method, r.content
		FROM resource_history r WHERE r.rid = (SELECT rid FROM resource WHERE type = $1 AND id = $2) AND r.version = $3`, typ, id, version)
	if err != nil {
		return nil, fmt.Errorf("vread %s/%s/_history/%d: %w", typ, id, version, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, ErrNotFound
	}
	res, _, err := scanResource(rows, nil)
	if err != nil {
		return nil, fmt.Errorf("vread %s/%s/_history/%d: %w", typ, id, version, err)
	}
	return res, rows.Err()
}

// scanResource reads the standard resource columns, then any extra columns
// into extra.
func scanResource(rows *sql.Rows, extra []any) (*fhir.Resource, int64, error) {
	var (
		r       fhir.Resource
		rid, lu int64
		content []byte
		deleted any
	)
	dest := append([]any{&rid, &r.Type, &r.ID, &r.Version, &lu, &deleted, &r.Method, &content}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return nil, 0, err
	}
	r.LastUpdated = time.UnixMicro(lu).UTC()
	r.Deleted = truthy(deleted)
	r.Body = content
	return &r, rid, nil
}

// truthy reads a boolean column of either dialect (bool or 0/1).
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		return v != 0
	case []byte:
		return string(v) == "1" || string(v) == "t" || string(v) == "true"
	}
	return false
}

// History implements Store: the current versions and the earlier ones,
// merged newest first.
func (db *DB) History(ctx context.Context, q HistoryQuery) ([]*fhir.Resource, error) {
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	// Which resources: filtered inside both halves of the union.
	var inner []string
	if q.Only != nil {
		// Its arguments go first, so its $1…$n keep their numbers.
		args = append(args, q.Only.Args...)
		inner = append(inner, "rid IN ("+q.Only.SQL+")")
	}
	if q.Type != "" {
		inner = append(inner, "type = "+arg(q.Type))
	}
	if q.ID != "" {
		inner = append(inner, "id = "+arg(q.ID))
	}
	cond := ""
	if len(inner) > 0 {
		cond = " WHERE " + strings.Join(inner, " AND ")
	}
	cols := "rid, type, id, version, last_updated, deleted, method, content"
	source := fmt.Sprintf(`SELECT %[1]s FROM resource%[2]s UNION ALL SELECT %[1]s FROM resource_history%[2]s`, cols, cond)
	// Which versions: filtered on the merged list.
	var outer []string
	if !q.AtTo.IsZero() {
		// A version was current from its last_updated until the next
		// version's; keep those overlapping [AtFrom, AtTo].
		source = fmt.Sprintf(`SELECT %[1]s, LEAD(last_updated) OVER (PARTITION BY rid ORDER BY version) AS next_lu FROM (%[2]s) a`, cols, source)
		outer = append(outer, "last_updated <= "+arg(q.AtTo.UnixMicro()),
			"(next_lu IS NULL OR next_lu >= "+arg(q.AtFrom.UnixMicro())+")")
	}
	if !q.Since.IsZero() {
		outer = append(outer, "last_updated >= "+arg(q.Since.UnixMicro()))
	}
	if k := q.After; k != nil {
		lu, rid, ver := arg(k.LastUpdated), arg(k.RID), arg(k.Version)
		outer = append(outer, fmt.Sprintf("(last_updated < %[1]s OR (last_updated = %[1]s AND (rid < %[2]s OR (rid = %[2]s AND version < %[3]s))))", lu, rid, ver))
	}
	where := ""
	if len(outer) > 0 {
		where = " WHERE " + strings.Join(outer, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query := fmt.Sprintf(`SELECT %s FROM (%s) r%s ORDER BY last_updated DESC, rid DESC, version DESC LIMIT %s`, cols, source, where, arg(limit))
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	var out []*fhir.Resource
	for rows.Next() {
		r, rid, err := scanResource(rows, nil)
		if err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		r.RID = rid
		out = append(out, r)
	}
	return out, rows.Err()
}

// Query implements Store.
func (db *DB) Query(ctx context.Context, st search.Statement, fn func(Row) error) error {
	return runQuery(ctx, db.read, st, fn)
}

func runQuery(ctx context.Context, q queryer, st search.Statement, fn func(Row) error) error {
	rows, err := q.QueryContext(ctx, st.SQL, st.Args...)
	if err != nil {
		return fmt.Errorf("search query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("search query: %w", err)
	}
	nextra := len(cols) - 8
	for rows.Next() {
		extra := make([]any, nextra)
		ptrs := make([]any, nextra)
		for i := range extra {
			ptrs[i] = &extra[i]
		}
		r, rid, err := scanResource(rows, ptrs)
		if err != nil {
			return fmt.Errorf("search query: scan: %w", err)
		}
		if err := fn(Row{RID: rid, Resource: r, Sort: extra}); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Count implements Store.
func (db *DB) Count(ctx context.Context, st search.Statement) (int64, error) {
	var n int64
	if err := db.read.QueryRowContext(ctx, st.SQL, st.Args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("search count: %w", err)
	}
	return n, nil
}

// MaxAttempts bounds how often a write transaction is retried after a
// serialization failure or deadlock.
const MaxAttempts = 5

// Write implements Store.
func (db *DB) Write(ctx context.Context, fn func(Tx) error) error {
	var err error
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		err = db.writeOnce(ctx, fn)
		if err == nil || !db.dialect.retryable(err) || ctx.Err() != nil {
			return err
		}
		if db.Log != nil {
			db.Log.Debug("retrying write transaction", "attempt", attempt, "err", err)
		}
		time.Sleep(time.Duration(attempt*attempt) * 5 * time.Millisecond)
	}
	return err
}

func (db *DB) writeOnce(ctx context.Context, fn func(Tx) error) (err error) {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(&tx{tx: sqlTx, d: db.dialect}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type tx struct {
	tx *sql.Tx
	d  dialect
}

// committed reports whether version v of a new resource is in the
// database. A statement outside a transaction commits as it ends; when its
// context is cancelled at that moment the driver reports the cancellation
// although the row is there, and "nothing was written" would be false.
// The id is fresh, so the row being there means this statement wrote it.
func (db *DB) committed(ctx context.Context, v *Version) bool {
	vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	r, err := readOne(vctx, db.read, v.New.Type, v.New.ID)
	return err == nil && r.Version == v.New.Version && !r.Deleted
}

// directCreator is a dialect that writes a checked create in one statement.
type directCreator interface {
	createChecked(ctx context.Context, v *Version, refs map[string][]string) (map[string]bool, bool, error)
}

// CreateChecked implements Store: in one statement where the dialect can,
// else in a transaction of its own (a reference check, then the insert).
func (db *DB) CreateChecked(ctx context.Context, v *Version, refs map[string][]string) (live map[string]bool, created bool, err error) {
	if v.Prev != nil {
		return nil, false, fmt.Errorf("create %s/%s: a create has no previous version", v.New.Type, v.New.ID)
	}
	if dc, ok := db.dialect.(directCreator); ok {
		live, created, err = dc.createChecked(ctx, v, refs)
		if err != nil && ctx.Err() != nil && db.committed(ctx, v) {
			// The request's context ended while the statement ran, but
			// the statement had committed: the create happened.
			return nil, true, nil
		}
		if err != nil {
			err = fmt.Errorf("create %s/%s: %w", v.New.Type, v.New.ID, err)
		}
		return live, created, err
	}
	err = db.Write(ctx, func(t Tx) error {
		live, created = map[string]bool{}, false
		missing := false
		for typ, ids := range refs {
			m, err := t.LiveMany(ctx, typ, ids)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if m[id] {
					live[typ+"/"+id] = true
				} else {
					missing = true
				}
			}
		}
		if missing {
			return nil
		}
		created = true
		return t.Put(ctx, v)
	})
	return live, created, err
}

// lockKey maps a lock name to the 64-bit key advisory locks take.
func lockKey(key string) int64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int64(h.Sum64())
}

func (t *tx) Lock(ctx context.Context, key string) error {
	if err := t.d.lock(ctx, t.tx, lockKey(key)); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	return nil
}

func (t *tx) Current(ctx context.Context, typ, id string) (*fhir.Resource, error) {
	r, err := readOne(ctx, t.tx, typ, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return r, err
}

func (t *tx) Live(ctx context.Context, typ, id string) (bool, error) {
	var deleted any
	err := t.tx.QueryRowContext(ctx, t.d.liveSQL(), typ, id).Scan(&deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check %s/%s exists: %w", typ, id, err)
	}
	return !truthy(deleted), nil
}

func (t *tx) Put(ctx context.Context, v *Version) error {
	if err := t.d.put(ctx, t.tx, v); err != nil {
		return fmt.Errorf("write %s/%s version %d: %w", v.New.Type, v.New.ID, v.New.Version, err)
	}
	return nil
}

// PutMany writes many versions: creates together in one statement where
// the dialect can, updates one by one.
func (t *tx) PutMany(ctx context.Context, vs []*Version) error {
	var creates []*Version
	for _, v := range vs {
		if v.Prev != nil {
			if err := t.Put(ctx, v); err != nil {
				return err
			}
			continue
		}
		creates = append(creates, v)
	}
	if len(creates) == 0 {
		return nil
	}
	if err := t.d.createMany(ctx, t.tx, creates); err != nil {
		return fmt.Errorf("create %d resources: %w", len(creates), err)
	}
	return nil
}

func (t *tx) ReferencedBy(ctx context.Context, typ, id string) (string, error) {
	var rt, rid string
	err := t.tx.QueryRowContext(ctx, `SELECT r.type, r.id FROM idx_ref x JOIN resource r ON r.rid = x.rid
		WHERE x.ref_id = $1 AND x.ref_type = $2 AND NOT (r.type = $2 AND r.id = $1) LIMIT 1`, id, typ).Scan(&rt, &rid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find references to %s/%s: %w", typ, id, err)
	}
	return rt + "/" + rid, nil
}

func (t *tx) Query(ctx context.Context, st search.Statement, fn func(Row) error) error {
	return runQuery(ctx, t.tx, st, fn)
}

// Ping checks the database answers (readiness).
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

// Pools returns the connection pools for metrics (read, write; the same
// pool twice on PostgreSQL).
func (db *DB) Pools() (read, write *sql.DB) { return db.read, db.write }

// Empty reports whether no resource was ever stored.
func (db *DB) Empty(ctx context.Context) (bool, error) {
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM resource LIMIT 1) x`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check for resources: %w", err)
	}
	return n == 0, nil
}
