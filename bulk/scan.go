package bulk

import (
	"context"
	"fmt"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// window is how many rows are held back, in order, while rows that need a
// check (changed since the snapshot) wait to be judged together.
const window = 256

// each streams the resources of the plan with rid in (after, upto] (upto 0
// is unbounded) to fn in rid order: the rows the database filtered, and
// the rows it could not filter once judged here. fn's row is valid only
// during the call. Memory stays within one window of rows.
func (m *Manager) each(ctx context.Context, p *plan, after, upto int64, content bool, fn func(*store.BulkRow) error) error {
	if p.empty {
		return nil
	}
	scan := p.scan
	scan.After, scan.Upto, scan.Content = after, upto, content
	var held []*store.BulkRow
	checks := 0
	flush := func() error {
		if checks > 0 {
			if err := m.judge(ctx, p, held); err != nil {
				return err
			}
		}
		for _, r := range held {
			if !r.Check { // passed: judge clears Check on what it accepts
				if err := fn(r); err != nil {
					return err
				}
			}
		}
		held, checks = held[:0], 0
		return nil
	}
	err := m.Store.Scan(ctx, scan, func(r *store.BulkRow) error {
		if len(held) == 0 && !r.Check {
			return fn(r) // the common case: nothing to wait for
		}
		c := *r
		c.Content = append([]byte(nil), r.Content...)
		held = append(held, &c)
		if c.Check {
			checks++
		}
		if len(held) >= window {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// judge decides the held rows that need a check against the plan's
// compartment and search restrictions, from the content of their snapshot
// version: accepted rows get Check cleared, rejected ones keep it.
func (m *Manager) judge(ctx context.Context, p *plan, rows []*store.BulkRow) error {
	var cands []store.BulkCandidate
	for _, r := range rows {
		if !r.Check {
			continue
		}
		if len(r.Content) == 0 {
			continue // nothing to judge by: left out
		}
		obj, err := fhir.DecodeStrict(r.Content)
		if err != nil {
			return fmt.Errorf("export of %s/%s: stored content: %w", p.Type, r.ID, err)
		}
		ix := m.Extractor.Extract(p.Type, obj)
		if p.scan.InCompartment && !inCompartment(ix.Compartments, p.patients) {
			continue
		}
		if len(p.scan.Match) == 0 {
			r.Check = false
			continue
		}
		cands = append(cands, store.BulkCandidate{RID: r.RID, Type: p.Type, ID: r.ID, Version: r.Version,
			LastUpdated: r.LastUpdated.UnixMicro(), Index: &ix})
	}
	if len(cands) == 0 {
		return nil
	}
	ok, err := m.Store.Match(ctx, cands, p.scan.Match)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Check && ok[r.RID] {
			r.Check = false
		}
	}
	return nil
}

// inCompartment reports whether a resource in the compartments of ids is
// in one of patients' (any patient's when patients is nil).
func inCompartment(ids []string, patients map[string]bool) bool {
	if patients == nil {
		return len(ids) > 0
	}
	for _, id := range ids {
		if patients[id] {
			return true
		}
	}
	return false
}
