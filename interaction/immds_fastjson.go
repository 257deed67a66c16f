package interaction

import (
	"encoding/json"
	"strings"
)

// A single-purpose JSON reader for the $immds-forecast request. Reading a
// 20-dose request with encoding/json costs several times the forecast
// itself (reflection, two passes); this reader makes one pass, fills the
// same paramsIn/resourceIn structs, and skips (while validating) every
// member the operation does not use. It handles only the ordinary case:
// at the first thing it does not handle exactly like encoding/json — an
// escape or a non-ASCII byte in a string it keeps, null, a key differing
// from a known one only in case, a member of the wrong JSON type — it gives
// up, and decodeEnvelope falls back to encoding/json, whose answer (and
// error message) is the reference.

type fastReader struct {
	b []byte
	s string // b as a string: kept values and keys are substrings of it
	i int
}

func newFastReader(body []byte) fastReader {
	// One copy of the whole body instead of one allocation per key and
	// value (a 20-dose request has some 700 of them).
	return fastReader{b: body, s: string(body)}
}

// fastDecodeResource reads one stored resource; false means "use
// encoding/json".
func fastDecodeResource(body []byte, x *resourceIn) bool {
	r := newFastReader(body)
	ok := r.resource(x)
	r.ws()
	return ok && r.i == len(r.b)
}

// fastDecodeParams reads body into p; false means "use encoding/json".
func fastDecodeParams(body []byte, p *paramsIn) bool {
	r := newFastReader(body)
	ok := r.object(func(key string) bool {
		switch key {
		case "resourceType":
			return r.str(&p.ResourceType)
		case "parameter":
			return r.array(func() bool {
				p.Parameter = append(p.Parameter, paramIn{})
				return r.param(&p.Parameter[len(p.Parameter)-1])
			})
		}
		return r.other(key, "resourceType", "parameter")
	})
	r.ws()
	return ok && r.i == len(r.b)
}

func (r *fastReader) param(pa *paramIn) bool {
	return r.object(func(key string) bool {
		switch key {
		case "name":
			return r.str(&pa.Name)
		case "valueDate":
			pa.ValueDate = new(string)
			return r.str(pa.ValueDate)
		case "valueBoolean":
			pa.ValueBoolean = new(bool)
			return r.boolean(pa.ValueBoolean)
		case "resource":
			pa.Resource = &resourceIn{}
			return r.resource(pa.Resource)
		case "part":
			start := r.i
			if !r.skip() {
				return false
			}
			pa.Part = append([]byte(nil), r.b[start:r.i]...)
			return true
		}
		return r.other(key, "name", "valueDate", "valueBoolean", "resource", "part", "id", "extension", "modifierExtension")
	})
}

func (r *fastReader) resource(x *resourceIn) bool {
	return r.object(func(key string) bool {
		switch key {
		case "resourceType":
			return r.str(&x.ResourceType)
		case "id":
			return r.strPtr(&x.ID)
		case "birthDate":
			return r.strPtr(&x.BirthDate)
		case "gender":
			return r.strPtr(&x.Gender)
		case "status":
			return r.strPtr(&x.Status)
		case "occurrenceDateTime":
			return r.strPtr(&x.OccurrenceDateTime)
		case "occurrenceString":
			return r.strPtr(&x.OccurrenceString)
		case "expirationDate":
			return r.strPtr(&x.ExpirationDate)
		case "effectiveDateTime":
			return r.strPtr(&x.EffectiveDateTime)
		case "isSubpotent":
			x.IsSubpotent = new(bool)
			return r.boolean(x.IsSubpotent)
		case "vaccineCode":
			x.VaccineCode = &codeableConceptIn{}
			return r.concept(x.VaccineCode)
		case "code":
			x.Code = &codeableConceptIn{}
			return r.concept(x.Code)
		case "subpotentReason":
			return r.array(func() bool {
				x.SubpotentReason = append(x.SubpotentReason, codeableConceptIn{})
				return r.concept(&x.SubpotentReason[len(x.SubpotentReason)-1])
			})
		case "identifier":
			return r.array(func() bool {
				x.Identifier = append(x.Identifier, identifierIn{})
				return r.identifier(&x.Identifier[len(x.Identifier)-1])
			})
		case "manufacturer":
			x.Manufacturer = &referenceIn{}
			return r.object(func(key string) bool {
				switch key {
				case "reference":
					return r.str(&x.Manufacturer.Reference)
				case "identifier":
					x.Manufacturer.Identifier = &identifierIn{}
					return r.identifier(x.Manufacturer.Identifier)
				}
				return r.other(key, "reference", "identifier")
			})
		case "doseQuantity":
			x.DoseQuantity = &quantityIn{}
			q := x.DoseQuantity
			return r.object(func(key string) bool {
				switch key {
				case "value":
					return r.number(&q.Value)
				case "system":
					return r.str(&q.System)
				case "code":
					return r.str(&q.Code)
				case "unit":
					return r.str(&q.Unit)
				}
				return r.other(key, "value", "system", "code", "unit")
			})
		}
		return r.other(key, "resourceType", "id", "birthDate", "gender", "status", "occurrenceDateTime", "occurrenceString",
			"expirationDate", "effectiveDateTime", "isSubpotent", "vaccineCode", "code", "subpotentReason", "identifier",
			"manufacturer", "doseQuantity")
	})
}

