package search

import (
	"fmt"
	"strings"

	"github.com/immunis/immunis/fhir"
)

// Reference parameters (search.html "reference"): id, Type/id, an
// absolute URL (this server's base counts as local), :Type,
// :identifier; chains and _has are compiled in compile.go.
//
// Rows: local references (Type/id, also absolute URLs under this server's
// base) as (param, ref_type, ref_id, url=''); references to other servers
// as (param, ref_type, ref_id='', url) so that they never match a local id;
// canonicals as (param, '', '', url). Reference.identifier goes to idx_token
// under IdentifierID for :identifier.

// appendRefRows adds the rows of one reference parameter value.
func (x *Extractor) appendRefRows(ix *Index, p *Param, v any) {
	switch v := v.(type) {
	case string: // canonical
		ix.Refs = append(ix.Refs, RefRow{Param: p.ID, URL: cut(v)})
	case map[string]any:
		if s := fhir.Str(v, "reference"); s != "" {
			ref := fhir.ParseReference(s, x.BaseURL)
			switch ref.Kind {
			case fhir.RefLocal:
				ix.Refs = append(ix.Refs, RefRow{Param: p.ID, Type: ref.Type, ID: ref.ID})
			case fhir.RefAbsolute:
				ix.Refs = append(ix.Refs, RefRow{Param: p.ID, Type: ref.Type, URL: cut(s)})
			}
		}
		if id := fhir.Obj(v, "identifier"); id != nil && p.IdentifierID != 0 {
			ix.Tokens = append(ix.Tokens, TokenRow{Param: p.IdentifierID, System: cut(fhir.Str(id, "system")), Code: cut(fhir.Str(id, "value"))})
		}
	}
}

// parseReferenceValue checks one reference search value.
func parseReferenceValue(mod, part string) (Value, error) {
	if mod == "identifier" {
		return parseToken("", part)
	}
	raw := unescape(part)
	ref := fhir.ParseReference(raw, "")
	switch {
	case ref.Kind == fhir.RefLocal, ref.Kind == fhir.RefAbsolute, fhir.ValidID(raw):
		return Value{Raw: raw}, nil
	case strings.Contains(raw, ":"): // a canonical or other URI
		return Value{Raw: raw}, nil
	}
	return Value{}, fmt.Errorf("%q is not a valid reference", raw)
}

// refCond is the condition on one idx_ref row (or idx_token row for
// :identifier) for one value.
func (b *builder) refCond(p *Param, mod string, v Value, c col) (string, error) {
	if mod == "identifier" {
		return b.tokenCond("", v, c), nil
	}
	raw := v.Raw
	ref := fhir.ParseReference(raw, b.c.BaseURL)
	switch {
	case ref.Kind == fhir.RefLocal:
		if mod != "" && mod != ref.Type {
			return "1 = 0", nil
		}
		return c.of("ref_id") + " = " + b.arg(ref.ID) + " AND " + c.of("ref_type") + " = " + b.arg(ref.Type), nil
	case ref.Kind == fhir.RefAbsolute:
		return c.of("url") + " = " + b.arg(raw), nil
	case fhir.ValidID(raw):
		if mod != "" {
			return c.of("ref_id") + " = " + b.arg(raw) + " AND " + c.of("ref_type") + " = " + b.arg(mod), nil
		}
		// a bare id: any target type the parameter allows
		return c.of("ref_id") + " = " + b.arg(raw), nil
	case strings.Contains(raw, ":"):
		// canonical, optionally url|version
		u, _, _ := strings.Cut(raw, "|")
		return c.of("url") + " = " + b.arg(u), nil
	}
	return "", fmt.Errorf("%q is not a valid reference", raw)
}
