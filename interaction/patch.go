package interaction

import (
	"context"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// Patch implements patch with JSON Patch (RFC 6902, http.html#patch): the
// patch is applied to the current version under the write lock and the
// result must pass the same validation as an update.
func (s *Service) Patch(ctx context.Context, typ, id string, patchBody []byte, ifMatch string) (*Result, error) {
	if err := s.CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, auth.InteractionPatch, typ, id, false); err != nil {
		return nil, err
	}
	if !fhir.ValidID(id) {
		return nil, notFoundResource(typ, id)
	}
	patch, err := jsonpatch.DecodePatch(patchBody)
	if err != nil {
		return nil, fhir.Invalid("IMM-PATCH-001", "", "the body is not a JSON Patch document: %v", err)
	}
	return s.inTx(ctx, func(tx store.Tx) (*Result, error) {
		r, obj, err := s.patchIn(ctx, tx, typ, id, patch, ifMatch, s.now())
		if err != nil {
			return nil, err
		}
		return r, s.verifyReferences(ctx, tx, typ, obj)
	})
}

// patchIn applies patch to the current version of typ/id inside tx, under
// its write lock, and writes the result as an update; the patched resource
// passes the same validation as an update and may not change its id. The
// caller verifies the resource's references (a transaction does that once
// for all its entries) and gets the patched tree for it.
func (s *Service) patchIn(ctx context.Context, tx store.Tx, typ, id string, patch jsonpatch.Patch, ifMatch string, at time.Time) (*Result, fhir.Object, error) {
	if err := tx.Lock(ctx, lockKey(typ, id)); err != nil {
		return nil, nil, err
	}
	cur, err := tx.Current(ctx, typ, id)
	if err != nil {
		return nil, nil, err
	}
	if cur == nil {
		return nil, nil, notFoundResource(typ, id)
	}
	if cur.Deleted {
		return nil, nil, goneResource(cur)
	}
	if err := s.guardCurrent(ctx, tx, auth.InteractionPatch, auth.PermUpdate, cur); err != nil {
		return nil, nil, err
	}
	patched, err := patch.Apply(cur.Body)
	if err != nil {
		return nil, nil, fhir.Errorf(fhir.KindUnprocessable, fhir.IssueProcessing, "IMM-PATCH-002", "the patch cannot be applied: %v", err)
	}
	obj, err := s.parse(typ, patched)
	if err != nil {
		return nil, nil, err
	}
	if fhir.Str(obj, "id") != id {
		return nil, nil, fhir.Errorf(fhir.KindUnprocessable, fhir.IssueProcessing, "IMM-PATCH-003", "a patch may not change the resource id").At(typ + ".id")
	}
	if err := s.resolveReferences(ctx, tx, typ, obj, nil); err != nil {
		return nil, nil, err
	}
	r, err := s.updateIn(ctx, tx, typ, id, obj, ifMatch, "PATCH", at)
	if err != nil {
		return nil, nil, err
	}
	return r, obj, nil
}
