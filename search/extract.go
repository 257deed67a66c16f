package search

import (
	"encoding/json"
	"math"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

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
// or boolean. Text holds the normalized display/text for :text.
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
// covers, as inclusive microsecond bounds.
type DateRow struct {
	Param  int32
	Lo, Hi int64
}

// RefRow is a reference to Type/ID (local) or to an absolute URL.
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

// MaxIndexedString bounds indexed string values; longer values are cut (the
// resource keeps them whole).
const MaxIndexedString = 256

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
		nodes := p.expr.eval(obj, typ, nil)
		for _, n := range nodes {
			switch p.Type {
			case TypeToken:
				ix.Tokens = appendTokens(ix.Tokens, p.ID, n)
			case TypeString:
				ix.Strings = appendStrings(ix.Strings, p.ID, n.v)
			case TypeDate:
				ix.Dates = appendDates(ix.Dates, p.ID, n, loc)
			case TypeReference:
				x.appendRefs(&ix, p.ID, n.v)
			case TypeNumber:
				if r, ok := numberRow(p.ID, n.v); ok {
					ix.Numbers = append(ix.Numbers, r)
				}
			case TypeQuantity:
				ix.Quantities = appendQuantity(ix.Quantities, p.ID, n.v)
			case TypeURI:
				if s, ok := n.v.(string); ok {
					ix.URIs = append(ix.URIs, URIRow{Param: p.ID, URI: cut(s)})
				}
			}
		}
	}
	x.compartments(&ix, typ, obj)
	return ix
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

func appendTokens(rows []TokenRow, pid int32, n node) []TokenRow {
	switch v := n.v.(type) {
	case string:
		return append(rows, TokenRow{Param: pid, Code: cut(v)})
	case bool:
		if v {
			return append(rows, TokenRow{Param: pid, Code: "true"})
		}
		return append(rows, TokenRow{Param: pid, Code: "false"})
	case map[string]any:
		switch {
		case v["coding"] != nil || (v["text"] != nil && v["system"] == nil && v["value"] == nil && v["code"] == nil):
			// CodeableConcept
			text := Normalize(fhir.Str(v, "text"))
			for _, c := range fhir.Arr(v, "coding") {
				if co, ok := c.(map[string]any); ok {
					t := Normalize(fhir.Str(co, "display"))
					if t == "" {
						t = text
					}
					rows = append(rows, TokenRow{Param: pid, System: cut(fhir.Str(co, "system")), Code: cut(fhir.Str(co, "code")), Text: t})
				}
			}
			if text != "" {
				rows = append(rows, TokenRow{Param: pid, Text: text})
			}
		case v["value"] != nil:
			// Identifier or ContactPoint: system|value. An Identifier's type
			// is kept in Text as "typesystem|typecode" for :of-type.
			row := TokenRow{Param: pid, System: cut(fhir.Str(v, "system")), Code: cut(fhir.Str(v, "value"))}
			if t := fhir.Obj(v, "type"); t != nil {
				for _, c := range fhir.Arr(t, "coding") {
					if co, ok := c.(map[string]any); ok {
						r := row
						r.Text = "of-type:" + fhir.Str(co, "system") + "|" + fhir.Str(co, "code")
						rows = append(rows, r)
					}
				}
				if len(fhir.Arr(t, "coding")) > 0 {
					return rows
				}
			}
			rows = append(rows, row)
		case v["code"] != nil || v["system"] != nil:
			// Coding
			rows = append(rows, TokenRow{Param: pid, System: cut(fhir.Str(v, "system")), Code: cut(fhir.Str(v, "code")), Text: Normalize(fhir.Str(v, "display"))})
		}
	}
	return rows
}

func appendStrings(rows []StringRow, pid int32, v any) []StringRow {
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			rows = append(rows, StringRow{Param: pid, Norm: cut(Normalize(s)), Exact: cut(s)})
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
	return rows
}

func appendDates(rows []DateRow, pid int32, n node, loc *time.Location) []DateRow {
	switch v := n.v.(type) {
	case string:
		if strings.EqualFold(n.hint, "string") {
			return rows
		}
		if d, err := fhir.ParseDate(v, loc); err == nil {
			lo, hi := d.Bounds()
			rows = append(rows, DateRow{Param: pid, Lo: lo, Hi: hi})
		}
	case map[string]any:
		if _, ok := v["start"]; ok || v["end"] != nil {
			// Period: an open end is unbounded.
			lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
			if s := fhir.Str(v, "start"); s != "" {
				if d, err := fhir.ParseDate(s, loc); err == nil {
					lo, _ = d.Bounds()
				}
			}
			if s := fhir.Str(v, "end"); s != "" {
				if d, err := fhir.ParseDate(s, loc); err == nil {
					_, hi = d.Bounds()
				}
			}
			return append(rows, DateRow{Param: pid, Lo: lo, Hi: hi})
		}
		for _, e := range fhir.Arr(v, "event") { // Timing
			if s, ok := e.(string); ok {
				if d, err := fhir.ParseDate(s, loc); err == nil {
					lo, hi := d.Bounds()
					rows = append(rows, DateRow{Param: pid, Lo: lo, Hi: hi})
				}
			}
		}
	}
	return rows
}

func (x *Extractor) appendRefs(ix *Index, pid int32, v any) {
	switch v := v.(type) {
	case string: // canonical
		ix.Refs = append(ix.Refs, RefRow{Param: pid, URL: cut(v)})
	case map[string]any:
		if s := fhir.Str(v, "reference"); s != "" {
			ref := fhir.ParseReference(s, x.BaseURL)
			switch ref.Kind {
			case fhir.RefLocal:
				ix.Refs = append(ix.Refs, RefRow{Param: pid, Type: ref.Type, ID: ref.ID})
			case fhir.RefAbsolute:
				ix.Refs = append(ix.Refs, RefRow{Param: pid, Type: ref.Type, ID: ref.ID, URL: cut(s)})
			}
		}
		// Reference.identifier is searchable with :identifier.
		if id := fhir.Obj(v, "identifier"); id != nil {
			ix.Tokens = append(ix.Tokens, TokenRow{Param: pid, System: cut(fhir.Str(id, "system")), Code: cut(fhir.Str(id, "value")), Text: "identifier"})
		}
	}
}

func numberRow(pid int32, v any) (NumberRow, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return NumberRow{}, false
	}
	f, lo, hi, ok := numberRange(string(num))
	return NumberRow{Param: pid, Value: f, Lo: lo, Hi: hi}, ok
}

func appendQuantity(rows []QuantityRow, pid int32, v any) []QuantityRow {
	q, ok := v.(map[string]any)
	if !ok {
		return rows
	}
	num, ok := q["value"].(json.Number)
	if !ok {
		return rows
	}
	f, lo, hi, ok := numberRange(string(num))
	if !ok {
		return rows
	}
	code := fhir.Str(q, "code")
	if code == "" {
		code = fhir.Str(q, "unit")
	}
	return append(rows, QuantityRow{Param: pid, System: fhir.Str(q, "system"), Code: code, Value: f, Lo: lo, Hi: hi})
}

// Normalize folds a string for matching: accents removed, lower case,
// whitespace collapsed (search.html: string matching is case- and
// accent-insensitive).
func Normalize(s string) string {
	if s == "" {
		return ""
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		if out, _, err := transform.String(t, s); err == nil {
			s = out
		}
	}
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func cut(s string) string {
	if len(s) <= MaxIndexedString {
		return s
	}
	// cut on a rune boundary
	i := MaxIndexedString
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}
