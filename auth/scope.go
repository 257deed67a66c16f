package auth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Level is the part of a SMART resource scope before the slash.
type Level string

// The SMART scope levels.
const (
	LevelPatient Level = "patient"
	LevelUser    Level = "user"
	LevelSystem  Level = "system"
)

// Limits on what a scope string may be. Longer input is not a scope anyone
// meant to send.
const (
	maxScopeLen    = 1024 // one scope, granular query included
	maxScopeCount  = 256  // scopes in one token or request
	maxTypeNameLen = 64
	maxParamLen    = 64
)

// ResourceScope is one SMART scope for FHIR resources, such as
// patient/Immunization.rs?status=completed.
type ResourceScope struct {
	Level Level
	// Type is a resource type name or "*".
	Type string
	// Perms is what the scope grants; v1 read/write/* are expanded.
	Perms Permission
	// Query is the granular restriction of a v2 scope, nil when there is
	// none. The search layer applies it as a FHIR search on Type.
	Query url.Values
	// Version is the syntax the scope was written in: 1 or 2.
	Version int
	// Raw is the scope as it was received.
	Raw string
}

// String renders the scope in SMART v2 syntax.
func (s ResourceScope) String() string {
	out := string(s.Level) + "/" + s.Type + "." + s.Perms.String()
	if len(s.Query) > 0 {
		out += "?" + s.Query.Encode()
	}
	return out
}

// matches reports whether the scope names resource type typ.
func (s ResourceScope) matches(typ string) bool { return s.Type == "*" || s.Type == typ }

// InvalidScope is a scope that was dropped, and why.
type InvalidScope struct {
	Scope  string
	Reason string
}

// Scopes is a parsed scope set. Only Resources grant access to FHIR data.
type Scopes struct {
	Resources []ResourceScope

	OpenID        bool // openid
	FHIRUser      bool // fhirUser
	Launch        bool // launch
	LaunchPatient bool // launch/patient
	OfflineAccess bool // offline_access
	OnlineAccess  bool // online_access

	// Other holds well-formed scopes that grant nothing here (profile,
	// launch/encounter, a provider's own scopes, …).
	Other []string
	// Invalid holds malformed scopes. They were ignored.
	Invalid []InvalidScope
}

// ParseScopes parses an OAuth scope string: scopes separated by single
// spaces (RFC 6749 §3.3). It never fails: malformed scopes are reported in
// Invalid and grant nothing.
func ParseScopes(s string) Scopes {
	var list []string
	for part := range strings.SplitSeq(s, " ") {
		if part != "" {
			list = append(list, part)
		}
	}
	return ParseScopeList(list)
}

// ParseScopeList parses scopes given one per element, as in an `scp` claim.
// An element containing a space is invalid: it is never split.
func ParseScopeList(list []string) Scopes {
	var out Scopes
	for i, raw := range list {
		if i >= maxScopeCount {
			out.Invalid = append(out.Invalid, InvalidScope{Scope: clip(raw), Reason: "too many scopes"})
			continue
		}
		out.add(raw)
	}
	return out
}

func (out *Scopes) add(raw string) {
	if err := checkScopeToken(raw); err != nil {
		out.Invalid = append(out.Invalid, InvalidScope{Scope: clip(raw), Reason: err.Error()})
		return
	}
	switch raw {
	case "openid":
		out.OpenID = true
		return
	case "fhirUser":
		out.FHIRUser = true
		return
	case "launch":
		out.Launch = true
		return
	case "launch/patient":
		out.LaunchPatient = true
		return
	case "offline_access":
		out.OfflineAccess = true
		return
	case "online_access":
		out.OnlineAccess = true
		return
	}
	if !looksLikeResourceScope(raw) {
		out.Other = append(out.Other, raw)
		return
	}
	rs, err := ParseResourceScope(raw)
	if err != nil {
		out.Invalid = append(out.Invalid, InvalidScope{Scope: raw, Reason: err.Error()})
		return
	}
	out.Resources = append(out.Resources, rs)
}

