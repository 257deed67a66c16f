package interaction

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/store"
)

// Bulk loading: the same validation, reference rules and index rows as the
// REST interactions — no back door — but many resources per database
// transaction, with locks, current versions and reference checks read in a
// few statements instead of one round trip per resource.

// LoadItem is one validated resource to load (see ParseResource). ID, when
// set, makes the load an idempotent update of Type/ID; otherwise
// IfNoneExist (e.g. identifier=sys|val) decides, as in a conditional create.
type LoadItem struct {
	Type        string
	ID          string
	IfNoneExist string
	Obj         fhir.Object
	// Raw is the text Obj was decoded from and the id it held, if known:
	// the stored text is then spliced from it (fhir.StampRaw).
	Raw fhir.Raw
}

// LoadOutcome says what loading one item did.
type LoadOutcome int

const (
	LoadCreated LoadOutcome = iota
	LoadUpdated
	LoadUnchanged
	LoadRejected
)

// LoadResult is the outcome of one item; Err is a *fhir.Error when rejected.
type LoadResult struct {
	Outcome  LoadOutcome
	Resource *fhir.Resource
	Err      error
}

// ValidateDecoded validates a resource as create and update do, for
// loaders that decode once (fhir.DecodeStrict into obj) and validate in
// parallel before batching.
func (s *Service) ValidateDecoded(typ string, body []byte, obj fhir.Object) error {
	if err := s.CheckType(typ); err != nil {
		return err
	}
	if err := s.Validator.Validate(body); err != nil {
		return err
	}
	return s.checkRules(typ, obj)
}

// RefCache remembers conditional references resolved during one load, so
// that a million Immunizations naming the same Location by identifier cost
// one search, not a million. It is safe for concurrent LoadBatch calls.
type RefCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *RefCache) get(k string) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *RefCache) put(k, v string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]string{}
	}
	c.m[k] = v
}

