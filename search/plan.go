package search

import (
	"sort"
	"strconv"
	"strings"
)

// The shape of a search statement. Every statement is built on the
// selection: the query that yields the rids of the matches.
//
// Index rows exist only for the current, live version of a resource, and a
// param id belongs to one resource type, so a positive filter on an index
// table already implies "live resource of this type". The selection then
// starts from one such filter's rows (the driver) and tests the others on
// its rid, all in the index tables; resource rows are read only for the
// page itself. This keeps the planner's choices to index-only scans: a
// rid-ordered range of the driver (param, value…, rid) merged or probed
// against the other filters, stopped by the LIMIT. Without a positive
// index filter (only :not, :missing, _id, _lastUpdated, _has…), the
// selection reads the live resources of the type.
//
//	SELECT r.… FROM (SELECT DISTINCT d.rid FROM idx_token d
//	                 WHERE d.param = $ AND d.code = $ AND <other filters on d.rid>
//	                 ORDER BY d.rid LIMIT $) k
//	JOIN resource r ON r.rid = k.rid ORDER BY k.rid

// selection compiles the rids of q's matches as "SELECT … rid FROM …"; rid
// names the rid column for ORDER BY. bound is the unsorted keyset bound,
// or "".
func (b *builder) selection(q *Query, bound string) (sql, rid string, err error) {
	b.sc = q.Scope
	driver := pickDriver(q.Filters)
	if driver == nil {
		s := subject{typ: q.Type, rid: "m.rid", row: "m", bound: bound}
		conds := []string{"m.type = " + b.arg(q.Type), "m.deleted = " + b.falseLit()}
		more, _, err := b.conds(q, nil, s, s)
		if err != nil {
			return "", "", err
		}
		conds = append(conds, more...)
		if bound != "" {
			conds = append(conds, "m.rid "+bound)
		}
		return "SELECT m.rid FROM resource m WHERE " + strings.Join(conds, " AND "), "m.rid", nil
	}
	table, pid := indexTable(driver)
	cond, err := b.valuesCond(driver, "d")
	if err != nil {
		return "", "", err
	}
	conds := []string{"d.param = " + b.arg(pid), cond}
	if bound != "" {
		conds = append(conds, "d.rid "+bound)
	}
	// Conditions that need the resource row are tested in one probe of
	// the resource table.
	rows := subject{typ: q.Type, rid: "m.rid", row: "m"}
	more, onRow, err := b.conds(q, driver, subject{typ: q.Type, rid: "d.rid", bound: bound}, rows)
	if err != nil {
		return "", "", err
	}
	conds = append(conds, more...)
	if len(onRow) > 0 {
		conds = append(conds, "d.rid IN (SELECT m.rid FROM resource m WHERE m.type = "+b.arg(q.Type)+
			" AND m.deleted = "+b.falseLit()+" AND "+strings.Join(onRow, " AND ")+")")
	}
	return "SELECT DISTINCT d.rid FROM " + table + " d WHERE " + strings.Join(conds, " AND "), "d.rid", nil
}

// conds compiles every filter but the driver, the compartment and the
// scope: onRid on the rid subject s where they can, onRow on the row
// subject where they need the resource row (when s has no row).
func (b *builder) conds(q *Query, driver *Filter, s, row subject) (onRid, onRow []string, err error) {
	sameRow := s.row != ""
	add := func(c string, needRow bool) {
		if needRow && !sameRow {
			onRow = append(onRow, c)
		} else {
			onRid = append(onRid, c)
		}
	}
	if q.Compartment != "" {
		c := s.rid + " IN (SELECT rid FROM compartment WHERE patient_id = " + b.arg(q.Compartment)
		if s.bound != "" {
			c += " AND rid " + s.bound
		}
		add(c+")", false)
	}
	for _, f := range q.Filters {
		if f == driver {
			continue
		}
		subj := s
		if needsRow(f) && !sameRow {
			subj = row
		}
		c, err := b.filter(f, subj)
		if err != nil {
			return nil, nil, err
		}
		add(c, needsRow(f))
	}
	needRow := scopeNeedsRow(b.sc, q.Type)
	subj := s
	if needRow && !sameRow {
		subj = row
	}
	sc, err := b.scope(b.sc, q.Type, subj)
	if err != nil {
		return nil, nil, err
	}
	if sc != "" {
		add(sc, needRow)
	}
	return onRid, onRow, nil
}

// scopeNeedsRow reports whether typ's scope clauses read the resource row.
func scopeNeedsRow(sc *Scope, typ string) bool {
	if sc == nil {
		return false
	}
	for _, cl := range sc.Types[typ] {
		for _, f := range cl.Filters {
			if needsRow(f) {
				return true
			}
		}
	}
	return false
}

