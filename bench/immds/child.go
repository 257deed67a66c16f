package main

import (
	"encoding/json"
	"fmt"

	"github.com/immunis/immunis/forecast"
)

// The benchmark child: a fully vaccinated 6-year-old, born 2019-01-15,
// assessed 2025-03-01, with the 20 routine doses of the engine's own
// BenchmarkForecastChild.
const (
	childBirth      = "2019-01-15"
	childAssessment = "2025-03-01"
)

var childDoses = [][2]string{
	{"2019-01-16", "08"}, {"2019-03-15", "110"}, {"2019-03-15", "49"}, {"2019-03-15", "133"}, {"2019-03-15", "116"},
	{"2019-05-15", "110"}, {"2019-05-15", "49"}, {"2019-05-15", "133"}, {"2019-05-15", "116"},
	{"2019-07-15", "110"}, {"2019-07-15", "133"}, {"2019-07-15", "116"},
	{"2020-01-15", "03"}, {"2020-01-15", "21"}, {"2020-01-15", "83"},
	{"2020-04-15", "49"}, {"2020-04-15", "133"}, {"2020-04-15", "20"},
	{"2020-07-15", "83"}, {"2023-01-20", "94"},
}

// childInput is the child as the engine sees it.
func childInput() forecast.Input {
	in := forecast.Input{BirthDate: forecast.MustDate(childBirth), AssessmentDate: forecast.MustDate(childAssessment), Gender: forecast.GenderFemale}
	for i, d := range childDoses {
		in.Doses = append(in.Doses, forecast.Dose{ID: fmt.Sprint(i + 1), Date: forecast.MustDate(d[0]), CVX: d[1]})
	}
	return in
}

// doseVolume is the volume given, as a real record states it (RotaTeq is a
// 2 mL oral dose; the rest are 0.5 mL); CDSi checks it against the data.
func doseVolume(cvx string) float64 {
	if cvx == "116" {
		return 2.0
	}
	return 0.5
}

func immunizationJSON(i int, patientRef string, d [2]string) map[string]any {
	return map[string]any{
		"doseQuantity": map[string]any{"value": doseVolume(d[1]), "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"},
		"resourceType": "Immunization", "id": fmt.Sprintf("dose-%d", i+1), "status": "completed",
		"vaccineCode": map[string]any{"coding": []any{map[string]any{
			"system": "http://hl7.org/fhir/sid/cvx", "code": d[1]}}},
		"patient":            map[string]any{"reference": patientRef},
		"occurrenceDateTime": d[0],
		"primarySource":      true,
		"lotNumber":          fmt.Sprintf("LOT%04d", i),
	}
}

func patientJSON(id string) map[string]any {
	return map[string]any{
		"resourceType": "Patient", "id": id,
		"identifier": []any{map[string]any{"system": "urn:mrn", "value": "bench-1"}},
		"name":       []any{map[string]any{"family": "Bench", "given": []any{"Child"}}},
		"gender":     "female", "birthDate": childBirth,
	}
}

// childParameters is the $immds-forecast request for the child.
func childParameters() []byte {
	ps := []any{
		map[string]any{"name": "assessmentDate", "valueDate": childAssessment},
		map[string]any{"name": "patient", "resource": patientJSON("bench-child")},
	}
	for i, d := range childDoses {
		ps = append(ps, map[string]any{"name": "immunization", "resource": immunizationJSON(i, "Patient/bench-child", d)})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": ps})
	return b
}

// childBundle is a transaction that stores the child (Patient/bench-child
// and its doses) for the stored-record benchmark.
func childBundle() []byte {
	entries := []any{map[string]any{
		"resource": patientJSON("bench-child"),
		"request":  map[string]any{"method": "PUT", "url": "Patient/bench-child"},
	}}
	for i, d := range childDoses {
		entries = append(entries, map[string]any{
			"resource": immunizationJSON(i, "Patient/bench-child", d),
			"request":  map[string]any{"method": "PUT", "url": fmt.Sprintf("Immunization/dose-%d", i+1)},
		})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	return b
}
