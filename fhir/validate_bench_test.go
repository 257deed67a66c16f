package fhir

import "testing"

// A typical registry Immunization (the bench/ingest shape).
const benchImmunization = `{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08","display":"Hep B, adolescent or pediatric"}]},"patient":{"reference":"Patient/bench-p1"},"occurrenceDateTime":"2024-03-15","primarySource":true,"lotNumber":"LOT1234","expirationDate":"2026-01-01","manufacturer":{"identifier":{"system":"http://hl7.org/fhir/sid/mvx","value":"MSD"}},"site":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActSite","code":"LA"}]},"route":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration","code":"IM"}]},"doseQuantity":{"value":0.5,"unit":"mL","system":"http://unitsofmeasure.org","code":"mL"},"performer":[{"actor":{"reference":"Practitioner/pr1"}}],"protocolApplied":[{"doseNumberPositiveInt":1,"seriesDosesPositiveInt":3}]}`

func BenchmarkValidate(b *testing.B) {
	v, err := NewValidator()
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(benchImmunization)
	if err := v.Validate(body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeStrict(b *testing.B) {
	body := []byte(benchImmunization)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeStrict(body); err != nil {
			b.Fatal(err)
		}
	}
}
