package search

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/immunis/immunis/fhir"
)

// Date parameters (search.html "date"): every value, stored or searched,
// is an interval — a partial date stands for all of it ("2024" is the
// year), a dateTime to the second for that second, a Period for its span
// (an open end is unbounded) — and the prefixes compare intervals.
//
// Rows: (param, lo, hi), inclusive microsecond bounds.

// Unbounded ends of a Period.
const (
	minTime = int64(math.MinInt64)
	maxTime = int64(math.MaxInt64)
)

// appendDateRows adds the rows of one date parameter value.
func appendDateRows(ix *Index, pid int32, n node, loc *time.Location) {
	if lo, hi, ok := dateInterval(n, loc); ok {
		ix.Dates = append(ix.Dates, DateRow{Param: pid, Lo: lo, Hi: hi})
	}
	if m, ok := n.v.(map[string]any); ok {
		for _, e := range fhir.Arr(m, "event") { // Timing: each event
			if s, ok := e.(string); ok {
				if d, err := fhir.ParseDate(s, loc); err == nil {
					lo, hi := d.Bounds()
					ix.Dates = append(ix.Dates, DateRow{Param: pid, Lo: lo, Hi: hi})
				}
			}
		}
	}
}

// dateInterval is the interval of a date, dateTime, instant or Period.
func dateInterval(n node, loc *time.Location) (lo, hi int64, ok bool) {
	switch v := n.v.(type) {
	case string:
		if strings.EqualFold(n.hint, "string") {
			return 0, 0, false // e.g. Immunization.occurrenceString
		}
		d, err := fhir.ParseDate(v, loc)
		if err != nil {
			return 0, 0, false
		}
		lo, hi = d.Bounds()
		return lo, hi, true
	case map[string]any:
		start, hasStart := v["start"].(string)
		end, hasEnd := v["end"].(string)
		if !hasStart && !hasEnd {
			return 0, 0, false
		}
		lo, hi = minTime, maxTime
		if hasStart {
			if d, err := fhir.ParseDate(start, loc); err == nil {
				lo, _ = d.Bounds()
			}
		}
		if hasEnd {
			if d, err := fhir.ParseDate(end, loc); err == nil {
				_, hi = d.Bounds()
			}
		}
		return lo, hi, true
	}
	return 0, 0, false
}

// parseDateValue parses [prefix]date. A '+' of a time zone offset arrives
// as a space when the client did not escape it (form encoding), so a space
// is read as '+'.
func parseDateValue(part string) (Value, error) {
	prefix, rest := splitPrefix(part)
	raw := strings.ReplaceAll(unescape(rest), " ", "+")
	if _, err := fhir.ParseDate(raw, time.UTC); err != nil {
		return Value{}, err
	}
	return Value{Prefix: prefix, Raw: raw}, nil
}

// dateCond compares the search value's interval with a stored [lo, hi].
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
	now := time.Now()
	if b.c.Now != nil {
		now = b.c.Now()
	}
	alo, ahi := approxDate(vlo, vhi, now.UnixMicro())
	return b.rangeCond(v.Prefix, loCol, hiCol, vlo, vhi, alo, ahi)
}

// approxDate widens [vlo, vhi] for ap by 10% of the distance to now, at
// least a day (search.html leaves the amount to the server).
func approxDate(vlo, vhi, now int64) (int64, int64) {
	gap := now - vlo
	if gap < 0 {
		gap = -gap
	}
	pad := gap / 10
	if day := int64(24 * time.Hour / time.Microsecond); pad < day {
		pad = day
	}
	return vlo - pad, vhi + pad
}

// rangeCond implements the prefixes of search.html for a search interval
// [vlo, vhi] against a stored interval [lo, hi] (both inclusive). Each
// disjunct is a range on one column of the (param, lo…) or (param, hi…)
// indexes, and ge/le are written as two disjoint cases rather than as
// "hi >= vlo AND (…)": PostgreSQL multiplies the selectivities of ANDed
// clauses, and the redundant pair made it expect a tenth of the rows that
// match, and choose plans for that.
func (b *builder) rangeCond(prefix, lo, hi string, vlo, vhi, alo, ahi int64) (string, error) {
	switch prefix {
	case "", "eq":
		// the search interval contains the stored one
		return fmt.Sprintf("%s >= %s AND %s <= %s AND %s <= %s", lo, b.arg(vlo), lo, b.arg(vhi), hi, b.arg(vhi)), nil
	case "ne":
		return fmt.Sprintf("(%s < %s OR %s > %s)", lo, b.arg(vlo), hi, b.arg(vhi)), nil
	case "gt":
		// the part of time after the search interval overlaps the stored one
		return fmt.Sprintf("%s > %s", hi, b.arg(vhi)), nil
	case "lt":
		return fmt.Sprintf("%s < %s", lo, b.arg(vlo)), nil
	case "ge":
		// gt, or eq (which ends inside the search interval)
		return fmt.Sprintf("(%s > %s OR (%s >= %s AND %s <= %s AND %s >= %s))", hi, b.arg(vhi), hi, b.arg(vlo), hi, b.arg(vhi), lo, b.arg(vlo)), nil
	case "le":
		// lt, or eq (which starts inside the search interval)
		return fmt.Sprintf("(%s < %s OR (%s >= %s AND %s <= %s AND %s <= %s))", lo, b.arg(vlo), lo, b.arg(vlo), lo, b.arg(vhi), hi, b.arg(vhi)), nil
	case "sa":
		// starts after the search interval ends
		return fmt.Sprintf("%s > %s", lo, b.arg(vhi)), nil
	case "eb":
		// ends before the search interval starts
		return fmt.Sprintf("%s < %s", hi, b.arg(vlo)), nil
	case "ap":
		// overlaps the widened interval
		return fmt.Sprintf("%s <= %s AND %s >= %s", lo, b.arg(ahi), hi, b.arg(alo)), nil
	}
	return "", fmt.Errorf("unknown prefix %q", prefix)
}
