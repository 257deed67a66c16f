package auth

import (
	"maps"
	"net/url"
	"slices"
	"time"
)

// Grant is what a verified access token allows, and for whom.
type Grant struct {
	// Issuer is the token's iss.
	Issuer string
	// Subject is the token's sub: the user, or the client for backend
	// services.
	Subject string
	// ClientID is the OAuth client the token was issued to.
	ClientID string
	// FHIRUser is the fhirUser claim (e.g. Practitioner/123 or a URL), if any.
	FHIRUser string
	// Patient is the patient launch context (a Patient id), if any.
	Patient string
	// TokenID is the token's jti, if any.
	TokenID string
	// IssuedAt and Expiry are the token's iat and exp.
	IssuedAt time.Time
	Expiry   time.Time
	// Scopes are the token's scopes, parsed.
	Scopes Scopes
}

// Clause is one way a Grant allows access to a resource. A resource matches
// the clause when it matches every restriction it carries.
type Clause struct {
	// Patient, when non-empty, confines the clause to the Patient with this
	// id and the resources in that Patient's compartment.
	Patient string
	// Query, when non-nil, confines the clause to resources matching this
	// FHIR search on the requested type (parameters ANDed, comma-separated
	// values ORed, as in any search).
	Query url.Values
	// Scope is the scope this clause comes from (as received), for audit.
	Scope string
}

// unrestricted reports whether the clause lets every resource through.
func (c Clause) unrestricted() bool { return c.Patient == "" && len(c.Query) == 0 }

// Access is the answer to "may this Grant use permission P on type T".
// Allowed accesses reach the resources matching at least one Clause.
type Access struct {
	Allowed bool
	// Clauses are ORed. When Allowed they are never empty; an unrestricted
	// access has exactly one clause with no Patient and no Query.
	Clauses []Clause
	// Reason says why access was denied, or which scopes allowed it.
	Reason string
}

// Unrestricted reports whether access is allowed to every resource of the
// type.
func (a Access) Unrestricted() bool {
	return a.Allowed && len(a.Clauses) == 1 && a.Clauses[0].unrestricted()
}

// Patients returns the patient ids the clauses confine access to, and
// whether every clause is so confined. When confined is false some clause
// reaches resources outside any patient compartment.
func (a Access) Patients() (ids []string, confined bool) {
	if !a.Allowed {
		return nil, true
	}
	confined = true
	for _, c := range a.Clauses {
		if c.Patient == "" {
			confined = false
			continue
		}
		if !slices.Contains(ids, c.Patient) {
			ids = append(ids, c.Patient)
		}
	}
	return ids, confined
}

// Queries returns the granular queries of the clauses, or nil when some
// clause has none (its access is not narrowed by a query).
func (a Access) Queries() []url.Values {
	var qs []url.Values
	for _, c := range a.Clauses {
		if len(c.Query) == 0 {
			return nil
		}
		qs = append(qs, c.Query)
	}
	return qs
}

// Access answers whether the grant allows permission p (one or more letters,
// all required) on resource type typ, and under which restrictions. typ must
// be a concrete type name; "*" or "" is denied. A Grant with no usable scope,
// and a nil Grant, allow nothing.
func (g *Grant) Access(typ string, p Permission) Access {
	if g == nil {
		return Access{Reason: "no grant"}
	}
	if typ == "*" || !validTypeName(typ) {
		return Access{Reason: "invalid resource type"}
	}
	if p == 0 {
		return Access{Reason: "no permission named"}
	}
	var clauses []Clause
	var ignoredPatientScope bool
	for _, s := range g.Scopes.Resources {
		if !s.matches(typ) || !s.Perms.Has(p) {
			continue
		}
		c := Clause{Query: s.Query, Scope: s.Raw}
		if s.Level == LevelPatient {
			if g.Patient == "" {
				ignoredPatientScope = true
				continue
			}
			c.Patient = g.Patient
		}
		clauses = append(clauses, c)
	}
	if len(clauses) == 0 {
		reason := "no scope grants " + p.String() + " on " + typ
		if ignoredPatientScope {
			reason = "patient scope without patient context"
		}
		return Access{Reason: reason}
	}
	clauses = simplify(clauses)
	return Access{Allowed: true, Clauses: clauses, Reason: reasonFor(clauses)}
}

// Allows is Access for the permission interaction in needs. For
// InteractionOperation the caller must call Access with the operation's
// permission; Allows denies it.
func (g *Grant) Allows(in Interaction, typ string) Access {
	p := in.Permission()
	if p == 0 {
		return Access{Reason: "interaction " + string(in) + " needs an explicit permission"}
	}
	return g.Access(typ, p)
}

// PatientContext returns the launch patient when a patient/ scope of the
// grant is in force, i.e. when some access may be confined to that patient's
// compartment.
func (g *Grant) PatientContext() (string, bool) {
	if g == nil || g.Patient == "" {
		return "", false
	}
	for _, s := range g.Scopes.Resources {
		if s.Level == LevelPatient {
			return g.Patient, true
		}
	}
	return "", false
}

// simplify drops clauses that other clauses make redundant: everything goes
// when one clause is unrestricted; a clause for a patient without query
// covers that patient's queried clauses; identical clauses collapse.
func simplify(clauses []Clause) []Clause {
	for _, c := range clauses {
		if c.unrestricted() {
			return []Clause{c}
		}
	}
	wholePatient := map[string]bool{}
	for _, c := range clauses {
		if c.Patient != "" && len(c.Query) == 0 {
			wholePatient[c.Patient] = true
		}
	}
	var out []Clause
	for _, c := range clauses {
		if len(c.Query) > 0 && c.Patient != "" && wholePatient[c.Patient] {
			continue
		}
		if slices.ContainsFunc(out, func(o Clause) bool { return sameClause(o, c) }) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func sameClause(a, b Clause) bool {
	return a.Patient == b.Patient && maps.EqualFunc(a.Query, b.Query, slices.Equal[[]string])
}

func reasonFor(clauses []Clause) string {
	r := "granted by"
	for _, c := range clauses {
		r += " " + c.Scope
	}
	return r
}
