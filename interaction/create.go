package interaction

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// Create implements create (http.html#create) with a server-assigned id,
// and conditional create when ifNoneExist holds search criteria: one match
// returns that resource without writing, several answer 412.
func (s *Service) Create(ctx context.Context, typ string, body []byte, ifNoneExist string) (*Result, error) {
	if err := s.CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, auth.InteractionCreate, typ, "", ifNoneExist != ""); err != nil {
		return nil, err
	}
	obj, err := s.parse(typ, body)
	if err != nil {
		return nil, err
	}
	if ifNoneExist == "" {
		raw := fhir.Raw{Body: body, ID: fhir.Str(obj, "id")}
		if r, done, err := s.createDirect(ctx, typ, obj, raw); done {
			return r, err
		}
	}
	return s.writeOne(ctx, typ, obj, func(tx store.Tx, at time.Time) (*Result, error) {
		return s.createIn(ctx, tx, typ, obj, ifNoneExist, "", at)
	})
}

// createIn creates inside tx. id is the id to use ("" for a new one).
func (s *Service) createIn(ctx context.Context, tx store.Tx, typ string, obj fhir.Object, ifNoneExist, id string, at time.Time) (*Result, error) {
	if ifNoneExist != "" {
		// Serialize racing conditional creates on the same criteria, then
		// look: the lock makes "search, then insert" atomic.
		if err := tx.Lock(ctx, "cond:"+typ+"?"+ifNoneExist); err != nil {
			return nil, err
		}
		found, err := s.searchInTx(ctx, tx, typ, ifNoneExist)
		if err != nil {
			return nil, err
		}
		switch len(found) {
		case 0:
		case 1:
			return &Result{Resource: found[0], Issues: fhir.Information("a resource matching If-None-Exist already exists; nothing was created")}, nil
		default:
			return nil, fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueMultipleMatches, "IMM-COND-004",
				"If-None-Exist %q matches more than one %s", ifNoneExist, typ)
		}
	}
	// Ids of creates are always server-assigned UUIDs (fresh here or
	// chosen for a transaction entry): no other writer can hold one, so no
	// lock is taken.
	if id == "" {
		id = s.newID()
	}
	r, err := s.write(ctx, tx, typ, id, obj, nil, "POST", at)
	if err != nil {
		return nil, err
	}
	return &Result{Resource: r, Created: true}, nil
}

// createDirect is a plain create (no If-None-Exist) written in one store
// step, without a transaction of its own: the store checks the references
// and inserts together (Store.CreateChecked; on PostgreSQL one statement,
// one round trip instead of four). It gives up (done false, nothing
// written) where the create needs the transaction: a conditional reference
// to resolve by search, or a granular scope that only the database can
// judge. Its outcomes are those of the transactional path: access is
// judged before references, and the same errors name the same elements.
func (s *Service) createDirect(ctx context.Context, typ string, obj fhir.Object, raw fhir.Raw) (r *Result, done bool, err error) {
	refs, err := s.resolveCollect(ctx, nil, typ, obj, nil)
	if err != nil {
		if errors.Is(err, errNeedsTx) {
			return nil, false, nil
		}
		return nil, true, err
	}
	id, at := s.newID(), s.now()
	if s.Access != nil {
		s.stampSource(ctx, obj)
	}
	// Nothing has changed obj since it was decoded from body (references
	// were only read; meta.source, when set, makes StampRaw encode).
	v, err := s.version(typ, id, obj, raw, nil, "POST", at)
	if err != nil {
		return nil, true, err
	}
	if sc := s.scope(ctx, auth.PermCreate); sc != nil && !unrestricted(sc, typ) && !sc.AllowsIndex(typ, id, v.Index) {
		// In memory a scope fails closed (search.Scope.AllowsIndex): let
		// the transactional path ask the database.
		return nil, false, nil
	}
	live, created, err := s.Store.CreateChecked(ctx, v, refs.byType)
	if err != nil {
		return nil, true, storeErr(err)
	}
	if !created {
		if err := refs.check(live); err != nil {
			return nil, true, err
		}
		return nil, true, fhir.Internal(fmt.Errorf("create %s/%s: the store wrote nothing, yet every reference is live", typ, id))
	}
	return &Result{Resource: v.New, Created: true}, true, nil
}
