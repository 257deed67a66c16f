package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// The search oracle: what a query should return, computed here from the
// resources' JSON by the rules of search.html, independently of the
// server's SQL and of package search. Each test query pairs the FHIR query
// with a predicate written with these helpers.

// sqRes is a resource as the server returned it.
type sqRes = map[string]any

// sqData is everything loaded, by type and by Type/id.
type sqData struct {
	byType map[string][]sqRes
	byRef  map[string]sqRes
	base   string // the server's FHIR base, for absolute references
}

func (d *sqData) add(r sqRes) {
	typ, id := r["resourceType"].(string), r["id"].(string)
	d.byType[typ] = append(d.byType[typ], r)
	d.byRef[typ+"/"+id] = r
}

// sqVals collects the values at a dot path, flattening arrays.
func sqVals(r any, path string) []any {
	cur := []any{r}
	for _, step := range strings.Split(path, ".") {
		var next []any
		for _, c := range cur {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			switch v := m[step].(type) {
			case nil:
			case []any:
				next = append(next, v...)
			default:
				next = append(next, v)
			}
		}
		cur = next
	}
	return cur
}

func sqStrings(r any, paths ...string) []string {
	var out []string
	for _, p := range paths {
		for _, v := range sqVals(r, p) {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// sqFold lower-cases, strips accents and collapses spaces.
func sqFold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, _ := transform.String(t, s)
	return strings.Join(strings.Fields(strings.ToLower(out)), " ")
}

// Element groups that string parameters search as a whole.
var (
	sqNameParts    = []string{"text", "family", "given", "prefix", "suffix"}
	sqAddressParts = []string{"text", "line", "city", "district", "state", "postalCode", "country"}
)

func sqUnder(prefix string, parts []string) []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = prefix + "." + p
	}
	return out
}

// sqString: any string at paths matches q (default starts-with, :exact,
// :contains).
func sqString(mod, q string, paths ...string) func(sqRes) bool {
	return func(r sqRes) bool {
		for _, s := range sqStrings(r, paths...) {
			switch mod {
			case "exact":
				if s == q {
					return true
				}
			case "contains":
				if strings.Contains(sqFold(s), sqFold(q)) {
					return true
				}
			default:
				if strings.HasPrefix(sqFold(s), sqFold(q)) {
					return true
				}
			}
		}
		return false
	}
}

// sqToken is one token value: system (has says whether the element has
// a system at all) and code.
type sqToken struct {
	system, code string
	texts        []string
}

// sqTokens reads the tokens at path: Codings of CodeableConcepts,
// Identifiers (system|value), ContactPoints, codes and booleans.
func sqTokens(r any, path string) []sqToken {
	var out []sqToken
	for _, v := range sqVals(r, path) {
		switch v := v.(type) {
		case string:
			out = append(out, sqToken{code: v})
		case bool:
			out = append(out, sqToken{code: fmt.Sprint(v)})
		case map[string]any:
			if cs, ok := v["coding"].([]any); ok || v["text"] != nil && v["value"] == nil {
				text, _ := v["text"].(string)
				for _, c := range cs {
					cm := c.(map[string]any)
					t := sqToken{system: sqStr(cm["system"]), code: sqStr(cm["code"])}
					if d := sqStr(cm["display"]); d != "" {
						t.texts = append(t.texts, d)
					}
					out = append(out, t)
				}
				if text != "" {
					out = append(out, sqToken{texts: []string{text}})
				}
				continue
			}
			t := sqToken{system: sqStr(v["system"]), code: sqStr(v["code"])}
			if val := sqStr(v["value"]); val != "" {
				t.code = val
			}
			for _, tt := range sqStrings(v, "type.text", "type.coding.display") {
				t.texts = append(t.texts, tt)
			}
			out = append(out, t)
		}
	}
	return out
}

func sqStr(v any) string {
	s, _ := v.(string)
	return s
}

// sqTokenMatch: a token at path matches the query value q (code,
// system|code, |code, system|) with modifier mod ("", not, text).
func sqTokenMatch(path, mod, q string) func(sqRes) bool {
	one := func(t sqToken) bool {
		if mod == "text" {
			for _, x := range t.texts {
				if strings.HasPrefix(sqFold(x), sqFold(q)) {
					return true
				}
			}
			return false
		}
		if t.code == "" && t.system == "" {
			return false
		}
		sys, code, hasSys := strings.Cut(q, "|")
		switch {
		case !hasSys:
			return t.code == sys
		case code == "":
			return t.system == sys
		}
		return t.system == sys && t.code == code
	}
	return func(r sqRes) bool {
		hit := false
		for _, t := range sqTokens(r, path) {
			hit = hit || one(t)
		}
		if mod == "not" {
			return !hit
		}
		return hit
	}
}

// sqMissing: the element at path is absent (want true) or present.
func sqMissing(path string, want bool) func(sqRes) bool {
	return func(r sqRes) bool { return (len(sqVals(r, path)) == 0) == want }
}

// sqInterval is the [lo, hi) a FHIR date, dateTime or instant covers.
func sqInterval(t testing.TB, s string) (time.Time, time.Time) {
	t.Helper()
	forms := []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(x time.Time) time.Time { return x.AddDate(1, 0, 0) }},
		{"2006-01", func(x time.Time) time.Time { return x.AddDate(0, 1, 0) }},
		{"2006-01-02", func(x time.Time) time.Time { return x.AddDate(0, 0, 1) }},
		{"2006-01-02T15:04Z07:00", func(x time.Time) time.Time { return x.Add(time.Minute) }},
		{"2006-01-02T15:04:05Z07:00", func(x time.Time) time.Time { return x.Add(time.Second) }},
		{"2006-01-02T15:04:05.000Z07:00", func(x time.Time) time.Time { return x.Add(time.Millisecond) }},
	}
	for _, f := range forms {
		if x, err := time.Parse(f.layout, s); err == nil {
			return x, f.step(x)
		}
	}
	t.Fatalf("oracle cannot read date %q", s)
	return time.Time{}, time.Time{}
}

