package search

import (
	"time"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/profiles"
)

// Index is what a resource contributes to the index tables: one slice per
// parameter type, plus the Patient compartments it belongs to. It is derived
// entirely from the resource, written in the same transaction, and can be
// rebuilt at any time (`immunis reindex`).
type Index struct {
	Tokens       []TokenRow
	Strings      []StringRow
	Dates        []DateRow
	Refs         []RefRow
	Numbers      []NumberRow
	Quantities   []QuantityRow
	URIs         []URIRow
	Compartments []string // ids of the Patients whose compartment holds the resource
}

// TokenRow indexes a code, Coding, CodeableConcept, Identifier, ContactPoint
// or boolean (token.go). Text is unused since index version 2 (the :text
// form has rows of its own) and kept for the table's shape.
type TokenRow struct {
	Param  int32
	System string
	Code   string
	Text   string
}

// StringRow: Norm is lower-cased and accent-stripped (the default and
// :contains matches), Exact the value as written (:exact).
type StringRow struct {
	Param int32
	Norm  string
	Exact string
}

// DateRow is the interval a date, dateTime, instant, Period or Timing
// event covers, as inclusive microsecond bounds.
type DateRow struct {
	Param  int32
	Lo, Hi int64
}

// RefRow is a reference to Type/ID (local) or to a URL (reference.go).
type RefRow struct {
	Param int32
	Type  string
	ID    string
	URL   string
}

// NumberRow is a number with the interval its precision implies.
type NumberRow struct {
	Param  int32
	Value  float64
	Lo, Hi float64
}

// QuantityRow is a Quantity with its precision interval.
type QuantityRow struct {
	Param        int32
	System, Code string
	Value        float64
	Lo, Hi       float64
}

// URIRow indexes a uri/url/canonical.
type URIRow struct {
	Param int32
	URI   string
}

// Extractor turns resources into index rows.
type Extractor struct {
	Registry *Registry
	// Location for dates without a time zone (FHIR dates like 2024-05-01).
	Location *time.Location
	// BaseURL is this server's FHIR base, to recognize absolute local refs.
	BaseURL string
}

// Extract computes the index rows of a resource of type typ.
func (x *Extractor) Extract(typ string, obj fhir.Object) Index {
	var ix Index
	loc := x.Location
	if loc == nil {
		loc = time.UTC
	}
	for _, p := range x.Registry.Params(typ) {
		if p.expr == nil {
			continue
		}
		for _, n := range p.expr.eval(obj, typ, nil) {
			if p.Type == TypeComposite {
				x.appendCompositeRows(&ix, p, obj, typ, n, loc)
				continue
			}
			x.appendRows(&ix, p, p.Type, obj, typ, n, loc)
		}
	}
	x.compartments(&ix, typ, obj)
	ix.dedupe()
	return ix
}

// dedupe drops repeated rows (a name given in two HumanNames, the same
// coding twice): they would match the same searches and only cost space.
func (ix *Index) dedupe() {
	ix.Tokens = uniq(ix.Tokens)
	ix.Strings = uniq(ix.Strings)
	ix.Dates = uniq(ix.Dates)
	ix.Refs = uniq(ix.Refs)
	ix.Numbers = uniq(ix.Numbers)
	ix.Quantities = uniq(ix.Quantities)
	ix.URIs = uniq(ix.URIs)
}

// uniq keeps the first of equal rows, in order.
func uniq[T comparable](rows []T) []T {
	if len(rows) < 2 {
		return rows
	}
	seen := make(map[T]bool, len(rows))
	out := rows[:0]
	for _, r := range rows {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// appendRows adds the rows of one value of a parameter of type t (one
// file per type holds the rules).
func (x *Extractor) appendRows(ix *Index, p *Param, t Type, root fhir.Object, typ string, n node, loc *time.Location) {
	switch t {
	case TypeToken:
		appendTokenRows(ix, p, n)
	case TypeString:
		if isPhonetic(p) {
			appendPhoneticRows(ix, p.ID, n.v)
			return
		}
		appendStringRows(ix, p.ID, n.v)
	case TypeDate:
		appendDateRows(ix, p.ID, n, loc)
	case TypeReference:
		x.appendRefRows(ix, p, n.v)
	case TypeNumber:
		appendNumberRows(ix, p.ID, n.v)
	case TypeQuantity:
		appendQuantityRows(ix, p.ID, n.v)
	case TypeURI:
		appendURIRows(ix, p.ID, n.v)
	case TypeComposite, TypeSpecial:
		// composites are handled by Extract; special ones are not indexed
	}
}

// compartments derives Patient compartment membership from the reference
// rows of the compartment definition's parameters.
func (x *Extractor) compartments(ix *Index, typ string, obj fhir.Object) {
	seen := map[string]bool{}
	if typ == "Patient" {
		if id := fhir.Str(obj, "id"); id != "" {
			seen[id] = true
			ix.Compartments = append(ix.Compartments, id)
		}
	}
	for _, code := range profiles.PatientCompartment[typ] {
		p, ok := x.Registry.Param(typ, code)
		if !ok {
			continue
		}
		for _, r := range ix.Refs {
			if r.Param == p.ID && r.Type == "Patient" && r.ID != "" && !seen[r.ID] {
				seen[r.ID] = true
				ix.Compartments = append(ix.Compartments, r.ID)
			}
		}
	}
}
