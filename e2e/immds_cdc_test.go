package e2e

// The dev CDC CDSi test cases (forecast/testdata/testcases.jsonl, the file
// the engine's own harness reads) converted to $immds-forecast Parameters
// requests and sent over HTTP to one real server. Each answer is compared
// on forecast status, dose number, dates and dose evaluation status the way
// forecast/cdc_test.go compares the engine's Result; the same test computes
// the engine's pass set with that harness's comparison, and the two sets
// must be equal: the HTTP path passes exactly the cases the engine passes.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/immunis/immunis/forecast"
)

type immdsCase struct {
	ID             string `json:"id"`
	VaccineGroup   string `json:"vaccine_group"`
	AssessmentDate string `json:"assessment_date"`
	Patient        struct {
		DOB    string `json:"dob"`
		Gender string `json:"gender"`
	} `json:"patient"`
	Observations []struct {
		Code string  `json:"code"`
		Date *string `json:"date"`
	} `json:"observations"`
	Doses []struct {
		Seq                      int     `json:"seq"`
		Date                     string  `json:"date"`
		CVX                      string  `json:"cvx"`
		MVX                      *string `json:"mvx"`
		ExpectedEvaluationStatus *string `json:"expected_evaluation_status"`
		ExpectedSeriesType       *string `json:"expected_series_type"`
	} `json:"doses"`
	Expected struct {
		SeriesStatus       string  `json:"series_status"`
		ForecastDoseNumber *int    `json:"forecast_dose_number"`
		Earliest           *string `json:"earliest"`
		Recommended        *string `json:"recommended"`
		PastDue            *string `json:"past_due"`
	} `json:"expected_forecast"`
}

