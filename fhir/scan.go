package fhir

import (
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a small strict JSON parser for DecodeStrict: one pass over
// the bytes building the tree and enforcing FHIR's JSON rules on the way.
// encoding/json's token API does the same job at several times the cost,
// and this runs on every write.
type scanner struct {
	data []byte
	pos  int
	// paths: keep track of where the scanner is, to name it in errors. A
	// body is scanned without, and again with, only when it has an error.
	paths bool
}

// child is where a member (key) or an array element (index) is, when the
// scanner keeps track of it.
func (s *scanner) child(parent *at, key string, index int) *at {
	if !s.paths {
		return nil
	}
	return &at{parent: parent, key: key, index: index}
}

func (s *scanner) fail(path *at, format string, args ...any) error {
	return Invalid("IMM-JSON-001", path.String(), "the body is not valid JSON: "+format, args...)
}

// at is where the scanner is, for errors (nil at the top, and everywhere
// in a scan without paths). It becomes a path string (name.given[0]) only
// when an error is reported.
type at struct {
	parent *at
	key    string // the property's name; "" for an array element
	index  int
}

func (a *at) String() string {
	if a == nil {
		return ""
	}
	if a.key == "" {
		return a.parent.String() + "[" + strconv.Itoa(a.index) + "]"
	}
	return join(a.parent.String(), a.key)
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// object parses an object; the opening brace is at s.pos.
func (s *scanner) object(path *at, depth int) (Object, error) {
	if depth > MaxDepth {
		return nil, Invalid("IMM-JSON-004", path.String(), "JSON nesting deeper than %d levels", MaxDepth)
	}
	s.pos++ // {
	obj := Object{}
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		if depth > 1 { // the top object may be empty; an element may not
			return nil, Invalid("IMM-JSON-007", path.String(), "empty JSON object (FHIR forbids empty elements)")
		}
		return obj, nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return nil, s.fail(path, "expected a property name at offset %d", s.pos)
		}
		key, err := s.str(path)
		if err != nil {
			return nil, err
		}
		if key == "" {
			return nil, Invalid("IMM-JSON-006", path.String(), "empty JSON property name")
		}
		if _, dup := obj[key]; dup {
			return nil, Invalid("IMM-JSON-005", join(path.String(), key), "duplicate JSON property %q", key)
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return nil, s.fail(path, "expected ':' at offset %d", s.pos)
		}
		s.pos++
		v, err := s.value(s.child(path, key, 0), depth, false)
		if err != nil {
			return nil, err
		}
		obj[key] = v
		s.skipSpace()
		if s.pos >= len(s.data) {
			return nil, s.fail(path, "unexpected end of input")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return obj, nil
		default:
			return nil, s.fail(path, "expected ',' or '}' at offset %d", s.pos)
		}
	}
}

func (s *scanner) value(path *at, depth int, inArray bool) (any, error) {
	s.skipSpace()
	if s.pos >= len(s.data) {
		return nil, s.fail(path, "unexpected end of input")
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(path, depth+1)
	case c == '[':
		return s.array(path, depth+1)
	case c == '"':
		str, err := s.str(path)
		if err != nil {
			return nil, err
		}
		if isBlank(str) {
			return nil, Invalid("IMM-JSON-009", path.String(), "empty or blank string (FHIR forbids empty values)")
		}
		return str, nil
	case c == 't':
		return true, s.literal(path, "true")
	case c == 'f':
		return false, s.literal(path, "false")
	case c == 'n':
		if err := s.literal(path, "null"); err != nil {
			return nil, err
		}
		// null is only allowed inside arrays, to align primitive values
		// with their extensions ("given": ["a", null] / "_given": [null, {...}]).
		if !inArray {
			return nil, Invalid("IMM-JSON-010", path.String(), "null is not allowed as a property value")
		}
		return nil, nil
	case c == '-' || c >= '0' && c <= '9':
		return s.number(path)
	}
	return nil, s.fail(path, "unexpected character %q at offset %d", s.data[s.pos], s.pos)
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

func (s *scanner) array(path *at, depth int) ([]any, error) {
	if depth > MaxDepth {
		return nil, Invalid("IMM-JSON-004", path.String(), "JSON nesting deeper than %d levels", MaxDepth)
	}
	s.pos++ // [
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return nil, Invalid("IMM-JSON-008", path.String(), "empty JSON array (FHIR forbids empty elements)")
	}
	arr := make([]any, 0, 2)
	for {
		v, err := s.value(s.child(path, "", len(arr)), depth, true)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		s.skipSpace()
		if s.pos >= len(s.data) {
			return nil, s.fail(path, "unexpected end of input")
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return arr, nil
		default:
			return nil, s.fail(path, "expected ',' or ']' at offset %d", s.pos)
		}
	}
}

func (s *scanner) literal(path *at, lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.fail(path, "invalid literal at offset %d", s.pos)
	}
	s.pos += len(lit)
	return nil
}

// number keeps the literal as json.Number (a decimal's precision matters).
func (s *scanner) number(path *at) (any, error) {
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	digits := func() int {
		n := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	intStart := s.pos
	if digits() == 0 {
		return nil, s.fail(path, "invalid number at offset %d", start)
	}
	if s.data[intStart] == '0' && s.pos-intStart > 1 {
		return nil, s.fail(path, "invalid number (leading zero) at offset %d", start)
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return nil, s.fail(path, "invalid number at offset %d", start)
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return nil, s.fail(path, "invalid number at offset %d", start)
		}
	}
	return json.Number(s.data[start:s.pos]), nil
}

// str parses a string literal at s.pos (the opening quote).
func (s *scanner) str(path *at) (string, error) {
	s.pos++ // "
	start := s.pos
	// fast path: no escapes
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			str := string(s.data[start:s.pos])
			s.pos++
			if !utf8.ValidString(str) {
				return "", s.fail(path, "invalid UTF-8 in string")
			}
			return str, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", s.fail(path, "control character in string at offset %d", s.pos)
		}
		s.pos++
	}
	buf := make([]byte, 0, s.pos-start+16)
	buf = append(buf, s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !utf8.Valid(buf) {
				return "", s.fail(path, "invalid UTF-8 in string")
			}
			return string(buf), nil
		case c < 0x20:
			return "", s.fail(path, "control character in string at offset %d", s.pos)
		case c != '\\':
			buf = append(buf, c)
			s.pos++
			continue
		}
		s.pos++
		if s.pos >= len(s.data) {
			break
		}
		e := s.data[s.pos]
		s.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", s.fail(path, "invalid \\u escape at offset %d", s.pos)
			}
			if utf16.IsSurrogate(r) {
				// a surrogate pair: \uD83D\uDE00
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					s.pos += 2
					r2, ok := s.hex4()
					if !ok {
						return "", s.fail(path, "invalid \\u escape at offset %d", s.pos)
					}
					r = utf16.DecodeRune(r, r2)
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", s.fail(path, "invalid escape \\%c at offset %d", e, s.pos-1)
		}
	}
	return "", s.fail(path, "unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.data)-s.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.data[s.pos : s.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	s.pos += 4
	return r, true
}
