package search

import (
	"fmt"
	"strings"
)

// Scope is an access restriction compiled into the search SQL, never
// applied as a post-filter (so paging, totals and includes all respect
// it). A resource of a type is readable when it matches one of the type's
// clauses; a type missing from Types is not readable at all.
type Scope struct {
	Types map[string][]ScopeClause
}

// ScopeClause is the AND of its parts; an empty clause allows every
// resource of the type.
type ScopeClause struct {
	// Patient: the resource must be in this Patient's compartment (a
	// Patient is in its own).
	Patient string
	// Filters: the resource must match these (a granular v2 scope such as
	// status=completed), ANDed as in any search.
	Filters []*Filter
}

// scope compiles the clauses of typ for the subject, "" when unrestricted.
func (b *builder) scope(sc *Scope, typ string, s subject) (string, error) {
	if sc == nil {
		return "", nil
	}
	clauses, ok := sc.Types[typ]
	if !ok || len(clauses) == 0 {
		return "1 = 0", nil
	}
	// The clauses' own filters are not scoped again (no recursion).
	saved := b.sc
	b.sc = nil
	defer func() { b.sc = saved }()
	var ors []string
	for _, cl := range clauses {
		var ands []string
		if cl.Patient != "" {
			ands = append(ands, s.rid+" IN (SELECT rid FROM compartment WHERE patient_id = "+b.arg(cl.Patient)+")")
		}
		for _, f := range cl.Filters {
			c, err := b.filter(f, s)
			if err != nil {
				return "", fmt.Errorf("scope: %w", err)
			}
			ands = append(ands, c)
		}
		if len(ands) == 0 {
			return "", nil // this clause allows everything
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", nil
}
