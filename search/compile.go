package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/immunis/immunis/fhir"
)

// Compiler turns parsed queries into SQL over the index tables. Every value
// becomes a bind argument; SQL text holds only identifiers chosen here.
type Compiler struct {
	Dialect  Dialect
	BaseURL  string
	Location *time.Location
	Now      func() time.Time
}

// builder accumulates bind arguments.
type builder struct {
	args []any
	c    *Compiler
}

func (b *builder) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// Page compiles the statement for one page of q: Count+1 rows (the extra
// row tells whether a next page exists), after q.Cursor, in sort order.
func (c *Compiler) Page(q *Query) (Statement, error) {
	b := &builder{c: c}
	where, err := b.where(q, "r")
	if err != nil {
		return Statement{}, err
	}
	order, extra, keyset := b.order(q)
	if keyset != "" {
		where += " AND " + keyset
	}
	sql := "SELECT " + ResourceColumns + extra + " FROM resource r WHERE " + where + " ORDER BY " + order +
		" LIMIT " + b.arg(q.Count+1)
	return Statement{SQL: sql, Args: b.args}, nil
}

// Count compiles SELECT count(*) for q.
func (c *Compiler) Count(q *Query) (Statement, error) {
	b := &builder{c: c}
	where, err := b.where(q, "r")
	if err != nil {
		return Statement{}, err
	}
	return Statement{SQL: "SELECT count(*) FROM resource r WHERE " + where, Args: b.args}, nil
}

// where is the condition selecting live resources of q.Type matching every
// filter, on the resource alias a.
func (b *builder) where(q *Query, a string) (string, error) {
	conds := []string{a + ".type = " + b.arg(q.Type), a + ".deleted = " + b.falseLit()}
	if q.Compartment != "" {
		conds = append(conds, a+".rid IN (SELECT rid FROM compartment WHERE patient_id = "+b.arg(q.Compartment)+")")
	}
	for _, f := range q.Filters {
		c, err := b.filter(f, a)
		if err != nil {
			return "", err
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, " AND "), nil
}

func (b *builder) falseLit() string {
	if b.c.Dialect == SQLite {
		return "0"
	}
	return "false"
}

// filter compiles one filter into a condition on alias a.
func (b *builder) filter(f *Filter, a string) (string, error) {
	if f.Has != nil {
		return b.has(f.Has, a)
	}
	p := f.Param
	if f.Next != nil {
		// Chain: rid of resources whose reference points at a target that
		// matches the next filter.
		inner, err := b.filter(f.Next, "t")
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s.rid IN (SELECT x.rid FROM idx_ref x JOIN resource t ON t.type = x.ref_type AND t.id = x.ref_id WHERE x.param = %s AND x.ref_type = %s AND t.deleted = %s AND %s)",
			a, b.arg(p.ID), b.arg(f.Chain), b.falseLit(), inner), nil
	}
	if p.Column != "" {
		return b.columnFilter(f, a)
	}
	table := tableFor(p.Type)
	if f.Missing != nil {
		exists := fmt.Sprintf("EXISTS (SELECT 1 FROM %s m WHERE m.rid = %s.rid AND m.param = %s)", table, a, b.arg(p.ID))
		if *f.Missing {
			return "NOT " + exists, nil
		}
		return exists, nil
	}
	var ors []string
	for _, v := range f.Values {
		c, err := b.valueCond(p, f.Modifier, v)
		if err != nil {
			return "", err
		}
		ors = append(ors, "("+c+")")
	}
	if p.Type == TypeReference && f.Modifier == "identifier" {
		table = "idx_token"
	}
	cond := strings.Join(ors, " OR ")
	pid := b.arg(p.ID)
	if f.Modifier == "not" {
		return fmt.Sprintf("%s.rid NOT IN (SELECT rid FROM %s WHERE param = %s AND (%s))", a, table, pid, cond), nil
	}
	return fmt.Sprintf("%s.rid IN (SELECT rid FROM %s WHERE param = %s AND (%s))", a, table, pid, cond), nil
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

// has compiles _has:Type:param:filter — this resource's id is referenced by
// param of a live resource of Type matching the filter.
func (b *builder) has(h *Has, a string) (string, error) {
	inner, err := b.filter(h.Filter, "s")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s.id IN (SELECT x.ref_id FROM idx_ref x JOIN resource s ON s.rid = x.rid WHERE x.param = %s AND x.ref_type = %s.type AND %s)",
		a, b.arg(h.Param.ID), a, inner), nil
}

