package search

import (
	"fmt"
	"strings"
	"time"
)

// Composite parameters (search.html "composite"): token$value, both parts
// matching within the same element (Group?characteristic-value=
// http://loinc.org|sex$female matches a characteristic with that code and
// that value, not a Group with the code in one characteristic and the
// value in another).
//
// Rows: the second component's rows, in its type's table, under a param id
// derived from the composite and the first component's token in one of
// its query forms (system|code, code, system|). A search is then one
// indexed lookup in one table, for any second component type; the price is
// three rows per pair and no :missing.

// compositeKeys are the forms of a token a composite value may name.
func compositeKeys(tv tokenVal) []string {
	var keys []string
	if tv.code != "" {
		keys = append(keys, tv.system+"|"+tv.code, tv.code)
	}
	if tv.system != "" {
		keys = append(keys, tv.system+"|")
	}
	return keys
}

// compositeID is the param id of the rows of key under composite p.
func compositeID(p *Param, key string) int32 {
	return ParamID(p.Resource, p.Code+"$"+key)
}

// appendCompositeRows adds the rows of one element of a composite.
func (x *Extractor) appendCompositeRows(ix *Index, p *Param, root map[string]any, typ string, n node, loc *time.Location) {
	first, second := p.Components[0], p.Components[1]
	var keys []string
	for _, c := range first.expr.eval(root, typ, []node{n}) {
		for _, tv := range tokenValues(c) {
			keys = append(keys, compositeKeys(tv)...)
		}
	}
	values := second.expr.eval(root, typ, []node{n})
	for _, k := range keys {
		cp := &Param{Resource: p.Resource, Code: p.Code, Type: second.Type}
		cp.ID = compositeID(p, k) // TextID etc. stay 0: no modifier rows
		for _, v := range values {
			x.appendRows(ix, cp, second.Type, root, typ, v, loc)
		}
	}
}

// parseCompositeValue parses token$value.
func parseCompositeValue(p *Param, part string) (Value, error) {
	pieces := splitEscaped(part, '$')
	if len(pieces) != len(p.Components) {
		return Value{}, fmt.Errorf("composite %s takes %d values joined by '$', got %q", p.Code, len(p.Components), part)
	}
	v, err := parseToken("", pieces[0])
	if err != nil {
		return Value{}, err
	}
	second := p.Components[1]
	comp, err := parseValue(second.Type, &Param{Type: second.Type}, "", pieces[1])
	if err != nil {
		return Value{}, err
	}
	v.Comp = &comp
	return v, nil
}

// compositeKey is the row key the first component of v names.
func compositeKey(v Value) string {
	switch {
	case !v.HasSys:
		return v.Code
	case v.Code == "":
		return v.System + "|"
	}
	return v.System + "|" + v.Code
}

// compositeFilter matches resources with a row for one of the values.
func (b *builder) compositeFilter(f *Filter, s subject) (string, error) {
	p := f.Param
	second := p.Components[1]
	table := tableFor(second.Type)
	var ors []string
	for _, v := range f.Values {
		if v.Comp == nil {
			return "", fmt.Errorf("composite %s value without its second part", p.Code)
		}
		cond, err := b.typedCond(second.Type, &Param{Type: second.Type}, "", *v.Comp, "")
		if err != nil {
			return "", err
		}
		ors = append(ors, "(param = "+b.arg(compositeID(p, compositeKey(v)))+" AND "+cond+")")
	}
	return fmt.Sprintf("%s IN (SELECT rid FROM %s WHERE %s)", s.rid, table, strings.Join(ors, " OR ")), nil
}
