package auth

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// ClaimNames names the access-token claims a Grant is read from. Zero fields
// take the SMART defaults (DefaultClaimNames).
type ClaimNames struct {
	Scope     string // space-separated scopes; default "scope"
	ScopeList string // array of scopes; default "scp"
	Patient   string // patient launch context; default "patient"
	FHIRUser  string // default "fhirUser"
	ClientID  string // default "client_id"
	// AuthorizedParty is read for the client when ClientID is absent;
	// default "azp".
	AuthorizedParty string
}

// DefaultClaimNames are the claim names SMART and RFC 9068 use.
var DefaultClaimNames = ClaimNames{
	Scope:           "scope",
	ScopeList:       "scp",
	Patient:         "patient",
	FHIRUser:        "fhirUser",
	ClientID:        "client_id",
	AuthorizedParty: "azp",
}

func (n ClaimNames) withDefaults() ClaimNames {
	d := DefaultClaimNames
	pick := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	return ClaimNames{
		Scope:           pick(n.Scope, d.Scope),
		ScopeList:       pick(n.ScopeList, d.ScopeList),
		Patient:         pick(n.Patient, d.Patient),
		FHIRUser:        pick(n.FHIRUser, d.FHIRUser),
		ClientID:        pick(n.ClientID, d.ClientID),
		AuthorizedParty: pick(n.AuthorizedParty, d.AuthorizedParty),
	}
}

// claimSet is a decoded JWT payload.
type claimSet map[string]any

func decodeClaims(payload []byte) (claimSet, error) {
	var c claimSet
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fmt.Errorf("decode claims: %w", err)
	}
	if c == nil {
		return nil, fmt.Errorf("decode claims: not a JSON object")
	}
	return c, nil
}

// str returns claim name as a string; absent is "", another type an error.
func (c claimSet) str(name string) (string, error) {
	v, ok := c[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("claim %s is not a string", name)
	}
	return s, nil
}

// strList returns claim name as a list of strings; absent is nil.
func (c claimSet) strList(name string) ([]string, error) {
	v, ok := c[name]
	if !ok || v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("claim %s is not an array", name)
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("claim %s has a non-string element", name)
		}
		out = append(out, s)
	}
	return out, nil
}

// audience returns aud as a list: a string or an array of strings.
func (c claimSet) audience() ([]string, error) {
	if s, ok := c["aud"].(string); ok {
		return []string{s}, nil
	}
	return c.strList("aud")
}

// time returns a NumericDate claim; absent is the zero time.
func (c claimSet) time(name string) (time.Time, error) {
	v, ok := c[name]
	if !ok || v == nil {
		return time.Time{}, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("claim %s is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// grantFromClaims builds a Grant from verified claims. A claim of the wrong
// type, or a patient claim that is not a FHIR id, makes the token invalid.
func grantFromClaims(c claimSet, names ClaimNames) (*Grant, error) {
	names = names.withDefaults()
	g := &Grant{}
	var err error
	strs := []struct {
		dst  *string
		name string
	}{
		{&g.Issuer, "iss"}, {&g.Subject, "sub"}, {&g.TokenID, "jti"},
		{&g.FHIRUser, names.FHIRUser}, {&g.Patient, names.Patient},
		{&g.ClientID, names.ClientID},
	}
	for _, s := range strs {
		if *s.dst, err = c.str(s.name); err != nil {
			return nil, err
		}
	}
	if g.ClientID == "" {
		if g.ClientID, err = c.str(names.AuthorizedParty); err != nil {
			return nil, err
		}
	}
	if g.Patient != "" && !validFHIRID(g.Patient) {
		return nil, fmt.Errorf("claim %s is not a FHIR id", names.Patient)
	}
	if g.IssuedAt, err = c.time("iat"); err != nil {
		return nil, err
	}
	if g.Expiry, err = c.time("exp"); err != nil {
		return nil, err
	}
	g.Scopes, err = scopesFromClaims(c, names)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// scopesFromClaims reads the space-separated scope claim when the token has
// one, else the scope list claim.
func scopesFromClaims(c claimSet, names ClaimNames) (Scopes, error) {
	if _, ok := c[names.Scope]; ok {
		s, err := c.str(names.Scope)
		if err != nil {
			return Scopes{}, err
		}
		return ParseScopes(s), nil
	}
	list, err := c.strList(names.ScopeList)
	if err != nil {
		return Scopes{}, err
	}
	return ParseScopeList(list), nil
}

// validFHIRID checks the FHIR id grammar: [A-Za-z0-9\-\.]{1,64}.
func validFHIRID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(isLetter(c) || (c >= '0' && c <= '9') || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
