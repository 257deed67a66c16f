package interaction

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/profiles"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// SearchRequest is a type-level search (GET or POST _search) or a
// compartment search (Patient/{id}/{type}).
type SearchRequest struct {
	Type        string
	Params      url.Values
	Compartment string // Patient id for Patient/{id}/{type}
	// Strict answers unknown or malformed parameters with 400 (Prefer:
	// handling=strict) instead of ignoring them.
	Strict bool
	// Scope is the caller's access restriction (nil: unrestricted); it is
	// compiled into the SQL of the matches and of the includes.
	Scope *search.Scope
}

// Search implements search (search.html): parse, compile to SQL, run one
// page by keyset, then totals, includes and subsetting.
func (s *Service) Search(ctx context.Context, req SearchRequest) (*fhir.Bundle, error) {
	if err := s.CheckType(req.Type); err != nil {
		return nil, err
	}
	if err := s.allow(ctx, auth.InteractionSearchType, req.Type, ""); err != nil { // access.go
		return nil, err
	}
	h := search.Lenient
	if req.Strict {
		h = search.Strict
	}
	q, err := s.Registry.Parse(req.Type, req.Params, h)
	if err != nil {
		return nil, err
	}
	q.Scope = s.withGrantScope(ctx, req.Scope) // the token's scopes, in the SQL (access.go)
	path := req.Type
	if req.Compartment != "" {
		if !fhir.ValidID(req.Compartment) {
			return nil, notFoundResource("Patient", req.Compartment)
		}
		if _, ok := profiles.PatientCompartment[req.Type]; !ok && req.Type != "Patient" {
			return nil, fhir.Invalid("IMM-SRCH-003", "", "%s is not in the Patient compartment", req.Type)
		}
		q.Compartment = req.Compartment
		path = "Patient/" + req.Compartment + "/" + req.Type
	}
	b := fhir.NewBundle("searchset")
	self := ""
	if q.Cursor != nil {
		self = req.Params.Get("_cursor")
	}
	b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: s.link(path, q.Kept, self)})

	if q.Summary == "count" || q.Count == 0 {
		if q.Total != "none" {
			n, err := s.searchTotal(ctx, q, "accurate")
			if err != nil {
				return nil, err
			}
			b.Total = &n
		}
		s.appendIgnored(b, q)
		return b, nil
	}
	page, err := s.searchPage(ctx, q)
	if err != nil {
		return nil, err
	}
	s.pageLinks(b, q, path, page)
	switch {
	case q.Total == "accurate" || q.Total == "estimate":
		n, err := s.searchTotal(ctx, q, q.Total)
		if err != nil {
			return nil, err
		}
		b.Total = &n
	case q.Total == "" && q.Cursor == nil && !page.more:
		// The whole result is on this page: the total is known for free.
		n := int64(len(page.rows))
		b.Total = &n
	}
	for _, r := range page.rows {
		body, err := search.Subset(q, r.Resource.Type, r.Resource.Body)
		if err != nil {
			return nil, fhir.Internal(err)
		}
		b.Entry = append(b.Entry, fhir.Entry{
			FullURL:  s.BaseURL + "/" + r.Resource.Ref(),
			Resource: body,
			Search:   &fhir.EntrySearch{Mode: "match"},
		})
	}
	included, issues, err := s.searchIncludes(ctx, q, page.rows)
	if err != nil {
		return nil, err
	}
	for _, r := range included {
		b.Entry = append(b.Entry, fhir.Entry{
			FullURL:  s.BaseURL + "/" + r.Resource.Ref(),
			Resource: r.Resource.Body,
			Search:   &fhir.EntrySearch{Mode: "include"},
		})
	}
	q.Ignored = append(q.Ignored, issues...)
	s.appendIgnored(b, q)
	return b, nil
}

// appendIgnored adds the outcome entry listing what was ignored.
func (s *Service) appendIgnored(b *fhir.Bundle, q *search.Query) {
	if len(q.Ignored) > 0 {
		b.Entry = append(b.Entry, fhir.Entry{
			Resource: fhir.MustMarshal(fhir.OutcomeObject(q.Ignored)),
			Search:   &fhir.EntrySearch{Mode: "outcome"},
		})
	}
}

