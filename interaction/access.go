package interaction

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// Authorization (SMART App Launch 2.x, through package auth). The server
// verifies the bearer token and puts its Grant in the context (WithGrant);
// every interaction then decides here, in two steps:
//
//  1. At the door, per interaction and type: does any scope grant the
//     permission letter SMART assigns (auth.Interaction.Permission)? No: 403.
//     Conditional forms (If-None-Exist, conditional update and delete)
//     search, so they need s on the type as well.
//  2. Per resource, by the clauses of the access (patient compartment AND
//     granular query, clauses ORed), compiled into SQL as a search.Scope:
//     searches, includes, chains, _has, history and the searches inside
//     writes only ever see allowed resources. Reads of a resource outside
//     the access answer 404, exactly as for an id that does not exist, so
//     a token cannot probe which ids exist. Writes answer 403 when the
//     stored version or the version being written is outside the access
//     (a write must not move data out of the compartment); the new version
//     is checked in the write's own database transaction, after its index
//     rows are written, with the same SQL as a search, and a refusal rolls
//     the transaction back.
//
// Included resources, chain targets and _has sources need s on their type,
// with that type's clauses: they are search results (or search criteria).
// Earlier versions (vread, history) have no index rows; they are judged in
// memory from their content (search.Scope.AllowsIndex: compartments
// exactly, granular queries only in their simplest forms, otherwise
// withheld).
//
// Every decision goes to AccessControl.Audit. Writes made under a grant
// carry its client in meta.source (see stampSource).

// AccessControl turns authorization on. Service.Access nil means no
// authorization at all (auth none on loopback, and tools such as immunis
// load that write with the operator's authority); when set, a request
// without a grant is refused, so a route that forgot the middleware fails
// closed.
type AccessControl struct {
	// Audit receives one event per access decision; nil drops them.
	Audit auth.AuditLogger
	// Now stamps audit events; nil is the wall clock.
	Now func() time.Time
}

type ctxKey int

const (
	grantKey ctxKey = iota + 1
	requestIDKey
)

// WithGrant returns ctx carrying the grant of the request's bearer token.
func WithGrant(ctx context.Context, g *auth.Grant) context.Context {
	return context.WithValue(ctx, grantKey, g)
}

// GrantFrom returns the grant WithGrant stored, or nil.
func GrantFrom(ctx context.Context) *auth.Grant {
	g, _ := ctx.Value(grantKey).(*auth.Grant)
	return g
}

// WithRequestID returns ctx carrying the request id, for audit events.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// audit records one decision.
func (s *Service) audit(ctx context.Context, g *auth.Grant, in auth.Interaction, op, typ, id string, allowed bool, reason string) {
	if s.Access == nil || s.Access.Audit == nil {
		return
	}
	now := time.Now
	if s.Access.Now != nil {
		now = s.Access.Now
	}
	e := auth.NewAuditEvent(now(), g, in, typ, id, auth.Access{Allowed: allowed, Reason: reason})
	e.Operation, e.RequestID = op, requestID(ctx)
	s.Access.Audit.Audit(ctx, e)
}

// errNoGrant answers a request that reached an interaction without a
// verified token while authorization is on (the middleware normally
// answers first).
func errNoGrant() *fhir.Error {
	return fhir.Errorf(fhir.KindUnauthorized, fhir.IssueLogin, "IMM-AUTH-001", "a bearer token is required").
		WithHeader("WWW-Authenticate", "Bearer")
}

// forbidden is the 403 of a token whose scopes do not allow an interaction
// on a type.
func forbidden(in auth.Interaction, op, typ string, p auth.Permission, reason string) *fhir.Error {
	what := string(in)
	if op != "" {
		what = "$" + op
	}
	on := typ
	if on == "" {
		on = "the system"
	}
	e := fhir.Errorf(fhir.KindForbidden, fhir.IssueForbidden, "IMM-AUTH-002",
		"the token does not allow %s on %s (%s)", what, on, reason)
	if typ != "" && p != 0 {
		e = e.WithHeader("WWW-Authenticate", auth.InsufficientScopeChallenge(neededScopes(typ, p)))
	}
	return e
}

