package interaction

import (
	"context"
	"strings"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
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
//
// The doors are in this file; access_scope.go compiles the clauses and
// checks resources and versions against them, access_write.go guards
// writes, access_history.go filters history.

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