// searchPage is one page of matches in result order, and whether more
// rows lie beyond it in the direction it was read.
type searchPage struct {
	rows []store.Row
	more bool
}

// searchPage runs the page statement. A previous-page cursor reads
// backwards; the rows are put back in result order.
func (s *Service) searchPage(ctx context.Context, q *search.Query) (*searchPage, error) {
	st, err := s.Compiler.Page(q)
	if err != nil {
		return nil, fhir.Invalid("IMM-SRCH-002", "", "%v", err)
	}
	p := &searchPage{}
	err = s.Store.Query(ctx, st, func(r store.Row) error {
		p.rows = append(p.rows, r)
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if len(p.rows) > q.Count {
		p.rows, p.more = p.rows[:q.Count], true
	}
	if q.Cursor != nil && q.Cursor.Prev {
		slices.Reverse(p.rows)
	}
	return p, nil
}

// pageLinks adds first, previous and next links (search.html "Paging").
// Cursors hold the keyset position of the page's edge rows, so the links
// stay valid while data changes.
func (s *Service) pageLinks(b *fhir.Bundle, q *search.Query, path string, p *searchPage) {
	back := q.Cursor != nil && q.Cursor.Prev
	if q.Cursor != nil || p.more {
		b.Link = append(b.Link, fhir.BundleLink{Relation: "first", URL: s.link(path, q.Kept, "")})
	}
	if len(p.rows) == 0 {
		return
	}
	first, last := p.rows[0], p.rows[len(p.rows)-1]
	if q.Cursor != nil && (!back || p.more) {
		c := search.NewCursor(q, first.RID, first.Sort, true)
		b.Link = append(b.Link, fhir.BundleLink{Relation: "previous", URL: s.link(path, q.Kept, search.EncodeCursor(c))})
	}
	if back || p.more {
		c := search.NewCursor(q, last.RID, last.Sort, false)
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", URL: s.link(path, q.Kept, search.EncodeCursor(c))})
	}
}

// estimator is implemented by stores whose planner can estimate a result
// size without counting it (PostgreSQL).
type estimator interface {
	Estimate(ctx context.Context, st search.Statement) (int64, error)
}

// searchTotal counts the matches (accurate) or asks the planner
// (estimate; stores without one count).
func (s *Service) searchTotal(ctx context.Context, q *search.Query, mode string) (int64, error) {
	if est, ok := s.Store.(estimator); ok && mode == "estimate" {
		st, err := s.Compiler.Matches(q)
		if err != nil {
			return 0, fhir.Invalid("IMM-SRCH-002", "", "%v", err)
		}
		n, err := est.Estimate(ctx, st)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, store.ErrNoEstimate) {
			return 0, storeErr(err)
		}
	}
	st, err := s.Compiler.Count(q)
	if err != nil {
		return 0, fhir.Invalid("IMM-SRCH-002", "", "%v", err)
	}
	n, err := s.Store.Count(ctx, st)
	if err != nil {
		return 0, storeErr(err)
	}
	return n, nil
}

// searchAllInTx runs a search inside a transaction (GET entries of a
// transaction see its own writes); it returns at most one page of MaxCount.
func (s *Service) searchAllInTx(ctx context.Context, tx store.Tx, typ string, values url.Values) ([]*fhir.Resource, error) {
	q, err := s.Registry.Parse(typ, values, search.Strict)
	if err != nil {
		return nil, err
	}
	q.Scope = s.scope(ctx, auth.PermSearch) // access.go
	if values.Get("_count") == "" {
		q.Count = search.MaxCount
	}
	st, err := s.Compiler.Page(q)
	if err != nil {
		return nil, fhir.Invalid("IMM-SRCH-002", "", "%v", err)
	}
	var out []*fhir.Resource
	err = tx.Query(ctx, st, func(r store.Row) error {
		if len(out) < q.Count {
			out = append(out, r.Resource)
		}
		return nil
	})
	return out, err
}
