package search

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Sorting and keyset paging (search.html "_sort", "Paging"). Results are
// ordered by the _sort keys, then rid; a page resumes strictly after (or,
// for a previous link, before) the position of the row at its edge, kept
// in an opaque cursor. A resource keeps its rid across updates, so pages
// neither repeat nor skip the resources that did not change while a client
// was paging, and no OFFSET is ever scanned past.

// Cursor is a keyset position: the sort key values and rid of the row at
// a page edge. Prev asks for the page before that row instead of after it.
type Cursor struct {
	Prev bool      `json:"p,omitempty"`
	RID  int64     `json:"r"`
	Keys []*string `json:"k,omitempty"` // nil for a resource without the key (SQL NULL)
	Spec string    `json:"s,omitempty"` // the _sort it belongs to
}

// EncodeCursor makes the opaque _cursor value of c.
func EncodeCursor(c Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a _cursor value.
func DecodeCursor(s string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("malformed _cursor")
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("malformed _cursor")
	}
	return &c, nil
}

// sortSpec names a _sort for the cursor, so a cursor cannot be replayed
// against another ordering.
func sortSpec(keys []SortKey) string {
	var parts []string
	for _, k := range keys {
		s := k.Param.Code
		if k.Desc {
			s = "-" + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// NewCursor makes the cursor for the row at a page edge: rid and the sort
// key values the page statement selected after the resource columns.
func NewCursor(q *Query, rid int64, keys []any, prev bool) Cursor {
	c := Cursor{Prev: prev, RID: rid, Spec: sortSpec(q.Sort)}
	for i := range q.Sort {
		var v any
		if i < len(keys) {
			v = keys[i]
		}
		c.Keys = append(c.Keys, keyString(v))
	}
	return c
}

func keyString(v any) *string {
	var s string
	switch v := v.(type) {
	case nil:
		return nil
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'g', -1, 64)
	case []byte:
		s = string(v)
	case string:
		s = v
	default:
		s = fmt.Sprint(v)
	}
	return &s
}

// sortKind is how a sort key's values compare: as integers (dates,
// _lastUpdated), floats (number, quantity) or strings.
func sortKind(p *Param) byte {
	switch {
	case p.Column == "last_updated", p.Column == "" && p.Type == TypeDate:
		return 'i'
	case p.Column == "" && (p.Type == TypeNumber || p.Type == TypeQuantity):
		return 'f'
	}
	return 's'
}

// keyArg turns a cursor key back into a bind argument of its kind.
func keyArg(k SortKey, s string) (any, error) {
	switch sortKind(k.Param) {
	case 'i':
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed _cursor")
		}
		return n, nil
	case 'f':
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("malformed _cursor")
		}
		return f, nil
	}
	return s, nil
}

// sortExpr is the value a resource sorts by on key k: its lowest value for
// ascending order, its highest for descending (search.html _sort; a date
// sorts by its start ascending and its end descending).
func (b *builder) sortExpr(k SortKey, row string) string {
	p := k.Param
	switch p.Column {
	case "id":
		return row + ".id"
	case "last_updated":
		return row + ".last_updated"
	}
	agg := "min"
	if k.Desc {
		agg = "max"
	}
	col := map[Type]string{TypeDate: "lo", TypeString: "norm", TypeToken: "code", TypeNumber: "value", TypeQuantity: "value", TypeURI: "uri"}[p.Type]
	if p.Type == TypeDate && k.Desc {
		col = "hi"
	}
	return fmt.Sprintf("(SELECT %s(%s) FROM %s WHERE rid = %s.rid AND param = %s)", agg, col, tableFor(p.Type), row, b.arg(p.ID))
}

// orderBy is the ORDER BY of sorted results over the key columns s0… of
// alias a; resources without a key value come last. back reverses it.
func orderBy(keys []SortKey, back bool, a string) string {
	var parts []string
	for i, k := range keys {
		desc := k.Desc != back
		nulls := " NULLS LAST"
		if back {
			nulls = " NULLS FIRST"
		}
		dir := " ASC"
		if desc {
			dir = " DESC"
		}
		parts = append(parts, a+".s"+strconv.Itoa(i)+dir+nulls)
	}
	rid := a + ".rid"
	if back {
		rid += " DESC"
	}
	return strings.Join(append(parts, rid), ", ")
}

// keyset is the condition "strictly after the cursor row in the order of
// orderBy(keys, back, a)": the usual expansion
//
//	k0 after v0 OR (k0 = v0 AND (k1 after v1 OR (k1 = v1 AND … rid after r)))
//
// with NULLs placed last (first when going back).
func (b *builder) keyset(keys []SortKey, c *Cursor, back bool, a string) (string, error) {
	if len(c.Keys) != len(keys) {
		return "", fmt.Errorf("malformed _cursor")
	}
	op := " > "
	if back {
		op = " < "
	}
	cond := a + ".rid" + op + b.arg(c.RID)
	for i := len(keys) - 1; i >= 0; i-- {
		col := a + ".s" + strconv.Itoa(i)
		desc := keys[i].Desc != back
		nullsFirst := back
		var after, equal string
		if c.Keys[i] == nil {
			equal = col + " IS NULL"
			if nullsFirst {
				after = col + " IS NOT NULL"
			}
		} else {
			v, err := keyArg(keys[i], *c.Keys[i])
			if err != nil {
				return "", err
			}
			a := b.arg(v)
			op := " > "
			if desc {
				op = " < "
			}
			equal = col + " = " + a
			after = col + op + a
			if !nullsFirst {
				after = "(" + after + " OR " + col + " IS NULL)"
			}
		}
		next := "(" + equal + " AND " + cond + ")"
		if after != "" {
			next = "(" + after + " OR " + next + ")"
		}
		cond = next
	}
	return cond, nil
}
