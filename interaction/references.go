package interaction

import (
	"context"
	"errors"
	"net/url"
	"strconv"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// walkReferences calls fn for every Reference.reference in obj with the
// FHIRPath-ish expression of the element; fn may replace the value by
// returning a new one ("" keeps it). Contained resources are walked as
// part of their container.
func walkReferences(obj fhir.Object, path string, fn func(expr, ref string) (string, error)) error {
	w := refWalker{fn: fn, path: append(make([]byte, 0, 128), path...)}
	return w.object(obj)
}

// refWalker keeps the path of the element being walked as bytes, and makes
// a string of it only where a reference is found (every create walks its
// resource twice; most elements hold none).
type refWalker struct {
	fn   func(expr, ref string) (string, error)
	path []byte
}

func (w *refWalker) object(obj fhir.Object) error {
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			if k == "reference" {
				repl, err := w.fn(string(w.path), v)
				if err != nil {
					return err
				}
				if repl != "" {
					obj[k] = repl
				}
			}
		case map[string]any:
			if k == "contained" {
				continue
			}
			n := len(w.path)
			w.path = append(append(w.path, '.'), k...)
			err := w.object(v)
			w.path = w.path[:n]
			if err != nil {
				return err
			}
		case []any:
			n := len(w.path)
			for i, e := range v {
				if m, ok := e.(map[string]any); ok {
					w.path = append(append(append(w.path[:n], '.'), k...), '[')
					w.path = append(strconv.AppendInt(w.path, int64(i), 10), ']')
					if err := w.object(m); err != nil {
						w.path = w.path[:n]
						return err
					}
				}
			}
			w.path = w.path[:n]
		}
	}
	return nil
}

// resolveReferences rewrites the references that only make sense inside
// one request: Bundle-local ids (urn:uuid:… and other fullUrls, via ids) and
// conditional references (Type?query, by search in tx). It runs before the
// resource is stamped and indexed. With tx nil a conditional reference
// cannot be resolved: the walk stops at it with errNeedsTx, having changed
// nothing.
func (s *Service) resolveReferences(ctx context.Context, tx store.Tx, typ string, obj fhir.Object, ids map[string]string) error {
	_, err := s.resolveCollect(ctx, tx, typ, obj, ids)
	return err
}

// resolveCollect is resolveReferences that also returns the references to
// stored types the resource holds once resolved, so that a single write
// checks them (checkLive) without walking the resource again.
func (s *Service) resolveCollect(ctx context.Context, tx store.Tx, typ string, obj fhir.Object, ids map[string]string) (localRefs, error) {
	refs := localRefs{byType: map[string][]string{}}
	contained := map[string]bool{}
	for _, c := range fhir.Arr(obj, "contained") {
		if m, ok := c.(map[string]any); ok {
			contained[fhir.Str(m, "id")] = true
		}
	}
	err := walkReferences(obj, typ, func(expr, raw string) (string, error) {
		to, err := s.resolveOne(ctx, tx, contained, ids, expr, raw)
		if err == nil {
			final := raw
			if to != "" {
				final = to
			}
			s.noteLocal(&refs, expr, final, nil)
		}
		return to, err
	})
	return refs, err
}

// resolveOne resolves one reference (see resolveReferences): the value to
// put in its place, or "" to keep it.
func (s *Service) resolveOne(ctx context.Context, tx store.Tx, contained map[string]bool, ids map[string]string, expr, raw string) (string, error) {
	if to, ok := ids[raw]; ok {
		return to, nil
	}
	ref := fhir.ParseReference(raw, s.BaseURL)
	switch ref.Kind {
	case fhir.RefContained:
		if ref.ID != "" && !contained[ref.ID] {
			return "", refError(expr, "IMM-REF-002", "reference %q names no contained resource", raw)
		}
	case fhir.RefURN:
		return "", refError(expr, "IMM-REF-003", "reference %q can only be resolved inside a transaction Bundle that holds it", raw)
	case fhir.RefConditional:
		// R4 defines conditional references for transactions; resolving
		// them on single writes too costs nothing and helps loaders.
		if tx == nil {
			return "", errNeedsTx
		}
		return s.resolveConditionalRef(ctx, tx, expr, ref)
	case fhir.RefInvalid:
		return "", refError(expr, "IMM-REF-005", "%q is not a valid reference", raw)
	}
	return "", nil
}

// errNeedsTx stops a write that was tried without a transaction of its own
// (createDirect) and needs one.
var errNeedsTx = errors.New("the write needs a transaction")

// verifyReferences checks that every reference to a type this server
// stores points at a live resource, and keeps that resource from being
// deleted until the transaction ends. References to other types (Encounter)
// and to other servers are kept as they are.
func (s *Service) verifyReferences(ctx context.Context, tx store.Tx, typ string, obj fhir.Object) error {
	return s.verifyReferencesOf(ctx, tx, []typedObject{{typ, obj, nil}})
}

