package bulk

import (
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
)

// Param is one kick-off parameter as received: a query parameter of a GET,
// or a Parameters.parameter of a POST (patient as its reference).
type Param struct {
	Name, Value string
}

// parsed is what the parameters say before anything is looked up in the
// database.
type parsed struct {
	spec     Spec
	patients []string // the patient parameter, as ids
	issues   []fhir.Issue
	// forbidden are types asked for that the client may not read.
	forbidden []string
	// notes are findings that fail nothing but belong in the error file.
	notes []fhir.Issue
}

// outputFormats are the _outputFormat values that mean NDJSON (export.html
// "Query Parameters": the full type and both abbreviations).
var outputFormats = []string{"application/fhir+ndjson", "application/ndjson", "ndjson"}

// ignoredParams are general FHIR parameters of the request itself.
var ignoredParams = map[string]bool{"_format": true, "_pretty": true}

// parseParams validates the kick-off parameters of level. Every problem
// becomes an issue; the caller decides (Prefer: handling) whether issues
// fail the request or are reported in the manifest's error file.
func (m *Manager) parseParams(k *KickOff) *parsed {
	p := &parsed{spec: Spec{Level: k.Level, Group: k.GroupID, Request: k.Request,
		RequiresAccessToken: k.RequiresAccessToken, Compartment: k.Level != LevelSystem}}
	var types, typeFilters, elements []string
	typesGiven := false
	for _, prm := range k.Params {
		switch prm.Name {
		case "_outputFormat":
			if !slices.Contains(outputFormats, strings.ToLower(strings.TrimSpace(prm.Value))) {
				p.issue(fhir.IssueNotSupported, "IMM-BULK-010", "_outputFormat",
					"_outputFormat %q is not supported; this server writes NDJSON (application/fhir+ndjson)", prm.Value)
			}
		case "_since":
			t, ok := parseInstant(prm.Value)
			if !ok {
				p.issue(fhir.IssueValue, "IMM-BULK-011", "_since",
					"_since %q is not a FHIR instant (e.g. 2024-01-02T03:04:05Z)", prm.Value)
				continue
			}
			p.spec.Since = t
		case "_type":
			typesGiven = true
			types = append(types, splitList(prm.Value)...)
		case "_typeFilter":
			typeFilters = append(typeFilters, splitTypeFilter(prm.Value)...)
		case "_elements":
			elements = append(elements, splitList(prm.Value)...)
		case "patient":
			if k.Method != "POST" || k.Level == LevelSystem {
				p.issue(fhir.IssueNotSupported, "IMM-BULK-012", "patient",
					"the patient parameter is only accepted in a POST kick-off of Patient/$export or Group/[id]/$export")
				continue
			}
			ref := fhir.ParseReference(strings.TrimSpace(prm.Value), m.BaseURL)
			if ref.Kind != fhir.RefLocal || ref.Type != "Patient" || ref.Version != "" {
				p.issue(fhir.IssueValue, "IMM-BULK-013", "patient",
					"patient %q is not a reference to a Patient of this server (Patient/[id])", prm.Value)
				continue
			}
			if !slices.Contains(p.patients, ref.ID) {
				p.patients = append(p.patients, ref.ID)
			}
		case "includeAssociatedData":
			for _, v := range splitList(prm.Value) {
				p.issue(fhir.IssueNotSupported, "IMM-BULK-014", "includeAssociatedData",
					"includeAssociatedData %q is not supported: this server exports no associated data beyond the types requested", v)
			}
		default:
			if !ignoredParams[prm.Name] {
				p.issue(fhir.IssueNotSupported, "IMM-BULK-015", prm.Name, "%s is not a parameter of $export", prm.Name)
			}
		}
	}
	p.spec.Types = m.exportTypes(p, k, types, typesGiven)
	p.spec.TypeFilters = m.parseTypeFilters(p, typeFilters)
	p.spec.Elements = m.parseElements(p, elements)
	return p
}

// exportTypes checks _type against the served types (and, below system
// level, the Patient compartment) and the client's access. Without _type,
// every type the client may read, in the registry's order.
func (m *Manager) exportTypes(p *parsed, k *KickOff, asked []string, given bool) []string {
	allowed := func(t string) bool {
		return k.Access == nil || len(k.Access.Types[t]) > 0
	}
	inScope := func(t string) bool {
		return k.Level == LevelSystem || slices.Contains(m.CompartmentTypes, t)
	}
	if !given {
		var out []string
		for _, t := range m.Registry.Types() {
			if inScope(t) && allowed(t) {
				out = append(out, t)
			}
		}
		return out
	}
	var out []string
	for _, t := range asked {
		switch {
		case slices.Contains(out, t):
		case !m.Registry.Supports(t):
			p.issue(fhir.IssueNotSupported, "IMM-BULK-020", "_type", "resource type %q is not supported by this server", t)
		case !inScope(t):
			p.issue(fhir.IssueNotSupported, "IMM-BULK-021", "_type",
				"resource type %q is outside the Patient compartment, which a %s-level export covers", t, k.Level)
		case !allowed(t):
			// Not lenient-able: the client asked for data it may not see
			// (export.html "Enforcing Authorization").
			p.forbidden = append(p.forbidden, t)
		default:
			out = append(out, t)
		}
	}
	return out
}

