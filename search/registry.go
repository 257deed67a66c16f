package search

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
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
	Expression string   // the official expression (all bases)
	Targets    []string // reference target types
	// Column marks parameters answered from the resource table itself
	// (_id, _lastUpdated) rather than index rows.
	Column string
	// ID identifies (Resource, Code) in the index tables: a stable 31-bit
	// hash, so rows never depend on registry order.
	ID int32

	Definition json.RawMessage // the SearchParameter resource as published
	expr       expr
}

// Registry holds the search parameters of the supported resource types.
type Registry struct {
	types  []string
	byType map[string]map[string]*Param
	// Skipped lists parameters not served, with why (for the operator).
	Skipped []string
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
	URL        string   `json:"url"`
	Code       string   `json:"code"`
	Type       Type     `json:"type"`
	Base       []string `json:"base"`
	Expression string   `json:"expression"`
	Target     []string `json:"target"`
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
	r := &Registry{types: append([]string(nil), types...), byType: map[string]map[string]*Param{}}
	supported := map[string]bool{}
	for _, t := range types {
		supported[t] = true
		r.byType[t] = map[string]*Param{}
	}
	seen := map[int32]string{}
	for _, e := range bundle.Entry {
		var d spDef
		if err := json.Unmarshal(e.Resource, &d); err != nil {
			return nil, fmt.Errorf("parse search parameter: %w", err)
		}
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
		var compiled expr
		var column string
		switch {
		case d.Code == "_id":
			column = "id"
		case d.Code == "_lastUpdated":
			column = "last_updated"
		case d.Type == TypeSpecial || d.Type == TypeComposite || d.Expression == "":
			r.Skipped = append(r.Skipped, fmt.Sprintf("%s (%s): %s parameters are not supported", d.Code, strings.Join(bases, ","), d.Type))
			continue
		default:
			c, err := compileFHIRPath(d.Expression)
			if err != nil {
				r.Skipped = append(r.Skipped, fmt.Sprintf("%s: %v", d.Code, err))
				continue
			}
			compiled = c
		}
		for _, b := range bases {
			p := &Param{
				Resource: b, Code: d.Code, Type: d.Type, URL: d.URL, Expression: d.Expression,
				Targets: d.Target, Column: column, ID: ParamID(b, d.Code), Definition: e.Resource, expr: compiled,
			}
			if other, dup := seen[p.ID]; dup {
				return nil, fmt.Errorf("search parameter id collision: %s.%s and %s", b, d.Code, other)
			}
			seen[p.ID] = b + "." + d.Code
			r.byType[b][d.Code] = p
		}
	}
	return r, nil
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

// Params lists the parameters of typ ordered by code.
func (r *Registry) Params(typ string) []*Param {
	m := r.byType[typ]
	out := make([]*Param, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
