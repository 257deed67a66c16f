package interaction

import (
	"sort"
	"strings"
	"testing"

	"github.com/immunis/immunis/fhir"
)

// walkReferences names every reference by its element's path, contained
// resources included, and replaces the values fn returns.
func TestWalkReferences(t *testing.T) {
	obj, err := fhir.DecodeStrict([]byte(`{"resourceType":"Immunization",
		"patient":{"reference":"Patient/p1"},
		"performer":[{"actor":{"reference":"Practitioner/a"}},{"function":{"text":"x"}},{"actor":{"reference":"Organization/o"}}],
		"contained":[{"resourceType":"Patient","id":"c","generalPractitioner":[{"reference":"Practitioner/g"}]}],
		"reasonReference":[{"reference":"Condition/c1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = walkReferences(obj, "Immunization", func(expr, ref string) (string, error) {
		got = append(got, expr+" = "+ref)
		if ref == "Patient/p1" {
			return "Patient/p2", nil
		}
		return "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	want := []string{
		"Immunization.contained[0].generalPractitioner[0] = Practitioner/g",
		"Immunization.patient = Patient/p1",
		"Immunization.performer[0].actor = Practitioner/a",
		"Immunization.performer[2].actor = Organization/o",
		"Immunization.reasonReference[0] = Condition/c1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("references:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r := fhir.Str(fhir.Obj(obj, "patient"), "reference"); r != "Patient/p2" {
		t.Errorf("patient.reference = %q after replacement, want Patient/p2", r)
	}
}
