package search

import (
	"strings"

	"github.com/immunis/immunis/fhir"
)

// String parameters (search.html "string"): by default the value starts
// with the search text, ignoring case and accents; :exact compares the
// whole value as written; :contains matches anywhere.
//
// Rows: (param, norm, exact) where norm is Normalize(value); HumanName and
// Address contribute every part, so name=ann finds given "Anna".

// appendStringRows adds the rows of one string parameter value.
func appendStringRows(ix *Index, pid int32, v any) {
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			ix.Strings = append(ix.Strings, StringRow{Param: pid, Norm: cut(Normalize(s)), Exact: cut(s)})
		}
	}
	switch v := v.(type) {
	case string:
		add(v)
	case map[string]any:
		// HumanName and Address: every part is searchable on its own.
		for _, k := range []string{"text", "family", "city", "district", "state", "postalCode", "country"} {
			add(fhir.Str(v, k))
		}
		for _, k := range []string{"given", "prefix", "suffix", "line"} {
			for _, s := range fhir.Arr(v, k) {
				if str, ok := s.(string); ok {
					add(str)
				}
			}
		}
	}
}

// stringCond is the condition on one idx_string row for one value.
func (b *builder) stringCond(mod, raw string, c col) string {
	switch mod {
	case "exact":
		// The normalized value leads to the index; the exact text decides.
		return c.of("norm") + " = " + b.arg(cut(Normalize(raw))) + " AND " + c.of("exact") + " = " + b.arg(cut(raw))
	case "contains":
		n := cut(Normalize(raw))
		esc := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(n)
		return c.of("norm") + " LIKE " + b.arg("%"+esc+"%") + ` ESCAPE '\'`
	}
	n := cut(Normalize(raw))
	return c.of("norm") + " >= " + b.arg(n) + " AND " + c.of("norm") + " < " + b.arg(prefixEnd(n))
}
