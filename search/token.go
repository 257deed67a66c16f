package search

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/immunis/immunis/fhir"
)

// Token parameters (search.html "token"): codes, Codings,
// CodeableConcepts, Identifiers, ContactPoints and booleans, searched as
// code, system|code, |code or system|; :text on their display text;
// :of-type on Identifier type; :not.
//
// Rows: (param, system, code) for the value; (TextID, '', normalized text)
// for :text; (OfTypeID, "typesystem|typecode", value) for :of-type. Each
// form is then one equality or range on idx_token (param, code, system).

// tokenVal is one indexed token value with what its modifiers search.
type tokenVal struct {
	system, code string
	texts        []string    // Coding.display, CodeableConcept.text, Identifier.type.text
	ofType       [][2]string // Identifier.type codings (system, code)
}

// tokenValues reads the token values of one FHIRPath result item.
func tokenValues(n node) []tokenVal {
	switch v := n.v.(type) {
	case string:
		return []tokenVal{{code: v}}
	case bool:
		if v {
			return []tokenVal{{code: "true"}}
		}
		return []tokenVal{{code: "false"}}
	case json.Number:
		return []tokenVal{{code: string(v)}}
	case map[string]any:
		switch strings.ToLower(n.hint) {
		case "quantity", "range", "reference", "period", "ratio", "attachment":
			return nil
		}
		switch {
		case v["coding"] != nil || (v["text"] != nil && v["code"] == nil && v["value"] == nil):
			// CodeableConcept: every coding, and its text for :text.
			var out []tokenVal
			for _, c := range fhir.Arr(v, "coding") {
				if co, ok := c.(map[string]any); ok {
					out = append(out, codingValue(co))
				}
			}
			if t := fhir.Str(v, "text"); t != "" {
				out = append(out, tokenVal{texts: []string{t}})
			}
			return out
		case v["value"] != nil:
			if _, isNum := v["value"].(json.Number); isNum {
				return nil // a Quantity reached through a choice without a hint
			}
			// Identifier or ContactPoint: system|value. ContactPoint.system
			// (phone, email…) is kept as the system, as HAPI does.
			tv := tokenVal{system: fhir.Str(v, "system"), code: fhir.Str(v, "value")}
			if t := fhir.Obj(v, "type"); t != nil {
				if s := fhir.Str(t, "text"); s != "" {
					tv.texts = append(tv.texts, s)
				}
				for _, c := range fhir.Arr(t, "coding") {
					if co, ok := c.(map[string]any); ok {
						tv.ofType = append(tv.ofType, [2]string{fhir.Str(co, "system"), fhir.Str(co, "code")})
						if d := fhir.Str(co, "display"); d != "" {
							tv.texts = append(tv.texts, d)
						}
					}
				}
			}
			return []tokenVal{tv}
		case v["code"] != nil || v["system"] != nil:
			return []tokenVal{codingValue(v)}
		}
	}
	return nil
}

func codingValue(co map[string]any) tokenVal {
	tv := tokenVal{system: fhir.Str(co, "system"), code: fhir.Str(co, "code")}
	if d := fhir.Str(co, "display"); d != "" {
		tv.texts = []string{d}
	}
	return tv
}

// appendTokenRows adds the rows of one token parameter value.
func appendTokenRows(ix *Index, p *Param, n node) {
	vals := tokenValues(n)
	coded := false
	for _, tv := range vals {
		coded = coded || tv.code != "" || tv.system != ""
	}
	for _, tv := range vals {
		// A CodeableConcept with only text still has the element: an
		// empty row keeps :missing right and matches no token value (an
		// empty code cannot be searched for).
		if tv.code != "" || tv.system != "" || !coded {
			ix.Tokens = append(ix.Tokens, TokenRow{Param: p.ID, System: cut(tv.system), Code: cut(tv.code)})
		}
		if p.TextID == 0 {
			continue // a composite component: plain rows only
		}
		for _, t := range tv.texts {
			if t = Normalize(t); t != "" {
				ix.Tokens = append(ix.Tokens, TokenRow{Param: p.TextID, Code: cut(t)})
			}
		}
		for _, ot := range tv.ofType {
			if tv.code != "" {
				ix.Tokens = append(ix.Tokens, TokenRow{Param: p.OfTypeID, System: cut(ot[0] + "|" + ot[1]), Code: cut(tv.code)})
			}
		}
	}
}

// parseToken parses one token value for modifier mod.
func parseToken(mod, part string) (Value, error) {
	switch mod {
	case "text":
		return Value{Raw: unescape(part)}, nil
	case "of-type":
		pieces := splitEscaped(part, '|')
		if len(pieces) != 3 || pieces[1] == "" || pieces[2] == "" {
			return Value{}, fmt.Errorf(":of-type takes system|code|value, got %q", part)
		}
		return Value{System: unescape(pieces[0]) + "|" + unescape(pieces[1]), Code: unescape(pieces[2]), HasSys: true}, nil
	}
	pieces := splitEscaped(part, '|')
	switch len(pieces) {
	case 1:
		return Value{Code: unescape(pieces[0])}, nil
	case 2:
		v := Value{System: unescape(pieces[0]), Code: unescape(pieces[1]), HasSys: true}
		if v.System == "" && v.Code == "" {
			return Value{}, fmt.Errorf("%q names neither a system nor a code", part)
		}
		return v, nil
	}
	return Value{}, fmt.Errorf("too many '|' in token %q", part)
}

// tokenCond is the condition on one idx_token row for one value.
func (b *builder) tokenCond(mod string, v Value, c col) string {
	if mod == "text" {
		n := cut(Normalize(v.Raw))
		return c.of("code") + " >= " + b.arg(n) + " AND " + c.of("code") + " < " + b.arg(prefixEnd(n))
	}
	switch {
	case !v.HasSys:
		return c.of("code") + " = " + b.arg(cut(v.Code))
	case v.Code == "":
		return c.of("system") + " = " + b.arg(cut(v.System))
	}
	// |code (no system) binds system = '' like any other system.
	return c.of("code") + " = " + b.arg(cut(v.Code)) + " AND " + c.of("system") + " = " + b.arg(cut(v.System))
}
