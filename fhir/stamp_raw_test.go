package fhir

import (
	"reflect"
	"testing"
	"time"
)

// StampRaw stores text that decodes to exactly what Stamp encodes, whether
// it splices or falls back, and leaves obj stamped the same way.
func TestStampRawMatchesStamp(t *testing.T) {
	at := time.Date(2026, 11, 26, 15, 4, 5, 123456000, time.UTC)
	for _, tc := range []struct {
		name, body, rawID, id string
		spliced               bool
	}{
		{"no id", `{"resourceType":"Immunization","status":"completed","patient":{"reference":"Patient/p"}}`, "", "new-1", true},
		{"same id", `{"resourceType":"Patient","id":"p1","birthDate":"2020-01-02"}`, "p1", "p1", true},
		{"trailing newline", "{\"resourceType\":\"Patient\",\"id\":\"p1\",\"active\":true}\n", "p1", "p1", true},
		{"other id", `{"resourceType":"Patient","id":"p1","active":true}`, "p1", "p2", false},
		{"own meta", `{"resourceType":"Patient","meta":{"source":"x"},"active":true}`, "", "p", false},
		{"resourceType not first", `{"id":"p1","resourceType":"Patient","active":true}`, "p1", "p1", false},
		{"pretty", "{\n  \"resourceType\": \"Patient\",\n  \"active\": true\n}", "", "p", false},
		{"escape", `{"resourceType":"Patient","name":[{"family":"\ud83d\ude00 x"}]}`, "", "p", false},
		{"only resourceType", `{"resourceType":"Patient"}`, "", "p", false},
		{"unicode and quotes kept", `{"resourceType":"Patient","name":[{"family":"Müller \"Q\" \\ /"}]}`, "", "p", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := DecodeStrict([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := DecodeStrict([]byte(tc.body))
			want, err := Stamp(a, tc.id, 3, at)
			if err != nil {
				t.Fatal(err)
			}
			got, err := StampRaw(Raw{Body: []byte(tc.body), ID: tc.rawID}, b, tc.id, 3, at)
			if err != nil {
				t.Fatal(err)
			}
			if spliced := string(got) != string(want); spliced != tc.spliced {
				t.Errorf("spliced = %v, want %v:\n%s", spliced, tc.spliced, got)
			}
			g, err := DecodeStrict(got)
			if err != nil {
				t.Fatalf("stored text is not strict JSON: %v\n%s", err, got)
			}
			w, _ := DecodeStrict(want)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("stored text decodes differently:\n got %s\nwant %s", got, want)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("obj stamped differently: %v vs %v", b, a)
			}
		})
	}
}