// columnFilter handles _id and _lastUpdated, answered by resource columns.
func (b *builder) columnFilter(f *Filter, a string) (string, error) {
	var ors []string
	switch f.Param.Column {
	case "id":
		if f.Missing != nil {
			if *f.Missing {
				return "1 = 0", nil
			}
			return "1 = 1", nil
		}
		var ids []string
		for _, v := range f.Values {
			ids = append(ids, b.arg(v.Code))
		}
		op := "IN"
		if f.Modifier == "not" {
			op = "NOT IN"
		}
		return fmt.Sprintf("%s.id %s (%s)", a, op, strings.Join(ids, ", ")), nil
	case "last_updated":
		if f.Missing != nil {
			if *f.Missing {
				return "1 = 0", nil
			}
			return "1 = 1", nil
		}
		for _, v := range f.Values {
			c, err := b.dateCond(v, a+".last_updated", a+".last_updated")
			if err != nil {
				return "", err
			}
			ors = append(ors, "("+c+")")
		}
	}
	return "(" + strings.Join(ors, " OR ") + ")", nil
}

// valueCond is the condition on one index row for one value.
func (b *builder) valueCond(p *Param, mod string, v Value) (string, error) {
	switch p.Type {
	case TypeToken:
		return b.tokenCond(mod, v)
	case TypeString:
		return b.stringCond(mod, v.Raw)
	case TypeDate:
		return b.dateCond(v, "lo", "hi")
	case TypeReference:
		return b.refCond(p, mod, v)
	case TypeNumber:
		return b.numberCond(v, v.Raw)
	case TypeQuantity:
		c, err := b.numberCond(v, v.Raw)
		if err != nil {
			return "", err
		}
		if v.System != "" {
			c += " AND system = " + b.arg(v.System)
		}
		if v.Code != "" {
			c += " AND code = " + b.arg(v.Code)
		}
		return c, nil
	case TypeURI:
		switch mod {
		case "below":
			return "uri >= " + b.arg(v.Raw) + " AND uri < " + b.arg(prefixEnd(v.Raw)), nil
		case "above":
			// the stored uri is a prefix of the value
			var prefixes []string
			s := v.Raw
			for s != "" {
				prefixes = append(prefixes, b.arg(s))
				i := strings.LastIndexByte(s, '/')
				if i <= 0 {
					break
				}
				s = s[:i]
			}
			return "uri IN (" + strings.Join(prefixes, ", ") + ")", nil
		}
		return "uri = " + b.arg(v.Raw), nil
	}
	return "", fmt.Errorf("search parameters of type %s are not supported", p.Type)
}

func (b *builder) tokenCond(mod string, v Value) (string, error) {
	switch mod {
	case "text":
		n := Normalize(v.Raw)
		return "text >= " + b.arg(n) + " AND text < " + b.arg(prefixEnd(n)), nil
	case "of-type":
		parts := splitEscaped(v.Raw, '|')
		return "text = " + b.arg("of-type:"+unescape(parts[0])+"|"+unescape(parts[1])) + " AND code = " + b.arg(unescape(parts[2])), nil
	}
	switch {
	case !v.HasSys:
		return "code = " + b.arg(v.Code), nil
	case v.System == "":
		return "code = " + b.arg(v.Code) + " AND system = ''", nil
	case v.Code == "":
		return "system = " + b.arg(v.System), nil
	}
	return "code = " + b.arg(v.Code) + " AND system = " + b.arg(v.System), nil
}

func (b *builder) stringCond(mod, raw string) (string, error) {
	switch mod {
	case "exact":
		return "exact = " + b.arg(raw), nil
	case "contains":
		n := Normalize(raw)
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(n)
		return "norm LIKE " + b.arg("%"+esc+"%") + ` ESCAPE '\'`, nil
	}
	n := Normalize(raw)
	return "norm >= " + b.arg(n) + " AND norm < " + b.arg(prefixEnd(n)), nil
}

// prefixEnd is the smallest string greater than every string starting with
// s (bytewise), turning starts-with into an index range.
func prefixEnd(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return s + "\xff"
}

// dateCond implements the prefix semantics of search.html for a value range
// [vlo, vhi] against a stored range [lo, hi] (columns named by loCol/hiCol).
func (b *builder) dateCond(v Value, loCol, hiCol string) (string, error) {
	loc := b.c.Location
	if loc == nil {
		loc = time.UTC
	}
	d, err := fhir.ParseDate(v.Raw, loc)
	if err != nil {
		return "", err
	}
	vlo, vhi := d.Bounds()
	return b.rangeCond(v.Prefix, loCol, hiCol, vlo, vhi, func() (int64, int64) {
		now := time.Now()
		if b.c.Now != nil {
			now = b.c.Now()
		}
		gap := now.UnixMicro() - vlo
		if gap < 0 {
			gap = -gap
		}
		pad := gap / 10
		if day := int64(24 * time.Hour / time.Microsecond); pad < day {
			pad = day
		}
		return vlo - pad, vhi + pad
	})
}

