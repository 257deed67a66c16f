package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/immunis/immunis/search"
)

// BulkCandidate is a resource version that a search must judge although it
// is not (or no longer) the current one: its index rows are extracted from
// its content by the caller.
type BulkCandidate struct {
	RID         int64
	Type, ID    string
	Version     int64
	LastUpdated int64 // microseconds
	Index       *search.Index
}

// bulkShadowTables are the tables compiled searches read. Match shadows
// them with temporary tables of the same names, which both databases look
// up before the real ones.
var bulkShadowTables = []string{"resource", "idx_token", "idx_string", "idx_date", "idx_ref",
	"idx_number", "idx_quantity", "idx_uri", "compartment"}

// Match runs compiled rid statements (search.Compiler.Matches) over the
// candidates alone and returns the rids that any of them selects. This is
// how an export applies _typeFilter and granular scopes to versions of its
// snapshot that are no longer current, with the very SQL a search runs:
// on one connection, temporary tables named like the real ones hold only
// the candidates and their index rows, and are dropped when done.
func (b *BulkStore) Match(ctx context.Context, cands []BulkCandidate, sts []search.Statement) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(cands) == 0 || len(sts) == 0 {
		return out, nil
	}
	conn, err := b.db.read.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("bulk match: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("bulk match: %w", err)
	}
	// Rolling back drops the temporary tables (created in this transaction).
	defer tx.Rollback()
	sqlite := b.db.dialect.name() == search.SQLite
	for _, t := range bulkShadowTables {
		src := t // PostgreSQL resolves it before the temporary table exists
		if sqlite {
			src = "main." + t
		}
		if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE "+t+" AS SELECT * FROM "+src+" WHERE 1 = 0"); err != nil {
			return nil, fmt.Errorf("bulk match: shadow %s: %w", t, err)
		}
	}
	ins := &bulkInserter{}
	for _, c := range cands {
		ins.row("resource", "rid, type, id, version, last_updated, deleted, method", c.RID, c.Type, c.ID, c.Version, c.LastUpdated, false, "")
		ix := c.Index
		if ix == nil {
			continue
		}
		for _, r := range ix.Tokens {
			ins.row("idx_token", "rid, param, system, code, text", c.RID, r.Param, r.System, r.Code, r.Text)
		}
		for _, r := range ix.Strings {
			ins.row("idx_string", "rid, param, norm, exact", c.RID, r.Param, r.Norm, r.Exact)
		}
		for _, r := range ix.Dates {
			ins.row("idx_date", "rid, param, lo, hi", c.RID, r.Param, r.Lo, r.Hi)
		}
		for _, r := range ix.Refs {
			ins.row("idx_ref", "rid, param, ref_type, ref_id, url", c.RID, r.Param, r.Type, r.ID, r.URL)
		}
		for _, r := range ix.Numbers {
			ins.row("idx_number", "rid, param, value, lo, hi", c.RID, r.Param, r.Value, r.Lo, r.Hi)
		}
		for _, r := range ix.Quantities {
			ins.row("idx_quantity", "rid, param, system, code, value, lo, hi", c.RID, r.Param, r.System, r.Code, r.Value, r.Lo, r.Hi)
		}
		for _, r := range ix.URIs {
			ins.row("idx_uri", "rid, param, uri", c.RID, r.Param, r.URI)
		}
		for _, p := range ix.Compartments {
			ins.row("compartment", "rid, patient_id", c.RID, p)
		}
	}
	for _, st := range ins.statements() {
		if _, err := tx.ExecContext(ctx, st.SQL, st.Args...); err != nil {
			return nil, fmt.Errorf("bulk match: fill: %w", err)
		}
	}
	for _, st := range sts {
		rows, err := tx.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, fmt.Errorf("bulk match: %w", err)
		}
		for rows.Next() {
			var rid int64
			if err := rows.Scan(&rid); err != nil {
				rows.Close()
				return nil, fmt.Errorf("bulk match: %w", err)
			}
			out[rid] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("bulk match: %w", err)
		}
	}
	return out, nil
}

// bulkInserter gathers rows per table into multi-row INSERTs, chunked to
// stay under the bind argument limits of both databases.
type bulkInserter struct {
	order  []string
	cols   map[string]string
	values map[string][][]any
}

func (in *bulkInserter) row(table, cols string, vals ...any) {
	if in.cols == nil {
		in.cols, in.values = map[string]string{}, map[string][][]any{}
	}
	if _, ok := in.cols[table]; !ok {
		in.order = append(in.order, table)
		in.cols[table] = cols
	}
	in.values[table] = append(in.values[table], vals)
}

func (in *bulkInserter) statements() []search.Statement {
	const maxArgs = 900 // SQLite's default limit is 999 (older builds)
	var out []search.Statement
	for _, t := range in.order {
		rows := in.values[t]
		for len(rows) > 0 {
			width := len(rows[0])
			n := min(len(rows), max(1, maxArgs/width))
			var b strings.Builder
			var args []any
			b.WriteString("INSERT INTO " + t + " (" + in.cols[t] + ") VALUES ")
			for i, r := range rows[:n] {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('(')
				for j, v := range r {
					if j > 0 {
						b.WriteByte(',')
					}
					args = append(args, v)
					b.WriteString("$" + strconv.Itoa(len(args)))
				}
				b.WriteByte(')')
			}
			out = append(out, search.Statement{SQL: b.String(), Args: args})
			rows = rows[n:]
		}
	}
	return out
}
