package search

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/immunis/immunis/fhir"
)

// Query is a parsed FHIR search (search.html): filters ANDed, each filter's
// values ORed, plus result parameters.
type Query struct {
	Type    string
	Filters []*Filter
	// Compartment restricts to a Patient compartment (compartment search
	// and SMART patient context).
	Compartment string

	Count      int
	Sort       []SortKey
	Total      string // "", none, estimate, accurate
	Summary    string // "", true, count, data, false, text
	Elements   []string
	Include    []Include
	RevInclude []Include
	Cursor     *Cursor

	// Kept are the parameters that took effect, normalized, for the self
	// link; Ignored are the unknown or malformed ones (lenient handling).
	Kept    url.Values
	Ignored []fhir.Issue
}

// Filter is one search parameter occurrence (values are ORed).
type Filter struct {
	Param    *Param
	Modifier string
	Values   []Value
	// Chain: this filter applies to the resources that Param (a reference)
	// points at; Next is the filter on them.
	Chain     string // target type of the chain step
	Next      *Filter
	Has       *Has
	Name      string // the parameter name as written, for messages
	Missing   *bool
	RawValues string
}

// Has is a reverse chain: resources of Type whose Param references this one
// and that match Filter.
type Has struct {
	Type   string
	Param  *Param
	Filter *Filter
}

// Value is one comparison value.
type Value struct {
	Prefix string // eq ne gt lt ge le sa eb ap (date, number, quantity)
	Raw    string // unescaped
	System string // token system / quantity system
	Code   string // token code / quantity code
	HasSys bool   // "system|code" or "|code" form
}

// SortKey is one _sort key.
type SortKey struct {
	Param *Param
	Desc  bool
}

// Include is an _include/_revinclude: Source:Param[:Target].
type Include struct {
	Source  string
	Param   *Param // nil for *
	Target  string
	Iterate bool
}

// Cursor is the keyset position of a page.
type Cursor struct {
	RID  int64
	Sort []string
}

// Handling of unknown or malformed parameters (Prefer: handling=…).
type Handling int

const (
	Lenient Handling = iota
	Strict
)

// DefaultCount and MaxCount bound page sizes.
const (
	DefaultCount = 20
	MaxCount     = 1000
)

var resultParams = map[string]bool{
	"_count": true, "_sort": true, "_total": true, "_summary": true, "_elements": true,
	"_include": true, "_revinclude": true, "_format": true, "_pretty": true, "_cursor": true,
	"_contained": true, "_containedType": true,
}

// Parse parses the query parameters of a search on typ.
func (r *Registry) Parse(typ string, params url.Values, h Handling) (*Query, error) {
	q := &Query{Type: typ, Count: DefaultCount, Kept: url.Values{}}
	var issues []fhir.Issue
	bad := func(name, format string, args ...any) {
		issues = append(issues, fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueInvalid, MsgID: "IMM-SRCH-001",
			Diagnostics: fmt.Sprintf(format, args...), Expression: []string{name},
		})
	}
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, raw := range params[name] {
			if resultParams[name] {
				if err := r.parseResultParam(q, name, raw); err != nil {
					bad(name, "%v", err)
					continue
				}
				if name != "_format" && name != "_pretty" && name != "_cursor" {
					q.Kept.Add(name, raw)
				}
				continue
			}
			f, err := r.parseFilter(typ, name, raw)
			if err != nil {
				bad(name, "%v", err)
				continue
			}
			q.Filters = append(q.Filters, f)
			q.Kept.Add(name, raw)
		}
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

func (r *Registry) parseResultParam(q *Query, name, raw string) error {
	switch name {
	case "_count":
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			return fmt.Errorf("_count must be a non-negative integer, got %q", raw)
		}
		if n > MaxCount {
			n = MaxCount
		}
		q.Count = n
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
			if e = strings.TrimSpace(e); e != "" {
				q.Elements = append(q.Elements, e)
			}
		}
	case "_sort":
		for _, k := range strings.Split(raw, ",") {
			desc := strings.HasPrefix(k, "-")
			code := strings.TrimPrefix(k, "-")
			p, ok := r.Param(q.Type, code)
			if !ok {
				return fmt.Errorf("unknown sort parameter %q for %s", code, q.Type)
			}
			if p.Type == TypeReference || p.Type == TypeComposite {
				return fmt.Errorf("cannot sort by %s parameter %q", p.Type, code)
			}
			q.Sort = append(q.Sort, SortKey{Param: p, Desc: desc})
		}
	case "_include", "_revinclude":
		inc, err := r.parseInclude(raw)
		if err != nil {
			return err
		}
		if name == "_include" {
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

func (r *Registry) parseInclude(raw string) (Include, error) {
	inc := Include{}
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
	}
	return inc, nil
}

