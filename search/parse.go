package search

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/immunis/immunis/fhir"
)

// errEmpty marks a parameter given without a value: it is ignored, not an
// error (a form with an empty field is an ordinary thing to send).
var errEmpty = errors.New("empty value")

// resultParams are the parameters that control the result rather than
// select resources (search.html "Modifying Search Results").
var resultParams = map[string]bool{
	"_count": true, "_sort": true, "_total": true, "_summary": true, "_elements": true,
	"_include": true, "_revinclude": true, "_format": true, "_pretty": true, "_cursor": true,
	"_contained": true, "_containedType": true,
}

// Parse parses the query parameters of a search on typ. Unknown or
// malformed parameters are an error under Strict handling; under Lenient
// they are left out (and listed in Query.Ignored).
func (r *Registry) Parse(typ string, params url.Values, h Handling) (*Query, error) {
	q := &Query{Type: typ, Count: DefaultCount, Kept: url.Values{}}
	var issues []fhir.Issue
	bad := func(name string, err error) {
		issues = append(issues, fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueInvalid, MsgID: "IMM-SRCH-001",
			Diagnostics: err.Error(), Expression: []string{name},
		})
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		base, _, _ := strings.Cut(name, ":")
		for _, raw := range params[name] {
			if !cleanText(name) || !cleanText(raw) {
				bad(strings.ToValidUTF8(name, "?"), fmt.Errorf("parameter names and values must be UTF-8 text without control characters"))
				continue
			}
			if resultParams[base] {
				if err := r.parseResultParam(q, name, raw); err != nil {
					if !errors.Is(err, errEmpty) {
						bad(name, err)
					}
					continue
				}
				if base != "_format" && base != "_pretty" && base != "_cursor" {
					q.Kept.Add(name, raw)
				}
				continue
			}
			if len(q.Filters) >= maxFilters {
				bad(name, fmt.Errorf("more than %d search parameters", maxFilters))
				continue
			}
			f, err := r.parseFilter(typ, name, raw, 0)
			if err != nil {
				if !errors.Is(err, errEmpty) {
					bad(name, err)
				}
				continue
			}
			q.Filters = append(q.Filters, f)
			q.Kept.Add(name, raw)
		}
	}
	if q.Cursor != nil && q.Cursor.Spec != sortSpec(q.Sort) {
		bad("_cursor", fmt.Errorf("_cursor belongs to a search with another _sort"))
		q.Cursor = nil
	}
	if len(issues) > 0 {
		if h == Strict {
			return nil, &fhir.Error{Kind: fhir.KindInvalid, Issues: issues}
		}
		for i := range issues {
			issues[i].Severity = fhir.SeverityWarning
			issues[i].Diagnostics += " (ignored)"
		}
		q.Ignored = issues
	}
	return q, nil
}