// pickDriver chooses the filter whose index rows a selection starts from:
// a positive filter on one index table, preferring the kinds that usually
// select few rows (references and identifiers, then strings and dates,
// then other tokens). The planner may still reorder; this only gives it a
// good first candidate.
func pickDriver(fs []*Filter) *Filter {
	var cands []*Filter
	for _, f := range fs {
		if f.Param == nil || f.Param.Column != "" || f.Next != nil || f.Has != nil || len(f.Any) > 0 ||
			f.Missing != nil || f.Modifier == "not" || f.Param.Type == TypeComposite {
			continue
		}
		cands = append(cands, f)
	}
	if len(cands) == 0 {
		return nil
	}
	rank := func(f *Filter) int {
		switch {
		case f.Param.Type == TypeReference, f.Param.Code == "identifier", f.Modifier == "of-type":
			return 0
		case f.Param.Type == TypeString || f.Param.Type == TypeDate && f.Values[0].Prefix == "eq":
			return 1
		case f.Param.Type == TypeDate || f.Values[0].Prefix == "ne":
			return 3 // open ranges
		}
		return 2
	}
	sort.SliceStable(cands, func(i, j int) bool { return rank(cands[i]) < rank(cands[j]) })
	return cands[0]
}

// Page compiles the statement for one page of q: Count+1 rows (the extra
// row tells whether another page exists), after (or, for a previous link,
// before) q.Cursor, in sort order. Sort keys are selected after the
// resource columns, so the caller can make the next cursor.
func (c *Compiler) Page(q *Query) (Statement, error) {
	b := &builder{c: c}
	back := q.Cursor != nil && q.Cursor.Prev
	if len(q.Sort) == 0 {
		bound := ""
		if q.Cursor != nil {
			op := "> "
			if back {
				op = "< "
			}
			bound = op + b.arg(q.Cursor.RID)
		}
		sel, rid, err := b.selection(q, bound)
		if err != nil {
			return Statement{}, err
		}
		dir := ""
		if back {
			dir = " DESC"
		}
		sql := "SELECT " + ResourceColumns + " FROM (" + sel + " ORDER BY " + rid + dir + " LIMIT " + b.arg(q.Count+1) +
			") k JOIN resource r ON r.rid = k.rid ORDER BY r.rid" + dir
		return Statement{SQL: sql, Args: b.args}, nil
	}
	// Sorted: the keys are computed for every match (joined to its
	// resource row for _id and _lastUpdated), then the keyset condition
	// and the LIMIT apply to them.
	sel, _, err := b.selection(q, "")
	if err != nil {
		return Statement{}, err
	}
	var cols, keys []string
	for i, k := range q.Sort {
		cols = append(cols, b.sortExpr(k, "sr")+" AS s"+strconv.Itoa(i))
		keys = append(keys, "k.s"+strconv.Itoa(i))
	}
	keyed := "SELECT sr.rid, " + strings.Join(cols, ", ") + " FROM (" + sel + ") i JOIN resource sr ON sr.rid = i.rid"
	page := "SELECT c.* FROM (" + keyed + ") c"
	if q.Cursor != nil {
		ks, err := b.keyset(q.Sort, q.Cursor, back, "c")
		if err != nil {
			return Statement{}, err
		}
		page += " WHERE " + ks
	}
	page += " ORDER BY " + orderBy(q.Sort, back, "c") + " LIMIT " + b.arg(q.Count+1)
	sql := "SELECT " + ResourceColumns + ", " + strings.Join(keys, ", ") + " FROM (" + page + ") k JOIN resource r ON r.rid = k.rid ORDER BY " + orderBy(q.Sort, back, "k")
	return Statement{SQL: sql, Args: b.args}, nil
}

// Count compiles SELECT count(*) of q's matches.
func (c *Compiler) Count(q *Query) (Statement, error) {
	b := &builder{c: c}
	sel, _, err := b.selection(q, "")
	if err != nil {
		return Statement{}, err
	}
	return Statement{SQL: "SELECT count(*) FROM (" + sel + ") c", Args: b.args}, nil
}

// Matches compiles the rids of q's matches, unordered (PostgreSQL plans it
// under EXPLAIN for _total=estimate).
func (c *Compiler) Matches(q *Query) (Statement, error) {
	b := &builder{c: c}
	sel, _, err := b.selection(q, "")
	if err != nil {
		return Statement{}, err
	}
	return Statement{SQL: sel, Args: b.args}, nil
}