// parseTypeFilters checks each _typeFilter query with the search engine.
// Queries that cannot run exactly (unknown parameters, result parameters,
// chains and _has, whose targets are not part of the snapshot) are issues;
// when they are let pass (lenient), the type's other queries are dropped
// too, since ORing fewer queries would narrow the export.
func (m *Manager) parseTypeFilters(p *parsed, raw []string) map[string][]string {
	out := map[string][]string{}
	dropped := map[string]bool{}
	for _, f := range raw {
		typ, query, ok := strings.Cut(f, "?")
		if !ok || !fhir.IsTypeName(typ) {
			p.issue(fhir.IssueValue, "IMM-BULK-030", "_typeFilter", "_typeFilter %q is not of the form [type]?[query]", f)
			continue
		}
		if !slices.Contains(p.spec.Types, typ) {
			p.issue(fhir.IssueNotSupported, "IMM-BULK-031", "_typeFilter",
				"_typeFilter %q is for type %s, which this export does not include", f, typ)
			continue
		}
		values, err := url.ParseQuery(query)
		if err == nil {
			err = m.checkQuery(typ, values)
		}
		if err != nil {
			p.issue(fhir.IssueNotSupported, "IMM-BULK-032", "_typeFilter", "_typeFilter %q cannot be applied: %v", f, err)
			dropped[typ] = true
			continue
		}
		out[typ] = append(out[typ], values.Encode())
	}
	for typ := range dropped {
		delete(out, typ)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// parseElements checks _elements: root element names, optionally
// qualified by an exported type.
func (m *Manager) parseElements(p *parsed, raw []string) map[string][]string {
	out := map[string][]string{}
	for _, e := range raw {
		typ, name, qualified := strings.Cut(e, ".")
		if !qualified {
			typ, name = "", e
		}
		switch {
		case !validElement(name):
			p.issue(fhir.IssueValue, "IMM-BULK-040", "_elements", "_elements %q is not a root element name", e)
		case qualified && !m.Registry.Supports(typ):
			p.issue(fhir.IssueNotSupported, "IMM-BULK-041", "_elements", "_elements %q names an unsupported type", e)
		default:
			if !slices.Contains(out[typ], name) {
				out[typ] = append(out[typ], name)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func validElement(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		if !(unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) || r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// issue records a problem with a parameter.
func (p *parsed) issue(code fhir.IssueType, msgID, expr, format string, args ...any) {
	e := fhir.Errorf(fhir.KindInvalid, code, msgID, format, args...).At(expr)
	p.issues = append(p.issues, e.Issues...)
}

// splitList splits a comma-delimited value (export.html: repeated
// parameters count as if comma-joined).
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// splitTypeFilter splits a _typeFilter value into its queries. A query may
// itself hold commas (OR values, status=completed,not-done), so a comma
// separates queries only when a new [Type]? follows it.
func splitTypeFilter(v string) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		if v[i] == ',' && startsQuery(v[i+1:]) {
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	out = append(out, v[start:])
	var clean []string
	for _, s := range out {
		if s = strings.TrimSpace(s); s != "" {
			clean = append(clean, s)
		}
	}
	return clean
}

func startsQuery(s string) bool {
	if strings.TrimSpace(s) == "" {
		return true // a trailing comma
	}
	typ, _, ok := strings.Cut(strings.TrimSpace(s), "?")
	return ok && fhir.IsTypeName(typ)
}

// parseInstant reads a FHIR instant: a date-time to the second at least,
// with a time zone.
func parseInstant(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// checkQuery parses a search query for _typeFilter or a granular scope:
// only filters the snapshot can answer (no result parameters, chains or
// _has).
func (m *Manager) checkQuery(typ string, values url.Values) error {
	if len(values) == 0 {
		return errorf("the query is empty")
	}
	q, err := m.Registry.Parse(typ, values, search.Strict)
	if err != nil {
		return err
	}
	if len(q.Include) > 0 || len(q.RevInclude) > 0 || len(q.Sort) > 0 || q.Summary != "" ||
		len(q.Elements) > 0 || q.Cursor != nil || q.Total != "" || values.Has("_count") {
		return errorf("result parameters such as _include, _sort and _count do not apply to an export")
	}
	for _, f := range q.Filters {
		if !plainFilter(f) {
			return errorf("chained parameters and _has are not supported in an export")
		}
	}
	return nil
}

// plainFilter reports whether a filter reads only the resource's own
// index rows.
func plainFilter(f *search.Filter) bool {
	if f.Has != nil || f.Next != nil {
		return false
	}
	for _, g := range f.Any {
		if !plainFilter(g) {
			return false
		}
	}
	return true
}
