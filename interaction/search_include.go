package interaction

import (
	"context"
	"errors"
	"fmt"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// Limits of _include/_revinclude: rounds of :iterate, and resources added
// to one page (search.html lets a server stop early; it then says so in an
// outcome entry).
const (
	maxIncludeRounds = 4
	maxIncluded      = 5000
	// includeChunk bounds the ids bound into one include statement.
	includeChunk = 500
)

// searchIncludes reads the resources _include and _revinclude add to a
// page of matches: first from the matches, then, for :iterate, from what
// the previous round added, until nothing new comes or a limit is met.
func (s *Service) searchIncludes(ctx context.Context, q *search.Query, matches []store.Row) ([]store.Row, []fhir.Issue, error) {
	if len(q.Include) == 0 && len(q.RevInclude) == 0 {
		return nil, nil, nil
	}
	seen := map[string]bool{}
	for _, r := range matches {
		seen[r.Resource.Ref()] = true
	}
	var added []store.Row
	frontier := matches
	for round := 0; len(frontier) > 0 && round <= maxIncludeRounds; round++ {
		var next []store.Row
		add := func(r store.Row) error {
			if seen[r.Resource.Ref()] {
				return nil
			}
			if len(added) >= maxIncluded {
				return errIncludeLimit
			}
			seen[r.Resource.Ref()] = true
			added = append(added, r)
			next = append(next, r)
			return nil
		}
		err := s.includeRound(ctx, q, frontier, round > 0, add)
		if errors.Is(err, errIncludeLimit) {
			return added, []fhir.Issue{{
				Severity: fhir.SeverityWarning, Code: fhir.IssueTooCostly, MsgID: "IMM-SRCH-020",
				Diagnostics: fmt.Sprintf("_include/_revinclude stopped after %d resources", maxIncluded),
			}}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		frontier = next
	}
	return added, nil, nil
}

var errIncludeLimit = errors.New("include limit reached")

// includeRound applies the includes to one frontier; after the first round
// only the :iterate ones apply.
func (s *Service) includeRound(ctx context.Context, q *search.Query, frontier []store.Row, iterating bool, add func(store.Row) error) error {
	for _, inc := range q.Include {
		if iterating && !inc.Iterate {
			continue
		}
		var rids []int64
		for _, r := range frontier {
			if r.Resource.Type == inc.Source {
				rids = append(rids, r.RID)
			}
		}
		params := s.Registry.IncludeParams(inc)
		for start := 0; start < len(rids) && len(params) > 0; start += includeChunk {
			st, err := s.Compiler.Include(params, inc.Target, rids[start:min(start+includeChunk, len(rids))], q.Scope)
			if err != nil {
				return fhir.Invalid("IMM-SRCH-002", "", "%v", err)
			}
			if err := s.Store.Query(ctx, st, add); err != nil {
				return includeErr(err)
			}
		}
	}
	for _, inc := range q.RevInclude {
		if iterating && !inc.Iterate {
			continue
		}
		// the frontier's resources, by type, that the parameters can reference
		byType := map[string][]string{}
		var types []string
		for _, r := range frontier {
			t := r.Resource.Type
			if inc.Target != "" && t != inc.Target {
				continue
			}
			if _, ok := byType[t]; !ok {
				types = append(types, t)
			}
			byType[t] = append(byType[t], r.Resource.ID)
		}
		for _, t := range types {
			params := referencing(s.Registry.IncludeParams(inc), t)
			ids := byType[t]
			for start := 0; start < len(ids) && len(params) > 0; start += includeChunk {
				st, err := s.Compiler.RevInclude(inc.Source, params, t, ids[start:min(start+includeChunk, len(ids))], q.Scope)
				if err != nil {
					return fhir.Invalid("IMM-SRCH-002", "", "%v", err)
				}
				if err := s.Store.Query(ctx, st, add); err != nil {
					return includeErr(err)
				}
			}
		}
	}
	return nil
}

// referencing keeps the parameters that can reference typ.
func referencing(params []*search.Param, typ string) []*search.Param {
	var out []*search.Param
	for _, p := range params {
		if len(p.Targets) == 0 {
			out = append(out, p)
			continue
		}
		for _, t := range p.Targets {
			if t == typ {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func includeErr(err error) error {
	if errors.Is(err, errIncludeLimit) {
		return err
	}
	return storeErr(err)
}