// neededScopes names the scopes, at each level, that would allow p on typ.
func neededScopes(typ string, p auth.Permission) string {
	var out []string
	for _, l := range []auth.Level{auth.LevelPatient, auth.LevelUser, auth.LevelSystem} {
		out = append(out, string(l)+"/"+typ+"."+p.String())
	}
	return strings.Join(out, " ")
}

// outsideAccess is the 403 of a write whose target, as stored or as
// written, lies outside what the token reaches.
func outsideAccess(method, typ, id string) *fhir.Error {
	return fhir.Errorf(fhir.KindForbidden, fhir.IssueForbidden, "IMM-AUTH-003",
		"the token does not allow %s of %s/%s: the resource as stored or as written is outside the patient compartment or granular scopes of the token", method, typ, id)
}

// allow is the door of an interaction on typ (empty for system level).
func (s *Service) allow(ctx context.Context, in auth.Interaction, typ, id string) error {
	return s.allowPerm(ctx, in, "", typ, id, in.Permission())
}

// allowPerm is allow with an explicit permission (operations, and the
// extra s of conditional interactions). Each letter in p is required.
func (s *Service) allowPerm(ctx context.Context, in auth.Interaction, op, typ, id string, p auth.Permission) error {
	if s.Access == nil {
		return nil
	}
	g := GrantFrom(ctx)
	if g == nil {
		s.audit(ctx, nil, in, op, typ, id, false, "no token")
		return errNoGrant()
	}
	a := g.Access(typ, p)
	s.audit(ctx, g, in, op, typ, id, a.Allowed, a.Reason)
	if !a.Allowed {
		return forbidden(in, op, typ, p, a.Reason)
	}
	return nil
}

// allowWrite is the door of a write interaction. Update opens to c alone
// too: create-on-update needs c, an update of a stored resource u, and
// the write checks which it is (guardWrite). Conditional forms need s as
// well, because they search.
func (s *Service) allowWrite(ctx context.Context, in auth.Interaction, typ, id string, conditional bool) error {
	if s.Access == nil {
		return nil
	}
	p := in.Permission()
	if g := GrantFrom(ctx); in == auth.InteractionUpdate && g != nil &&
		!g.Access(typ, auth.PermUpdate).Allowed && g.Access(typ, auth.PermCreate).Allowed {
		p = auth.PermCreate
	}
	if err := s.allowPerm(ctx, in, "", typ, id, p); err != nil {
		return err
	}
	if conditional {
		return s.allowPerm(ctx, auth.InteractionSearchType, "", typ, "", auth.PermSearch)
	}
	return nil
}

// authenticated is the door of what needs a token but no resource
// permission (a computation over data the request carries).
func (s *Service) authenticated(ctx context.Context, op string) error {
	if s.Access == nil {
		return nil
	}
	g := GrantFrom(ctx)
	if g == nil {
		s.audit(ctx, nil, auth.InteractionOperation, op, "", "", false, "no token")
		return errNoGrant()
	}
	s.audit(ctx, g, auth.InteractionOperation, op, "", "", true, "authenticated; reads and writes no stored data")
	return nil
}

// scope is the search.Scope of permission p over every supported type: the
// clauses a query compiles into SQL. It is nil when nothing is restricted
// (no authorization, or every type unrestricted), so unrestricted searches
// cost nothing.
func (s *Service) scope(ctx context.Context, p auth.Permission) *search.Scope {
	if s.Access == nil {
		return nil
	}
	g := GrantFrom(ctx)
	sc := &search.Scope{Types: map[string][]search.ScopeClause{}}
	if g == nil {
		return sc // allows nothing
	}
	restricted := false
	for _, typ := range s.Registry.Types() {
		a := g.Access(typ, p)
		if !a.Allowed {
			restricted = true
			continue
		}
		if a.Unrestricted() {
			sc.Types[typ] = []search.ScopeClause{{}}
			continue
		}
		restricted = true
		var clauses []search.ScopeClause
		for _, c := range a.Clauses {
			cl, ok := s.scopeClause(typ, c)
			if ok {
				clauses = append(clauses, cl)
			}
		}
		if len(clauses) > 0 {
			sc.Types[typ] = clauses
		}
	}
	if !restricted {
		return nil
	}
	return sc
}

