package search

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Compiler turns parsed queries into SQL over the index tables. Every value
// becomes a bind argument; SQL text holds only identifiers and keywords
// chosen here.
type Compiler struct {
	Dialect  Dialect
	BaseURL  string
	Location *time.Location
	Now      func() time.Time
}

// builder accumulates bind arguments of one statement.
type builder struct {
	args []any
	c    *Compiler
	n    int    // alias counter
	sc   *Scope // access scope: also bounds chain targets and _has sources
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// alias returns a fresh table alias with the given stem.
func (b *builder) alias(stem string) string {
	b.n++
	return stem + strconv.Itoa(b.n)
}

func (b *builder) falseLit() string {
	if b.c.Dialect == SQLite {
		return "0"
	}
	return "false"
}

// subject is what a filter condition is about: a resource row id
// expression and, when the resource row is at hand, its alias (column
// filters and _has need it).
type subject struct {
	typ string
	rid string
	row string
	// bound ("> $n" or "< $n") is the keyset bound on rid of an unsorted
	// page; repeating it inside each rid subquery lets every index range
	// start at the cursor instead of the beginning.
	bound string
}

// filter compiles one filter into a condition on the subject.
func (b *builder) filter(f *Filter, s subject) (string, error) {
	switch {
	case f.Has != nil:
		return b.has(f.Has, s)
	case len(f.Any) > 0:
		var ors []string
		for _, g := range f.Any {
			c, err := b.filter(g, s)
			if err != nil {
				return "", err
			}
			ors = append(ors, c)
		}
		return "(" + strings.Join(ors, " OR ") + ")", nil
	case f.Next != nil:
		return b.chain(f, s)
	case f.Param == nil:
		return "", fmt.Errorf("filter %q has no parameter", f.Name)
	case f.Param.Column != "":
		if s.row == "" {
			return "", fmt.Errorf("%s needs the resource row", f.Param.Code)
		}
		return b.columnFilter(f, s.row)
	case f.Param.Type == TypeComposite:
		return b.compositeFilter(f, s)
	}
	return b.indexFilter(f, s)
}

// indexFilter matches resources by their rows in one index table.
func (b *builder) indexFilter(f *Filter, s subject) (string, error) {
	p := f.Param
	table, pid := indexTable(f)
	if table == "" {
		return "", fmt.Errorf("search parameters of type %s are not supported", p.Type)
	}
	if f.Missing != nil {
		m := b.alias("m")
		exists := fmt.Sprintf("EXISTS (SELECT 1 FROM %s %s WHERE %s.rid = %s AND %s.param = %s)", table, m, m, s.rid, m, b.arg(pid))
		if *f.Missing {
			return "NOT " + exists, nil
		}
		return exists, nil
	}
	if f.Modifier == "not" {
		// search.html :not — resources with no matching value, including
		// those without the element at all: an anti-join.
		m := b.alias("m")
		cond, err := b.valuesCond(f, col(m))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s %s WHERE %s.rid = %s AND %s.param = %s AND %s)",
			table, m, m, s.rid, m, b.arg(pid), cond), nil
	}
	cond, err := b.valuesCond(f, "")
	if err != nil {
		return "", err
	}
	if s.bound != "" {
		cond += " AND rid " + s.bound
	}
	return fmt.Sprintf("%s IN (SELECT rid FROM %s WHERE param = %s AND %s)", s.rid, table, b.arg(pid), cond), nil
}

// indexTable is the table and param id of a filter's rows (the :text,
// :of-type and :identifier forms have their own).
func indexTable(f *Filter) (string, int32) {
	p := f.Param
	switch {
	case p.Type == TypeToken && f.Modifier == "text":
		return "idx_token", p.TextID
	case p.Type == TypeToken && f.Modifier == "of-type":
		return "idx_token", p.OfTypeID
	case p.Type == TypeReference && f.Modifier == "identifier":
		return "idx_token", p.IdentifierID
	}
	return tableFor(p.Type), p.ID
}

// valuesCond is the OR of the filter's values on one row.
func (b *builder) valuesCond(f *Filter, c col) (string, error) {
	var ors []string
	for _, v := range f.Values {
		cond, err := b.valueCond(f.Param, f.Modifier, v, c)
		if err != nil {
			return "", err
		}
		ors = append(ors, cond)
	}
	if len(ors) == 0 {
		return "", fmt.Errorf("%s: no value", f.Name)
	}
	if len(ors) == 1 {
		return ors[0], nil
	}
	return "((" + strings.Join(ors, ") OR (") + "))", nil
}

// col names the columns of an index row, qualified by an alias or not.
type col string

func (c col) of(name string) string {
	if c == "" {
		return name
	}
	return string(c) + "." + name
}

// valueCond is the condition on one index row (columns named by c) for
// one value.
func (b *builder) valueCond(p *Param, mod string, v Value, c col) (string, error) {
	return b.typedCond(p.Type, p, mod, v, c)
}

