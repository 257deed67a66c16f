package interaction

import (
	"context"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// Delete implements delete (http.html#delete): a new, deleted version; later
// reads answer 410 and history keeps every version. Deleting what does not
// exist (or is already deleted) succeeds without writing. A resource that
// live resources still reference cannot be deleted (409), so references
// this server accepted never dangle.
func (s *Service) Delete(ctx context.Context, typ, id string) (*Result, error) {
	if err := s.CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, auth.InteractionDelete, typ, id, false); err != nil {
		return nil, err
	}
	if !fhir.ValidID(id) {
		return nil, notFoundResource(typ, id)
	}
	return s.inTx(ctx, func(tx store.Tx) (*Result, error) {
		r, err := s.deleteIn(ctx, tx, typ, id, s.now())
		if err != nil {
			return nil, err
		}
		return r, s.checkNotReferenced(ctx, tx, typ, id)
	})
}

func (s *Service) deleteIn(ctx context.Context, tx store.Tx, typ, id string, at time.Time) (*Result, error) {
	if err := tx.Lock(ctx, lockKey(typ, id)); err != nil {
		return nil, err
	}
	cur, err := tx.Current(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if err := s.guardCurrent(ctx, tx, auth.InteractionDelete, auth.PermDelete, cur); err != nil {
		return nil, err
	}
	if cur == nil || cur.Deleted {
		return &Result{Resource: cur, NoOp: true}, nil
	}
	r, err := s.tombstone(ctx, tx, cur, at)
	if err != nil {
		return nil, err
	}
	return &Result{Resource: r}, nil
}

// checkNotReferenced enforces referential integrity after deletes, at the
// end of the transaction (so a transaction may delete a Patient together
// with its Immunizations).
func (s *Service) checkNotReferenced(ctx context.Context, tx store.Tx, typ, id string) error {
	by, err := tx.ReferencedBy(ctx, typ, id)
	if err != nil {
		return err
	}
	if by != "" {
		return fhir.Errorf(fhir.KindConflict, fhir.IssueConflict, "IMM-DEL-001",
			"%s/%s cannot be deleted: %s (and perhaps others) references it", typ, id, by)
	}
	return nil
}

// ConditionalDelete implements delete by criteria (single-match mode,
// http.html#cdelete): no match succeeds without writing, several answer 412.
func (s *Service) ConditionalDelete(ctx context.Context, typ, query string) (*Result, error) {
	if err := s.CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, auth.InteractionDelete, typ, "", true); err != nil {
		return nil, err
	}
	return s.inTx(ctx, func(tx store.Tx) (*Result, error) {
		found, err := s.searchInTx(ctx, tx, typ, query)
		if err != nil {
			return nil, err
		}
		switch len(found) {
		case 0:
			return &Result{NoOp: true}, nil
		case 1:
		default:
			return nil, fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueMultipleMatches, "IMM-COND-006",
				"conditional delete criteria %q match more than one %s", query, typ)
		}
		r, err := s.deleteIn(ctx, tx, typ, found[0].ID, s.now())
		if err != nil {
			return nil, err
		}
		return r, s.checkNotReferenced(ctx, tx, typ, found[0].ID)
	})
}
