package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/lib/pq"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
)

// Batch operations for bulk loading: one statement for many resources
// instead of one round trip each.

// batchChunk bounds the bind arguments of one IN list.
const batchChunk = 500

// LockMany takes the locks of keys in a fixed (sorted) order, so that two
// batches never deadlock on each other.
func (t *tx) LockMany(ctx context.Context, keys []string) error {
	if t.d.name() == search.SQLite || len(keys) == 0 {
		return nil
	}
	ks := make([]int64, 0, len(keys))
	seen := map[int64]bool{}
	for _, k := range keys {
		h := lockKey(k)
		if !seen[h] {
			seen[h] = true
			ks = append(ks, h)
		}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	if pg, ok := t.d.(*postgres); ok {
		// One prepared statement whatever the count: an ad-hoc VALUES list
		// of 500 would be parsed and planned for every batch.
		st, err := pg.stmt(ctx, t.tx, pgLockMany)
		if err == nil {
			_, err = st.ExecContext(ctx, pq.Array(ks))
		}
		if err != nil {
			return fmt.Errorf("lock %d resources: %w", len(ks), err)
		}
		return nil
	}
	for start := 0; start < len(ks); start += batchChunk {
		chunk := ks[start:min(start+batchChunk, len(ks))]
		args := make([]any, len(chunk))
		ph := make([]string, len(chunk))
		for i, k := range chunk {
			args[i] = k
			ph[i] = fmt.Sprintf("($%d::bigint, %d)", i+1, i)
		}
		q := `SELECT pg_advisory_xact_lock(k) FROM (VALUES ` + strings.Join(ph, ", ") + `) v(k, n) ORDER BY n`
		if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("lock %d resources: %w", len(chunk), err)
		}
	}
	return nil
}

// CurrentMany reads the current versions of typ/ids; missing ids are absent
// from the map.
func (t *tx) CurrentMany(ctx context.Context, typ string, ids []string) (map[string]*fhir.Resource, error) {
	out := make(map[string]*fhir.Resource, len(ids))
	err := t.eachByID(ctx, search.ResourceColumns, typ, ids, func(rows *sql.Rows) error {
		r, _, err := scanResource(rows, nil)
		if err == nil {
			out[r.ID] = r
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read %d %s: %w", len(ids), typ, err)
	}
	return out, nil
}

// LiveMany reports which of typ/ids exist and are not deleted, keeping them
// from being deleted until the transaction ends (like Live): PostgreSQL
// locks the rows FOR SHARE in one prepared statement; the embedded store
// has one writer, so reading them is enough.
func (t *tx) LiveMany(ctx context.Context, typ string, ids []string) (map[string]bool, error) {
	if pg, ok := t.d.(*postgres); ok {
		m, err := pg.liveMany(ctx, t.tx, typ, ids)
		if err != nil {
			return nil, fmt.Errorf("check %d %s exist: %w", len(ids), typ, err)
		}
		return m, nil
	}
	out := make(map[string]bool, len(ids))
	err := t.eachByID(ctx, "r.id, r.deleted", typ, ids, func(rows *sql.Rows) error {
		var id string
		var deleted any
		err := rows.Scan(&id, &deleted)
		out[id] = !truthy(deleted)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("check %d %s exist: %w", len(ids), typ, err)
	}
	return out, nil
}

// pgLockMany takes advisory locks in the order of the (sorted) array.
const pgLockMany = `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) WITH ORDINALITY AS v(k, n) ORDER BY n`

// eachByID selects cols of the resources typ/ids and calls scan per row:
// on PostgreSQL with one prepared statement taking the ids as an array, on
// SQLite in IN lists of at most batchChunk ids.
func (t *tx) eachByID(ctx context.Context, cols, typ string, ids []string, scan func(*sql.Rows) error) error {
	if pg, ok := t.d.(*postgres); ok {
		st, err := pg.stmt(ctx, t.tx, `SELECT `+cols+` FROM resource r WHERE r.type = $1 AND r.id = ANY($2::text[])`)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, typ, pq.Array(ids))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	for start := 0; start < len(ids); start += batchChunk {
		chunk := ids[start:min(start+batchChunk, len(ids))]
		args := []any{typ}
		ph := make([]string, len(chunk))
		for i, id := range chunk {
			args = append(args, id)
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		rows, err := t.tx.QueryContext(ctx, `SELECT `+cols+` FROM resource r WHERE r.type = $1 AND r.id IN (`+strings.Join(ph, ", ")+`)`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
