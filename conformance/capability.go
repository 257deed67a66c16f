// Package conformance generates this server's conformance resources — the
// CapabilityStatement and the SearchParameter and OperationDefinition
// resources it serves — from the search registry and the list of
// interactions and operations the server really routes, so that metadata
// states exactly what works. `server` imports it.
package conformance

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
)

// Operation is an operation the server routes.
type Operation struct {
	Name       string // without $
	Definition string // canonical URL of its OperationDefinition
	Types      []string
	System     bool
}

// Capabilities describes what the server supports.
type Capabilities struct {
	Registry   *search.Registry
	BaseURL    string
	Version    string // software version
	Released   time.Time
	Operations []Operation
	Security   fhir.Object // rest.security, from auth (nil when none)
	// Includes is set once _include/_revinclude are served.
	Includes bool
}

// typeInteractions are the type-level interactions every supported type
// has; the server routes exactly these.
var typeInteractions = []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"}

// Statement builds the CapabilityStatement.
func (c *Capabilities) Statement() fhir.Object {
	var resources []any
	for _, typ := range c.Registry.Types() {
		var inter []any
		for _, i := range typeInteractions {
			inter = append(inter, fhir.Object{"code": i})
		}
		var params []any
		for _, p := range c.Registry.Params(typ) {
			params = append(params, fhir.Object{"name": p.Code, "definition": p.URL, "type": string(p.Type)})
		}
		r := fhir.Object{
			"type":              typ,
			"profile":           "http://hl7.org/fhir/StructureDefinition/" + typ,
			"interaction":       inter,
			"versioning":        "versioned-update",
			"readHistory":       true,
			"updateCreate":      true,
			"conditionalCreate": true,
			"conditionalRead":   "full-support",
			"conditionalUpdate": true,
			"conditionalDelete": "single",
			"referencePolicy":   []any{"literal", "enforced", "local"},
			"searchParam":       params,
		}
		if inc := c.includes(typ); c.Includes && len(inc) > 0 {
			r["searchInclude"] = inc
		}
		if rev := c.revIncludes(typ); c.Includes && len(rev) > 0 {
			r["searchRevInclude"] = rev
		}
		var ops []any
		for _, op := range c.Operations {
			for _, t := range op.Types {
				if t == typ {
					ops = append(ops, fhir.Object{"name": op.Name, "definition": op.Definition})
				}
			}
		}
		if len(ops) > 0 {
			r["operation"] = ops
		}
		resources = append(resources, r)
	}
	rest := fhir.Object{
		"mode":     "server",
		"resource": resources,
		"interaction": []any{
			fhir.Object{"code": "transaction"},
			fhir.Object{"code": "batch"},
			fhir.Object{"code": "history-system"},
		},
	}
	var sysOps []any
	for _, op := range c.Operations {
		if op.System {
			sysOps = append(sysOps, fhir.Object{"name": op.Name, "definition": op.Definition})
		}
	}
	if len(sysOps) > 0 {
		rest["operation"] = sysOps
	}
	if c.Security != nil {
		rest["security"] = c.Security
	}
	released := c.Released
	if released.IsZero() {
		released = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	}
	return fhir.Object{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         released.Format("2006-01-02"),
		"publisher":    "Immunis",
		"kind":         "instance",
		"software":     fhir.Object{"name": "Immunis", "version": c.Version},
		"implementation": fhir.Object{
			"description": "Immunis immunization information system",
			"url":         c.BaseURL,
		},
		"fhirVersion": "4.0.1",
		"format":      []any{"application/fhir+json", "json"},
		"patchFormat": []any{"application/json-patch+json"},
		"rest":        []any{rest},
	}
}

func (c *Capabilities) includes(typ string) []any {
	var out []any
	for _, p := range c.Registry.Params(typ) {
		if p.Type == search.TypeReference {
			out = append(out, fmt.Sprintf("%s:%s", typ, p.Code))
		}
	}
	return out
}

func (c *Capabilities) revIncludes(typ string) []any {
	var out []any
	for _, src := range c.Registry.Types() {
		for _, p := range c.Registry.Params(src) {
			if p.Type != search.TypeReference {
				continue
			}
			for _, t := range p.Targets {
				if t == typ {
					out = append(out, fmt.Sprintf("%s:%s", src, p.Code))
					break
				}
			}
		}
	}
	return out
}

// SearchParameter returns the published definition of typ's parameter.
func (c *Capabilities) SearchParameter(typ, code string) (json.RawMessage, bool) {
	p, ok := c.Registry.Param(typ, code)
	if !ok {
		return nil, false
	}
	return p.Definition, true
}
