package search

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
)

//go:embed data/search-parameters.json
var searchParamsJSON []byte

// Type is a SearchParameter.type.
type Type string

const (
	TypeNumber    Type = "number"
	TypeDate      Type = "date"
	TypeString    Type = "string"
	TypeToken     Type = "token"
	TypeReference Type = "reference"
	TypeComposite Type = "composite"
	TypeQuantity  Type = "quantity"
	TypeURI       Type = "uri"
	TypeSpecial   Type = "special"
)

// Param is one search parameter of one resource type.
type Param struct {
	Resource   string // the type this entry serves
	Code       string // the name used in queries
	Type       Type
	URL        string
	DefID      string // SearchParameter.id of the definition
	Expression string // the official expression (all bases)
	// Targets are the reference target types for this base (narrowed where
	// the official list covers other bases; see targetOverride).
	Targets []string
	// Column marks parameters answered from the resource table itself
	// (_id, _lastUpdated) rather than index rows.
	Column string
	// ID identifies (Resource, Code) in the index tables: a stable 31-bit
	// hash, so rows never depend on registry order.
	ID int32
	// TextID, OfTypeID and IdentifierID hold the token rows of the :text,
	// :of-type (token) and :identifier (reference) forms apart from the
	// plain rows, so each form is one indexed equality or range.
	TextID, OfTypeID, IdentifierID int32
	// Components of a composite parameter, in order.
	Components []Component

	Definition json.RawMessage // the SearchParameter resource as published
	expr       expr
}

// Component is one part of a composite parameter: its type and its
// expression relative to the composite's element.
type Component struct {
	Type       Type
	Expression string
	expr       expr
}

// Registry holds the search parameters of the supported resource types.
type Registry struct {
	types  []string
	byType map[string]map[string]*Param
	sorted map[string][]*Param // byType's values by code, built once
	defs   map[string]*Definition
	// Skipped lists parameters not served, with why (for the operator).
	Skipped []string
}

// Definition is a published SearchParameter this server serves, with the
// served types it applies to.
type Definition struct {
	ID    string
	URL   string
	Code  string
	Type  Type
	Bases []string
	Raw   json.RawMessage
}

// ParamID is the stable id of (resource type, parameter code).
func ParamID(resource, code string) int32 {
	h := fnv.New32a()
	h.Write([]byte(resource))
	h.Write([]byte{'.'})
	h.Write([]byte(code))
	return int32(h.Sum32() & 0x7fffffff)
}

type spDef struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	Code       string   `json:"code"`
	Type       Type     `json:"type"`
	Base       []string `json:"base"`
	Expression string   `json:"expression"`
	Target     []string `json:"target"`
	Component  []struct {
		Definition string `json:"definition"`
		Expression string `json:"expression"`
	} `json:"component"`
}

// targetOverride narrows the official target list of multi-base reference
// parameters to what the element of one base can reference (the list in
// the bundle is the union over every base): Immunization.patient is
// Reference(Patient), while clinical-patient also lists Group for other
// bases. Without this, Immunization?patient.identifier would be ambiguous.
var targetOverride = map[string][]string{
	"Immunization.patient": {"Patient"},
}

// NewRegistry loads the embedded official R4 definitions for types.
func NewRegistry(types []string) (*Registry, error) {
	var bundle struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(searchParamsJSON, &bundle); err != nil {
		return nil, fmt.Errorf("parse embedded search parameters: %w", err)
	}
	r := &Registry{types: append([]string(nil), types...), byType: map[string]map[string]*Param{}, defs: map[string]*Definition{}}
	supported := map[string]bool{}
	for _, t := range types {
		supported[t] = true
		r.byType[t] = map[string]*Param{}
	}
	all := make([]spDef, len(bundle.Entry))
	byURL := map[string]*spDef{}
	for i, e := range bundle.Entry {
		if err := json.Unmarshal(e.Resource, &all[i]); err != nil {
			return nil, fmt.Errorf("parse search parameter: %w", err)
		}
		byURL[all[i].URL] = &all[i]
	}
	ids := map[int32]string{}
	claim := func(id int32, name string) error {
		if other, dup := ids[id]; dup {
			return fmt.Errorf("search parameter id collision: %s and %s", name, other)
		}
		ids[id] = name
		return nil
	}
	for i, d := range all {
		var bases []string
		for _, b := range d.Base {
			if b == "Resource" || b == "DomainResource" {
				bases = append(bases, types...)
			} else if supported[b] {
				bases = append(bases, b)
			}
		}
		if len(bases) == 0 {
			continue
		}
		p, why := compileParam(d, byURL)
		if why != "" {
			r.Skipped = append(r.Skipped, fmt.Sprintf("%s (%s): %s", d.Code, strings.Join(bases, ","), why))
			continue
		}
		for _, b := range bases {
			bp := *p
			bp.Resource, bp.Definition = b, bundle.Entry[i].Resource
			if t, ok := targetOverride[b+"."+d.Code]; ok {
				bp.Targets = t
			}
			bp.ID = ParamID(b, d.Code)
			bp.TextID = ParamID(b, d.Code+":text")
			bp.OfTypeID = ParamID(b, d.Code+":of-type")
			bp.IdentifierID = ParamID(b, d.Code+":identifier")
			for _, x := range []struct {
				id   int32
				form string
			}{{bp.ID, ""}, {bp.TextID, ":text"}, {bp.OfTypeID, ":of-type"}, {bp.IdentifierID, ":identifier"}} {
				if err := claim(x.id, b+"."+d.Code+x.form); err != nil {
					return nil, err
				}
			}
			r.byType[b][d.Code] = &bp
		}
		r.defs[d.ID] = &Definition{ID: d.ID, URL: d.URL, Code: d.Code, Type: d.Type, Bases: bases, Raw: bundle.Entry[i].Resource}
	}
	r.sorted = map[string][]*Param{}
	for t, m := range r.byType {
		list := make([]*Param, 0, len(m))
		for _, p := range m {
			list = append(list, p)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Code < list[j].Code })
		r.sorted[t] = list
	}
	return r, nil
}