func (b *builder) typedCond(t Type, p *Param, mod string, v Value, c col) (string, error) {
	switch t {
	case TypeToken:
		return b.tokenCond(mod, v, c), nil
	case TypeString:
		if isPhonetic(p) {
			return b.phoneticCond(v.Raw, c), nil
		}
		return b.stringCond(mod, v.Raw, c), nil
	case TypeDate:
		return b.dateCond(v, c.of("lo"), c.of("hi"))
	case TypeReference:
		return b.refCond(p, mod, v, c)
	case TypeNumber:
		return b.numberCond(v, c)
	case TypeQuantity:
		return b.quantityCond(v, c)
	case TypeURI:
		return b.uriCond(mod, v, c), nil
	}
	return "", fmt.Errorf("search parameters of type %s are not supported", p.Type)
}

// chain compiles param[:Type].next: the subject references a live resource
// of f.Chain that matches f.Next.
func (b *builder) chain(f *Filter, s subject) (string, error) {
	x, t := b.alias("x"), b.alias("t")
	ts := subject{typ: f.Chain, rid: t + ".rid", row: t}
	inner, err := b.filter(f.Next, ts)
	if err != nil {
		return "", err
	}
	if sc, err := b.scope(b.sc, f.Chain, ts); err != nil {
		return "", err
	} else if sc != "" {
		inner += " AND " + sc
	}
	if s.bound != "" {
		inner += " AND " + x + ".rid " + s.bound
	}
	return fmt.Sprintf("%s IN (SELECT %s.rid FROM idx_ref %s JOIN resource %s ON %s.type = %s.ref_type AND %s.id = %s.ref_id WHERE %s.param = %s AND %s.ref_type = %s AND %s.deleted = %s AND %s)",
		s.rid, x, x, t, t, x, t, x, x, b.arg(f.Param.ID), x, b.arg(f.Chain), t, b.falseLit(), inner), nil
}

// has compiles _has:Type:param:filter — a live resource of Type that
// matches the filter references the subject through param. Index rows only
// exist for live resources, so the referencing resource's row is joined
// only when the inner filter needs it.
func (b *builder) has(h *Has, s subject) (string, error) {
	if s.row == "" {
		return "", fmt.Errorf("_has needs the resource row")
	}
	x := b.alias("x")
	inner := subject{typ: h.Type, rid: x + ".rid"}
	from := "idx_ref " + x
	if needsRow(h.Filter) || b.sc != nil {
		hr := b.alias("h")
		inner.row = hr
		from += fmt.Sprintf(" JOIN resource %s ON %s.rid = %s.rid", hr, hr, x)
	}
	cond, err := b.filter(h.Filter, inner)
	if err != nil {
		return "", err
	}
	if sc, err := b.scope(b.sc, h.Type, inner); err != nil {
		return "", err
	} else if sc != "" {
		cond += " AND " + sc
	}
	return fmt.Sprintf("%s.id IN (SELECT %s.ref_id FROM %s WHERE %s.param = %s AND %s.ref_type = %s AND %s)",
		s.row, x, from, x, b.arg(h.Param.ID), x, b.arg(s.typ), cond), nil
}

// needsRow reports whether a filter reads the resource row itself.
func needsRow(f *Filter) bool {
	switch {
	case f.Has != nil:
		return true
	case len(f.Any) > 0:
		for _, g := range f.Any {
			if needsRow(g) {
				return true
			}
		}
		return false
	case f.Next != nil:
		return false
	}
	return f.Param != nil && f.Param.Column != ""
}

// columnFilter handles _id and _lastUpdated, answered by resource columns.
func (b *builder) columnFilter(f *Filter, row string) (string, error) {
	if f.Missing != nil {
		// every resource has an id and a lastUpdated
		if *f.Missing {
			return "1 = 0", nil
		}
		return "1 = 1", nil
	}
	switch f.Param.Column {
	case "id":
		var ids []string
		for _, v := range f.Values {
			ids = append(ids, b.arg(v.Code))
		}
		op := "IN"
		if f.Modifier == "not" {
			op = "NOT IN"
		}
		return fmt.Sprintf("%s.id %s (%s)", row, op, strings.Join(ids, ", ")), nil
	case "last_updated":
		var ors []string
		for _, v := range f.Values {
			c, err := b.dateCond(v, row+".last_updated", row+".last_updated")
			if err != nil {
				return "", err
			}
			ors = append(ors, "("+c+")")
		}
		return "(" + strings.Join(ors, " OR ") + ")", nil
	}
	return "", fmt.Errorf("unknown column parameter %s", f.Param.Code)
}

func tableFor(t Type) string {
	switch t {
	case TypeToken:
		return "idx_token"
	case TypeString:
		return "idx_string"
	case TypeDate:
		return "idx_date"
	case TypeReference:
		return "idx_ref"
	case TypeNumber:
		return "idx_number"
	case TypeQuantity:
		return "idx_quantity"
	case TypeURI:
		return "idx_uri"
	}
	return ""
}