// LoadBatch writes items in one database transaction. An item that breaks
// a rule (dangling reference, ambiguous conditional match) is rejected on
// its own; the others are written. The returned error is for failures of
// the batch as a whole (database unavailable), after which nothing of the
// batch was written.
func (s *Service) LoadBatch(ctx context.Context, items []LoadItem, cache *RefCache) ([]LoadResult, error) {
	// New ids are chosen before the transaction so retries reuse them.
	fresh := make([]string, len(items))
	types := map[string]bool{}
	for i, it := range items {
		if it.ID == "" {
			fresh[i] = s.newID()
		}
		types[it.Type] = true
	}
	if err := s.requireUnrestricted(ctx, types); err != nil { // access.go
		return nil, err
	}
	var results []LoadResult
	err := s.Store.Write(ctx, func(tx store.Tx) error {
		r, err := s.loadIn(ctx, tx, items, fresh, cache)
		results = r
		return err
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return results, nil
}

func (s *Service) loadIn(ctx context.Context, tx store.Tx, items []LoadItem, fresh []string, cache *RefCache) ([]LoadResult, error) {
	at := s.now()
	res := make([]LoadResult, len(items))
	ids := make([]string, len(items))
	reject := func(i int, err error) {
		res[i] = LoadResult{Outcome: LoadRejected, Err: err}
	}
	isFatal := func(err error) bool {
		var fe *fhir.Error
		return !errors.As(err, &fe) || fe.Kind == fhir.KindInternal
	}
	// 1. Decide ids (conditional items search, under their criteria lock).
	var keys []string
	for i, it := range items {
		switch {
		case it.ID != "":
			ids[i] = it.ID
		case it.IfNoneExist != "":
			if err := tx.Lock(ctx, "cond:"+it.Type+"?"+it.IfNoneExist); err != nil {
				return nil, err
			}
			found, err := s.searchInTx(ctx, tx, it.Type, it.IfNoneExist)
			if err != nil {
				if isFatal(err) {
					return nil, err
				}
				reject(i, err)
				continue
			}
			switch len(found) {
			case 0:
				ids[i] = fresh[i]
			case 1:
				ids[i] = found[0].ID
			default:
				reject(i, fhir.Errorf(fhir.KindPreconditionFailed, fhir.IssueMultipleMatches, "IMM-COND-004",
					"%s matches more than one %s", it.IfNoneExist, it.Type))
				continue
			}
		default:
			ids[i] = fresh[i]
		}
		keys = append(keys, lockKey(it.Type, ids[i]))
	}
	if err := tx.LockMany(ctx, keys); err != nil {
		return nil, err
	}
	// 2. Current versions, per type.
	byType := map[string][]string{}
	for i, it := range items {
		if res[i].Err == nil {
			byType[it.Type] = append(byType[it.Type], ids[i])
		}
	}
	current := map[string]*fhir.Resource{}
	for typ, list := range byType {
		m, err := tx.CurrentMany(ctx, typ, list)
		if err != nil {
			return nil, err
		}
		for id, r := range m {
			current[typ+"/"+id] = r
		}
	}
	// 3. Resolve conditional references (cached), collect local references.
	writing := map[string]bool{}
	for i, it := range items {
		if res[i].Err == nil {
			writing[it.Type+"/"+ids[i]] = true
		}
	}
	need := map[string]map[string]bool{} // type → ids referenced, not written here
	refsOf := make([][]string, len(items))
	for i, it := range items {
		if res[i].Err != nil {
			continue
		}
		it.Obj["id"] = ids[i]
		note := func(to string) {
			ref := fhir.ParseReference(to, s.BaseURL)
			if ref.Kind == fhir.RefLocal && s.Registry.Supports(ref.Type) {
				refsOf[i] = append(refsOf[i], ref.Type+"/"+ref.ID)
				if !writing[ref.Type+"/"+ref.ID] {
					addNeed(need, ref.Type, ref.ID)
				}
			}
		}
		err := walkReferences(it.Obj, it.Type, func(expr, raw string) (string, error) {
			ref := fhir.ParseReference(raw, s.BaseURL)
			switch ref.Kind {
			case fhir.RefConditional:
				to, ok := cache.get(raw)
				if !ok {
					var err error
					if to, err = s.resolveConditionalRef(ctx, tx, expr, ref); err != nil {
						return "", err
					}
					cache.put(raw, to)
				}
				note(to)
				return to, nil
			case fhir.RefLocal:
				note(raw)
			case fhir.RefURN:
				return "", refError(expr, "IMM-REF-003", "reference %q can only be resolved inside the Bundle that holds it", raw)
			case fhir.RefInvalid:
				return "", refError(expr, "IMM-REF-005", "%q is not a valid reference", raw)
			}
			return "", nil
		})
		if err != nil {
			if isFatal(err) {
				return nil, err
			}
			reject(i, err)
		}
	}
	// 4. One existence check per referenced type.
	live := map[string]bool{}
	for typ, set := range need {
		list := make([]string, 0, len(set))
		for id := range set {
			list = append(list, id)
		}
		sort.Strings(list)
		m, err := tx.LiveMany(ctx, typ, list)
		if err != nil {
			return nil, err
		}
		for id, ok := range m {
			live[typ+"/"+id] = ok
		}
	}
	// 5. Write what passes: creates together in one statement.
	var pending []*store.Version
	pendingKeys := map[string]bool{}
	flush := func() error {
		err := tx.PutMany(ctx, pending)
		pending, pendingKeys = nil, map[string]bool{}
		return err
	}
	for i, it := range items {
		if res[i].Err != nil {
			continue
		}
		dangling := ""
		for _, r := range refsOf[i] {
			if !writing[r] && !live[r] {
				dangling = r
				break
			}
		}
		if dangling != "" {
			reject(i, fhir.Errorf(fhir.KindUnprocessable, fhir.IssueNotFound, "IMM-REF-001",
				"reference %q does not resolve: it does not exist on this server", dangling))
			continue
		}
		key := it.Type + "/" + ids[i]
		if pendingKeys[key] {
			// The same resource twice in one batch: the second is an
			// update of the first, which must be written first.
			if err := flush(); err != nil {
				return nil, err
			}
		}
		cur := current[key]
		if cur != nil && !cur.Deleted && sameContent(cur.Body, it.Obj) {
			res[i] = LoadResult{Outcome: LoadUnchanged, Resource: cur}
			continue
		}
		// The text is obj's unless a conditional reference was rewritten,
		// now or in an earlier attempt; without a '?' there was none.
		raw := it.Raw
		if bytes.IndexByte(raw.Body, '?') >= 0 {
			raw = fhir.Raw{}
		}
		v, err := s.version(it.Type, ids[i], it.Obj, raw, cur, "PUT", at)
		if err != nil {
			return nil, err
		}
		pending = append(pending, v)
		pendingKeys[key] = true
		current[key] = v.New
		if cur == nil || cur.Deleted {
			res[i] = LoadResult{Outcome: LoadCreated, Resource: v.New}
		} else {
			res[i] = LoadResult{Outcome: LoadUpdated, Resource: v.New}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return res, nil
}

func addNeed(need map[string]map[string]bool, typ, id string) {
	if need[typ] == nil {
		need[typ] = map[string]bool{}
	}
	need[typ][id] = true
}
