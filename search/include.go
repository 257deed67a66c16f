package search

import (
	"fmt"
	"sort"
	"strings"
)

// _include and _revinclude (search.html "Including other resources"):
// after a page of matches is read, the resources its references point at
// (include) or that point at it (revinclude) are read by rid and id lists,
// so their cost grows with the page, not with the database.

// IncludeParams are the reference parameters an include follows: its one
// parameter, or for Source:* every reference parameter of Source (that can
// reach Target, when one is named).
func (r *Registry) IncludeParams(inc Include) []*Param {
	if inc.Param != nil {
		return []*Param{inc.Param}
	}
	var out []*Param
	for _, p := range r.Params(inc.Source) {
		if p.Type == TypeReference && (inc.Target == "" || targets(p, inc.Target)) {
			out = append(out, p)
		}
	}
	return out
}

// Include compiles the live resources that params of the resources rids
// reference (of type target, when not empty).
func (c *Compiler) Include(params []*Param, target string, rids []int64, scope *Scope) (Statement, error) {
	if len(params) == 0 || len(rids) == 0 {
		return Statement{}, fmt.Errorf("include: nothing to follow")
	}
	b := &builder{c: c}
	var ps, rs []string
	for _, p := range params {
		ps = append(ps, b.arg(p.ID))
	}
	for _, rid := range rids {
		rs = append(rs, b.arg(rid))
	}
	sql := "SELECT " + ResourceColumns + " FROM idx_ref x JOIN resource r ON r.type = x.ref_type AND r.id = x.ref_id" +
		" WHERE x.rid IN (" + strings.Join(rs, ", ") + ") AND x.param IN (" + strings.Join(ps, ", ") + ") AND r.deleted = " + b.falseLit()
	if target != "" {
		sql += " AND r.type = " + b.arg(target)
	}
	sc, err := b.scopeAnyType(scope)
	if err != nil {
		return Statement{}, err
	}
	if sc != "" {
		sql += " AND " + sc
	}
	return Statement{SQL: sql + " ORDER BY r.rid", Args: b.args}, nil
}

// RevInclude compiles the live resources of type source whose params
// reference one of ids (resources of type target).
func (c *Compiler) RevInclude(source string, params []*Param, target string, ids []string, scope *Scope) (Statement, error) {
	if len(params) == 0 || len(ids) == 0 {
		return Statement{}, fmt.Errorf("revinclude: nothing to follow")
	}
	b := &builder{c: c}
	var ps, is []string
	where := "r.type = " + b.arg(source) + " AND r.deleted = " + b.falseLit()
	for _, p := range params {
		ps = append(ps, b.arg(p.ID))
	}
	tt := b.arg(target)
	for _, id := range ids {
		is = append(is, b.arg(id))
	}
	where += " AND r.rid IN (SELECT x.rid FROM idx_ref x WHERE x.param IN (" + strings.Join(ps, ", ") +
		") AND x.ref_type = " + tt + " AND x.ref_id IN (" + strings.Join(is, ", ") + "))"
	sc, err := b.scope(scope, source, subject{typ: source, rid: "r.rid", row: "r"})
	if err != nil {
		return Statement{}, err
	}
	if sc != "" {
		where += " AND " + sc
	}
	return Statement{SQL: "SELECT " + ResourceColumns + " FROM resource r WHERE " + where + " ORDER BY r.rid", Args: b.args}, nil
}

// scopeAnyType restricts r (of any type) to what scope allows for its type.
func (b *builder) scopeAnyType(sc *Scope) (string, error) {
	if sc == nil {
		return "", nil
	}
	types := make([]string, 0, len(sc.Types))
	for typ := range sc.Types {
		types = append(types, typ)
	}
	sort.Strings(types)
	var ors []string
	for _, typ := range types {
		cond, err := b.scope(sc, typ, subject{typ: typ, rid: "r.rid", row: "r"})
		if err != nil {
			return "", err
		}
		if cond == "" {
			ors = append(ors, "r.type = "+b.arg(typ))
		} else {
			ors = append(ors, "(r.type = "+b.arg(typ)+" AND "+cond+")")
		}
	}
	if len(ors) == 0 {
		return "1 = 0", nil
	}
	return "(" + strings.Join(ors, " OR ") + ")", nil
}
