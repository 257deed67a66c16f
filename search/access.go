package search

import (
	"sort"
	"strings"
)

// Access restrictions beyond one search (the SMART grant of interaction's
// access.go): the resources a Scope allows as an SQL subquery, for history,
// and the in-memory twin of the Scope's SQL, for versions that have no index
// rows in the database (earlier versions, deleted resources).

// ScopeRIDs compiles "SELECT rid" of the resources (live or deleted, current
// row) of types that sc allows; types that sc does not name are left out.
// History restricts itself to these rids (store.HistoryQuery.Only).
func (c *Compiler) ScopeRIDs(sc *Scope, types []string) (Statement, error) {
	b := &builder{c: c}
	types = append([]string(nil), types...)
	sort.Strings(types)
	var ors []string
	for _, typ := range types {
		if _, ok := sc.Types[typ]; !ok {
			continue
		}
		cond, err := b.scope(sc, typ, subject{typ: typ, rid: "r.rid", row: "r"})
		if err != nil {
			return Statement{}, err
		}
		if cond == "" {
			ors = append(ors, "r.type = "+b.arg(typ))
		} else {
			ors = append(ors, "(r.type = "+b.arg(typ)+" AND "+cond+")")
		}
	}
	if len(ors) == 0 {
		ors = []string{"1 = 0"}
	}
	return Statement{SQL: "SELECT r.rid FROM resource r WHERE " + strings.Join(ors, " OR "), Args: b.args}, nil
}

// AllowsIndex reports whether a resource of typ with this id, whose index
// rows (as Extractor.Extract derives them from its content) are ix, is one
// that sc allows. It answers for content that is not (or no longer) in the
// index tables, such as an earlier version in a history.
//
// It evaluates compartments exactly (they come from the same extraction the
// index rows do) but only the simplest filters of granular scopes: _id,
// and token and reference parameters without modifiers. A clause with any
// other filter does not match: in memory, a scope fails closed.
func (sc *Scope) AllowsIndex(typ, id string, ix *Index) bool {
	if sc == nil {
		return true
	}
	for _, cl := range sc.Types[typ] {
		if cl.Patient != "" && !containsString(ix.Compartments, cl.Patient) {
			continue
		}
		ok := true
		for _, f := range cl.Filters {
			if !filterMatchesIndex(f, id, ix) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// filterMatchesIndex evaluates one filter on extracted rows (values ORed),
// with the semantics of tokenCond and refCond for the forms it knows.
func filterMatchesIndex(f *Filter, id string, ix *Index) bool {
	p := f.Param
	if p == nil || f.Modifier != "" || f.Missing != nil || f.Next != nil || f.Has != nil || len(f.Any) > 0 {
		return false
	}
	for _, v := range f.Values {
		switch {
		case p.Column == "id":
			if v.Code == id {
				return true
			}
		case p.Column != "":
			return false
		case p.Type == TypeToken:
			for _, r := range ix.Tokens {
				if r.Param == p.ID && tokenRowMatches(r, v) {
					return true
				}
			}
		case p.Type == TypeReference:
			for _, r := range ix.Refs {
				if r.Param == p.ID && r.URL == "" && refRowMatches(r, v) {
					return true
				}
			}
		default:
			return false
		}
	}
	return false
}

func tokenRowMatches(r TokenRow, v Value) bool {
	switch {
	case !v.HasSys:
		return r.Code == cut(v.Code)
	case v.Code == "":
		return r.System == cut(v.System)
	}
	return r.Code == cut(v.Code) && r.System == cut(v.System)
}

// refRowMatches knows local references only (Type/id or a bare id); any
// other form does not match in memory.
func refRowMatches(r RefRow, v Value) bool {
	typ, rid, hasType := strings.Cut(v.Raw, "/")
	if !hasType {
		return r.ID == v.Raw
	}
	return !strings.Contains(rid, "/") && r.Type == typ && r.ID == rid
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Intersect is the scope allowing what both a and b allow (nil allows
// everything). Clauses combine pairwise; a pair naming two different
// patients is dropped, since one clause holds one compartment: the
// intersection may allow less than it could, never more.
func Intersect(a, b *Scope) *Scope {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := &Scope{Types: map[string][]ScopeClause{}}
	for typ, as := range a.Types {
		for _, x := range as {
			for _, y := range b.Types[typ] {
				if x.Patient != "" && y.Patient != "" && x.Patient != y.Patient {
					continue
				}
				p := x.Patient
				if p == "" {
					p = y.Patient
				}
				fs := append(append([]*Filter(nil), x.Filters...), y.Filters...)
				out.Types[typ] = append(out.Types[typ], ScopeClause{Patient: p, Filters: fs})
			}
		}
	}
	return out
}