// withGrantScope narrows a search's own scope (nil: none) by the grant's
// scope for s.
func (s *Service) withGrantScope(ctx context.Context, sc *search.Scope) *search.Scope {
	return search.Intersect(sc, s.scope(ctx, auth.PermSearch))
}

// scopeClause compiles one clause of an access. A granular query this
// server cannot run exactly (an unknown parameter, a result parameter such
// as _include) drops the clause: a malformed scope never widens access.
func (s *Service) scopeClause(typ string, c auth.Clause) (search.ScopeClause, bool) {
	cl := search.ScopeClause{Patient: c.Patient}
	if len(c.Query) == 0 {
		return cl, true
	}
	q, err := s.Registry.Parse(typ, c.Query, search.Strict)
	if err != nil || len(q.Filters) == 0 || len(q.Include) > 0 || len(q.RevInclude) > 0 ||
		len(q.Sort) > 0 || q.Summary != "" || len(q.Elements) > 0 || q.Cursor != nil || q.Total != "" {
		return search.ScopeClause{}, false
	}
	for _, f := range q.Filters {
		// A chain or _has in a scope would itself be bounded by the scopes
		// of other types, which may chain back: refused, so compiling a
		// scope always ends.
		if f.Next != nil || f.Has != nil || len(f.Any) > 0 {
			return search.ScopeClause{}, false
		}
	}
	cl.Filters = q.Filters
	return cl, true
}

// querier runs compiled statements: the store, or a write transaction
// (which sees its own writes).
type querier interface {
	Query(ctx context.Context, st search.Statement, fn func(store.Row) error) error
}