// cleanText rejects what no database text column takes (invalid UTF-8,
// NUL) and other control characters, which no search value needs.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func (r *Registry) parseResultParam(q *Query, name, raw string) error {
	base, mod, _ := strings.Cut(name, ":")
	if mod != "" && !(mod == "iterate" || mod == "recurse") {
		return fmt.Errorf("%s does not take the modifier :%s", base, mod)
	}
	if raw == "" && base != "_format" && base != "_pretty" {
		return errEmpty
	}
	switch base {
	case "_count":
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return fmt.Errorf("_count must be a non-negative integer, got %q", raw)
		}
		q.Count = min(n, MaxCount)
	case "_total":
		switch raw {
		case "none", "estimate", "accurate":
			q.Total = raw
		default:
			return fmt.Errorf("_total must be none, estimate or accurate, got %q", raw)
		}
	case "_summary":
		switch raw {
		case "true", "count", "data", "false", "text":
			q.Summary = raw
		default:
			return fmt.Errorf("_summary must be true, count, data, text or false, got %q", raw)
		}
	case "_elements":
		for _, e := range strings.Split(raw, ",") {
			e = strings.TrimSpace(e)
			if !validElementName(e) {
				return fmt.Errorf("_elements: %q is not an element name", e)
			}
			q.Elements = append(q.Elements, e)
		}
	case "_sort":
		keys, err := r.parseSort(q.Type, raw)
		if err != nil {
			return err
		}
		if len(q.Sort)+len(keys) > maxSort {
			return fmt.Errorf("at most %d _sort keys", maxSort)
		}
		q.Sort = append(q.Sort, keys...)
	case "_include", "_revinclude":
		if len(q.Include)+len(q.RevInclude) >= maxInclude {
			return fmt.Errorf("at most %d _include and _revinclude parameters", maxInclude)
		}
		inc, err := r.parseInclude(raw, mod != "")
		if err != nil {
			return err
		}
		if base == "_include" {
			q.Include = append(q.Include, inc)
		} else {
			q.RevInclude = append(q.RevInclude, inc)
		}
	case "_cursor":
		c, err := DecodeCursor(raw)
		if err != nil {
			return err
		}
		q.Cursor = c
	case "_format", "_pretty":
		// handled by the server
	default:
		return fmt.Errorf("%s is not supported", name)
	}
	return nil
}

func validElementName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0) {
			return false
		}
	}
	return true
}

func (r *Registry) parseSort(typ, raw string) ([]SortKey, error) {
	var keys []SortKey
	for _, k := range strings.Split(raw, ",") {
		desc := strings.HasPrefix(k, "-")
		code := strings.TrimPrefix(k, "-")
		p, ok := r.Param(typ, code)
		if !ok {
			return nil, fmt.Errorf("unknown sort parameter %q for %s", code, typ)
		}
		switch p.Type {
		case TypeReference, TypeComposite:
			return nil, fmt.Errorf("cannot sort by %s parameter %q", p.Type, code)
		}
		keys = append(keys, SortKey{Param: p, Desc: desc})
	}
	return keys, nil
}

// parseInclude parses Source:param[:Target] or Source:*. The older form
// with :iterate at the end of the value is accepted too.
func (r *Registry) parseInclude(raw string, iterate bool) (Include, error) {
	inc := Include{Iterate: iterate}
	val := raw
	if strings.HasSuffix(val, ":iterate") || strings.HasSuffix(val, ":recurse") {
		inc.Iterate = true
		val = val[:strings.LastIndexByte(val, ':')]
	}
	parts := strings.Split(val, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return inc, fmt.Errorf("include %q must be Type:param[:TargetType] or Type:*", raw)
	}
	inc.Source = parts[0]
	if !r.Supports(inc.Source) {
		return inc, fmt.Errorf("include %q: resource type %q is not supported", raw, inc.Source)
	}
	if parts[1] != "*" {
		p, ok := r.Param(inc.Source, parts[1])
		if !ok || p.Type != TypeReference {
			return inc, fmt.Errorf("include %q: %q is not a reference parameter of %s", raw, parts[1], inc.Source)
		}
		inc.Param = p
	}
	if len(parts) == 3 {
		inc.Target = parts[2]
		if !r.Supports(inc.Target) {
			return inc, fmt.Errorf("include %q: target type %q is not supported", raw, inc.Target)
		}
		if inc.Param != nil && !targets(inc.Param, inc.Target) {
			return inc, fmt.Errorf("include %q: %s.%s does not reference %s", raw, inc.Source, parts[1], inc.Target)
		}
	}
	return inc, nil
}

// maxDepth bounds chains and nested _has, so a hostile query cannot make
// the SQL arbitrarily deep.
const maxDepth = 4

