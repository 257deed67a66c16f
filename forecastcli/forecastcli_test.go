package forecastcli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A CDC test case (2013-0002, DTaP #2 given too young) in the test-case form.
const caseDTaP = `{"id":"2013-0002","patient":{"dob":"2025-09-06","gender":"F"},"assessment_date":"2025-11-10","observations":[],"doses":[{"seq":1,"date":"2025-10-15","cvx":"107","mvx":null,"expected_evaluation_status":"Valid"},{"seq":2,"date":"2025-11-10","cvx":"107","mvx":null}],"expected_forecast":{"series_status":"Not Complete"}}`

const bundle = `{
  "resourceType": "Bundle",
  "type": "collection",
  "entry": [
    {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "2025-09-06", "gender": "female"}},
    {"resource": {"resourceType": "Immunization", "id": "i1", "status": "completed",
      "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "107"}]},
      "occurrenceDateTime": "2025-10-15T10:00:00Z",
      "manufacturer": {"identifier": {"system": "http://hl7.org/fhir/sid/mvx", "value": "PMC"}}}},
    {"resource": {"resourceType": "Immunization", "id": "i2", "status": "completed",
      "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "107"}]},
      "occurrenceDateTime": "2025-11-10"}},
    {"resource": {"resourceType": "Immunization", "id": "i3", "status": "not-done",
      "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "08"}]}}},
    {"resource": {"resourceType": "Immunization", "id": "i4", "status": "entered-in-error",
      "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "08"}]},
      "occurrenceDateTime": "2025-09-07"}}
  ]
}`

const parameters = `{"resourceType":"Parameters","parameter":[{"name":"assessmentDate","valueDate":"2025-11-10"},{"name":"patient","resource":{"resourceType":"Patient","id":"p2","birthDate":"2025-09-06","gender":"male"}},{"name":"immunization","resource":{"resourceType":"Immunization","id":"i1","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"107"}]},"occurrenceDateTime":"2025-10-15"}}]}`

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// group finds one vaccine group in a --json line.
func group(t *testing.T, line, name string) jsonGroup {
	t.Helper()
	var c jsonCase
	if err := json.Unmarshal([]byte(line), &c); err != nil {
		t.Fatalf("bad JSON line %q: %v", line, err)
	}
	for _, g := range c.VaccineGroups {
		if g.VaccineGroup == name {
			return g
		}
	}
	t.Fatalf("no vaccine group %q in %s", name, line)
	return jsonGroup{}
}

func TestJSONOutputUsesTestCaseVocabulary(t *testing.T) {
	code, out, errs := run(t, caseDTaP+"\n", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON line, got %d", len(lines))
	}
	if !strings.HasPrefix(lines[0], `{"id":"2013-0002","vaccine_groups":[`) {
		t.Errorf("line starts %.60s", lines[0])
	}
	g := group(t, lines[0], "DTaP/Tdap/Td")
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	tests := []struct{ field, got, want string }{
		{"series_status", g.SeriesStatus, "Not Complete"},
		{"earliest", str(g.Earliest), "2025-12-08"},
		{"recommended", str(g.Recommended), "2026-01-06"},
		{"past_due", str(g.PastDue), "2026-03-05"},
		{"latest", str(g.Latest), "null"},
		{"dose 1 status", g.Doses[0].EvaluationStatus, "Valid"},
		{"dose 1 reason", str(g.Doses[0].EvaluationReason), "null"},
		{"dose 2 status", g.Doses[1].EvaluationStatus, "Not Valid"},
		{"dose 2 reason", str(g.Doses[1].EvaluationReason), "Age: Too Young"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.field, tt.got, tt.want)
		}
	}
	if g.ForecastDoseNumber == nil || *g.ForecastDoseNumber != 2 {
		t.Errorf("forecast_dose_number = %v, want 2", g.ForecastDoseNumber)
	}
	if rabies := group(t, lines[0], "Rabies"); rabies.ForecastDoseNumber != nil || rabies.Earliest != nil {
		t.Errorf("Rabies without indication should have null dose number and dates: %+v", rabies)
	}
}

