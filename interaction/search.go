package interaction

import (
	"context"
	"net/url"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// SearchRequest is a type-level search (GET or POST _search) or a
// compartment search (Patient/{id}/{type}).
type SearchRequest struct {
	Type        string
	Params      url.Values
	Compartment string // Patient id for Patient/{id}/{type}
	Handling    search.Handling
}

// Search implements search (search.html): parse, compile to SQL, run, and
// page by keyset behind an opaque cursor.
func (s *Service) Search(ctx context.Context, req SearchRequest) (*fhir.Bundle, error) {
	if err := s.CheckType(req.Type); err != nil {
		return nil, err
	}
	q, err := s.Registry.Parse(req.Type, req.Params, req.Handling)
	if err != nil {
		return nil, err
	}
	path := req.Type
	if req.Compartment != "" {
		if !fhir.ValidID(req.Compartment) {
			return nil, notFoundResource("Patient", req.Compartment)
		}
		q.Compartment = req.Compartment
		path = "Patient/" + req.Compartment + "/" + req.Type
	}
	b := fhir.NewBundle("searchset")
	b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: s.link(path, q.Kept, "")})

	if q.Summary == "count" || q.Total == "accurate" || q.Total == "estimate" {
		st, err := s.Compiler.Count(q)
		if err != nil {
			return nil, fhir.Invalid("IMM-SRCH-002", "", "%v", err)
		}
		n, err := s.Store.Count(ctx, st)
		if err != nil {
			return nil, storeErr(err)
		}
		b.Total = &n
		if q.Summary == "count" {
			return b, nil
		}
	}
	st, err := s.Compiler.Page(q)
	if err != nil {
		return nil, fhir.Invalid("IMM-SRCH-002", "", "%v", err)
	}
	var rows []store.Row
	err = s.Store.Query(ctx, st, func(r store.Row) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	if len(rows) > q.Count {
		rows = rows[:q.Count]
		last := rows[len(rows)-1]
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", URL: s.link(path, q.Kept, search.EncodeCursor(search.Cursor{RID: last.RID}))})
	} else if q.Cursor == nil && b.Total == nil && q.Total != "none" {
		// The whole result is on this page: the total is known for free.
		n := int64(len(rows))
		b.Total = &n
	}
	for _, r := range rows {
		b.Entry = append(b.Entry, fhir.Entry{
			FullURL:  s.BaseURL + "/" + r.Resource.Ref(),
			Resource: r.Resource.Body,
			Search:   &fhir.EntrySearch{Mode: "match"},
		})
	}
	if len(q.Ignored) > 0 {
		b.Entry = append(b.Entry, fhir.Entry{
			Resource: fhir.MustMarshal(fhir.OutcomeObject(q.Ignored)),
			Search:   &fhir.EntrySearch{Mode: "outcome"},
		})
	}
	return b, nil
}

// searchAllInTx runs a search inside a transaction (GET entries of a
// transaction see its own writes); it returns at most one page of MaxCount.
func (s *Service) searchAllInTx(ctx context.Context, tx store.Tx, typ string, values url.Values) ([]*fhir.Resource, error) {
	q, err := s.Registry.Parse(typ, values, search.Strict)
	if err != nil {
		return nil, err
	}
	if q.Count == search.DefaultCount {
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