// parseFilter parses one name=value pair: name[:modifier][.chain…] or
// _has:Type:param:name.
func (r *Registry) parseFilter(typ, name, raw string, depth int) (*Filter, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%q: chains and _has nest at most %d deep", name, maxDepth)
	}
	if raw == "" {
		return nil, errEmpty
	}
	if strings.HasPrefix(name, "_has:") {
		return r.parseHas(typ, name, raw, depth)
	}
	head, rest, chained := strings.Cut(name, ".")
	code, mod, _ := strings.Cut(head, ":")
	p, ok := r.Param(typ, code)
	if !ok {
		return nil, fmt.Errorf("unknown search parameter %q for %s", code, typ)
	}
	if chained {
		return r.parseChain(p, mod, name, rest, raw, depth)
	}
	f := &Filter{Param: p, Modifier: mod, Name: name, RawValues: raw}
	if err := checkModifier(p, mod, r); err != nil {
		return nil, fmt.Errorf("%q: %v", name, err)
	}
	if mod == "missing" {
		switch raw {
		case "true", "false":
			b := raw == "true"
			f.Missing = &b
			return f, nil
		}
		return nil, fmt.Errorf("%q: :missing takes true or false, got %q", name, raw)
	}
	vals, err := parseValues(p, mod, raw)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", name, err)
	}
	f.Values = vals
	return f, nil
}

// parseChain parses param[:Type].rest: the chain continues on every
// supported target type that has the next parameter (search.html
// "Chained parameters": a server may process the chain for all types).
func (r *Registry) parseChain(p *Param, mod, name, rest, raw string, depth int) (*Filter, error) {
	if p.Type != TypeReference {
		return nil, fmt.Errorf("%q: only reference parameters can be chained", name)
	}
	var cands []string
	if mod != "" {
		if !r.Supports(mod) || !targets(p, mod) {
			return nil, fmt.Errorf("%q: %s cannot reference %q", name, p.Code, mod)
		}
		cands = []string{mod}
	} else {
		for _, t := range r.targetTypes(p) {
			nextCode, _, _ := strings.Cut(strings.SplitN(rest, ".", 2)[0], ":")
			if _, ok := r.Param(t, nextCode); ok || strings.HasPrefix(rest, "_has:") {
				cands = append(cands, t)
			}
		}
	}
	var chains []*Filter
	var firstErr error
	for _, t := range cands {
		next, err := r.parseFilter(t, rest, raw, depth+1)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		chains = append(chains, &Filter{Param: p, Name: name, RawValues: raw, Chain: t, Next: next})
	}
	switch {
	case len(chains) == 1:
		return chains[0], nil
	case len(chains) > 1:
		return &Filter{Name: name, RawValues: raw, Any: chains}, nil
	case firstErr != nil:
		return nil, firstErr
	}
	return nil, fmt.Errorf("%q: no target type of %s has the parameter in %q", name, p.Code, rest)
}

// targetTypes are the supported types a reference parameter can point at.
func (r *Registry) targetTypes(p *Param) []string {
	if len(p.Targets) == 0 {
		return r.types
	}
	var out []string
	for _, t := range p.Targets {
		if r.Supports(t) {
			out = append(out, t)
		}
	}
	return out
}

func (r *Registry) parseHas(typ, name, raw string, depth int) (*Filter, error) {
	// _has:Type:param:rest where rest may itself be _has:… (nested).
	parts := strings.SplitN(name, ":", 4)
	if len(parts) != 4 {
		return nil, fmt.Errorf("%q: _has takes the form _has:Type:reference-param:search-param", name)
	}
	src, refCode, rest := parts[1], parts[2], parts[3]
	if !r.Supports(src) {
		return nil, fmt.Errorf("%q: resource type %q is not supported", name, src)
	}
	rp, ok := r.Param(src, refCode)
	if !ok || rp.Type != TypeReference {
		return nil, fmt.Errorf("%q: %q is not a reference parameter of %s", name, refCode, src)
	}
	if !targets(rp, typ) {
		return nil, fmt.Errorf("%q: %s.%s does not reference %s", name, src, refCode, typ)
	}
	inner, err := r.parseFilter(src, rest, raw, depth+1)
	if err != nil {
		return nil, err
	}
	return &Filter{Name: name, RawValues: raw, Has: &Has{Type: src, Param: rp, Filter: inner}}, nil
}

