package interaction

import (
	"context"
	"errors"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// historyAccess is the door of history at its level (instance: r; type and
// system: s). It narrows q to the resources the token may see, in the SQL
// (type and system level), or checks the one resource (instance level),
// and returns the filter of the listed versions: an earlier version of an
// allowed resource may have lain outside the access (say, in another
// patient's compartment) and is left out. Deletions are kept: their
// resource passed.
func (s *Service) historyAccess(ctx context.Context, typ, id string, q *store.HistoryQuery) (keep func(*fhir.Resource) bool, err error) {
	all := func(*fhir.Resource) bool { return true }
	if s.Access == nil {
		return all, nil
	}
	g := GrantFrom(ctx)
	if g == nil {
		return nil, errNoGrant()
	}
	var sc *search.Scope
	switch {
	case id != "":
		if err := s.allow(ctx, auth.InteractionHistoryInstance, typ, id); err != nil {
			return nil, err
		}
		if sc = s.scope(ctx, auth.PermRead); sc == nil || !fhir.ValidID(id) {
			return all, nil
		}
		cur, err := s.Store.Read(ctx, typ, id)
		if errors.Is(err, store.ErrNotFound) {
			return all, nil // History answers 404
		}
		if err != nil {
			return nil, storeErr(err)
		}
		if ok, err := s.visible(ctx, s.Store, auth.InteractionHistoryInstance, cur, nil); err != nil {
			return nil, err
		} else if !ok {
			return nil, notFoundResource(typ, id)
		}
	case typ != "":
		if err := s.allow(ctx, auth.InteractionHistoryType, typ, ""); err != nil {
			return nil, err
		}
		if sc = s.scope(ctx, auth.PermSearch); sc == nil {
			return all, nil
		}
		if q.Only, err = s.typesScope(sc, []string{typ}); err != nil {
			return nil, err
		}
	default:
		// auth.Grant answers for one type at a time: the system level
		// lists the types whose s the token has.
		if sc = s.scope(ctx, auth.PermSearch); sc == nil {
			s.audit(ctx, g, auth.InteractionHistorySystem, "", "", "", true, "every type unrestricted")
			return all, nil
		}
		if len(sc.Types) == 0 {
			s.audit(ctx, g, auth.InteractionHistorySystem, "", "", "", false, "no scope grants s on any type")
			return nil, forbidden(auth.InteractionHistorySystem, "", "", auth.PermSearch, "no scope grants s on any type")
		}
		s.audit(ctx, g, auth.InteractionHistorySystem, "", "", "", true, "restricted to the types and clauses the scopes grant s on")
		if q.Only, err = s.typesScope(sc, s.Registry.Types()); err != nil {
			return nil, err
		}
	}
	return func(v *fhir.Resource) bool { return v.Deleted || s.versionWithin(sc, v) }, nil
}
