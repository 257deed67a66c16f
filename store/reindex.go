package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lib/pq"

	"github.com/immunis/immunis/search"
)

// Reindexing (`immunis reindex`): index rows are derived from resource
// content, so they can be rebuilt whenever extraction changes. The
// version of the rows in the database is kept in setting 'index_version'.

// Setting keys of the index version and of an unfinished rebuild.
const (
	SettingIndexVersion   = "index_version"
	SettingReindexCursor  = "reindex_cursor"  // last rid rebuilt
	SettingReindexVersion = "reindex_version" // the version being built
)

// Setting reads a server setting; ok is false when it is not set.
func (db *DB) Setting(ctx context.Context, key string) (value string, ok bool, err error) {
	err = db.read.QueryRowContext(ctx, `SELECT value FROM setting WHERE key = $1`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read setting %s: %w", key, err)
	}
	return value, true, nil
}

// SetSetting writes a server setting.
func (db *DB) SetSetting(ctx context.Context, key, value string) error {
	_, err := db.write.ExecContext(ctx, `INSERT INTO setting (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("write setting %s: %w", key, err)
	}
	return nil
}

// ExtractFunc computes the index rows of one stored resource.
type ExtractFunc func(typ string, content []byte) (*search.Index, error)

// ReindexBatch rebuilds the index rows of up to limit live resources with
// rid > after, in rid order, in one transaction, and returns the last rid
// it visited (0 when none was left) and how many it rebuilt. The
// resources are locked for the transaction (PostgreSQL FOR UPDATE; the
// embedded store has one writer), so a concurrent update cannot be
// overwritten with rows of its previous content.
func (db *DB) ReindexBatch(ctx context.Context, after int64, limit int, extract ExtractFunc) (last int64, n int, err error) {
	err = db.Write(ctx, func(t Tx) error {
		last, n = 0, 0
		tx := t.(*tx)
		lock := ""
		if db.dialect.name() == search.Postgres {
			lock = " FOR UPDATE"
		}
		rows, err := tx.tx.QueryContext(ctx, `SELECT rid, type, content FROM resource
			WHERE rid > $1 AND deleted = `+falseLit(db.dialect.name())+` ORDER BY rid LIMIT $2`+lock, after, limit)
		if err != nil {
			return fmt.Errorf("reindex: read resources: %w", err)
		}
		type item struct {
			rid int64
			ix  *search.Index
		}
		var items []item
		for rows.Next() {
			var (
				rid     int64
				typ     string
				content []byte
			)
			if err := rows.Scan(&rid, &typ, &content); err != nil {
				rows.Close()
				return fmt.Errorf("reindex: %w", err)
			}
			ix, err := extract(typ, content)
			if err != nil {
				rows.Close()
				return fmt.Errorf("reindex %s rid %d: %w", typ, rid, err)
			}
			items = append(items, item{rid, ix})
			last = rid
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
		if len(items) == 0 {
			return nil
		}
		// Every index row of the range goes; deleted resources have none.
		for _, table := range indexTables {
			if _, err := tx.tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE rid > $1 AND rid <= $2`, after, last); err != nil {
				return fmt.Errorf("reindex: clear %s: %w", table, err)
			}
		}
		if db.dialect.name() == search.Postgres {
			rids := make([]int64, len(items))
			ixs := make([]*search.Index, len(items))
			for i, it := range items {
				rids[i], ixs[i] = it.rid, it.ix
			}
			if err := pgInsertIndexBatch(ctx, tx.tx, rids, ixs); err != nil {
				return fmt.Errorf("reindex: %w", err)
			}
		} else {
			for _, it := range items {
				if err := insertIndexRows(ctx, tx.tx, it.rid, it.ix); err != nil {
					return fmt.Errorf("reindex rid %d: %w", it.rid, err)
				}
			}
		}
		n = len(items)
		return nil
	})
	return last, n, err
}

func falseLit(d search.Dialect) string {
	if d == search.SQLite {
		return "0"
	}
	return "false"
}