func (r *fastReader) concept(cc *codeableConceptIn) bool {
	return r.object(func(key string) bool {
		switch key {
		case "text":
			return r.str(&cc.Text)
		case "coding":
			return r.array(func() bool {
				cc.Coding = append(cc.Coding, codingIn{})
				c := &cc.Coding[len(cc.Coding)-1]
				return r.object(func(key string) bool {
					switch key {
					case "system":
						return r.str(&c.System)
					case "code":
						return r.str(&c.Code)
					}
					return r.other(key, "system", "code")
				})
			})
		}
		return r.other(key, "text", "coding")
	})
}

func (r *fastReader) identifier(id *identifierIn) bool {
	return r.object(func(key string) bool {
		switch key {
		case "system":
			return r.str(&id.System)
		case "value":
			return r.str(&id.Value)
		}
		return r.other(key, "system", "value")
	})
}

// other skips the value of a member the caller does not keep, unless its
// key matches a kept one but for case (encoding/json would fill it).
func (r *fastReader) other(key string, known ...string) bool {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return false
		}
	}
	return r.skip()
}

func (r *fastReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// object reads {"key": value, …}, calling member for each value.
func (r *fastReader) object(member func(key string) bool) bool {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return false
	}
	r.i++
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return true
	}
	// Duplicate keys are left to encoding/json (it merges some, replaces
	// others); so are objects too large to track.
	var seen [24]string
	n := 0
	for {
		r.ws()
		key, ok := r.text()
		if !ok {
			return false
		}
		for _, k := range seen[:n] {
			if k == key {
				return false
			}
		}
		if n == len(seen) {
			return false
		}
		seen[n] = key
		n++
		r.ws()
		if r.i >= len(r.b) || r.b[r.i] != ':' {
			return false
		}
		r.i++
		if !member(key) {
			return false
		}
		r.ws()
		if r.i >= len(r.b) {
			return false
		}
		switch r.b[r.i] {
		case ',':
			r.i++
		case '}':
			r.i++
			return true
		default:
			return false
		}
	}
}

// array reads [value, …], calling elem for each value.
func (r *fastReader) array(elem func() bool) bool {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '[' {
		return false
	}
	r.i++
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		r.ws()
		if r.i >= len(r.b) {
			return false
		}
		switch r.b[r.i] {
		case ',':
			r.i++
		case ']':
			r.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string of printable ASCII without escapes.
func (r *fastReader) str(out *string) bool {
	v, ok := r.text()
	if ok {
		*out = v
	}
	return ok
}

// text reads a string of printable ASCII without escapes, as a substring
// of the body's one copy.
func (r *fastReader) text() (string, bool) {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return "", false
	}
	start := r.i + 1
	for i := start; i < len(r.b); i++ {
		c := r.b[i]
		if c == '"' {
			r.i = i + 1
			return r.s[start:i], true
		}
		if c < 0x20 || c == '\\' || c >= 0x80 {
			return "", false
		}
	}
	return "", false
}

func (r *fastReader) strPtr(out **string) bool {
	*out = new(string)
	return r.str(*out)
}

// number reads a JSON number as its exact text, as encoding/json fills a
// json.Number. (encoding/json also takes a string holding a number there;
// that is left to it.)
func (r *fastReader) number(out **json.Number) bool {
	r.ws()
	start := r.i
	if r.i >= len(r.b) || !(r.b[r.i] == '-' || r.b[r.i] >= '0' && r.b[r.i] <= '9') || !r.skipNumber() {
		return false
	}
	n := json.Number(r.s[start:r.i])
	*out = &n
	return true
}

func (r *fastReader) boolean(out *bool) bool {
	r.ws()
	switch {
	case r.literal("true"):
		*out = true
	case r.literal("false"):
		*out = false
	default:
		return false
	}
	return true
}

// skip steps over one JSON value, checking its syntax.
func (r *fastReader) skip() bool {
	r.ws()
	if r.i >= len(r.b) {
		return false
	}
	switch c := r.b[r.i]; {
	case c == '{':
		return r.object(func(string) bool { return r.skip() })
	case c == '[':
		return r.array(r.skip)
	case c == '"':
		return r.skipString()
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return r.skipNumber()
	}
	return false
}

func (r *fastReader) literal(lit string) bool {
	if len(r.b)-r.i < len(lit) || string(r.b[r.i:r.i+len(lit)]) != lit {
		return false
	}
	r.i += len(lit)
	return true
}

// skipString steps over a string; escapes must be well formed. Other bytes
// (UTF-8 or not) are accepted, as encoding/json accepts them.
func (r *fastReader) skipString() bool {
	for i := r.i + 1; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			r.i = i + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			i++
			if i >= len(r.b) {
				return false
			}
			switch r.b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(r.b) {
					return false
				}
				for _, h := range r.b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				i += 4
			default:
				return false
			}
		}
	}
	return false
}

// skipNumber steps over a number of the JSON grammar.
func (r *fastReader) skipNumber() bool {
	b, i := r.b, r.i
	digits := func() bool {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > s
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	r.i = i
	return true
}