// String renders the scopes that were understood, space-separated, in a
// stable order: resource scopes as received, then the context scopes, then
// Other. Invalid scopes are left out.
func (s Scopes) String() string {
	var parts []string
	for _, r := range s.Resources {
		parts = append(parts, r.Raw)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{
		{s.OpenID, "openid"}, {s.FHIRUser, "fhirUser"}, {s.Launch, "launch"},
		{s.LaunchPatient, "launch/patient"}, {s.OfflineAccess, "offline_access"},
		{s.OnlineAccess, "online_access"},
	} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	parts = append(parts, s.Other...)
	return strings.Join(parts, " ")
}

// looksLikeResourceScope reports whether raw claims to be a resource scope:
// its part before the first slash names a level, in any letter case. Such a
// scope must then parse completely, or it is invalid.
func looksLikeResourceScope(raw string) bool {
	prefix, _, ok := strings.Cut(raw, "/")
	if !ok {
		return false
	}
	switch strings.ToLower(prefix) {
	case "patient", "user", "system":
		return true
	}
	return false
}

// ParseResourceScope parses one SMART resource scope, v1 or v2.
func ParseResourceScope(raw string) (ResourceScope, error) {
	if err := checkScopeToken(raw); err != nil {
		return ResourceScope{}, err
	}
	rs := ResourceScope{Raw: raw}
	level, rest, ok := strings.Cut(raw, "/")
	if !ok {
		return ResourceScope{}, errors.New("missing level")
	}
	switch Level(level) {
	case LevelPatient, LevelUser, LevelSystem:
		rs.Level = Level(level)
	default:
		return ResourceScope{}, fmt.Errorf("unknown level %q", level)
	}
	body, query, hasQuery := strings.Cut(rest, "?")
	typ, perms, ok := strings.Cut(body, ".")
	if !ok {
		return ResourceScope{}, errors.New("missing permissions")
	}
	if !validTypeName(typ) {
		return ResourceScope{}, fmt.Errorf("invalid resource type %q", typ)
	}
	rs.Type = typ
	if p, ok := parseV1Permissions(perms); ok {
		rs.Perms, rs.Version = p, 1
	} else if p, ok := parseV2Permissions(perms); ok {
		rs.Perms, rs.Version = p, 2
	} else {
		return ResourceScope{}, fmt.Errorf("invalid permissions %q", perms)
	}
	if hasQuery {
		if rs.Version != 2 {
			return ResourceScope{}, errors.New("granular query on a v1 scope")
		}
		if rs.Type == "*" {
			// A search parameter means something for one resource type only.
			return ResourceScope{}, errors.New("granular query on a wildcard type")
		}
		q, err := parseGranularQuery(query)
		if err != nil {
			return ResourceScope{}, err
		}
		rs.Query = q
	}
	return rs, nil
}

// checkScopeToken enforces RFC 6749 §3.3 scope-token characters
// (%x21 / %x23-5B / %x5D-7E: printable ASCII without space, quote and
// backslash), minus characters no SMART scope uses and that only appear in
// injection attempts: ' ; ` < >.
func checkScopeToken(raw string) error {
	if raw == "" {
		return errors.New("empty scope")
	}
	if len(raw) > maxScopeLen {
		return fmt.Errorf("longer than %d bytes", maxScopeLen)
	}
	for i := range len(raw) {
		c := raw[i]
		switch {
		case c == ' ':
			return errors.New("contains a space")
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("contains control character %#02x", c)
		case c > 0x7f:
			return errors.New("contains non-ASCII characters")
		case strings.IndexByte("\"\\';`<>", c) >= 0:
			return fmt.Errorf("contains forbidden character %q", c)
		}
	}
	return nil
}

// validTypeName accepts "*" or a FHIR resource type name: an upper-case
// letter followed by letters.
func validTypeName(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" || len(s) > maxTypeNameLen || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := range len(s) {
		if !isLetter(s[i]) {
			return false
		}
	}
	return true
}

// resultParams are search parameters that shape a result instead of
// selecting resources; they cannot restrict access.
var resultParams = map[string]bool{
	"_count": true, "_sort": true, "_include": true, "_revinclude": true,
	"_elements": true, "_summary": true, "_total": true, "_contained": true,
	"_containedType": true, "_format": true, "_pretty": true, "_maxresults": true,
}

// parseGranularQuery parses the query of a granular v2 scope.
func parseGranularQuery(query string) (url.Values, error) {
	if query == "" {
		return nil, errors.New("empty granular query")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("granular query: %w", err)
	}
	for name, values := range q {
		if !validParamName(name) {
			return nil, fmt.Errorf("granular query: invalid parameter name %q", clip(name))
		}
		if resultParams[name] {
			return nil, fmt.Errorf("granular query: %s does not select resources", name)
		}
		for _, v := range values {
			if err := checkParamValue(v); err != nil {
				return nil, fmt.Errorf("granular query: %s: %w", name, err)
			}
		}
	}
	return q, nil
}

// validParamName accepts a search parameter name with optional modifier or
// chain: letters, digits, '_', '-', '.', ':', starting with a letter or '_'.
func validParamName(s string) bool {
	if s == "" || len(s) > maxParamLen || !(isLetter(s[0]) || s[0] == '_') {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !(isLetter(c) || (c >= '0' && c <= '9') || strings.IndexByte("_-.:", c) >= 0) {
			return false
		}
	}
	return true
}

// checkParamValue rejects empty values and, after URL decoding, control
// characters, quotes, backslashes and semicolons.
func checkParamValue(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	if !utf8.ValidString(v) {
		return errors.New("value is not UTF-8")
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("\"'\\;`", r) {
			return fmt.Errorf("forbidden character %q in value", r)
		}
	}
	return nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// clip shortens s for reports so hostile input cannot flood a log.
func clip(s string) string {
	const n = 80
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