// sqDate: a date at path (a string element) compares with q, [prefix]date,
// per search.html's prefix table.
func sqDate(t testing.TB, path, q string) func(sqRes) bool {
	prefix, val := "eq", q
	if len(q) > 2 && q[0] >= 'a' && q[0] <= 'z' {
		prefix, val = q[:2], q[2:]
	}
	v0, v1 := sqInterval(t, val)
	return func(r sqRes) bool {
		for _, s := range sqStrings(r, path) {
			s0, s1 := sqInterval(t, s)
			eq := !s0.Before(v0) && !s1.After(v1)
			var ok bool
			switch prefix {
			case "eq":
				ok = eq
			case "ne":
				ok = !eq
			case "gt":
				ok = s1.After(v1)
			case "lt":
				ok = s0.Before(v0)
			case "ge":
				ok = s1.After(v1) || eq
			case "le":
				ok = s0.Before(v0) || eq
			case "sa":
				ok = !s0.Before(v1)
			case "eb":
				ok = !s1.After(v0)
			default:
				t.Fatalf("oracle: prefix %s", prefix)
			}
			if ok {
				return true
			}
		}
		return false
	}
}

// sqRefs are the local references at path as Type/id (this server's
// absolute URLs included), and the others as written.
func (d *sqData) sqRefs(r sqRes, path string) []string {
	var out []string
	for _, s := range sqStrings(r, path+".reference") {
		out = append(out, strings.TrimPrefix(s, d.base+"/"))
	}
	return out
}

// ref: a reference at path is target (Type/id, or a bare id of any type,
// or an absolute URL of another server).
func (d *sqData) ref(path, target string) func(sqRes) bool {
	target = strings.TrimPrefix(target, d.base+"/")
	return func(r sqRes) bool {
		for _, ref := range d.sqRefs(r, path) {
			if ref == target || !strings.Contains(target, "/") && !strings.Contains(ref, "://") && strings.HasSuffix(ref, "/"+target) {
				return true
			}
		}
		return false
	}
}

// chain: a local reference at path points at a resource matching next.
func (d *sqData) chain(path string, next func(sqRes) bool) func(sqRes) bool {
	return func(r sqRes) bool {
		for _, ref := range d.sqRefs(r, path) {
			if t, ok := d.byRef[ref]; ok && next(t) {
				return true
			}
		}
		return false
	}
}

// has: some resource of typ references r through path and matches inner.
func (d *sqData) has(typ, path string, inner func(sqRes) bool) func(sqRes) bool {
	return func(r sqRes) bool {
		me := r["resourceType"].(string) + "/" + r["id"].(string)
		for _, s := range d.byType[typ] {
			for _, ref := range d.sqRefs(s, path) {
				if ref == me && inner(s) {
					return true
				}
			}
		}
		return false
	}
}

func sqAnd(ps ...func(sqRes) bool) func(sqRes) bool {
	return func(r sqRes) bool {
		for _, p := range ps {
			if !p(r) {
				return false
			}
		}
		return true
	}
}

func sqOr(ps ...func(sqRes) bool) func(sqRes) bool {
	return func(r sqRes) bool {
		for _, p := range ps {
			if p(r) {
				return true
			}
		}
		return false
	}
}

func sqNot(p func(sqRes) bool) func(sqRes) bool { return func(r sqRes) bool { return !p(r) } }

func sqIDIn(ids ...string) func(sqRes) bool {
	return func(r sqRes) bool {
		for _, id := range ids {
			if r["id"] == id {
				return true
			}
		}
		return false
	}
}

// expect is the oracle's answer: the ids of typ's resources matching p.
func (d *sqData) expect(typ string, p func(sqRes) bool) []string {
	var ids []string
	for _, r := range d.byType[typ] {
		if p(r) {
			ids = append(ids, r["id"].(string))
		}
	}
	sort.Strings(ids)
	return ids
}

// sqSoundex is American Soundex, written out again for the oracle.
func sqSoundex(word string) string {
	codes := map[rune]rune{}
	for d, letters := range map[rune]string{'1': "bfpv", '2': "cgjkqsxz", '3': "dt", '4': "l", '5': "mn", '6': "r"} {
		for _, l := range letters {
			codes[l] = d
		}
	}
	var out []rune
	prev := rune(-1)
	for _, c := range sqFold(word) {
		if c < 'a' || c > 'z' {
			continue
		}
		code, coded := codes[c]
		if len(out) == 0 {
			out = append(out, unicode.ToUpper(c))
			prev = code
			continue
		}
		if c == 'h' || c == 'w' {
			continue
		}
		if !coded {
			prev = -1
			continue
		}
		if code != prev && len(out) < 4 {
			out = append(out, code)
		}
		prev = code
	}
	if len(out) == 0 {
		return ""
	}
	for len(out) < 4 {
		out = append(out, '0')
	}
	return string(out)
}

// sqPhonetic: a word of a name part sounds like q.
func sqPhonetic(q string, paths ...string) func(sqRes) bool {
	return func(r sqRes) bool {
		for _, s := range sqStrings(r, paths...) {
			for _, w := range strings.Fields(s) {
				if sqSoundex(w) == sqSoundex(q) {
					return true
				}
			}
		}
		return false
	}
}
