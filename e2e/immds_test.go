package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/fhir"
)

// TestImmDSIGExampleOverHTTP: the IG's example request answers a Parameters
// whose resources validate as FHIR R4, and the server publishes the
// operation (OperationDefinition, CapabilityStatement).
func TestImmDSIGExampleOverHTTP(t *testing.T) {
	s := Start(t, "sqlite", nil)
	in, err := os.ReadFile("testdata/immds/Parameters-parameters-in-example.json")
	if err != nil {
		t.Fatal(err)
	}
	out := s.Do(t, "POST", "$immds-forecast", in).Expect(t, 200)
	if ct := out.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
		t.Errorf("Content-Type %q", ct)
	}
	val, err := fhir.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		ResourceType string
		Parameter    []struct {
			Name     string
			Resource json.RawMessage
		}
	}
	if err := json.Unmarshal(out.Body, &p); err != nil || p.ResourceType != "Parameters" {
		t.Fatalf("not a Parameters (%v): %s", err, out.Body)
	}
	counts := map[string]int{}
	for _, pa := range p.Parameter {
		counts[pa.Name]++
		if err := val.Validate(pa.Resource); err != nil {
			t.Errorf("%s does not validate: %v", pa.Name, err)
		}
	}
	if counts["recommendation"] != 1 || counts["evaluation"] != 1 || len(counts) != 2 {
		t.Errorf("output parameters %v, want 1 evaluation and 1 recommendation", counts)
	}

	od := s.Do(t, "GET", "OperationDefinition/ImmDSForecastOperation", nil).Expect(t, 200).JSON(t)
	if od["url"] != "http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation" || od["code"] != "immds-forecast" {
		t.Errorf("OperationDefinition %v %v", od["url"], od["code"])
	}
	ext := s.Do(t, "GET", "OperationDefinition/PatientImmDSForecast", nil).Expect(t, 200).JSON(t)
	if ext["base"] != od["url"] || ext["instance"] != true {
		t.Errorf("extension OperationDefinition base %v instance %v", ext["base"], ext["instance"])
	}
	s.Do(t, "GET", "OperationDefinition/Nope", nil).Expect(t, 404)

	cs := string(s.Do(t, "GET", "metadata", nil).Expect(t, 200).Body)
	for _, want := range []string{od["url"].(string), ext["url"].(string)} {
		if !strings.Contains(cs, want) {
			t.Errorf("CapabilityStatement does not list %s", want)
		}
	}
}

// TestImmDSBadRequests: bad requests get exactly the 4xx FHIR asks for,
// with an OperationOutcome that names the problem.
func TestImmDSBadRequests(t *testing.T) {
	s := Start(t, "sqlite", nil)
	pid := id(t, s.Do(t, "POST", "Patient", patient("Gone")).Expect(t, 201))
	s.Do(t, "DELETE", "Patient/"+pid, nil).Expect(t, 204)
	noBirth := id(t, s.Do(t, "POST", "Patient", `{"resourceType":"Patient","gender":"male"}`).Expect(t, 201))
	okPatient := `{"name":"patient","resource":{"resourceType":"Patient","birthDate":"2024-01-02"}}`
	okDate := `{"name":"assessmentDate","valueDate":"2025-01-02"}`
	params := func(ps ...string) string {
		return `{"resourceType":"Parameters","parameter":[` + strings.Join(ps, ",") + `]}`
	}
	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		status             int
		want               string
	}{
		{"not Parameters", "POST", "$immds-forecast", `{"resourceType":"Patient","birthDate":"2024-01-02"}`, nil, 400, "Parameters"},
		{"malformed JSON", "POST", "$immds-forecast", `{"resourceType":"Parameters",`, nil, 400, "JSON"},
		{"no assessmentDate", "POST", "$immds-forecast", params(okPatient), nil, 400, "assessmentDate"},
		{"no patient", "POST", "$immds-forecast", params(okDate), nil, 400, "patient"},
		{"no birthDate", "POST", "$immds-forecast", params(okDate, `{"name":"patient","resource":{"resourceType":"Patient"}}`), nil, 400, "birthDate"},
		{"assessmentDate as string", "POST", "$immds-forecast", params(`{"name":"assessmentDate","valueString":"2025-01-02"}`, okPatient), nil, 400, "assessmentDate"},
		{"patient as a reference", "POST", "$immds-forecast", params(okDate, `{"name":"patient","valueReference":{"reference":"Patient/1"}}`), nil, 400, "patient"},
		{"XML body", "POST", "$immds-forecast", `<Parameters/>`, []string{"Content-Type", "application/fhir+xml"}, 415, "Content-Type"},
		{"XML wanted", "POST", "$immds-forecast", params(okDate, okPatient), []string{"Accept", "application/fhir+xml"}, 406, "JSON"},
		{"GET at system level", "GET", "$immds-forecast", nil, nil, 405, "POST"},
		{"type level", "POST", "Patient/$immds-forecast", params(okDate, okPatient), nil, 404, "immds-forecast"},
		{"unknown patient", "GET", "Patient/nobody/$immds-forecast", nil, nil, 404, "nobody"},
		{"deleted patient", "GET", "Patient/" + pid + "/$immds-forecast", nil, nil, 410, pid},
		{"stored patient without birthDate", "GET", "Patient/" + noBirth + "/$immds-forecast", nil, nil, 422, "birthDate"},
		{"bad assessmentDate", "GET", "Patient/" + noBirth + "/$immds-forecast?assessmentDate=2025-13-01", nil, nil, 400, "assessmentDate"},
		{"unknown query parameter", "GET", "Patient/" + noBirth + "/$immds-forecast?foo=1", nil, nil, 400, "foo"},
		{"persist over GET", "GET", "Patient/" + noBirth + "/$immds-forecast?persist=true", nil, nil, 405, "POST"},
		{"persist not boolean", "POST", "Patient/" + noBirth + "/$immds-forecast?persist=yes", nil, nil, 400, "persist"},
		{"resources at instance level", "POST", "Patient/" + noBirth + "/$immds-forecast", params(okPatient), nil, 400, "patient"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Do(t, tt.method, tt.path, tt.body, tt.headers...).Expect(t, tt.status)
			oo := r.JSON(t)
			if oo["resourceType"] != "OperationOutcome" || !strings.Contains(string(r.Body), tt.want) {
				t.Errorf("want an OperationOutcome mentioning %q, got %s", tt.want, r.Body)
			}
		})
	}
}

