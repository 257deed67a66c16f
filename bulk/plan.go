package bulk

import (
	"fmt"
	"net/url"
	"time"

	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// plan is how one step of an export reads its resources from the
// snapshot. The worker and every download of the step's files build it
// from the same Spec, so they select exactly the same resources.
type plan struct {
	step
	scan store.BulkScan // without rid bounds and Content
	// patients are the compartments an export is confined to (with
	// scan.InCompartment); nil is any patient's.
	patients map[string]bool
	// empty: nothing can match (no listed patient, no clause left).
	empty bool
	// elements subsets output resources (_elements); nil keeps them whole.
	elements *search.Query
}

func (m *Manager) plan(spec *Spec, at time.Time, st step) (*plan, error) {
	p := &plan{step: st, scan: store.BulkScan{Type: st.Type, At: at, Since: spec.Since, Deleted: st.Deleted, PageSize: m.scanPage}}
	if spec.Compartment {
		p.scan.InCompartment = true
		if spec.Listed {
			p.empty = len(spec.Patients) == 0
			p.scan.Patients = spec.Patients
			p.patients = map[string]bool{}
			for _, id := range spec.Patients {
				p.patients[id] = true
			}
		}
	}
	scope, none, err := m.scope(spec, st.Type)
	if err != nil {
		return nil, err
	}
	if none {
		p.empty = true
	}
	queries := spec.TypeFilters[st.Type]
	if len(queries) == 0 && scope != nil {
		queries = []string{""} // the scope alone
	}
	for _, raw := range queries {
		values, err := parseQuery(raw)
		if err != nil {
			return nil, fmt.Errorf("export of %s: query %q: %w", st.Type, raw, err)
		}
		q, err := m.Registry.Parse(st.Type, values, search.Strict)
		if err != nil {
			return nil, fmt.Errorf("export of %s: query %q: %w", st.Type, raw, err)
		}
		q.Scope = scope
		s, err := m.Compiler.Matches(q)
		if err != nil {
			return nil, fmt.Errorf("export of %s: query %q: %w", st.Type, raw, err)
		}
		p.scan.Match = append(p.scan.Match, s)
	}
	if els := append(append([]string{}, spec.Elements[st.Type]...), spec.Elements[""]...); len(els) > 0 && !st.Deleted {
		p.elements = &search.Query{Type: st.Type, Elements: els}
	}
	return p, nil
}

// scope compiles the client's access to typ: nil when unrestricted, none
// when the client may see nothing of it.
func (m *Manager) scope(spec *Spec, typ string) (sc *search.Scope, none bool, err error) {
	if spec.Access == nil {
		return nil, false, nil
	}
	clauses := spec.Access[typ]
	if len(clauses) == 0 {
		return nil, true, nil
	}
	var out []search.ScopeClause
	for _, c := range clauses {
		if c.Patient == "" && c.Query == "" {
			return nil, false, nil // this clause allows every resource
		}
		cl := search.ScopeClause{Patient: c.Patient}
		if c.Query != "" {
			values, err := parseQuery(c.Query)
			if err != nil {
				return nil, false, err
			}
			q, err := m.Registry.Parse(typ, values, search.Strict)
			if err != nil {
				return nil, false, err
			}
			cl.Filters = q.Filters
		}
		out = append(out, cl)
	}
	return &search.Scope{Types: map[string][]search.ScopeClause{typ: out}}, false, nil
}

func parseQuery(raw string) (url.Values, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("malformed query: %w", err)
	}
	return v, nil
}
