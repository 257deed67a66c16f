package interaction

import (
	"context"
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
