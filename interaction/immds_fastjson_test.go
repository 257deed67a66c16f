package interaction

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// TestFastReaderMatchesEncodingJSON: whenever the fast reader accepts a
// body, it must have read exactly what encoding/json reads.
func TestFastReaderMatchesEncodingJSON(t *testing.T) {
	ig, err := os.ReadFile("testdata/immds/Parameters-parameters-in-example.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body string
		fast bool // whether the fast reader handles it
	}{
		{"IG example", string(ig), true},
		{"all elements", `{"resourceType":"Parameters","id":"x","meta":{"tag":[{"code":"a"}]},"parameter":[
			{"name":"assessmentDate","valueDate":"2025-01-02"},
			{"name":"otherSeriesEvaluations","valueBoolean":false},
			{"name":"patient","resource":{"resourceType":"Patient","id":"p","birthDate":"2024-01-02","gender":"male","name":[{"family":"Ünïcode \"q\""}],"multipleBirthInteger":2,"active":true,"deceasedBoolean":null}},
			{"name":"immunization","resource":{"resourceType":"Immunization","identifier":[{"system":"s","value":"v"}],"status":"completed",
				"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/ndc","code":"1-2","display":"x"},{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}],"text":"HepB"},
				"occurrenceDateTime":"2024-01-03T10:00:00-05:00","isSubpotent":true,"subpotentReason":[{"coding":[{"code":"partial"}]}],
				"expirationDate":"2025-01-01","manufacturer":{"reference":"Organization/1","identifier":{"system":"http://hl7.org/fhir/sid/mvx","value":"MSD"}},
				"note":[{"text":"a\nb"}],"protocolApplied":[{"doseNumberPositiveInt":1}]}},
			{"name":"observation","resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"x","code":"007"}]},"effectiveDateTime":"2024-02-03","valueQuantity":{"value":1.5e3}}}]}`, true},
		{"escaped kept string", `{"resourceType":"Parameters","parameter":[{"name":"assessment\u0044ate","valueDate":"2025-01-02"}]}`, false},
		{"key differing in case", `{"resourceType":"Parameters","Parameter":[]}`, false},
		{"null kept", `{"resourceType":"Parameters","parameter":[{"name":"patient","resource":{"resourceType":"Patient","birthDate":null}}]}`, false},
		{"number in kept string", `{"resourceType":"Parameters","parameter":[{"name":"patient","resource":{"resourceType":"Patient","birthDate":20240102}}]}`, false},
		{"doseQuantity", `{"resourceType":"Parameters","parameter":[{"name":"immunization","resource":{"resourceType":"Immunization","doseQuantity":{"value":0.5,"unit":"mL","system":"http://unitsofmeasure.org","code":"mL","extension":[]}}}]}`, true},
		{"doseQuantity exponent", `{"resourceType":"Parameters","parameter":[{"name":"immunization","resource":{"resourceType":"Immunization","doseQuantity":{"value":-5E-1}}}]}`, true},
		{"doseQuantity value as string", `{"resourceType":"Parameters","parameter":[{"name":"immunization","resource":{"resourceType":"Immunization","doseQuantity":{"value":"0.5"}}}]}`, false},
		{"doseQuantity value null", `{"resourceType":"Parameters","parameter":[{"name":"immunization","resource":{"resourceType":"Immunization","doseQuantity":{"value":null}}}]}`, false},
		{"duplicate key", `{"resourceType":"Parameters","resourceType":"Patient"}`, false},
		{"trailing data", `{"resourceType":"Parameters"} {}`, false},
		{"bad number", `{"resourceType":"Parameters","x":01}`, false},
		{"bad escape", `{"resourceType":"Parameters","x":"\q"}`, false},
		{"truncated", `{"resourceType":"Parameters","parameter":[`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fast paramsIn
			ok := fastDecodeParams([]byte(tt.body), &fast)
			if ok != tt.fast {
				t.Fatalf("fast reader handled it: %v, want %v", ok, tt.fast)
			}
			if !ok {
				return
			}
			var ref paramsIn
			if err := json.Unmarshal([]byte(tt.body), &ref); err != nil {
				t.Fatalf("encoding/json refuses what the fast reader accepted: %v", err)
			}
			if !reflect.DeepEqual(fast, ref) {
				a, _ := json.Marshal(fast)
				b, _ := json.Marshal(ref)
				t.Errorf("fast reader read\n%s\nencoding/json read\n%s", a, b)
			}
		})
	}
}

func TestCheckDateTime(t *testing.T) {
	tests := []struct {
		in         string
		day, valid bool
		want       string
	}{
		{"2024", false, true, ""},
		{"2024-02", false, true, ""},
		{"2024-02-29", true, true, "2024-02-29"},
		{"2023-02-29", false, false, ""},
		{"2024-13-01", false, false, ""},
		{"2024-04-31", false, false, ""},
		{"2024-01-02T10:00:00Z", true, true, "2024-01-02"},
		{"2024-01-02T23:59:60.123+14:00", true, true, "2024-01-02"},
		{"2024-01-02T10:00:00", false, false, ""},
		{"2024-01-02T10:00Z", false, false, ""},
		{"2024-01-02T24:00:00Z", false, false, ""},
		{"2024-01-02T10:00:00.Z", false, false, ""},
		{"2024-01-02T10:00:00+5:00", false, false, ""},
		{"20240102", false, false, ""},
		{"", false, false, ""},
		{"2024-1-02", false, false, ""},
	}
	for _, tt := range tests {
		d, day, valid := checkDateTime(tt.in)
		if day != tt.day || valid != tt.valid || (day && d.String() != tt.want) {
			t.Errorf("checkDateTime(%q) = %v, %v, %v; want %s, %v, %v", tt.in, d, day, valid, tt.want, tt.day, tt.valid)
		}
	}
}