func TestBadInputIsReportedAndOthersStillRun(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantErr string
	}{
		{"unparseable", "{not json", "line 2 (case #2): not a JSON object"},
		{"missing birth date", `{"id":"nodob","patient":{"gender":"F"},"doses":[]}`, "line 2 (case nodob): missing birth date"},
		{"unknown CVX", `{"id":"badcvx","patient":{"dob":"2020-01-01"},"assessment_date":"2025-01-01","doses":[{"seq":1,"date":"2020-03-01","cvx":"9999"}]}`, `line 2 (case badcvx): dose 1: unknown CVX "9999"`},
		{"dose before birth", `{"id":"early","patient":{"dob":"2020-01-01"},"assessment_date":"2025-01-01","doses":[{"seq":1,"date":"2019-03-01","cvx":"08"}]}`, "line 2 (case early): bad dose 1"},
		{"bad date", `{"id":"baddate","patient":{"dob":"2020-02-30"},"doses":[]}`, "line 2 (case baddate): patient.dob"},
		{"other resource", `{"resourceType":"Patient","id":"x"}`, `line 2 (case x): resourceType "Patient"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := caseDTaP + "\n" + tt.line + "\n" + caseDTaP + "\n"
			code, out, errs := run(t, in, "--json")
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(errs, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errs, tt.wantErr)
			}
			if n := strings.Count(out, `{"id":"2013-0002"`); n != 2 {
				t.Errorf("the good cases produced %d lines, want 2", n)
			}
		})
	}
}

func TestFHIRInput(t *testing.T) {
	tests := []struct {
		name   string
		input  string
		args   []string
		checks []string
	}{
		{"bundle table", bundle, []string{"--date", "2025-11-10"},
			[]string{"Patient p1", "DTaP/Tdap/Td", "Not Complete", "2025-12-08", "Too young", "Diphtheria standard series"}},
		{"parameters json", parameters, []string{"--json"},
			[]string{`"id":"p2"`, `"vaccine_group":"DTaP/Tdap/Td","series_status":"Not Complete","forecast_dose_number":2,"earliest":"2025-11-15"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := run(t, tt.input, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			for _, c := range tt.checks {
				if !strings.Contains(out, c) {
					t.Errorf("output lacks %q:\n%s", c, out)
				}
			}
		})
	}
	// The not-done and entered-in-error records are not doses.
	_, out, _ := run(t, bundle, "--json", "--date", "2025-11-10")
	if g := group(t, strings.TrimSpace(out), "HepB"); len(g.Doses) != 0 {
		t.Errorf("HepB doses %+v, want none", g.Doses)
	}
}

func TestDateOverrideAndFlagsAfterFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cases.jsonl")
	if err := os.WriteFile(file, []byte(caseDTaP+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "", file, "--json", "--date", "2026-06-01")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	// As of 2026-06-01 dose 2 (given 2025-11-10) still counts as too young,
	// and the forecast dates do not move; the status is unchanged.
	g := group(t, strings.TrimSpace(out), "DTaP/Tdap/Td")
	if g.SeriesStatus != "Not Complete" || g.Earliest == nil || *g.Earliest != "2025-12-08" {
		t.Errorf("got %+v", g)
	}
	// A date before the birth date is bad input for that case.
	code, _, errs = run(t, caseDTaP, "--json", "--date", "2025-01-01")
	if code != 1 || !strings.Contains(errs, "before birth date") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"-h"}, 0, "usage: immunis forecast"},
		{"unknown flag", []string{"--bogus"}, 2, "flag provided but not defined"},
		{"bad date", []string{"--date", "2025-13-01"}, 2, "--date"},
		{"two files", []string{"a", "b"}, 2, "at most one FILE"},
		{"missing file", []string{"/nonexistent/cases.jsonl"}, 2, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := run(t, "", tt.args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d stderr %q; want %d and %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestEmptyInput(t *testing.T) {
	if code, out, errs := run(t, "\n\n"); code != 0 || out != "" || errs != "" {
		t.Errorf("exit %d out %q err %q", code, out, errs)
	}
}

func TestSplitCases(t *testing.T) {
	tests := []struct {
		name  string
		input string
		lines []int // starting line of each case
	}{
		{"json lines", "{\"a\":1}\n\n{\"b\":2}\n", []int{1, 3}},
		{"bad first line", "oops\n{\"b\":2}\n", []int{1, 2}},
		{"pretty document", "\n\n{\n  \"resourceType\": \"Bundle\"\n}\n", []int{3}},
		{"broken pretty document", "{\n  \"resourceType\": \n", []int{1}},
		{"one line", "{\"a\":1}", []int{1}},
		{"empty", " \n\t\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for _, c := range splitCases([]byte(tt.input)) {
				got = append(got, c.line)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.lines) {
				t.Errorf("case lines %v, want %v", got, tt.lines)
			}
		})
	}
}
