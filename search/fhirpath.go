package search

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/immunis/immunis/fhir"
)

// This file is a small FHIRPath evaluator: exactly the subset the official R4
// SearchParameter expressions of the supported types use — paths over
// choice elements, `|`, `as`/`ofType`, `where(resolve() is X)`,
// `where(field='literal')`, `extension('url')`, `exists()`, `and`, `=`, `!=`.
// It works on the decoded JSON tree; an expression outside the subset fails
// to compile and its parameter is left out of the registry (and the
// CapabilityStatement), rather than half-working.

// node is one item of a FHIRPath collection: a JSON value plus the FHIR type
// its key revealed (the suffix of a choice element, e.g. "DateTime" for
// occurrenceDateTime), which the extractors use to index it correctly.
type node struct {
	v    any
	hint string
}

type expr interface {
	eval(root fhir.Object, rootType string, in []node) []node
}

// compileFHIRPath parses an expression of the supported subset.
func compileFHIRPath(s string) (expr, error) {
	p := &fpParser{toks: tokenize(s), src: s}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("FHIRPath %q: unexpected %q", s, p.toks[p.pos])
	}
	return e, nil
}

func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'':
			j := i + 1
			for j < len(s) && s[j] != '\'' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				j = len(s) - 1
			}
			toks = append(toks, s[i:j+1])
			i = j + 1
		case c == '!' && i+1 < len(s) && s[i+1] == '=':
			toks = append(toks, "!=")
			i += 2
		case strings.IndexByte("().|=,", c) >= 0:
			toks = append(toks, string(c))
			i++
		default:
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_' || s[j] == '-' || s[j] == '[' || s[j] == ']' || s[j] == '$') {
				j++
			}
			if j == i {
				toks = append(toks, string(c))
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

type fpParser struct {
	toks []string
	pos  int
	src  string
}

func (p *fpParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *fpParser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *fpParser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("FHIRPath %q: want %q, got %q", p.src, t, got)
	}
	return nil
}

// parseOr: union and boolean operators, lowest precedence first.
func (p *fpParser) parseOr() (expr, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.peek() == "|" {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = unionExpr{left, right}
	}
	return left, nil
}

func (p *fpParser) parseAnd() (expr, error) {
	left, err := p.parseCompare()
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.next()
		right, err := p.parseCompare()
		if err != nil {
			return nil, err
		}
		left = andExpr{left, right}
	}
	return left, nil
}

func (p *fpParser) parseCompare() (expr, error) {
	left, err := p.parseAs()
	if err != nil {
		return nil, err
	}
	if op := p.peek(); op == "=" || op == "!=" {
		p.next()
		right, err := p.parseAs()
		if err != nil {
			return nil, err
		}
		return compareExpr{left: left, right: right, negate: op == "!="}, nil
	}
	return left, nil
}

func (p *fpParser) parseAs() (expr, error) {
	e, err := p.parseTerm()
	if err != nil {
		return nil, err
	}
	for p.peek() == "as" || p.peek() == "is" {
		op := p.next()
		t := p.next()
		if op == "as" {
			e = pipeExpr{e, asStep{typ: t}}
		} else {
			e = pipeExpr{e, isStep{typ: t}}
		}
	}
	return e, nil
}

func (p *fpParser) parseTerm() (expr, error) {
	var e expr
	switch t := p.peek(); {
	case t == "(":
		p.next()
		inner, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		e = inner
	case strings.HasPrefix(t, "'"):
		p.next()
		return literalExpr{strings.Trim(t, "'")}, nil
	case t == "true" || t == "false":
		p.next()
		return literalExpr{t == "true"}, nil
	case t == "":
		return nil, fmt.Errorf("FHIRPath %q: unexpected end", p.src)
	default:
		s, err := p.parseInvocation(true)
		if err != nil {
			return nil, err
		}
		e = s
	}
	for p.peek() == "." {
		p.next()
		s, err := p.parseInvocation(false)
		if err != nil {
			return nil, err
		}
		e = pipeExpr{e, s}
	}
	return e, nil
}

// parseInvocation parses a member name or one of the supported functions.
func (p *fpParser) parseInvocation(first bool) (expr, error) {
	name := p.next()
	if name == "" || !(unicode.IsLetter(rune(name[0])) || name[0] == '$') {
		return nil, fmt.Errorf("FHIRPath %q: unexpected %q", p.src, name)
	}
	if p.peek() != "(" {
		if first {
			return rootStep{name: name}, nil
		}
		return memberStep{name: name}, nil
	}
	p.next()
	switch name {
	case "as", "ofType":
		t := p.next()
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return asStep{typ: t}, nil
	case "exists":
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return existsStep{}, nil
	case "resolve":
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return resolveStep{}, nil
	case "extension":
		url := p.next()
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return extensionStep{url: strings.Trim(url, "'")}, nil
	case "where":
		cond, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return whereStep{cond: cond}, nil
	}
	return nil, fmt.Errorf("FHIRPath %q: function %s() is not supported", p.src, name)
}

// --- evaluation ---

type unionExpr struct{ a, b expr }

func (u unionExpr) eval(root fhir.Object, rt string, in []node) []node {
	return append(u.a.eval(root, rt, in), u.b.eval(root, rt, in)...)
}

type pipeExpr struct{ a, b expr }

func (p pipeExpr) eval(root fhir.Object, rt string, in []node) []node {
	return p.b.eval(root, rt, p.a.eval(root, rt, in))
}

type literalExpr struct{ v any }

