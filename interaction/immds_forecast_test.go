package interaction_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/forecast"
	"github.com/immunis/immunis/interaction"
	"github.com/immunis/immunis/profiles"
)

func immdsService(t testing.TB) *interaction.Service {
	t.Helper()
	eng, err := forecast.Default()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := profiles.Load()
	if err != nil {
		t.Fatal(err)
	}
	return &interaction.Service{Forecaster: eng, Rules: rules}
}

// forecastJSON runs the system-level operation and decodes the answer.
func forecastJSON(t *testing.T, s *interaction.Service, body string) (map[string]any, []byte) {
	t.Helper()
	ans, err := s.ImmDSForecast(context.Background(), interaction.ImmDSRequest{Method: "POST", Body: []byte(body)})
	if err != nil {
		t.Fatalf("ImmDSForecast: %v", err)
	}
	raw := append([]byte(nil), ans.Bytes()...)
	ans.Release()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("answer is not JSON: %v\n%s", err, raw)
	}
	return m, raw
}

// outParams splits the answer into its evaluation and recommendation
// resources (as JSON), failing on anything else.
func outParams(t *testing.T, m map[string]any) (evals []map[string]any, rec map[string]any) {
	t.Helper()
	if m["resourceType"] != "Parameters" {
		t.Fatalf("resourceType %v", m["resourceType"])
	}
	for _, p := range m["parameter"].([]any) {
		p := p.(map[string]any)
		r := p["resource"].(map[string]any)
		switch p["name"] {
		case "evaluation":
			evals = append(evals, r)
		case "recommendation":
			if rec != nil {
				t.Fatal("more than one recommendation")
			}
			rec = r
		default:
			t.Fatalf("unexpected output parameter %v", p["name"])
		}
	}
	if rec == nil {
		t.Fatal("no recommendation")
	}
	return evals, rec
}

