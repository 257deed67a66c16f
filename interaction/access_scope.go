package interaction

import (
	"context"
	"errors"
	"net/url"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// The resource side of access (see access.go): a grant's clauses as a
// search.Scope compiled into SQL, and the checks of one resource or one
// version against it.

// scope is the search.Scope of permission p over every supported type: the
// clauses a query compiles into SQL. It is nil when nothing is restricted
// (no authorization, or every type unrestricted), so unrestricted searches
// cost nothing.
func (s *Service) scope(ctx context.Context, p auth.Permission) *search.Scope {
	if s.Access == nil {
		return nil
	}
	g := GrantFrom(ctx)
	sc := &search.Scope{Types: map[string][]search.ScopeClause{}}
	if g == nil {
		return sc // allows nothing
	}
	restricted := false
	for _, typ := range s.Registry.Types() {
		a := g.Access(typ, p)
		if !a.Allowed {
			restricted = true
			continue
		}
		if a.Unrestricted() {
			sc.Types[typ] = []search.ScopeClause{{}}
			continue
		}
		restricted = true
		var clauses []search.ScopeClause
		for _, c := range a.Clauses {
			cl, ok := s.scopeClause(typ, c)
			if ok {
				clauses = append(clauses, cl)
			}
		}
		if len(clauses) > 0 {
			sc.Types[typ] = clauses
		}
	}
	if !restricted {
		return nil
	}
	return sc
}

// withGrantScope narrows a search's own scope (nil: none) by the grant's
// scope for s.
func (s *Service) withGrantScope(ctx context.Context, sc *search.Scope) *search.Scope {
	return search.Intersect(sc, s.scope(ctx, auth.PermSearch))
}

// scopeClause compiles one clause of an access. A granular query this
// server cannot run exactly (an unknown parameter, a result parameter such
// as _include) drops the clause: a malformed scope never widens access.
func (s *Service) scopeClause(typ string, c auth.Clause) (search.ScopeClause, bool) {
	cl := search.ScopeClause{Patient: c.Patient}
	if len(c.Query) == 0 {
		return cl, true
	}
	q, err := s.Registry.Parse(typ, c.Query, search.Strict)
	if err != nil || len(q.Filters) == 0 || len(q.Include) > 0 || len(q.RevInclude) > 0 ||
		len(q.Sort) > 0 || q.Summary != "" || len(q.Elements) > 0 || q.Cursor != nil || q.Total != "" {
		return search.ScopeClause{}, false
	}
	for _, f := range q.Filters {
		// A chain or _has in a scope would itself be bounded by the scopes
		// of other types, which may chain back: refused, so compiling a
		// scope always ends.
		if f.Next != nil || f.Has != nil || len(f.Any) > 0 {
			return search.ScopeClause{}, false
		}
	}
	cl.Filters = q.Filters
	return cl, true
}

// querier runs compiled statements: the store, or a write transaction
// (which sees its own writes).
type querier interface {
	Query(ctx context.Context, st search.Statement, fn func(store.Row) error) error
}

// within reports whether the current, live version of typ/id is one that
// sc allows, by the same SQL a search runs.
func (s *Service) within(ctx context.Context, db querier, sc *search.Scope, typ, id string) (bool, error) {
	if sc == nil || unrestricted(sc, typ) {
		return true, nil
	}
	q, err := s.Registry.Parse(typ, url.Values{"_id": {id}}, search.Strict)
	if err != nil {
		return false, nil // not a valid id: nothing to allow
	}
	q.Scope, q.Count = sc, 1
	st, err := s.Compiler.Page(q)
	if err != nil {
		return false, fhir.Internal(err)
	}
	found := false
	err = db.Query(ctx, st, func(store.Row) error {
		found = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return found, nil
}

// unrestricted reports whether sc lets every resource of typ through (a
// clause with neither patient nor filters), so no query need ask.
func unrestricted(sc *search.Scope, typ string) bool {
	for _, cl := range sc.Types[typ] {
		if cl.Patient == "" && len(cl.Filters) == 0 {
			return true
		}
	}
	return false
}

// versionWithin judges one stored version from its content (see
// search.Scope.AllowsIndex). A deletion has no content: callers judge the
// version before it.
func (s *Service) versionWithin(sc *search.Scope, r *fhir.Resource) bool {
	if sc == nil {
		return true
	}
	if r.Deleted || len(r.Body) == 0 {
		return false
	}
	obj, err := fhir.DecodeStrict(r.Body)
	if err != nil {
		return false
	}
	ix := s.Extractor.Extract(r.Type, obj)
	return sc.AllowsIndex(r.Type, r.ID, &ix)
}

// visible reports whether the token may see the resource whose current
// version is cur, and its version v (nil: cur itself) — for read, vread
// and instance history (permission r) and transaction GET entries. The
// resource counts by its current version when live, else by the version
// its deletion replaced; an earlier version v must itself be allowed too.
// A refusal is audited; callers answer it as they answer an id or version
// that does not exist.
func (s *Service) visible(ctx context.Context, db querier, in auth.Interaction, cur, v *fhir.Resource) (bool, error) {
	if s.Access == nil {
		return true, nil
	}
	sc := s.scope(ctx, in.Permission())
	if sc == nil {
		return true, nil
	}
	ok, err := s.currentWithin(ctx, db, sc, cur)
	if err != nil {
		return false, storeErr(err)
	}
	if ok && v != nil && v.Version != cur.Version && !v.Deleted {
		ok = s.versionWithin(sc, v)
	}
	if !ok {
		s.audit(ctx, GrantFrom(ctx), in, "", cur.Type, cur.ID, false, "outside the token's patient compartment or granular scopes")
	}
	return ok, nil
}

// currentWithin judges a resource by its current version cur (read
// through db, which may be a transaction that wrote it).
func (s *Service) currentWithin(ctx context.Context, db querier, sc *search.Scope, cur *fhir.Resource) (bool, error) {
	if !cur.Deleted {
		return s.within(ctx, db, sc, cur.Type, cur.ID)
	}
	if cur.Version < 2 {
		return false, nil
	}
	prev, err := s.Store.VRead(ctx, cur.Type, cur.ID, cur.Version-1)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.versionWithin(sc, prev), nil
}

// typesScope returns the rids statement of what sc allows among types, for
// history; nil when nothing is restricted.
func (s *Service) typesScope(sc *search.Scope, types []string) (*search.Statement, error) {
	if sc == nil {
		return nil, nil
	}
	st, err := s.Compiler.ScopeRIDs(sc, types)
	if err != nil {
		return nil, fhir.Internal(err)
	}
	return &st, nil
}