func targets(p *Param, typ string) bool {
	if len(p.Targets) == 0 {
		return true
	}
	for _, t := range p.Targets {
		if t == typ {
			return true
		}
	}
	return false
}

// checkModifier rejects modifiers that do not apply to the parameter's type
// (an exhaustive switch: anything not listed is unsupported, e.g. :in,
// :not-in, :below/:above on tokens, which need a terminology service).
func checkModifier(p *Param, mod string, r *Registry) error {
	if mod == "" {
		return nil
	}
	ok := false
	switch {
	case p.Column == "id":
		ok = mod == "not"
	case p.Column != "":
		ok = false
	case mod == "missing":
		ok = p.Type != TypeComposite
	default:
		switch p.Type {
		case TypeString:
			ok = (mod == "exact" || mod == "contains") && !isPhonetic(p)
		case TypeToken:
			ok = mod == "not" || mod == "text" || mod == "of-type" && p.Code == "identifier"
		case TypeReference:
			ok = mod == "identifier" || (r.Supports(mod) && targets(p, mod))
		case TypeURI:
			ok = mod == "below" || mod == "above"
		case TypeDate, TypeNumber, TypeQuantity, TypeComposite, TypeSpecial:
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("modifier :%s is not supported on %s parameter %s", mod, p.Type, p.Code)
	}
	return nil
}

// Bounds on one query, so that no request compiles to more bind
// arguments than a database accepts (PostgreSQL: 65535) or to SQL of
// unbounded size.
const (
	maxValues  = 500 // comma-separated values of one parameter
	maxFilters = 100 // search parameters of one query
	maxSort    = 8   // _sort keys
	maxInclude = 20  // _include and _revinclude parameters
)

// parseValues splits a value on unescaped commas and parses each with the
// rules of the parameter's type.
func parseValues(p *Param, mod, raw string) ([]Value, error) {
	var out []Value
	parts := splitEscaped(raw, ',')
	if len(parts) > maxValues {
		return nil, fmt.Errorf("%d values; at most %d may be ORed in one parameter", len(parts), maxValues)
	}
	for _, part := range parts {
		if part == "" {
			continue
		}
		v, err := parseValue(p.Type, p, mod, part)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, errEmpty
	}
	return out, nil
}

// parseValue parses one (still escaped) value of type t.
func parseValue(t Type, p *Param, mod, part string) (Value, error) {
	if p.Column == "id" {
		v := unescape(part)
		if !fhir.ValidID(v) {
			return Value{}, fmt.Errorf("%q is not a valid id", v)
		}
		return Value{Raw: v, Code: v}, nil
	}
	switch t {
	case TypeToken:
		return parseToken(mod, part)
	case TypeString:
		return Value{Raw: unescape(part)}, nil
	case TypeDate:
		return parseDateValue(part)
	case TypeReference:
		return parseReferenceValue(mod, part)
	case TypeNumber:
		return parseNumberValue(part)
	case TypeQuantity:
		return parseQuantityValue(part)
	case TypeURI:
		return Value{Raw: unescape(part)}, nil
	case TypeComposite:
		return parseCompositeValue(p, part)
	}
	return Value{}, fmt.Errorf("%s parameters are not supported", t)
}

// splitPrefix takes a comparison prefix (eq, ne, gt, …) off an ordered
// value; without one the prefix is eq.
func splitPrefix(part string) (prefix, rest string) {
	if len(part) > 2 {
		c := part[2]
		if c >= '0' && c <= '9' || c == '-' || c == '.' || c == '+' {
			switch part[:2] {
			case "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap":
				return part[:2], part[2:]
			}
		}
	}
	return "eq", part
}