// answerOf reads a $immds-forecast answer: the recommendation's entries by
// vaccine group, and the evaluations.
type storedAnswer struct {
	rec    map[string]any
	groups map[string]map[string]any
	evals  []map[string]any
}

func readStoredAnswer(t *testing.T, r *Response) storedAnswer {
	t.Helper()
	a := storedAnswer{groups: map[string]map[string]any{}}
	for _, p := range r.JSON(t)["parameter"].([]any) {
		p := p.(map[string]any)
		res := p["resource"].(map[string]any)
		if p["name"] == "recommendation" {
			a.rec = res
			for _, e := range res["recommendation"].([]any) {
				e := e.(map[string]any)
				name := e["vaccineCode"].([]any)[0].(map[string]any)["text"].(string)
				delete(e, "supportingImmunization") // references differ between the two paths
				a.groups[name] = e
			}
		} else {
			a.evals = append(a.evals, res)
		}
	}
	if a.rec == nil {
		t.Fatalf("no recommendation in %s", r.Body)
	}
	return a
}

func searchTotal(t *testing.T, s *Server, query string) (int, []any) {
	t.Helper()
	b := s.Do(t, "GET", query, nil).Expect(t, 200).JSON(t)
	entries, _ := b["entry"].([]any)
	return len(entries), entries
}

