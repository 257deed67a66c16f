package interaction

import (
	"context"
	"errors"
	"strconv"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// Read implements read (http.html#read): the current version, 404 when the
// resource never existed, 410 when it was deleted.
func (s *Service) Read(ctx context.Context, typ, id string) (*fhir.Resource, error) {
	if err := s.CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.allow(ctx, auth.InteractionRead, typ, id); err != nil {
		return nil, err
	}
	if !fhir.ValidID(id) {
		return nil, notFoundResource(typ, id)
	}
	r, err := s.Store.Read(ctx, typ, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundResource(typ, id)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if ok, err := s.visible(ctx, s.Store, auth.InteractionRead, r, nil); err != nil {
		return nil, err
	} else if !ok {
		return nil, notFoundResource(typ, id) // as if it did not exist
	}
	if r.Deleted {
		return nil, goneResource(r)
	}
	return r, nil
}

// VRead implements vread (http.html#vread): one version; the version of a
// deletion answers 410.
func (s *Service) VRead(ctx context.Context, typ, id, version string) (*fhir.Resource, error) {
	if err := s.CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.allow(ctx, auth.InteractionVRead, typ, id); err != nil {
		return nil, err
	}
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil || v < 1 || !fhir.ValidID(id) {
		return nil, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-NF-003", "%s/%s has no version %q", typ, id, version)
	}
	r, err := s.Store.VRead(ctx, typ, id, v)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-NF-003", "%s/%s has no version %q", typ, id, version)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if s.Access != nil {
		cur, err := s.Store.Read(ctx, typ, id)
		if err != nil {
			return nil, storeErr(err)
		}
		if ok, err := s.visible(ctx, s.Store, auth.InteractionVRead, cur, r); err != nil {
			return nil, err
		} else if !ok {
			return nil, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-NF-003", "%s/%s has no version %q", typ, id, version)
		}
	}
	if r.Deleted {
		return nil, goneResource(r)
	}
	return r, nil
}
