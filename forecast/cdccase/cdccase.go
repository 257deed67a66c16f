// Package cdccase reads the CDC CDSi test cases in their normalized JSON
// Lines form (the schema in shared/cdsi/README.md) and compares the engine's
// answers with what a case expects. The engine's own test, the `immunis
// forecast` CLI and the $immds-forecast end-to-end test all use it, so
// "passes a CDC case" means one thing across them. It imports `forecast`.
package cdccase

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/immunis/immunis/forecast"
)

// Case is one CDC test case (the fields this project reads).
type Case struct {
	ID             string `json:"id"`
	Suite          string `json:"suite"`
	Name           string `json:"name"`
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
		ExpectedReasonCode       *string `json:"expected_evaluation_reason_code"`
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

// Load reads a JSON Lines file of cases.
func Load(path string) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open CDC test cases: %w", err)
	}
	defer f.Close()
	var cases []Case
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		var c Case
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return cases, nil
}

// Str is the value of an optional field ("" when absent).
func Str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// DoseID is the engine dose id of the i-th dose: its seq (its position
// when the case gives none).
func (c *Case) DoseID(i int) string {
	if s := c.Doses[i].Seq; s != 0 {
		return strconv.Itoa(s)
	}
	return strconv.Itoa(i + 1)
}

// Input turns the case into the engine's input, checking what the engine
// needs (birth date, dates, codes); the expected_* fields are ignored.
func (c *Case) Input() (forecast.Input, error) {
	var in forecast.Input
	if strings.TrimSpace(c.Patient.DOB) == "" {
		return in, errors.New("missing birth date (patient.dob)")
	}
	var err error
	if in.BirthDate, err = forecast.ParseDate(c.Patient.DOB); err != nil {
		return in, fmt.Errorf("patient.dob: %w", err)
	}
	in.Gender = forecast.ParseGender(c.Patient.Gender)
	if c.AssessmentDate != "" {
		if in.AssessmentDate, err = forecast.ParseDate(c.AssessmentDate); err != nil {
			return in, fmt.Errorf("assessment_date: %w", err)
		}
	}
	for i, o := range c.Observations {
		obs := forecast.Observation{Code: strings.TrimSpace(o.Code)}
		if obs.Code == "" {
			return in, fmt.Errorf("observation %d: missing code", i+1)
		}
		if o.Date != nil && *o.Date != "" {
			if obs.Date, err = forecast.ParseDate(*o.Date); err != nil {
				return in, fmt.Errorf("observation %d: %w", i+1, err)
			}
		}
		in.Observations = append(in.Observations, obs)
	}
	for i, d := range c.Doses {
		id := c.DoseID(i)
		dose := forecast.Dose{ID: id, CVX: strings.TrimSpace(d.CVX), MVX: Str(d.MVX)}
		if d.Date == "" {
			return in, fmt.Errorf("dose %s: missing date", id)
		}
		if dose.Date, err = forecast.ParseDate(d.Date); err != nil {
			return in, fmt.Errorf("dose %s: %w", id, err)
		}
		if dose.CVX == "" {
			return in, fmt.Errorf("dose %s: missing CVX", id)
		}
		in.Doses = append(in.Doses, dose)
	}
	return in, nil
}

// Options say how to read a case's expected dose statuses.
type Options struct {
	// BySeriesType takes a dose's status from the series type the case
	// names (expected_series_type, underlying-condition cases) when the
	// result has one; answers that report the other best series (the
	// $immds-forecast extension) are compared this way.
	BySeriesType bool
}

// Evaluation is the dose's evaluation the case grades: in the tested
// vaccine group, else (a varicella dose in an MMR case) in whichever group
// evaluated it.
func (c *Case) Evaluation(res forecast.Result, i int, opt Options) (forecast.DoseEvaluation, bool) {
	id := c.DoseID(i)
	ev, ok := res.GroupEvaluation(c.VaccineGroup, id)
	if st := Str(c.Doses[i].ExpectedSeriesType); opt.BySeriesType && st != "" {
		if e, found := res.SeriesEvaluation(c.VaccineGroup, id, st); found {
			ev, ok = e, true
		}
	}
	if !ok {
		for _, g := range res.Groups {
			if e, found := res.GroupEvaluation(g.VaccineGroup, id); found {
				return e, true
			}
		}
	}
	return ev, ok
}

// Compare returns the differences between an engine result and the case:
// every dose's evaluation status and the vaccine group's forecast.
func (c *Case) Compare(res forecast.Result, opt Options) []string {
	var diffs []string
	for i, d := range c.Doses {
		want := Str(d.ExpectedEvaluationStatus)
		ev, ok := c.Evaluation(res, i, opt)
		got := ""
		if ok {
			got = ev.Status.String()
		}
		if want != got {
			diffs = append(diffs, fmt.Sprintf("dose %s (%s CVX %s): status %q, want %q (reason %s, want %s)",
				c.DoseID(i), d.Date, d.CVX, got, want, ev.ReasonCode, Str(d.ExpectedReasonCode)))
		}
	}
	g, ok := res.Group(c.VaccineGroup)
	if !ok {
		return append(diffs, "no forecast for "+c.VaccineGroup)
	}
	diffs = append(diffs, c.CompareForecast(g.Status.String(), g.DoseNumber, g.Earliest.String(), g.Recommended.String(), g.PastDue.String())...)
	if len(diffs) > 0 {
		diffs = append(diffs, fmt.Sprintf("(series %q, %s)", g.SeriesName, g.Reason))
	}
	return diffs
}

// CompareForecast compares a vaccine-group forecast, given in the
// test-case vocabulary (dates as YYYY-MM-DD, "" for none), with the case.
func (c *Case) CompareForecast(status string, doseNumber int, earliest, recommended, pastDue string) []string {
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
	for _, x := range [][3]string{{"earliest", earliest, Str(e.Earliest)}, {"recommended", recommended, Str(e.Recommended)}, {"past due", pastDue, Str(e.PastDue)}} {
		if x[1] != x[2] {
			diffs = append(diffs, fmt.Sprintf("%s %q, want %q", x[0], x[1], x[2]))
		}
	}
	return diffs
}
