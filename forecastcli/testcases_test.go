package forecastcli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestCDCCasesThroughCLI feeds the CDC test cases to the subcommand with
// --json and compares every expected field with the output, as a consumer
// comparing field by field would; it must pass at least as many cases as
// the engine's own test (forecast/testdata/baseline.json).
func TestCDCCasesThroughCLI(t *testing.T) {
	data, err := os.ReadFile("../forecast/testdata/testcases.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Run([]string{"--json"}, bytes.NewReader(data), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	results := map[string]jsonCase{}
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c jsonCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		results[c.ID] = c
	}

	type expected struct {
		ID           string `json:"id"`
		VaccineGroup string `json:"vaccine_group"`
		Doses        []struct {
			Seq    int     `json:"seq"`
			Status *string `json:"expected_evaluation_status"`
		} `json:"doses"`
		Forecast struct {
			SeriesStatus string  `json:"series_status"`
			DoseNumber   *int    `json:"forecast_dose_number"`
			Earliest     *string `json:"earliest"`
			Recommended  *string `json:"recommended"`
			PastDue      *string `json:"past_due"`
		} `json:"expected_forecast"`
	}
	eq := func(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
	total, passed := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e expected
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		total++
		c, ok := results[e.ID]
		if !ok {
			continue
		}
		var g *jsonGroup
		for i := range c.VaccineGroups {
			if c.VaccineGroups[i].VaccineGroup == e.VaccineGroup {
				g = &c.VaccineGroups[i]
			}
		}
		if g == nil {
			continue
		}
		good := g.SeriesStatus == e.Forecast.SeriesStatus &&
			((g.ForecastDoseNumber == nil && e.Forecast.DoseNumber == nil) ||
				(g.ForecastDoseNumber != nil && e.Forecast.DoseNumber != nil && *g.ForecastDoseNumber == *e.Forecast.DoseNumber)) &&
			eq(g.Earliest, e.Forecast.Earliest) && eq(g.Recommended, e.Forecast.Recommended) && eq(g.PastDue, e.Forecast.PastDue)
		for _, d := range e.Doses {
			found := false
			for _, gd := range g.Doses {
				if gd.Seq == d.Seq {
					found = d.Status != nil && gd.EvaluationStatus == *d.Status
				}
			}
			good = good && found
		}
		if good {
			passed++
		} else if testing.Verbose() {
			t.Logf("differs: %s", e.ID)
		}
	}
	raw, err := os.ReadFile("../forecast/testdata/baseline.json")
	if err != nil {
		t.Fatal(err)
	}
	var base struct {
		Passed int `json:"passed"`
	}
	if err := json.Unmarshal(raw, &base); err != nil {
		t.Fatal(err)
	}
	t.Logf("CDC test cases through the CLI: %d of %d pass", passed, total)
	if passed < base.Passed {
		t.Errorf("%d cases pass through the CLI, the engine baseline is %d", passed, base.Passed)
	}
}