// pgInsertIndexBatch writes the index rows of many resources with one
// INSERT … unnest per table.
func pgInsertIndexBatch(ctx context.Context, tx *sql.Tx, rids []int64, ixs []*search.Index) error {
	type table struct {
		sql  string
		cols []any
	}
	var (
		tr, sr, dr, rr, nr, qr, ur, cr []int64
		tp, sp, dp, rp, np, qp, up     []int64
		ts, tc, tt, sn, se             []string
		rt, ri, ru, qs, qc, uu, cp     []string
		dl, dh                         []int64
		nv, nl, nh, qv, ql, qh         []float64
	)
	for i, ix := range ixs {
		rid := rids[i]
		for _, r := range ix.Tokens {
			tr, tp, ts, tc, tt = append(tr, rid), append(tp, int64(r.Param)), append(ts, r.System), append(tc, r.Code), append(tt, r.Text)
		}
		for _, r := range ix.Strings {
			sr, sp, sn, se = append(sr, rid), append(sp, int64(r.Param)), append(sn, r.Norm), append(se, r.Exact)
		}
		for _, r := range ix.Dates {
			dr, dp, dl, dh = append(dr, rid), append(dp, int64(r.Param)), append(dl, r.Lo), append(dh, r.Hi)
		}
		for _, r := range ix.Refs {
			rr, rp, rt, ri, ru = append(rr, rid), append(rp, int64(r.Param)), append(rt, r.Type), append(ri, r.ID), append(ru, r.URL)
		}
		for _, r := range ix.Numbers {
			nr, np, nv, nl, nh = append(nr, rid), append(np, int64(r.Param)), append(nv, r.Value), append(nl, r.Lo), append(nh, r.Hi)
		}
		for _, r := range ix.Quantities {
			qr, qp, qs, qc = append(qr, rid), append(qp, int64(r.Param)), append(qs, r.System), append(qc, r.Code)
			qv, ql, qh = append(qv, r.Value), append(ql, r.Lo), append(qh, r.Hi)
		}
		for _, r := range ix.URIs {
			ur, up, uu = append(ur, rid), append(up, int64(r.Param)), append(uu, r.URI)
		}
		for _, p := range ix.Compartments {
			cr, cp = append(cr, rid), append(cp, p)
		}
	}
	tables := []table{
		{`INSERT INTO idx_token (rid, param, system, code, text) SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[])`,
			[]any{pq.Array(tr), pq.Array(tp), pq.Array(ts), pq.Array(tc), pq.Array(tt)}},
		{`INSERT INTO idx_string (rid, param, norm, exact) SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[])`,
			[]any{pq.Array(sr), pq.Array(sp), pq.Array(sn), pq.Array(se)}},
		{`INSERT INTO idx_date (rid, param, lo, hi) SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::bigint[])`,
			[]any{pq.Array(dr), pq.Array(dp), pq.Array(dl), pq.Array(dh)}},
		{`INSERT INTO idx_ref (rid, param, ref_type, ref_id, url) SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[])`,
			[]any{pq.Array(rr), pq.Array(rp), pq.Array(rt), pq.Array(ri), pq.Array(ru)}},
		{`INSERT INTO idx_number (rid, param, value, lo, hi) SELECT * FROM unnest($1::bigint[], $2::int[], $3::float8[], $4::float8[], $5::float8[])`,
			[]any{pq.Array(nr), pq.Array(np), pq.Array(nv), pq.Array(nl), pq.Array(nh)}},
		{`INSERT INTO idx_quantity (rid, param, system, code, value, lo, hi) SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[])`,
			[]any{pq.Array(qr), pq.Array(qp), pq.Array(qs), pq.Array(qc), pq.Array(qv), pq.Array(ql), pq.Array(qh)}},
		{`INSERT INTO idx_uri (rid, param, uri) SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[])`,
			[]any{pq.Array(ur), pq.Array(up), pq.Array(uu)}},
		{`INSERT INTO compartment (rid, patient_id) SELECT * FROM unnest($1::bigint[], $2::text[])`,
			[]any{pq.Array(cr), pq.Array(cp)}},
	}
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, t.sql, t.cols...); err != nil {
			return err
		}
	}
	return nil
}