// typedObject is a resource to verify; wrap names its entry in errors.
type typedObject struct {
	typ  string
	obj  fhir.Object
	wrap func(error) error
}

// verifyReferencesOf checks the references of many resources with one
// statement per referenced type (a transaction's entries all at once).
func (s *Service) verifyReferencesOf(ctx context.Context, tx store.Tx, objs []typedObject) error {
	return s.checkLive(ctx, tx, s.localReferences(objs))
}

// checkLive checks that refs name live resources, with one statement per
// referenced type, and keeps them from being deleted until tx ends.
func (s *Service) checkLive(ctx context.Context, tx store.Tx, refs localRefs) error {
	if len(refs.uses) == 0 {
		return nil
	}
	live := map[string]bool{}
	for t, ids := range refs.byType {
		m, err := tx.LiveMany(ctx, t, ids)
		if err != nil {
			return err
		}
		for id, ok := range m {
			live[t+"/"+id] = ok
		}
	}
	return refs.check(live)
}

// localRefs are the references of some resources to types this server
// stores, which must name live resources.
type localRefs struct {
	uses   []refUse
	byType map[string][]string // referenced type → ids
}

type refUse struct {
	expr, raw, typ, id string
	wrap               func(error) error
}

func (s *Service) localReferences(objs []typedObject) localRefs {
	refs := localRefs{byType: map[string][]string{}}
	for _, o := range objs {
		_ = walkReferences(o.obj, o.typ, func(expr, raw string) (string, error) {
			s.noteLocal(&refs, expr, raw, o.wrap)
			return "", nil
		})
	}
	return refs
}

// noteLocal adds raw to refs when it names a resource of a stored type.
func (s *Service) noteLocal(refs *localRefs, expr, raw string, wrap func(error) error) {
	ref := fhir.ParseReference(raw, s.BaseURL)
	if ref.Kind == fhir.RefLocal && s.Registry.Supports(ref.Type) {
		refs.uses = append(refs.uses, refUse{expr, raw, ref.Type, ref.ID, wrap})
		refs.byType[ref.Type] = append(refs.byType[ref.Type], ref.ID)
	}
}

// check fails on the first reference whose target live ("Type/id") lacks.
func (refs localRefs) check(live map[string]bool) error {
	for _, u := range refs.uses {
		if !live[u.typ+"/"+u.id] {
			err := refError(u.expr, "IMM-REF-001", "reference %q does not resolve: %s/%s does not exist on this server", u.raw, u.typ, u.id)
			if u.wrap != nil {
				return u.wrap(err)
			}
			return err
		}
	}
	return nil
}

func refError(expr, msgID, format string, args ...any) *fhir.Error {
	e := fhir.Errorf(fhir.KindUnprocessable, fhir.IssueNotFound, msgID, format, args...)
	return e.At(expr + ".reference")
}

// searchInTx finds the live resources matching Type?query inside tx, for
// conditional references, creates, updates and deletes. It reads at most
// two: more than one is already an error for every caller.
func (s *Service) searchInTx(ctx context.Context, tx store.Tx, typ, rawQuery string) ([]*fhir.Resource, error) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fhir.Invalid("IMM-COND-001", "", "malformed conditional query %q: %v", rawQuery, err)
	}
	if len(values) == 0 {
		return nil, fhir.Invalid("IMM-COND-002", "", "a conditional interaction needs search criteria")
	}
	q, err := s.Registry.Parse(typ, values, search.Strict)
	if err != nil {
		return nil, err
	}
	q.Count = 2
	q.Sort = nil
	q.Scope = s.scope(ctx, auth.PermSearch) // conditional matches see only what the token may search
	st, err := s.Compiler.Page(q)
	if err != nil {
		return nil, fhir.Invalid("IMM-COND-003", "", "%v", err)
	}
	var out []*fhir.Resource
	err = tx.Query(ctx, st, func(r store.Row) error {
		out = append(out, r.Resource)
		return nil
	})
	return out, err
}

// resolveConditionalRef resolves Type?query to Type/id (exactly one match).
func (s *Service) resolveConditionalRef(ctx context.Context, tx store.Tx, expr string, ref fhir.Reference) (string, error) {
	if err := s.CheckType(ref.Type); err != nil {
		return "", err
	}
	found, err := s.searchInTx(ctx, tx, ref.Type, ref.Query)
	if err != nil {
		return "", err
	}
	switch len(found) {
	case 1:
		return ref.Type + "/" + found[0].ID, nil
	case 0:
		return "", refError(expr, "IMM-REF-006", "conditional reference %q matches no resource", ref.Raw)
	}
	e := fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueMultipleMatches, "IMM-REF-007", "conditional reference %q matches more than one resource", ref.Raw)
	return "", e.At(expr + ".reference")
}