// parseFilter parses one name=value pair: name[:modifier][.chain…] or
// _has:Type:param:name.
func (r *Registry) parseFilter(typ, name, raw string) (*Filter, error) {
	if strings.HasPrefix(name, "_has:") {
		return r.parseHas(typ, name, raw)
	}
	head, rest, chained := strings.Cut(name, ".")
	code, mod, _ := strings.Cut(head, ":")
	p, ok := r.Param(typ, code)
	if !ok {
		return nil, fmt.Errorf("unknown search parameter %q for %s", code, typ)
	}
	f := &Filter{Param: p, Modifier: mod, Name: name, RawValues: raw}
	if chained {
		if p.Type != TypeReference {
			return nil, fmt.Errorf("%q: only reference parameters can be chained", name)
		}
		target := mod
		if target == "" {
			if len(p.Targets) != 1 {
				// Chains over several target types need the type: pick the
				// only supported one, else ask for a modifier.
				var sup []string
				for _, t := range p.Targets {
					if r.Supports(t) {
						sup = append(sup, t)
					}
				}
				if len(sup) != 1 {
					return nil, fmt.Errorf("%q: parameter %s has several target types; name one as %s:Type.%s", name, code, code, rest)
				}
				target = sup[0]
			} else {
				target = p.Targets[0]
			}
		}
		if !r.Supports(target) {
			return nil, fmt.Errorf("%q: target type %q is not supported", name, target)
		}
		next, err := r.parseFilter(target, rest, raw)
		if err != nil {
			return nil, err
		}
		f.Modifier = ""
		f.Chain = target
		f.Next = next
		return f, nil
	}
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

func (r *Registry) parseHas(typ, name, raw string) (*Filter, error) {
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
	inner, err := r.parseFilter(src, rest, raw)
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
// (an exhaustive switch: anything not listed is unsupported).
func checkModifier(p *Param, mod string, r *Registry) error {
	if mod == "" || mod == "missing" {
		return nil
	}
	ok := false
	switch p.Type {
	case TypeString:
		ok = mod == "exact" || mod == "contains"
	case TypeToken:
		ok = mod == "not" || mod == "text" || mod == "of-type" && p.Code == "identifier"
	case TypeReference:
		ok = mod == "identifier" || (r.Supports(mod) && targets(p, mod))
	case TypeURI:
		ok = mod == "below" || mod == "above"
	case TypeDate, TypeNumber, TypeQuantity:
		ok = false
	}
	if !ok {
		return fmt.Errorf("modifier :%s is not supported on %s parameter %s", mod, p.Type, p.Code)
	}
	return nil
}

var prefixes = []string{"eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"}

// parseValues splits a value on unescaped commas and interprets each.
func parseValues(p *Param, mod, raw string) ([]Value, error) {
	var out []Value
	for _, part := range splitEscaped(raw, ',') {
		if part == "" {
			continue
		}
		v := Value{}
		switch p.Type {
		case TypeDate, TypeNumber, TypeQuantity:
			v.Prefix = "eq"
			if len(part) > 2 {
				for _, px := range prefixes {
					if strings.HasPrefix(part, px) && (part[2] >= '0' && part[2] <= '9' || part[2] == '-' || part[2] == '.') {
						v.Prefix = px
						part = part[2:]
						break
					}
				}
			}
		}
		switch {
		case p.Type == TypeToken && mod != "text" && mod != "of-type",
			p.Type == TypeReference && mod == "identifier",
			p.Type == TypeQuantity:
			pieces := splitEscaped(part, '|')
			switch len(pieces) {
			case 1:
				v.Code = unescape(pieces[0])
			case 2:
				v.System, v.Code, v.HasSys = unescape(pieces[0]), unescape(pieces[1]), true
			case 3:
				if p.Type != TypeQuantity {
					return nil, fmt.Errorf("too many '|' in %q", part)
				}
				v.Raw, v.System, v.Code, v.HasSys = unescape(pieces[0]), unescape(pieces[1]), unescape(pieces[2]), true
			default:
				return nil, fmt.Errorf("too many '|' in %q", part)
			}
			if p.Type == TypeQuantity {
				if len(pieces) == 1 {
					v.Raw, v.Code, v.HasSys = v.Code, "", false
				}
				if _, _, _, ok := numberRange(v.Raw); !ok {
					return nil, fmt.Errorf("%q is not a number", v.Raw)
				}
			}
		default:
			v.Raw = unescape(part)
		}
		switch p.Type {
		case TypeDate:
			if _, err := fhir.ParseDate(v.Raw, time.UTC); err != nil {
				return nil, err
			}
		case TypeNumber:
			if _, _, _, ok := numberRange(v.Raw); !ok {
				return nil, fmt.Errorf("%q is not a number", v.Raw)
			}
		case TypeToken:
			if mod == "of-type" && len(splitEscaped(part, '|')) != 3 {
				return nil, fmt.Errorf(":of-type takes system|code|value, got %q", part)
			}
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no value given")
	}
	return out, nil
}

// splitEscaped splits on sep, honouring backslash escapes (\, \| \$ \\).
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