// compileParam prepares one definition, or says why it is not served.
func compileParam(d spDef, byURL map[string]*spDef) (*Param, string) {
	p := &Param{Code: d.Code, Type: d.Type, URL: d.URL, DefID: d.ID, Expression: d.Expression, Targets: d.Target}
	switch {
	case d.Code == "_id":
		p.Column = "id"
		return p, ""
	case d.Code == "_lastUpdated":
		p.Column = "last_updated"
		return p, ""
	case d.Type == TypeSpecial:
		return nil, "special parameters are not supported"
	case d.Expression == "":
		return nil, "no expression to index"
	}
	c, err := compileFHIRPath(d.Expression)
	if err != nil {
		return nil, err.Error()
	}
	p.expr = c
	if d.Type != TypeComposite {
		return p, ""
	}
	// Composites are indexed as their second component under a param id
	// derived from the first (a token), so two components with a token
	// first are what this server supports (composite.go).
	if len(d.Component) != 2 {
		return nil, fmt.Sprintf("composite with %d components is not supported", len(d.Component))
	}
	for i, comp := range d.Component {
		def, ok := byURL[comp.Definition]
		if !ok {
			return nil, fmt.Sprintf("component %s is not defined", comp.Definition)
		}
		if i == 0 && def.Type != TypeToken {
			return nil, "composite whose first component is not a token is not supported"
		}
		switch def.Type {
		case TypeToken, TypeString, TypeDate, TypeReference, TypeNumber, TypeQuantity, TypeURI:
		default:
			return nil, fmt.Sprintf("composite component of type %s is not supported", def.Type)
		}
		ce, err := compileFHIRPath(comp.Expression)
		if err != nil {
			return nil, err.Error()
		}
		p.Components = append(p.Components, Component{Type: def.Type, Expression: comp.Expression, expr: ce})
	}
	return p, ""
}

// Types are the resource types the registry serves.
func (r *Registry) Types() []string { return r.types }

// Supports reports whether typ is a served resource type.
func (r *Registry) Supports(typ string) bool {
	_, ok := r.byType[typ]
	return ok
}

// Param returns the parameter code of typ.
func (r *Registry) Param(typ, code string) (*Param, bool) {
	p, ok := r.byType[typ][code]
	return p, ok
}

// Params lists the parameters of typ ordered by code. The list is the
// registry's own (it runs for every resource written): read it, do not
// change it.
func (r *Registry) Params(typ string) []*Param {
	return r.sorted[typ]
}

// Definition returns the served SearchParameter with id.
func (r *Registry) Definition(id string) (*Definition, bool) {
	d, ok := r.defs[id]
	return d, ok
}

// Definitions lists the served SearchParameters ordered by id.
func (r *Registry) Definitions() []*Definition {
	out := make([]*Definition, 0, len(r.defs))
	for _, d := range r.defs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// extractorVersion changes whenever extraction changes the rows it makes
// for the same resource; together with the served parameters it makes the
// index version.
const extractorVersion = 4

// IndexVersion identifies the index rows this registry and extractor
// produce. `immunis reindex` records it; a different stored value means
// the index rows must be rebuilt.
func (r *Registry) IndexVersion() string {
	var lines []string
	for _, t := range r.types {
		for _, p := range r.Params(t) {
			line := strconv.Itoa(int(p.ID)) + " " + string(p.Type) + " " + p.Expression + " " + strings.Join(p.Targets, ",")
			for _, c := range p.Components {
				line += " " + c.Expression
			}
			lines = append(lines, line)
		}
	}
	sort.Strings(lines)
	h := fnv.New64a()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("%d-%016x", extractorVersion, h.Sum64())
}

// FindDefinitions returns the served SearchParameters matching a search
// on SearchParameter: _id, base (a served type), code, type and url, each
// a comma-separated list of alternatives, ANDed. Other parameters are
// returned in ignored.
func (r *Registry) FindDefinitions(params map[string][]string) (defs []*Definition, ignored []string) {
	match := map[string]func(d *Definition, v string) bool{
		"_id":  func(d *Definition, v string) bool { return d.ID == v },
		"code": func(d *Definition, v string) bool { return d.Code == v },
		"type": func(d *Definition, v string) bool { return string(d.Type) == v },
		"url":  func(d *Definition, v string) bool { return d.URL == v },
		"base": func(d *Definition, v string) bool {
			for _, b := range d.Bases {
				if b == v {
					return true
				}
			}
			return false
		},
	}
	for name := range params {
		if _, ok := match[name]; !ok {
			ignored = append(ignored, name)
		}
	}
	sort.Strings(ignored)
	for _, d := range r.Definitions() {
		ok := true
		for name, vals := range params {
			f, known := match[name]
			if !known {
				continue
			}
			for _, raw := range vals {
				hit := false
				for _, v := range strings.Split(raw, ",") {
					hit = hit || f(d, v)
				}
				ok = ok && hit
			}
		}
		if ok {
			defs = append(defs, d)
		}
	}
	return defs, ignored
}