func loadImmdsCases(t *testing.T) []immdsCase {
	t.Helper()
	f, err := os.Open("../forecast/testdata/testcases.jsonl")
	if err != nil {
		t.Fatalf("open CDC test cases: %v", err)
	}
	defer f.Close()
	var cases []immdsCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var c immdsCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

func strOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// input is the case as the engine's harness builds it.
func (c *immdsCase) input() forecast.Input {
	in := forecast.Input{
		AssessmentDate: forecast.MustDate(c.AssessmentDate),
		BirthDate:      forecast.MustDate(c.Patient.DOB),
		Gender:         forecast.ParseGender(c.Patient.Gender),
	}
	for _, d := range c.Doses {
		in.Doses = append(in.Doses, forecast.Dose{ID: fmt.Sprint(d.Seq), Date: forecast.MustDate(d.Date), CVX: d.CVX, MVX: strOr(d.MVX)})
	}
	for _, o := range c.Observations {
		obs := forecast.Observation{Code: o.Code}
		if o.Date != nil {
			obs.Date = forecast.MustDate(*o.Date)
		}
		in.Observations = append(in.Observations, obs)
	}
	return in
}

// parameters is the case as an $immds-forecast request: the IG's
// parameters, plus this server's extensions for what the CDC cases hold
// beyond them (CDSi coded observations, and the evaluations in the other
// best series that underlying-condition cases grade).
func (c *immdsCase) parameters() map[string]any {
	gender := map[string]string{"F": "female", "M": "male"}[c.Patient.Gender]
	if gender == "" {
		gender = "unknown"
	}
	ps := []any{
		map[string]any{"name": "assessmentDate", "valueDate": c.AssessmentDate},
		map[string]any{"name": "patient", "resource": map[string]any{
			"resourceType": "Patient", "id": "p" + strings.ReplaceAll(c.ID, "-", ""), "gender": gender, "birthDate": c.Patient.DOB}},
		map[string]any{"name": "otherSeriesEvaluations", "valueBoolean": true},
	}
	for _, d := range c.Doses {
		im := map[string]any{
			"resourceType": "Immunization", "id": fmt.Sprintf("d%d", d.Seq), "status": "completed",
			"vaccineCode":        map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/cvx", "code": d.CVX}}},
			"patient":            map[string]any{"reference": "Patient/x"},
			"occurrenceDateTime": d.Date,
		}
		if d.MVX != nil {
			im["manufacturer"] = map[string]any{"identifier": map[string]any{"system": "http://hl7.org/fhir/sid/mvx", "value": *d.MVX}}
		}
		ps = append(ps, map[string]any{"name": "immunization", "resource": im})
	}
	for _, o := range c.Observations {
		obs := map[string]any{"resourceType": "Observation", "status": "final",
			"code": map[string]any{"coding": []any{map[string]any{"system": "https://immunis.dev/fhir/CodeSystem/cdsi-observation", "code": o.Code}}}}
		if o.Date != nil {
			obs["effectiveDateTime"] = *o.Date
		}
		ps = append(ps, map[string]any{"name": "observation", "resource": obs})
	}
	return map[string]any{"resourceType": "Parameters", "parameter": ps}
}

// engineDiffs is forecast/cdc_test.go's comparison of a Result, verbatim in
// substance.
func (c *immdsCase) engineDiffs(res forecast.Result) []string {
	var diffs []string
	for _, d := range c.Doses {
		id := fmt.Sprint(d.Seq)
		ev, ok := res.GroupEvaluation(c.VaccineGroup, id)
		if st := strOr(d.ExpectedSeriesType); st != "" {
			if e, found := res.SeriesEvaluation(c.VaccineGroup, id, st); found {
				ev, ok = e, true
			}
		}
		if !ok {
			for _, g := range res.Groups {
				if e, found := res.GroupEvaluation(g.VaccineGroup, id); found {
					ev, ok = e, true
					break
				}
			}
		}
		got := ""
		if ok {
			got = ev.Status.String()
		}
		if got != strOr(d.ExpectedEvaluationStatus) {
			diffs = append(diffs, fmt.Sprintf("dose %d: %q, want %q", d.Seq, got, strOr(d.ExpectedEvaluationStatus)))
		}
	}
	g, ok := res.Group(c.VaccineGroup)
	if !ok {
		return append(diffs, "no forecast")
	}
	return append(diffs, c.forecastDiffs(g.Status.String(), g.DoseNumber, g.Earliest.String(), g.Recommended.String(), g.PastDue.String())...)
}

func (c *immdsCase) forecastDiffs(status string, doseNumber int, earliest, recommended, pastDue string) []string {
	var diffs []string
	e := &c.Expected
	if status != e.SeriesStatus {
		diffs = append(diffs, fmt.Sprintf("series status %q, want %q", status, e.SeriesStatus))
	}
	want := 0
	if e.ForecastDoseNumber != nil {
		want = *e.ForecastDoseNumber
	}
	if doseNumber != want {
		diffs = append(diffs, fmt.Sprintf("dose number %d, want %d", doseNumber, want))
	}
	for _, x := range [][3]string{{"earliest", earliest, strOr(e.Earliest)}, {"recommended", recommended, strOr(e.Recommended)}, {"past due", pastDue, strOr(e.PastDue)}} {
		if x[1] != x[2] {
			diffs = append(diffs, fmt.Sprintf("%s %q, want %q", x[0], x[1], x[2]))
		}
	}
	return diffs
}

// httpDiffs compares an $immds-forecast answer with the case, reading only
// the FHIR resources.
func (c *immdsCase) httpDiffs(a *immdsAnswer) []string {
	var diffs []string
	for _, d := range c.Doses {
		id := fmt.Sprint(d.Seq)
		ev, ok := a.combine(c.VaccineGroup, id, "", false)
		if st := strOr(d.ExpectedSeriesType); st != "" {
			if e, found := a.combine(c.VaccineGroup, id, st, false); found {
				ev, ok = e, true
			} else if e, found := a.combine(c.VaccineGroup, id, st, true); found {
				ev, ok = e, true
			}
		}
		if !ok {
			for _, g := range a.groupOrder {
				if e, found := a.combine(g, id, "", false); found {
					ev, ok = e, true
					break
				}
			}
		}
		got := ""
		if ok {
			got = ev.status
		}
		if got != strOr(d.ExpectedEvaluationStatus) {
			diffs = append(diffs, fmt.Sprintf("dose %d: %q, want %q", d.Seq, got, strOr(d.ExpectedEvaluationStatus)))
		}
	}
	g, ok := a.groups[c.VaccineGroup]
	if !ok {
		return append(diffs, "no recommendation entry")
	}
	return append(diffs, c.forecastDiffs(g.status, g.doseNumber, g.earliest, g.recommended, g.pastDue)...)
}

// immdsAnswer is what httpDiffs reads from the Parameters.
type immdsAnswer struct {
	evals      []httpEval
	groups     map[string]httpGroup
	groupOrder []string
}

type httpEval struct {
	dose, group, status, seriesType string
	other                           bool
}

type httpGroup struct {
	status, earliest, recommended, pastDue string
	doseNumber                             int
}

var (
	cdsiStatus = map[string]string{"valid": "Valid", "not-valid": "Not Valid", "extraneous": "Extraneous", "sub-standard": "Sub-standard"}
	igStatus   = map[string]string{"notComplete": "Not Complete", "complete": "Complete", "immune": "Immune",
		"contraindicated": "Contraindicated", "agedOut": "Aged Out", "notRecommended": "Not Recommended"}
)

// combine is the vaccine-group view of a dose (forecast.Result's
// GroupEvaluation): Not Valid over Sub-standard over Valid over Extraneous.
func (a *immdsAnswer) combine(group, dose, seriesType string, other bool) (httpEval, bool) {
	rank := map[string]int{"Not Valid": 4, "Sub-standard": 3, "Valid": 2, "Extraneous": 1}
	var best httpEval
	found := false
	for _, e := range a.evals {
		if e.group != group || e.dose != dose || e.other != other || (seriesType != "" && !strings.EqualFold(e.seriesType, seriesType)) {
			continue
		}
		if !found || rank[e.status] > rank[best.status] {
			best, found = e, true
		}
	}
	return best, found
}

type fhirCoding struct{ System, Code string }
type fhirCC struct {
	Coding []fhirCoding
	Text   string
}

func (cc fhirCC) code(system string) string {
	for _, c := range cc.Coding {
		if c.System == system {
			return c.Code
		}
	}
	return ""
}

// readAnswer decodes the Parameters into an immdsAnswer.
func readAnswer(body []byte, eng *forecast.Engine) (*immdsAnswer, error) {
	var p struct {
		ResourceType string
		Parameter    []struct {
			Name     string
			Resource struct {
				ResourceType string
				Extension    []struct {
					URL          string
					ValueCode    string
					ValueBoolean bool
				}
				TargetDisease     fhirCC
				ImmunizationEvent struct{ Reference string }
				DoseStatus        fhirCC
				Recommendation    []struct {
					VaccineCode           []fhirCC
					ForecastStatus        fhirCC
					DoseNumberPositiveInt int
					DateCriterion         []struct {
						Code  fhirCC
						Value string
					}
				}
			}
		}
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, err
	}
	a := &immdsAnswer{groups: map[string]httpGroup{}}
	for _, pa := range p.Parameter {
		r := &pa.Resource
		switch pa.Name {
		case "evaluation":
			st, ok := cdsiStatus[r.DoseStatus.code("https://immunis.dev/fhir/CodeSystem/cdsi-evaluation-status")]
			if !ok {
				continue // not evaluated by the engine
			}
			group, ok := eng.VaccineGroupOf(r.TargetDisease.Text)
			if !ok {
				return nil, fmt.Errorf("targetDisease.text %q is no CDSi antigen", r.TargetDisease.Text)
			}
			e := httpEval{dose: strings.TrimPrefix(r.ImmunizationEvent.Reference, "Immunization/d"), group: group, status: st}
			for _, x := range r.Extension {
				switch x.URL {
				case "https://immunis.dev/fhir/StructureDefinition/cdsi-series-type":
					e.seriesType = strings.ReplaceAll(x.ValueCode, "-", " ")
				case "https://immunis.dev/fhir/StructureDefinition/cdsi-other-series":
					e.other = x.ValueBoolean
				}
			}
			a.evals = append(a.evals, e)
		case "recommendation":
			for _, rec := range r.Recommendation {
				name := rec.VaccineCode[0].Text
				g := httpGroup{status: igStatus[rec.ForecastStatus.code("http://hl7.org/fhir/us/immds/CodeSystem/ForecastStatus")], doseNumber: rec.DoseNumberPositiveInt}
				for _, dc := range rec.DateCriterion {
					switch dc.Code.code("http://loinc.org") {
					case "30981-5":
						g.earliest = dc.Value
					case "30980-7":
						g.recommended = dc.Value
					case "59778-1":
						g.pastDue = dc.Value
					}
				}
				a.groups[name] = g
				a.groupOrder = append(a.groupOrder, name)
			}
		}
	}
	return a, nil
}

func TestImmDSCDCCasesOverHTTP(t *testing.T) {
	eng, err := forecast.Default()
	if err != nil {
		t.Fatal(err)
	}
	cases := loadImmdsCases(t)
	enginePass := map[string]bool{}
	for i := range cases {
		c := &cases[i]
		if res, err := eng.Forecast(c.input()); err == nil && len(c.engineDiffs(res)) == 0 {
			enginePass[c.ID] = true
		}
	}

	s := Start(t, "sqlite", nil)
	var (
		mu       sync.Mutex
		httpPass = map[string]bool{}
		failures []string
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := &cases[i]
				r := s.Do(t, "POST", "$immds-forecast", c.parameters())
				var diffs []string
				if r.Status != 200 {
					diffs = []string{fmt.Sprintf("HTTP %d: %s", r.Status, r.Body)}
				} else if a, err := readAnswer(r.Body, eng); err != nil {
					diffs = []string{"answer: " + err.Error()}
				} else {
					diffs = c.httpDiffs(a)
				}
				mu.Lock()
				if len(diffs) == 0 {
					httpPass[c.ID] = true
				} else {
					failures = append(failures, c.ID+": "+strings.Join(diffs, "; "))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()

	t.Logf("CDC cases: engine passes %d of %d, HTTP passes %d", len(enginePass), len(cases), len(httpPass))
	if len(enginePass) < len(cases)*9/10 {
		t.Errorf("the engine passes only %d of %d cases: the comparison is broken", len(enginePass), len(cases))
	}
	var onlyEngine, onlyHTTP []string
	for id := range enginePass {
		if !httpPass[id] {
			onlyEngine = append(onlyEngine, id)
		}
	}
	for id := range httpPass {
		if !enginePass[id] {
			onlyHTTP = append(onlyHTTP, id)
		}
	}
	sort.Strings(onlyEngine)
	sort.Strings(onlyHTTP)
	if len(onlyEngine)+len(onlyHTTP) > 0 {
		sort.Strings(failures)
		var shown []string
		for _, f := range failures {
			for _, id := range onlyEngine {
				if strings.HasPrefix(f, id+":") {
					shown = append(shown, f)
				}
			}
		}
		t.Errorf("pass sets differ: engine only %v, HTTP only %v\n%s", onlyEngine, onlyHTTP, strings.Join(shown, "\n"))
	}
}
