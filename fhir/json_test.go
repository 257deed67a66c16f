package fhir

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name, in string
		msgID    string // "" for success
		expr     string
	}{
		{"simple", `{"resourceType":"Patient","active":true,"multipleBirthInteger":2}`, "", ""},
		{"nested", `{"a":{"b":[{"c":"d"},{"e":1.50}]}}`, "", ""},
		{"escapes", `{"a":"\u00e9\n\"\\\/\ud83d\ude00"}`, "", ""},
		{"null in array", `{"given":["a",null],"_given":[null,{"id":"x"}]}`, "", ""},
		{"whitespace", " \n{ \"a\" : 1 }\n ", "", ""},
		{"not json", `{"a":`, "IMM-JSON-001", ""},
		{"trailing comma", `{"a":1,}`, "IMM-JSON-001", ""},
		{"array top", `[1]`, "IMM-JSON-002", ""},
		{"trailing data", `{"a":1} {}`, "IMM-JSON-003", ""},
		{"duplicate", `{"a":1,"a":2}`, "IMM-JSON-005", "a"},
		{"empty key", `{"":1}`, "IMM-JSON-006", ""},
		{"empty object", `{"a":{}}`, "IMM-JSON-007", "a"},
		{"empty array", `{"a":{"b":[]}}`, "IMM-JSON-008", "a.b"},
		{"empty string", `{"a":[{"b":""}]}`, "IMM-JSON-009", "a[0].b"},
		{"blank string", `{"a":"  "}`, "IMM-JSON-009", "a"},
		{"null member", `{"a":null}`, "IMM-JSON-010", "a"},
		{"leading zero", `{"a":01}`, "IMM-JSON-001", ""},
		{"bad escape", `{"a":"\q"}`, "IMM-JSON-001", ""},
		{"control char", "{\"a\":\"x\x01\"}", "IMM-JSON-001", ""},
		{"bad utf8", "{\"a\":\"\xff\"}", "IMM-JSON-001", ""},
		{"deep", strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70), "IMM-JSON-004", ""},
		{"empty input", ``, "IMM-JSON-001", ""},
		{"empty top object", `{}`, "", ""},
		{"duplicate deep", `{"a":[{"c":1},{"b":{"x":1,"x":2}}]}`, "IMM-JSON-005", "a[1].b.x"},
		{"empty object in array", `{"a":[{"b":[{"c":1},{}]}]}`, "IMM-JSON-007", "a[0].b[1]"},
		{"bad string deep", "{\"a\":{\"b\":[\"ok\",\"x\x01\"]}}", "IMM-JSON-001", "a.b[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := DecodeStrict([]byte(tc.in))
			if tc.msgID == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				var want map[string]any
				d := json.NewDecoder(strings.NewReader(tc.in))
				d.UseNumber()
				if err := d.Decode(&want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(obj, Object(want)) {
					t.Errorf("tree %#v, encoding/json says %#v", obj, want)
				}
				return
			}
			fe, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %v (%T), want *Error %s", err, err, tc.msgID)
			}
			if fe.Issues[0].MsgID != tc.msgID {
				t.Errorf("msg id %s (%s), want %s", fe.Issues[0].MsgID, fe.Error(), tc.msgID)
			}
			if tc.expr != "" && (len(fe.Issues[0].Expression) == 0 || fe.Issues[0].Expression[0] != tc.expr) {
				t.Errorf("expression %v, want %s", fe.Issues[0].Expression, tc.expr)
			}
		})
	}
}

// FuzzDecodeStrict: never panics, and whatever it accepts, encoding/json
// reads identically (the tree is the same JSON).
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":[1,"b",{"c":true}]}`, `{"a":"\u00e9"}`, `{"a":-0.5e10}`, `{"x":[null]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := DecodeStrict(data)
		if err != nil {
			return
		}
		var want map[string]any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatalf("accepted input encoding/json rejects: %q: %v", data, err)
		}
		if !reflect.DeepEqual(obj, Object(want)) {
			t.Fatalf("tree differs for %q", data)
		}
	})
}

func TestMarshalPutsResourceTypeFirst(t *testing.T) {
	b, err := Marshal(Object{"id": "1", "resourceType": "Patient", "text": Object{"div": "<div>&</div>"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"resourceType":"Patient","id":"1","text":{"div":"<div>&</div>"}}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}

// TestMarshalMatchesEncodingJSON: the reflection-free encoder writes what
// encoding/json (SetEscapeHTML(false)) writes.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		`{"a":"x<y>&z","b":[1,2.50,-3e5],"c":{"d":true,"e":false},"f":"\u2028\u0001\t\"\\é😀"}`,
		`{"resourceType":"Patient","id":"1","name":[{"family":"Ø"}],"_given":[null,{"id":"a"}]}`,
	}
	for _, in := range inputs {
		obj, err := DecodeStrict([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON(nil, map[string]any(obj))
		if err != nil {
			t.Fatal(err)
		}
		want, err := marshalPlain(map[string]any(obj))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("appendJSON\n got %s\nwant %s", got, want)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	obj, err := DecodeStrict([]byte(`{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08","display":"Hep B, adolescent or pediatric"}],"text":"HepB"},"patient":{"reference":"Patient/123"},"occurrenceDateTime":"2024-01-02","primarySource":true,"lotNumber":"AB12","doseQuantity":{"value":0.5,"unit":"mL","system":"http://unitsofmeasure.org","code":"mL"},"performer":[{"actor":{"reference":"Practitioner/9"}}],"protocolApplied":[{"series":"3-dose","doseNumberPositiveInt":1}]}`))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Marshal(obj); err != nil {
			b.Fatal(err)
		}
	}
}