// TestImmDSStoredRecord: Patient/{id}/$immds-forecast forecasts from the
// stored record like the IG operation does from the same resources, and
// persist=true keeps one current recommendation per patient with its
// evaluations, replaced and versioned on each run.
func TestImmDSStoredRecord(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		pid := id(t, s.Do(t, "POST", "Patient", patient("Forecast")).Expect(t, 201)) // born 2021-03-04
		ref := "Patient/" + pid
		var imms []string
		for _, d := range [][2]string{{"08", "2021-03-05"}, {"20", "2021-05-06"}, {"08", "2021-05-06"}, {"10", "2021-05-06"}} {
			r := s.Do(t, "POST", "Immunization", immunization(ref, d[0], d[1])).Expect(t, 201)
			imms = append(imms, string(r.Body))
		}
		// An entered-in-error record is not a dose.
		wrong := strings.Replace(immunization(ref, "03", "2021-05-06"), `"completed"`, `"entered-in-error"`, 1)
		s.Do(t, "POST", "Immunization", wrong).Expect(t, 201)
		imms = append(imms, wrong)

		const day = "2021-07-01"
		got := readStoredAnswer(t, s.Do(t, "GET", ref+"/$immds-forecast?assessmentDate="+day, nil).Expect(t, 200))
		if len(got.evals) != 6 { // HepB, DTaP (3 antigens), HepB, Polio
			t.Errorf("%d evaluations, want 6", len(got.evals))
		}
		var ps []string
		ps = append(ps, `{"name":"assessmentDate","valueDate":"`+day+`"}`, `{"name":"patient","resource":`+patient("Forecast", `"id":"`+pid+`"`)+`}`)
		for _, im := range imms {
			ps = append(ps, `{"name":"immunization","resource":`+im+`}`)
		}
		want := readStoredAnswer(t, s.Do(t, "POST", "$immds-forecast", `{"resourceType":"Parameters","parameter":[`+strings.Join(ps, ",")+`]}`).Expect(t, 200))
		gj, _ := json.Marshal(got.groups)
		wj, _ := json.Marshal(want.groups)
		if string(gj) != string(wj) || len(got.evals) != len(want.evals) {
			t.Errorf("stored-record forecast differs from the IG operation on the same resources:\n%s\n%s", gj, wj)
		}
		if hepb := got.groups["HepB"]; hepb["doseNumberPositiveInt"] != 3.0 {
			t.Errorf("HepB dose number %v, want 3", hepb["doseNumberPositiveInt"])
		}

		// Default assessment date: today in the server's zone (UTC).
		before := time.Now().UTC().Format("2006-01-02")
		today := readStoredAnswer(t, s.Do(t, "GET", ref+"/$immds-forecast", nil).Expect(t, 200))
		if d := today.rec["date"]; d != before && d != time.Now().UTC().Format("2006-01-02") {
			t.Errorf("default assessment date %v, want today %s", d, before)
		}

		// persist=true stores one recommendation and the evaluations.
		p1 := readStoredAnswer(t, s.Do(t, "POST", ref+"/$immds-forecast?assessmentDate="+day+"&persist=true", nil).Expect(t, 200))
		recID, _ := p1.rec["id"].(string)
		if recID == "" || p1.rec["meta"].(map[string]any)["versionId"] != "1" {
			t.Fatalf("persisted recommendation id %q meta %v", recID, p1.rec["meta"])
		}
		n, entries := searchTotal(t, s, "ImmunizationRecommendation?patient="+pid)
		if n != 1 || entries[0].(map[string]any)["resource"].(map[string]any)["id"] != recID {
			t.Fatalf("ImmunizationRecommendation?patient finds %d", n)
		}
		if n, _ := searchTotal(t, s, "ImmunizationEvaluation?patient="+pid); n != 6 {
			t.Errorf("%d stored evaluations, want 6", n)
		}
		// The same forecast again: same resources, no new version.
		p2 := readStoredAnswer(t, s.Do(t, "POST", ref+"/$immds-forecast", `{"resourceType":"Parameters","parameter":[{"name":"assessmentDate","valueDate":"`+day+`"},{"name":"persist","valueBoolean":true}]}`).Expect(t, 200))
		if p2.rec["id"] != recID || p2.rec["meta"].(map[string]any)["versionId"] != "1" {
			t.Errorf("unchanged forecast: id %v version %v", p2.rec["id"], p2.rec["meta"])
		}
		// The persisted forecast references the doses, so a dose cannot be
		// deleted under it; an IIS marks it entered-in-error instead. A later
		// date and one dose fewer: the recommendation is replaced (version 2)
		// and the evaluation of the withdrawn dose goes away.
		polio := id(t, &Response{Body: []byte(imms[3])})
		s.Do(t, "DELETE", "Immunization/"+polio, nil).Expect(t, 409)
		var im map[string]any
		if err := json.Unmarshal([]byte(imms[3]), &im); err != nil {
			t.Fatal(err)
		}
		im["status"] = "entered-in-error"
		s.Do(t, "PUT", "Immunization/"+polio, im).Expect(t, 200)
		p3 := readStoredAnswer(t, s.Do(t, "POST", ref+"/$immds-forecast?assessmentDate=2021-09-01&persist=true", nil).Expect(t, 200))
		if p3.rec["id"] != recID || p3.rec["meta"].(map[string]any)["versionId"] != "2" || p3.rec["date"] != "2021-09-01" {
			t.Errorf("replaced recommendation: id %v meta %v date %v", p3.rec["id"], p3.rec["meta"], p3.rec["date"])
		}
		if n, _ := searchTotal(t, s, "ImmunizationRecommendation?patient="+pid); n != 1 {
			t.Errorf("%d recommendations after the second run, want 1", n)
		}
		if n, _ := searchTotal(t, s, "ImmunizationEvaluation?patient="+pid); n != 5 {
			t.Errorf("%d stored evaluations after the dose was deleted, want 5", n)
		}
		if n, _ := searchTotal(t, s, fmt.Sprintf("ImmunizationRecommendation/%s/_history", recID)); n != 2 {
			t.Errorf("recommendation history has %d versions, want 2", n)
		}
	})
}