func codings(v any) []map[string]any {
	cc, _ := v.(map[string]any)
	var out []map[string]any
	for _, c := range cc["coding"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

func hasCoding(v any, system, code string) bool {
	for _, c := range codings(v) {
		if c["system"] == system && (code == "" || c["code"] == code) {
			return true
		}
	}
	return false
}

// TestImmDSIGExample runs the IG's example request and checks the answer
// against FHIR R4 (fhir.Validator) and the ImmDS profiles' constraints.
func TestImmDSIGExample(t *testing.T) {
	s := immdsService(t)
	in, err := os.ReadFile("testdata/immds/Parameters-parameters-in-example.json")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := forecastJSON(t, s, string(in))
	evals, rec := outParams(t, m)
	val, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range append(evals, rec) {
		b, _ := json.Marshal(r)
		if err := val.Validate(b); err != nil {
			t.Errorf("%s does not validate: %v\n%s", r["resourceType"], err, b)
		}
	}
	// ImmDS ImmunizationEvaluation: patient, date, targetDisease, doseStatus.
	if len(evals) != 1 {
		t.Fatalf("%d evaluations, want 1 (one HepB dose)", len(evals))
	}
	ev := evals[0]
	if ev["patient"].(map[string]any)["reference"] != "Patient/ImmDSPatientExample" || ev["date"] != "2020-06-02" {
		t.Errorf("evaluation patient/date: %v %v", ev["patient"], ev["date"])
	}
	if !hasCoding(ev["targetDisease"], "http://snomed.info/sct", "66071002") {
		t.Errorf("targetDisease %v", ev["targetDisease"])
	}
	if !hasCoding(ev["doseStatus"], "http://terminology.hl7.org/CodeSystem/immunization-evaluation-dose-status", "valid") {
		t.Errorf("doseStatus %v", ev["doseStatus"])
	}
	if ev["immunizationEvent"].(map[string]any)["reference"] != "Immunization/ImmDSImmunizationExample" {
		t.Errorf("immunizationEvent %v", ev["immunizationEvent"])
	}
	if ev["doseNumberPositiveInt"] != 1.0 || ev["seriesDosesPositiveInt"] != 3.0 || ev["series"] == "" {
		t.Errorf("dose number/series %v %v %v", ev["doseNumberPositiveInt"], ev["seriesDosesPositiveInt"], ev["series"])
	}
	// ImmDS ImmunizationRecommendation: one entry per CDSi vaccine group.
	eng, _ := forecast.Default()
	entries := rec["recommendation"].([]any)
	if len(entries) != len(eng.VaccineGroups()) {
		t.Fatalf("%d recommendation entries, want %d", len(entries), len(eng.VaccineGroups()))
	}
	loinc := map[string]bool{"30981-5": true, "30980-7": true, "59778-1": true, "59777-3": true}
	statuses := map[string]bool{"complete": true, "notComplete": true, "notRecommended": true, "immune": true, "contraindicated": true, "agedOut": true, "conditional": true}
	for i, e := range entries {
		e := e.(map[string]any)
		vc := e["vaccineCode"].([]any)[0].(map[string]any)
		if vc["text"] != eng.VaccineGroups()[i] || !hasCoding(vc, "http://hl7.org/fhir/sid/cvx", "") {
			t.Errorf("entry %d vaccineCode %v", i, vc)
		}
		if !hasCoding(e["targetDisease"], "http://snomed.info/sct", "") {
			t.Errorf("entry %d targetDisease %v", i, e["targetDisease"])
		}
		fs := codings(e["forecastStatus"])
		if len(fs) != 1 || fs[0]["system"] != "http://hl7.org/fhir/us/immds/CodeSystem/ForecastStatus" || !statuses[fs[0]["code"].(string)] {
			t.Errorf("entry %d forecastStatus %v", i, fs)
		}
		for _, dc := range asList(e["dateCriterion"]) {
			c := codings(dc.(map[string]any)["code"])
			if len(c) != 1 || c[0]["system"] != "http://loinc.org" || !loinc[c[0]["code"].(string)] {
				t.Errorf("entry %d dateCriterion %v", i, dc)
			}
		}
		if vc["text"] == "HepB" {
			if e["doseNumberPositiveInt"] != 2.0 || len(asList(e["supportingImmunization"])) != 1 {
				t.Errorf("HepB entry: %v", e)
			}
			if cv := codings(vc)[0]; cv["code"] != "45" {
				t.Errorf("HepB vaccineCode %v, want CVX 45", cv)
			}
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

const okPatient = `{"name":"patient","resource":{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"2024-01-02"}}`
const okDate = `{"name":"assessmentDate","valueDate":"2025-01-02"}`

func params(ps ...string) string {
	return `{"resourceType":"Parameters","parameter":[` + strings.Join(ps, ",") + `]}`
}

// TestImmDSBadInput: every malformed request is a 4xx naming what is wrong.
func TestImmDSBadInput(t *testing.T) {
	s := immdsService(t)
	tests := []struct {
		name, method, body string
		kind               fhir.Kind
		want               string // in the diagnostics or expression
	}{
		{"not JSON", "POST", `{"resourceType":`, fhir.KindInvalid, "JSON"},
		{"empty", "POST", ``, fhir.KindInvalid, "empty"},
		{"not Parameters", "POST", `{"resourceType":"Patient","birthDate":"2020-01-01"}`, fhir.KindInvalid, "Parameters"},
		{"GET at system level", "GET", ``, fhir.KindMethodNotAllowed, "POST"},
		{"no assessmentDate", "POST", params(okPatient), fhir.KindInvalid, "assessmentDate"},
		{"no patient", "POST", params(okDate), fhir.KindInvalid, "patient"},
		{"no birthDate", "POST", params(okDate, `{"name":"patient","resource":{"resourceType":"Patient"}}`), fhir.KindInvalid, "birthDate"},
		{"partial birthDate", "POST", params(okDate, `{"name":"patient","resource":{"resourceType":"Patient","birthDate":"2024-01"}}`), fhir.KindInvalid, "birthDate"},
		{"birthDate number", "POST", params(okDate, `{"name":"patient","resource":{"resourceType":"Patient","birthDate":20240101}}`), fhir.KindInvalid, "birthDate"},
		{"bad gender", "POST", params(okDate, `{"name":"patient","resource":{"resourceType":"Patient","birthDate":"2024-01-02","gender":"F"}}`), fhir.KindInvalid, "gender"},
		{"assessmentDate as string", "POST", params(`{"name":"assessmentDate","valueString":"2025-01-02"}`, okPatient), fhir.KindInvalid, "assessmentDate"},
		{"assessmentDate as dateTime", "POST", params(`{"name":"assessmentDate","valueDateTime":"2025-01-02T10:00:00Z"}`, okPatient), fhir.KindInvalid, "valueDate"},
		{"assessmentDate invalid", "POST", params(`{"name":"assessmentDate","valueDate":"2025-02-30"}`, okPatient), fhir.KindInvalid, "assessmentDate"},
		{"assessmentDate twice", "POST", params(okDate, okDate, okPatient), fhir.KindInvalid, "twice"},
		{"assessment before birth", "POST", params(`{"name":"assessmentDate","valueDate":"2023-01-02"}`, okPatient), fhir.KindInvalid, "before"},
		{"patient as value", "POST", params(okDate, `{"name":"patient","valueString":"p1"}`), fhir.KindInvalid, "patient"},
		{"patient is an Immunization", "POST", params(okDate, `{"name":"patient","resource":{"resourceType":"Immunization"}}`), fhir.KindInvalid, "Patient"},
		{"immunization is a Patient", "POST", params(okDate, okPatient, `{"name":"immunization","resource":{"resourceType":"Patient"}}`), fhir.KindInvalid, "Immunization"},
		{"immunization without status", "POST", params(okDate, okPatient, `{"name":"immunization","resource":{"resourceType":"Immunization","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"occurrenceDateTime":"2024-01-02"}}`), fhir.KindInvalid, "status"},
		{"immunization bad status", "POST", params(okDate, okPatient, `{"name":"immunization","resource":{"resourceType":"Immunization","status":"done","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"occurrenceDateTime":"2024-01-02"}}`), fhir.KindInvalid, "status"},
		{"immunization coding not an array", "POST", params(okDate, okPatient, `{"name":"immunization","resource":{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":{"code":"08"}},"occurrenceDateTime":"2024-01-02"}}`), fhir.KindInvalid, "vaccineCode"},
		{"immunization bad date", "POST", params(okDate, okPatient, `{"name":"immunization","resource":{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"occurrenceDateTime":"2024-13-02"}}`), fhir.KindInvalid, "occurrenceDateTime"},
		{"immunization without occurrence", "POST", params(okDate, okPatient, `{"name":"immunization","resource":{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]}}}`), fhir.KindInvalid, "occurrence"},
		{"immunization isSubpotent string", "POST", params(okDate, okPatient, `{"name":"immunization","resource":{"resourceType":"Immunization","status":"completed","isSubpotent":"yes","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"occurrenceDateTime":"2024-01-02"}}`), fhir.KindInvalid, "isSubpotent"},
		{"bad immunization id", "POST", params(okDate, okPatient, `{"name":"immunization","resource":{"resourceType":"Immunization","id":"a b","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"occurrenceDateTime":"2024-01-02"}}`), fhir.KindInvalid, "id"},
		{"unknown parameter", "POST", params(okDate, okPatient, `{"name":"foo","valueString":"x"}`), fhir.KindInvalid, "foo"},
		{"parameter without name", "POST", params(okDate, okPatient, `{"valueString":"x"}`), fhir.KindInvalid, "name"},
		{"unknown observation", "POST", params(okDate, okPatient, `{"name":"observation","resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"`+interaction.SystemCDSiObservation+`","code":"999x"}]}}}`), fhir.KindInvalid, "999x"},
		{"observation without CDSi code", "POST", params(okDate, okPatient, `{"name":"observation","resource":{"resourceType":"Observation","status":"final","code":{"text":"pregnant"}}}`), fhir.KindInvalid, "observation"},
		{"trailing data", "POST", params(okDate, okPatient) + `{}`, fhir.KindInvalid, "after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ImmDSForecast(context.Background(), interaction.ImmDSRequest{Method: tt.method, Body: []byte(tt.body)})
			if err == nil {
				t.Fatal("no error")
			}
			fe := fhir.AsError(err)
			if fe.Kind != tt.kind {
				t.Fatalf("kind %v, want %v: %v", fe.Kind, tt.kind, err)
			}
			text := err.Error()
			if !strings.Contains(text, tt.want) {
				t.Errorf("error %q does not mention %q", text, tt.want)
			}
		})
	}
}