// within reports whether the current, live version of typ/id is one that
// sc allows, by the same SQL a search runs.
func (s *Service) within(ctx context.Context, db querier, sc *search.Scope, typ, id string) (bool, error) {
	if sc == nil {
		return true, nil
	}
	q, err := s.Registry.Parse(typ, url.Values{"_id": {id}}, search.Strict)
	if err != nil {
		return false, nil // not a valid id: nothing to allow
	}
	q.Scope, q.Count = sc, 1
	st, err := s.Compiler.Page(q)
	if err != nil {
		return false, fhir.Internal(err)
	}
	found := false
	err = db.Query(ctx, st, func(store.Row) error {
		found = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return found, nil
}

// versionWithin judges one stored version from its content (see
// search.Scope.AllowsIndex). A deletion has no content: callers judge the
// version before it.
func (s *Service) versionWithin(sc *search.Scope, r *fhir.Resource) bool {
	if sc == nil {
		return true
	}
	if r.Deleted || len(r.Body) == 0 {
		return false
	}
	obj, err := fhir.DecodeStrict(r.Body)
	if err != nil {
		return false
	}
	ix := s.Extractor.Extract(r.Type, obj)
	return sc.AllowsIndex(r.Type, r.ID, &ix)
}

// visible reports whether the token may see the resource whose current
// version is cur, and its version v (nil: cur itself) — for read, vread
// and instance history (permission r) and transaction GET entries. The
// resource counts by its current version when live, else by the version
// its deletion replaced; an earlier version v must itself be allowed too.
// A refusal is audited; callers answer it as they answer an id or version
// that does not exist.
func (s *Service) visible(ctx context.Context, db querier, in auth.Interaction, cur, v *fhir.Resource) (bool, error) {
	if s.Access == nil {
		return true, nil
	}
	sc := s.scope(ctx, in.Permission())
	if sc == nil {
		return true, nil
	}
	ok, err := s.currentWithin(ctx, db, sc, cur)
	if err != nil {
		return false, storeErr(err)
	}
	if ok && v != nil && v.Version != cur.Version && !v.Deleted {
		ok = s.versionWithin(sc, v)
	}
	if !ok {
		s.audit(ctx, GrantFrom(ctx), in, "", cur.Type, cur.ID, false, "outside the token's patient compartment or granular scopes")
	}
	return ok, nil
}

// currentWithin judges a resource by its current version cur (read
// through db, which may be a transaction that wrote it).
func (s *Service) currentWithin(ctx context.Context, db querier, sc *search.Scope, cur *fhir.Resource) (bool, error) {
	if !cur.Deleted {
		return s.within(ctx, db, sc, cur.Type, cur.ID)
	}
	if cur.Version < 2 {
		return false, nil
	}
	prev, err := s.Store.VRead(ctx, cur.Type, cur.ID, cur.Version-1)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.versionWithin(sc, prev), nil
}

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

// typesScope returns the rids statement of what sc allows among types, for
// history; nil when nothing is restricted.
func (s *Service) typesScope(sc *search.Scope, types []string) (*search.Statement, error) {
	if sc == nil {
		return nil, nil
	}
	st, err := s.Compiler.ScopeRIDs(sc, types)
	if err != nil {
		return nil, fhir.Internal(err)
	}
	return &st, nil
}

// requireUnrestricted lets bulk paths (LoadBatch) run only for a grant
// that may create and update every resource of the types: they bypass the
// per-resource checks.
func (s *Service) requireUnrestricted(ctx context.Context, types map[string]bool) error {
	if s.Access == nil {
		return nil
	}
	g := GrantFrom(ctx)
	if g == nil {
		return errNoGrant()
	}
	for typ := range types {
		for _, p := range []auth.Permission{auth.PermCreate, auth.PermUpdate} {
			a := g.Access(typ, p)
			if !a.Unrestricted() {
				s.audit(ctx, g, auth.InteractionCreate, "load", typ, "", false, "bulk load needs unrestricted create and update")
				return forbidden(auth.InteractionCreate, "", typ, p, "bulk load needs unrestricted create and update")
			}
		}
		s.audit(ctx, g, auth.InteractionCreate, "load", typ, "", true, "unrestricted create and update")
	}
	return nil
}

// allowEntry is the door of one batch or transaction entry, checked for
// every entry of a transaction before anything is written.
func (s *Service) allowEntry(ctx context.Context, e *entry) error {
	switch e.method {
	case "POST":
		return s.allowWrite(ctx, auth.InteractionCreate, e.typ, "", e.ifNoneExist != "")
	case "PUT":
		return s.allowWrite(ctx, auth.InteractionUpdate, e.typ, e.id, e.id == "")
	case "PATCH":
		return s.allowWrite(ctx, auth.InteractionPatch, e.typ, e.id, false)
	case "DELETE":
		return s.allowWrite(ctx, auth.InteractionDelete, e.typ, e.id, e.id == "")
	case "GET", "HEAD":
		switch {
		case e.id == "":
			return s.allow(ctx, auth.InteractionSearchType, e.typ, "")
		case e.version != "":
			return s.allow(ctx, auth.InteractionVRead, e.typ, e.id)
		}
		return s.allow(ctx, auth.InteractionRead, e.typ, e.id)
	}
	return nil
}

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

// allowForecast is the door of $immds-forecast. At the system level it is
// a computation over the resources the request carries, reading and
// writing nothing stored: a valid token suffices. At Patient/{id} it reads
// the Patient (r, and the Patient must be one the token reaches: the read
// answers 404 otherwise) and searches its Immunizations (s on
// Immunization; the search is bounded by the token's scopes, so a granular
// scope forecasts from the doses it shows). persist=true writes through
// the ordinary write path, which checks c/u on ImmunizationRecommendation
// and ImmunizationEvaluation (and d on the evaluations it replaces) per
// resource.
func (s *Service) allowForecast(ctx context.Context, patientID string) error {
	const op = "immds-forecast"
	if patientID == "" {
		return s.authenticated(ctx, op)
	}
	return s.allowPerm(ctx, auth.InteractionOperation, op, "Immunization", "", auth.PermSearch)
}
