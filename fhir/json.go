package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	tok, err := d.Token()
	if err != nil {
		return nil, Invalid("IMM-JSON-001", "", "the body is not valid JSON: %s", jsonErrText(err))
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, Invalid("IMM-JSON-002", "", "the body must be a JSON object")
	}
	obj, err := decodeObject(d, "", 1)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, Invalid("IMM-JSON-003", "", "unexpected data after the JSON object")
	}
	return obj, nil
}

func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return "unexpected end of input"
	}
	return err.Error()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func decodeObject(d *json.Decoder, path string, depth int) (Object, error) {
	if depth > MaxDepth {
		return nil, Invalid("IMM-JSON-004", path, "JSON nesting deeper than %d levels", MaxDepth)
	}
	obj := Object{}
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, Invalid("IMM-JSON-001", path, "the body is not valid JSON: %s", jsonErrText(err))
		}
		if delim, ok := tok.(json.Delim); ok && delim == '}' {
			break
		}
		key, ok := tok.(string)
		if !ok {
			return nil, Invalid("IMM-JSON-001", path, "the body is not valid JSON")
		}
		if _, dup := obj[key]; dup {
			return nil, Invalid("IMM-JSON-005", join(path, key), "duplicate JSON property %q", key)
		}
		if key == "" {
			return nil, Invalid("IMM-JSON-006", path, "empty JSON property name")
		}
		v, err := decodeValue(d, join(path, key), depth, false)
		if err != nil {
			return nil, err
		}
		obj[key] = v
	}
	if len(obj) == 0 && path != "" {
		return nil, Invalid("IMM-JSON-007", path, "empty JSON object (FHIR forbids empty elements)")
	}
	return obj, nil
}

func decodeValue(d *json.Decoder, path string, depth int, inArray bool) (any, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, Invalid("IMM-JSON-001", path, "the body is not valid JSON: %s", jsonErrText(err))
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return decodeObject(d, path, depth+1)
		case '[':
			if depth+1 > MaxDepth {
				return nil, Invalid("IMM-JSON-004", path, "JSON nesting deeper than %d levels", MaxDepth)
			}
			arr := []any{}
			for d.More() {
				v, err := decodeValue(d, path+"["+strconv.Itoa(len(arr))+"]", depth+1, true)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, Invalid("IMM-JSON-001", path, "the body is not valid JSON: %s", jsonErrText(err))
			}
			if len(arr) == 0 {
				return nil, Invalid("IMM-JSON-008", path, "empty JSON array (FHIR forbids empty elements)")
			}
			return arr, nil
		}
		return nil, Invalid("IMM-JSON-001", path, "the body is not valid JSON")
	case string:
		if strings.TrimSpace(t) == "" {
			return nil, Invalid("IMM-JSON-009", path, "empty or blank string (FHIR forbids empty values)")
		}
		return t, nil
	case nil:
		// null is only allowed inside arrays, to align primitive values with
		// their extensions ("given": ["a", null] / "_given": [null, {...}]).
		if !inArray {
			return nil, Invalid("IMM-JSON-010", path, "null is not allowed as a property value")
		}
		return nil, nil
	default:
		return t, nil
	}
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
			body, err := marshalPlain(rest)
			if err != nil {
				return nil, err
			}
			head, _ := marshalPlain(rt)
			out := make([]byte, 0, len(body)+len(head)+16)
			out = append(out, `{"resourceType":`...)
			out = append(out, head...)
			if len(body) > 2 {
				out = append(out, ',')
				out = append(out, body[1:]...)
			} else {
				out = append(out, '}')
			}
			return out, nil
		}
	}
	return marshalPlain(v)
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
