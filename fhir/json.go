package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Object is a decoded FHIR JSON object. Values are map[string]any ([]any,
// string, json.Number, bool, nil): numbers stay json.Number so a decimal's
// precision ("1.50") survives a round trip, as FHIR requires.
type Object = map[string]any

// MaxDepth bounds JSON nesting; real resources stay far below it and hostile
// ones must not exhaust the stack.
const MaxDepth = 64

// DecodeStrict decodes one JSON object and enforces the FHIR JSON rules that
// a generic decoder accepts but FHIR forbids (json.html): no duplicate keys,
// no null member values, no empty strings, arrays or objects, bounded depth,
// nothing after the value. It reports the element path of the first fault.
func DecodeStrict(data []byte) (Object, error) {
	s := &scanner{data: data}
	s.skipSpace()
	start := s.pos
	if s.pos >= len(data) {
		return nil, Invalid("IMM-JSON-001", "", "the body is not valid JSON: unexpected end of input")
	}
	if data[s.pos] != '{' {
		if json.Valid(data) {
			return nil, Invalid("IMM-JSON-002", "", "the body must be a JSON object")
		}
		return nil, Invalid("IMM-JSON-001", "", "the body is not valid JSON: unexpected character %q at offset %d", data[s.pos], s.pos)
	}
	obj, err := s.object(nil, 1)
	if err != nil {
		// Scan again, keeping track of where, to name the element.
		located := &scanner{data: data, pos: start, paths: true}
		if _, lerr := located.object(nil, 1); lerr != nil {
			return nil, lerr
		}
		return nil, err
	}
	s.skipSpace()
	if s.pos != len(data) {
		return nil, Invalid("IMM-JSON-003", "", "unexpected data after the JSON object")
	}
	return obj, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Marshal encodes a tree compactly without HTML escaping (FHIR narrative
// holds XHTML that must survive byte for byte in meaning). A resource's
// resourceType comes first, as FHIR JSON examples have it and as streaming
// readers prefer.
func Marshal(v any) ([]byte, error) {
	if o, ok := v.(map[string]any); ok {
		if rt, ok := o["resourceType"].(string); ok {
			rest := make(map[string]any, len(o))
			for k, val := range o {
				if k != "resourceType" {
					rest[k] = val
				}
			}
			out := make([]byte, 0, 1024)
			out = append(out, `{"resourceType":`...)
			out = appendString(out, rt)
			body, err := appendJSON(make([]byte, 0, 1024), rest)
			if err != nil {
				return nil, err
			}
			if len(body) > 2 {
				out = append(out, ',')
				out = append(out, body[1:]...)
			} else {
				out = append(out, '}')
			}
			return out, nil
		}
	}
	return appendJSON(make([]byte, 0, 256), v)
}

func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // drop Encode's trailing newline
}

// MustMarshal is Marshal for values built by this program (never input),
// where a failure is a programming error.
func MustMarshal(v any) []byte {
	b, err := Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Str returns o[key] as a string ("" when absent or of another type).
func Str(o Object, key string) string {
	s, _ := o[key].(string)
	return s
}

// Obj returns o[key] as an object (nil when absent or of another type).
func Obj(o Object, key string) Object {
	m, _ := o[key].(map[string]any)
	return m
}

// Arr returns o[key] as an array (nil when absent or of another type).
func Arr(o Object, key string) []any {
	a, _ := o[key].([]any)
	return a
}
