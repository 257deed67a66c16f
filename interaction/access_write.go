package interaction

import (
	"context"
	"net/url"
	"strings"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// The write side of access (see access.go): what a write may touch, as
// stored and as written, and the record of who wrote it.

// guardCurrent refuses, inside a write transaction, a write (permission p)
// to a live resource the token does not reach. It runs before anything
// else looks at cur (If-Match, a patch's test operations), so a refused
// token learns nothing of the resource.
func (s *Service) guardCurrent(ctx context.Context, tx store.Tx, in auth.Interaction, p auth.Permission, cur *fhir.Resource) error {
	if s.Access == nil || cur == nil || cur.Deleted {
		return nil
	}
	ok, err := s.within(ctx, tx, s.scope(ctx, p), cur.Type, cur.ID)
	if err != nil {
		return err
	}
	if !ok {
		s.audit(ctx, GrantFrom(ctx), in, "", cur.Type, cur.ID, false, "the stored resource is outside the token's patient compartment or granular scopes")
		return outsideAccess(string(in), cur.Type, cur.ID)
	}
	return nil
}

// guardWrite is called by write before the new version is stored: it
// records the client in meta.source, refuses an update of a stored version
// the token does not reach, and returns the check to run once the new
// version and its index rows are in the transaction.
func (s *Service) guardWrite(ctx context.Context, tx store.Tx, typ, id string, obj fhir.Object, prev *fhir.Resource) (after func() error, err error) {
	if s.Access == nil {
		return func() error { return nil }, nil
	}
	s.stampSource(ctx, obj)
	in, p := auth.InteractionUpdate, auth.PermUpdate
	if prev == nil || prev.Deleted {
		in, p = auth.InteractionCreate, auth.PermCreate
	}
	if err := s.guardCurrent(ctx, tx, in, p, prev); err != nil {
		return nil, err
	}
	sc := s.scope(ctx, p)
	return func() error {
		ok, err := s.within(ctx, tx, sc, typ, id)
		if err != nil {
			return err
		}
		if !ok {
			s.audit(ctx, GrantFrom(ctx), in, "", typ, id, false, "the resource as written is outside the token's patient compartment or granular scopes")
			return outsideAccess(string(in), typ, id)
		}
		return nil
	}, nil
}

// stampSource records the client of the grant in meta.source, replacing
// what the request said: the server knows who wrote the version. The value
// is the token issuer's URL with the client id as fragment, so clients of
// different issuers stay apart.
func (s *Service) stampSource(ctx context.Context, obj fhir.Object) {
	g := GrantFrom(ctx)
	if g == nil || g.ClientID == "" {
		return
	}
	meta := fhir.Obj(obj, "meta")
	if meta == nil {
		meta = fhir.Object{}
		obj["meta"] = meta
	}
	meta["source"] = ClientSource(g.Issuer, g.ClientID)
}

// ClientSource is the meta.source of versions written by client of issuer.
func ClientSource(issuer, client string) string {
	return strings.TrimRight(issuer, "/") + "#" + url.PathEscape(client)
}