func (l literalExpr) eval(fhir.Object, string, []node) []node { return []node{{v: l.v}} }

// rootStep is the first name of a path: the resource type (or Resource /
// DomainResource for common parameters) selects the root; a different type
// name selects nothing (multi-base expressions name every base); any other
// name is a member of the focus ($this in where()).
type rootStep struct{ name string }

func (r rootStep) eval(root fhir.Object, rt string, in []node) []node {
	switch {
	case r.name == rt || r.name == "Resource" || r.name == "DomainResource":
		return []node{{v: root, hint: rt}}
	case r.name == "$this":
		return in
	case r.name != "" && r.name[0] >= 'A' && r.name[0] <= 'Z':
		return nil
	}
	return memberStep(r).eval(root, rt, in)
}

// memberStep selects a child element, flattening arrays, and resolves choice
// elements (name[x]) to whichever typed key is present.
type memberStep struct{ name string }

func (m memberStep) eval(_ fhir.Object, _ string, in []node) []node {
	var out []node
	for _, n := range in {
		obj, ok := n.v.(map[string]any)
		if !ok {
			continue
		}
		if v, ok := obj[m.name]; ok {
			out = appendFlat(out, v, "")
			continue
		}
		for k, v := range obj {
			if len(k) > len(m.name) && strings.HasPrefix(k, m.name) && k[len(m.name)] >= 'A' && k[len(m.name)] <= 'Z' {
				out = appendFlat(out, v, k[len(m.name):])
			}
		}
	}
	return out
}

func appendFlat(out []node, v any, hint string) []node {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if e != nil {
				out = append(out, node{v: e, hint: hint})
			}
		}
		return out
	}
	return append(out, node{v: v, hint: hint})
}

// asStep keeps the items of a type. For choice elements the key's suffix
// decides; otherwise the item's JSON shape must fit the type.
type asStep struct{ typ string }

func (a asStep) eval(_ fhir.Object, _ string, in []node) []node {
	var out []node
	for _, n := range in {
		if typeMatches(n, a.typ) {
			out = append(out, node{v: n.v, hint: a.typ})
		}
	}
	return out
}

type isStep struct{ typ string }

func (s isStep) eval(_ fhir.Object, _ string, in []node) []node {
	if len(in) != 1 {
		return nil
	}
	return []node{{v: typeMatches(in[0], s.typ)}}
}

func typeMatches(n node, typ string) bool {
	if n.hint != "" {
		return strings.EqualFold(n.hint, typ)
	}
	switch v := n.v.(type) {
	case string:
		switch strings.ToLower(typ) {
		case "string", "code", "uri", "url", "canonical", "id", "markdown", "date", "datetime", "instant", "time", "oid", "uuid":
			return true
		}
	case bool:
		return strings.EqualFold(typ, "boolean")
	case map[string]any:
		if rt, ok := v["resourceType"].(string); ok {
			return rt == typ
		}
		return true // complex types are trusted to the key that held them
	}
	return false
}

type existsStep struct{}

func (existsStep) eval(_ fhir.Object, _ string, in []node) []node {
	return []node{{v: len(in) > 0}}
}

// resolveStep stands for the referenced resource; only its type is known
// without I/O, which is all `resolve() is X` needs.
type resolveStep struct{}

func (resolveStep) eval(_ fhir.Object, _ string, in []node) []node {
	var out []node
	for _, n := range in {
		obj, ok := n.v.(map[string]any)
		if !ok {
			continue
		}
		ref := fhir.ParseReference(fhir.Str(obj, "reference"), "")
		t := ref.Type
		if t == "" {
			t = fhir.Str(obj, "type")
		}
		if t != "" {
			out = append(out, node{v: map[string]any{"resourceType": t}, hint: t})
		}
	}
	return out
}

type extensionStep struct{ url string }

func (e extensionStep) eval(_ fhir.Object, _ string, in []node) []node {
	var out []node
	for _, n := range in {
		obj, ok := n.v.(map[string]any)
		if !ok {
			continue
		}
		for _, x := range fhir.Arr(obj, "extension") {
			if xo, ok := x.(map[string]any); ok && fhir.Str(xo, "url") == e.url {
				out = append(out, node{v: xo})
			}
		}
	}
	return out
}

type whereStep struct{ cond expr }

func (w whereStep) eval(root fhir.Object, rt string, in []node) []node {
	var out []node
	for _, n := range in {
		if truthy(w.cond.eval(root, rt, []node{n})) {
			out = append(out, n)
		}
	}
	return out
}

type andExpr struct{ a, b expr }

func (a andExpr) eval(root fhir.Object, rt string, in []node) []node {
	return []node{{v: truthy(a.a.eval(root, rt, in)) && truthy(a.b.eval(root, rt, in))}}
}

type compareExpr struct {
	left, right expr
	negate      bool
}

func (c compareExpr) eval(root fhir.Object, rt string, in []node) []node {
	l, r := c.left.eval(root, rt, in), c.right.eval(root, rt, in)
	if len(l) == 0 || len(r) == 0 {
		return nil // empty propagates, per FHIRPath
	}
	eq := len(l) == len(r)
	for i := 0; eq && i < len(l); i++ {
		eq = fmt.Sprint(l[i].v) == fmt.Sprint(r[i].v)
	}
	return []node{{v: eq != c.negate}}
}

func truthy(ns []node) bool {
	if len(ns) == 1 {
		if b, ok := ns[0].v.(bool); ok {
			return b
		}
	}
	return len(ns) > 0
}
