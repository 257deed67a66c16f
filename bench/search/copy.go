package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
)

// copyLoad writes the same rows store.Tx.Put would — the resource row and
// the index rows search.Extractor makes for it — with COPY, rids assigned
// here in the order Put would assign them (all Patients, then all
// Immunizations). It exists because a million one-statement writes take
// half an hour on a shared two-core machine; -via put uses the store
// itself.
func copyLoad(ctx context.Context, db *sql.DB, x *search.Extractor, n, per, workers, batch int, log func(string, ...any)) error {
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	err := inBatches(ctx, n, workers, batch, 100000, "copied", log, func(phase, lo, hi int) (int, error) {
		var rows []copyRow
		for i := lo; i < hi; i++ {
			if phase == 0 {
				rows = append(rows, copyRow{rid: int64(i + 1), obj: patient(i)})
				continue
			}
			for k, o := range immunizations(i, per, end) {
				rows = append(rows, copyRow{rid: int64(n + i*per + k + 1), obj: o})
			}
		}
		return len(rows), copyBatch(ctx, db, x, rows, at)
	})
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, `SELECT setval('resource_rid_seq', (SELECT max(rid) FROM resource))`)
	return err
}

type copyRow struct {
	rid int64
	obj map[string]any
}

// copyBatch copies one batch of resources and their index rows in one
// transaction.
func copyBatch(ctx context.Context, db *sql.DB, x *search.Extractor, rows []copyRow, at time.Time) error {
	type table struct {
		name string
		cols []string
		rows [][]any
	}
	res := &table{name: "resource", cols: []string{"rid", "type", "id", "version", "last_updated", "deleted", "method", "content"}}
	tok := &table{name: "idx_token", cols: []string{"rid", "param", "system", "code", "text"}}
	str := &table{name: "idx_string", cols: []string{"rid", "param", "norm", "exact"}}
	dat := &table{name: "idx_date", cols: []string{"rid", "param", "lo", "hi"}}
	ref := &table{name: "idx_ref", cols: []string{"rid", "param", "ref_type", "ref_id", "url"}}
	uri := &table{name: "idx_uri", cols: []string{"rid", "param", "uri"}}
	cmp := &table{name: "compartment", cols: []string{"rid", "patient_id"}}
	for _, r := range rows {
		typ, id := r.obj["resourceType"].(string), r.obj["id"].(string)
		body, err := fhir.Stamp(r.obj, id, 1, at)
		if err != nil {
			return err
		}
		var obj fhir.Object
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			return err
		}
		ix := x.Extract(typ, obj)
		if len(ix.Numbers) > 0 || len(ix.Quantities) > 0 {
			return fmt.Errorf("%s/%s: number and quantity rows are not copied", typ, id)
		}
		res.rows = append(res.rows, []any{r.rid, typ, id, 1, at.UnixMicro(), false, "POST", string(body)})
		for _, t := range ix.Tokens {
			tok.rows = append(tok.rows, []any{r.rid, t.Param, t.System, t.Code, t.Text})
		}
		for _, s := range ix.Strings {
			str.rows = append(str.rows, []any{r.rid, s.Param, s.Norm, s.Exact})
		}
		for _, d := range ix.Dates {
			dat.rows = append(dat.rows, []any{r.rid, d.Param, d.Lo, d.Hi})
		}
		for _, f := range ix.Refs {
			ref.rows = append(ref.rows, []any{r.rid, f.Param, f.Type, f.ID, f.URL})
		}
		for _, u := range ix.URIs {
			uri.rows = append(uri.rows, []any{r.rid, u.Param, u.URI})
		}
		for _, p := range ix.Compartments {
			cmp.rows = append(cmp.rows, []any{r.rid, p})
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, t := range []*table{res, tok, str, dat, ref, uri, cmp} {
		if len(t.rows) == 0 {
			continue
		}
		st, err := tx.PrepareContext(ctx, pq.CopyIn(t.name, t.cols...))
		if err != nil {
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
		for _, row := range t.rows {
			if _, err := st.ExecContext(ctx, row...); err != nil {
				st.Close()
				return fmt.Errorf("copy %s: %w", t.name, err)
			}
		}
		if _, err := st.ExecContext(ctx); err != nil {
			st.Close()
			return fmt.Errorf("copy %s: %w", t.name, err)
		}
		st.Close()
	}
	return tx.Commit()
}
