package auth

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// grantSystemScopes intersects the requested scopes with a client's
// registered ones. Only system/ scopes are granted. A granted scope is the
// overlap of one requested and one registered scope: the narrower type,
// the common permissions, and both granular queries. When the overlap is
// exactly what was requested, the requested string is echoed; otherwise
// the overlap is written in v2 syntax. Everything requested that yields no
// overlap is returned in ignored, with the reason.
func grantSystemScopes(requested Scopes, registered []string) (granted []string, ignored []InvalidScope) {
	var reg []ResourceScope
	for _, r := range registered {
		rs, err := ParseResourceScope(r)
		if err == nil && rs.Level == LevelSystem {
			reg = append(reg, rs)
		}
	}
	ignored = append(ignored, requested.Invalid...)
	for _, o := range requested.Other {
		ignored = append(ignored, InvalidScope{Scope: o, Reason: "not a resource scope"})
	}
	for _, r := range requested.Resources {
		if r.Level != LevelSystem {
			ignored = append(ignored, InvalidScope{Scope: r.Raw, Reason: "only system/ scopes are granted to backend services"})
			continue
		}
		before := len(granted)
		for _, g := range reg {
			o, ok := overlap(r, g)
			if !ok {
				continue
			}
			s := o.String()
			if o.Type == r.Type && o.Perms == r.Perms && sameQuery(o.Query, r.Query) {
				s = r.Raw
			}
			if !slices.Contains(granted, s) {
				granted = append(granted, s)
			}
		}
		if len(granted) == before {
			ignored = append(ignored, InvalidScope{Scope: r.Raw, Reason: "not registered for this client"})
		}
	}
	return granted, ignored
}

// overlap is what two system scopes both allow.
func overlap(a, b ResourceScope) (ResourceScope, bool) {
	var typ string
	switch {
	case a.Type == b.Type, b.Type == "*":
		typ = a.Type
	case a.Type == "*":
		typ = b.Type
	default:
		return ResourceScope{}, false
	}
	perms := a.Perms & b.Perms
	if perms == 0 {
		return ResourceScope{}, false
	}
	return ResourceScope{Level: LevelSystem, Type: typ, Perms: perms, Query: mergeQueries(a.Query, b.Query), Version: 2}, true
}

// mergeQueries ANDs two granular queries: every parameter of both.
func mergeQueries(a, b url.Values) url.Values {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := url.Values{}
	for _, q := range []url.Values{a, b} {
		for k, vs := range q {
			for _, v := range vs {
				if !slices.Contains(out[k], v) {
					out[k] = append(out[k], v)
				}
			}
		}
	}
	return out
}

func sameQuery(a, b url.Values) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return maps.EqualFunc(a, b, slices.Equal[[]string])
}

func joinScopes(s []string) string { return strings.Join(s, " ") }
