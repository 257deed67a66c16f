package fhir

import "strings"

// RefKind says what form a reference string takes.
type RefKind int

const (
	RefInvalid     RefKind = iota
	RefLocal               // Type/id (optionally /_history/v), relative to this server
	RefAbsolute            // an absolute URL that is not this server's
	RefContained           // #id, a contained resource
	RefURN                 // urn:uuid:… or urn:oid:…, resolved inside a Bundle
	RefConditional         // Type?query, resolved by search inside a transaction
)

// Reference is a parsed Reference.reference value.
type Reference struct {
	Kind    RefKind
	Type    string
	ID      string
	Version string
	Query   string // for RefConditional
	Raw     string
}

// ParseReference classifies s. An absolute URL under base (this server's
// FHIR base URL) is treated as local.
func ParseReference(s, base string) Reference {
	r := Reference{Raw: s}
	switch {
	case s == "":
		return r
	case strings.HasPrefix(s, "#"):
		r.Kind = RefContained
		r.ID = s[1:]
		return r
	case strings.HasPrefix(s, "urn:uuid:") || strings.HasPrefix(s, "urn:oid:"):
		r.Kind = RefURN
		return r
	}
	rel := s
	if i := strings.Index(s, "://"); i > 0 {
		b := strings.TrimSuffix(base, "/")
		if b == "" || !strings.HasPrefix(s, b+"/") {
			r.Kind = RefAbsolute
			// Still expose Type/id when the URL ends in one (RESTful URL).
			if t, id, v, ok := splitRESTful(s[i+3:]); ok {
				r.Type, r.ID, r.Version = t, id, v
			}
			return r
		}
		rel = s[len(b)+1:]
	}
	if q := strings.IndexByte(rel, '?'); q > 0 {
		if IsTypeName(rel[:q]) {
			r.Kind = RefConditional
			r.Type = rel[:q]
			r.Query = rel[q+1:]
		}
		return r
	}
	parts := strings.Split(rel, "/")
	switch {
	case len(parts) == 2 && IsTypeName(parts[0]) && ValidID(parts[1]):
		r.Kind, r.Type, r.ID = RefLocal, parts[0], parts[1]
	case len(parts) == 4 && IsTypeName(parts[0]) && ValidID(parts[1]) && parts[2] == "_history" && ValidID(parts[3]):
		r.Kind, r.Type, r.ID, r.Version = RefLocal, parts[0], parts[1], parts[3]
	}
	return r
}

// splitRESTful finds a trailing Type/id[/_history/v] in a URL path.
func splitRESTful(s string) (typ, id, version string, ok bool) {
	parts := strings.Split(s, "/")
	n := len(parts)
	if n >= 4 && parts[n-2] == "_history" && IsTypeName(parts[n-4]) && ValidID(parts[n-3]) {
		return parts[n-4], parts[n-3], parts[n-1], true
	}
	if n >= 2 && IsTypeName(parts[n-2]) && ValidID(parts[n-1]) {
		return parts[n-2], parts[n-1], "", true
	}
	return "", "", "", false
}

// IsTypeName reports whether s has the shape of a FHIR resource type name.
func IsTypeName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
