package interaction

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// Update implements update (http.html#update), including create-on-update
// with a client-chosen id and version-aware updates (If-Match).
func (s *Service) Update(ctx context.Context, typ, id string, body []byte, ifMatch string) (*Result, error) {
	if err := s.CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, auth.InteractionUpdate, typ, id, false); err != nil {
		return nil, err
	}
	if !fhir.ValidID(id) {
		return nil, fhir.Invalid("IMM-ID-001", "id", "%q is not a valid resource id", id)
	}
	obj, err := s.parse(typ, body)
	if err != nil {
		return nil, err
	}
	if bid := fhir.Str(obj, "id"); bid != id {
		if bid == "" {
			return nil, fhir.Invalid("IMM-ID-002", typ+".id", "the resource must carry the id %q of the URL", id)
		}
		return nil, fhir.Invalid("IMM-ID-003", typ+".id", "the resource id %q does not match the id %q of the URL", bid, id)
	}
	return s.writeOne(ctx, typ, obj, func(tx store.Tx, at time.Time) (*Result, error) {
		return s.updateIn(ctx, tx, typ, id, obj, ifMatch, "PUT", at)
	})
}

// updateIn writes obj as the next version of typ/id inside tx.
func (s *Service) updateIn(ctx context.Context, tx store.Tx, typ, id string, obj fhir.Object, ifMatch, method string, at time.Time) (*Result, error) {
	if err := tx.Lock(ctx, lockKey(typ, id)); err != nil {
		return nil, err
	}
	cur, err := tx.Current(ctx, typ, id)
	if err != nil {
		return nil, err
	}
	if err := s.guardCurrent(ctx, tx, auth.InteractionUpdate, auth.PermUpdate, cur); err != nil {
		return nil, err
	}
	if ifMatch != "" {
		want, ok := parseETag(ifMatch)
		if !ok {
			return nil, fhir.Invalid("IMM-VER-002", "", "If-Match %q is not an entity tag like W/\"3\"", ifMatch)
		}
		if cur == nil || cur.Deleted || cur.Version != want {
			have := int64(0)
			if cur != nil {
				have = cur.Version
			}
			return nil, versionConflict(typ, id, ifMatch, have)
		}
	}
	if cur != nil && !cur.Deleted && sameContent(cur.Body, obj) {
		return &Result{Resource: cur, NoOp: true, Issues: noChange()}, nil
	}
	r, err := s.write(ctx, tx, typ, id, obj, cur, method, at)
	if err != nil {
		return nil, err
	}
	return &Result{Resource: r, Created: cur == nil || cur.Deleted}, nil
}

// parseETag reads W/"n" (or "n", or n) into a version number.
func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}

// ConditionalUpdate implements update by search criteria
// (http.html#cond-update): no match creates, one match updates it, more
// than one answers 412.
func (s *Service) ConditionalUpdate(ctx context.Context, typ, query string, body []byte, ifMatch string) (*Result, error) {
	if err := s.CheckType(typ); err != nil {
		return nil, err
	}
	if err := s.allowWrite(ctx, auth.InteractionUpdate, typ, "", true); err != nil {
		return nil, err
	}
	obj, err := s.parse(typ, body)
	if err != nil {
		return nil, err
	}
	return s.writeOne(ctx, typ, obj, func(tx store.Tx, at time.Time) (*Result, error) {
		return s.conditionalUpdateIn(ctx, tx, typ, query, obj, ifMatch, at)
	})
}

func (s *Service) conditionalUpdateIn(ctx context.Context, tx store.Tx, typ, query string, obj fhir.Object, ifMatch string, at time.Time) (*Result, error) {
	if err := tx.Lock(ctx, "cond:"+typ+"?"+query); err != nil {
		return nil, err
	}
	found, err := s.searchInTx(ctx, tx, typ, query)
	if err != nil {
		return nil, err
	}
	bid := fhir.Str(obj, "id")
	switch len(found) {
	case 0:
		if bid != "" {
			if !fhir.ValidID(bid) {
				return nil, fhir.Invalid("IMM-ID-001", typ+".id", "%q is not a valid resource id", bid)
			}
			return s.updateIn(ctx, tx, typ, bid, obj, ifMatch, "PUT", at)
		}
		return s.createIn(ctx, tx, typ, obj, "", "", at)
	case 1:
		id := found[0].ID
		if bid != "" && bid != id {
			return nil, fhir.Invalid("IMM-ID-004", typ+".id", "the resource id %q differs from the id %q of the resource the criteria match", bid, id)
		}
		return s.updateIn(ctx, tx, typ, id, obj, ifMatch, "PUT", at)
	}
	return nil, fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueMultipleMatches, "IMM-COND-005",
		"conditional update criteria %q match more than one %s", query, typ)
}