func (b *builder) rangeCond(prefix, lo, hi string, vlo, vhi any, approx func() (int64, int64)) (string, error) {
	switch prefix {
	case "", "eq":
		return fmt.Sprintf("%s >= %s AND %s <= %s", lo, b.arg(vlo), hi, b.arg(vhi)), nil
	case "ne":
		return fmt.Sprintf("(%s < %s OR %s > %s)", lo, b.arg(vlo), hi, b.arg(vhi)), nil
	case "gt":
		return fmt.Sprintf("%s > %s", hi, b.arg(vhi)), nil
	case "lt":
		return fmt.Sprintf("%s < %s", lo, b.arg(vlo)), nil
	case "ge":
		return fmt.Sprintf("(%s > %s OR (%s >= %s AND %s <= %s))", hi, b.arg(vhi), lo, b.arg(vlo), hi, b.arg(vhi)), nil
	case "le":
		return fmt.Sprintf("(%s < %s OR (%s >= %s AND %s <= %s))", lo, b.arg(vlo), lo, b.arg(vlo), hi, b.arg(vhi)), nil
	case "sa":
		return fmt.Sprintf("%s > %s", lo, b.arg(vhi)), nil
	case "eb":
		return fmt.Sprintf("%s < %s", hi, b.arg(vlo)), nil
	case "ap":
		if approx == nil {
			return "", fmt.Errorf("ap is not supported here")
		}
		alo, ahi := approx()
		return fmt.Sprintf("%s <= %s AND %s >= %s", lo, b.arg(ahi), hi, b.arg(alo)), nil
	}
	return "", fmt.Errorf("unknown prefix %q", prefix)
}

func (b *builder) numberCond(v Value, raw string) (string, error) {
	_, vlo, vhi, ok := numberRange(raw)
	if !ok {
		return "", fmt.Errorf("%q is not a number", raw)
	}
	val, _ := strconv.ParseFloat(raw, 64)
	switch v.Prefix {
	case "", "eq":
		// the stored value lies in the range the search value's precision implies
		return fmt.Sprintf("value >= %s AND value < %s", b.arg(vlo), b.arg(vhi)), nil
	case "ne":
		return fmt.Sprintf("(value < %s OR value >= %s)", b.arg(vlo), b.arg(vhi)), nil
	case "gt", "sa":
		return "value > " + b.arg(val), nil
	case "lt", "eb":
		return "value < " + b.arg(val), nil
	case "ge":
		return "value >= " + b.arg(val), nil
	case "le":
		return "value <= " + b.arg(val), nil
	case "ap":
		pad := math.Abs(val) * 0.1
		return fmt.Sprintf("value >= %s AND value <= %s", b.arg(val-pad), b.arg(val+pad)), nil
	}
	return "", fmt.Errorf("unknown prefix %q", v.Prefix)
}

func (b *builder) refCond(p *Param, mod string, v Value) (string, error) {
	if mod == "identifier" {
		c, err := b.tokenCond("", v)
		if err != nil {
			return "", err
		}
		return c + " AND text = 'identifier'", nil
	}
	raw := v.Raw
	ref := fhir.ParseReference(raw, b.c.BaseURL)
	switch {
	case ref.Kind == fhir.RefLocal:
		if mod != "" && mod != ref.Type {
			return "1 = 0", nil
		}
		return "ref_id = " + b.arg(ref.ID) + " AND ref_type = " + b.arg(ref.Type), nil
	case ref.Kind == fhir.RefAbsolute:
		return "url = " + b.arg(raw), nil
	case fhir.ValidID(raw):
		if mod != "" {
			return "ref_id = " + b.arg(raw) + " AND ref_type = " + b.arg(mod), nil
		}
		return "ref_id = " + b.arg(raw) + " AND ref_type <> ''", nil
	case strings.Contains(raw, ":"):
		return "url = " + b.arg(raw), nil // canonical
	}
	return "", fmt.Errorf("%q is not a valid reference", raw)
}

// order returns the ORDER BY clause, extra select columns and the keyset
// condition for the cursor.
func (b *builder) order(q *Query) (order, extra, keyset string) {
	if len(q.Sort) == 0 {
		if q.Cursor != nil {
			keyset = "r.rid > " + b.arg(q.Cursor.RID)
		}
		return "r.rid", "", keyset
	}
	var keys, cols []string
	for _, k := range q.Sort {
		expr := b.sortExpr(k)
		dir := " ASC"
		if k.Desc {
			dir = " DESC"
		}
		keys = append(keys, expr+dir)
		cols = append(cols, expr)
	}
	extra = ", " + strings.Join(cols, ", ")
	order = strings.Join(keys, ", ") + ", r.rid"
	return order, extra, ""
}

// sortExpr is the value a resource sorts by on key k: the lowest value for
// ascending order, the highest for descending (search.html _sort).
func (b *builder) sortExpr(k SortKey) string {
	p := k.Param
	agg := "min"
	if k.Desc {
		agg = "max"
	}
	switch {
	case p.Column == "id":
		return "r.id"
	case p.Column == "last_updated":
		return "r.last_updated"
	}
	col := map[Type]string{TypeDate: "lo", TypeString: "norm", TypeToken: "code", TypeNumber: "value", TypeQuantity: "value", TypeURI: "uri"}[p.Type]
	if p.Type == TypeDate && k.Desc {
		col = "hi"
	}
	return fmt.Sprintf("(SELECT %s(%s) FROM %s WHERE rid = r.rid AND param = %d)", agg, col, tableFor(p.Type), p.ID)
}
