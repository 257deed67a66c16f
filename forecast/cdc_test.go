package forecast_test

// The CDC CDSi test cases (testdata/testcases.jsonl, copied from
// ../shared/cdsi/testcases.jsonl) run as one table-driven test. Each case
// tests one vaccine group: every dose's evaluation status for that group and
// the group's forecast (status, dose number, earliest, recommended and
// past-due dates) must match. The pass rate per vaccine group is printed,
// and the test fails when the overall rate or a group's count falls below
// testdata/baseline.json. Raise the baseline as the engine improves; never
// lower it.
//
//	go test ./forecast -run TestCDCCases -v            # the table
//	go test ./forecast -run TestCDCCases -cdc.failures # plus every failure

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/immunis/immunis/forecast"
	"github.com/immunis/immunis/forecast/cdccase"
)

var showFailures = flag.Bool("cdc.failures", false, "log every failing CDC test case with its differences")

type baseline struct {
	Comment string         `json:"comment"`
	Total   int            `json:"total"`
	Passed  int            `json:"passed"`
	Groups  map[string]int `json:"groups"` // passes per vaccine group
}

func loadCases(tb testing.TB) []cdccase.Case {
	tb.Helper()
	cases, err := cdccase.Load("testdata/testcases.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	return cases
}

func input(tb testing.TB, c *cdccase.Case) forecast.Input {
	tb.Helper()
	in, err := c.Input()
	if err != nil {
		tb.Fatalf("case %s: %v", c.ID, err)
	}
	return in
}

// engineOpts: the engine's own test grades a dose's status in the tested
// vaccine group, whichever series (standard or risk) produced it.
var engineOpts = cdccase.Options{}

func TestCDCCases(t *testing.T) {
	eng, err := forecast.Default()
	if err != nil {
		t.Fatal(err)
	}
	cases := loadCases(t)
	type tally struct{ passed, total int }
	byGroup := map[string]*tally{}
	passed := 0
	reasonsWanted, reasonsMatched := 0, 0
	var reasonMisses []string
	var failures []string
	for i := range cases {
		c := &cases[i]
		tl := byGroup[c.VaccineGroup]
		if tl == nil {
			tl = &tally{}
			byGroup[c.VaccineGroup] = tl
		}
		tl.total++
		res, err := eng.Forecast(input(t, c))
		var diffs []string
		if err != nil {
			diffs = []string{"error: " + err.Error()}
		} else {
			diffs = c.Compare(res, engineOpts)
		}
		if err == nil {
			for i, d := range c.Doses {
				want := cdccase.Str(d.ExpectedReasonCode)
				if want == "" {
					continue
				}
				reasonsWanted++
				ev, _ := c.Evaluation(res, i, engineOpts)
				if string(ev.ReasonCode) == want {
					reasonsMatched++
				} else {
					reasonMisses = append(reasonMisses, fmt.Sprintf("%s dose %d: reason %q, want %q", c.ID, d.Seq, ev.ReasonCode, want))
				}
			}
		}
		if len(diffs) == 0 {
			tl.passed++
			passed++
			continue
		}
		failures = append(failures, fmt.Sprintf("%s [%s] %s\n    %s", c.ID, c.VaccineGroup, c.Name, strings.Join(diffs, "\n    ")))
	}

	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-24s %6s %6s %7s\n", "vaccine group", "passed", "cases", "rate")
	for _, g := range groups {
		tl := byGroup[g]
		fmt.Fprintf(&b, "%-24s %6d %6d %6.1f%%\n", g, tl.passed, tl.total, 100*float64(tl.passed)/float64(tl.total))
	}
	fmt.Fprintf(&b, "%-24s %6d %6d %6.1f%%\n", "TOTAL", passed, len(cases), 100*float64(passed)/float64(len(cases)))
	fmt.Fprintf(&b, "evaluation reason codes (not graded): %d of %d expected reasons match\n", reasonsMatched, reasonsWanted)
	t.Log(b.String())
	if *showFailures {
		t.Log("failures:\n" + strings.Join(failures, "\n"))
		t.Log("reason codes that differ:\n" + strings.Join(reasonMisses, "\n"))
	}

	raw, err := os.ReadFile("testdata/baseline.json")
	if err != nil {
		t.Fatalf("read baseline: %v", err)
	}
	var base baseline
	if err := json.Unmarshal(raw, &base); err != nil {
		t.Fatalf("parse baseline: %v", err)
	}
	if base.Total != len(cases) {
		t.Errorf("baseline is for %d cases, test data has %d", base.Total, len(cases))
	}
	if passed < base.Passed {
		t.Errorf("CDC test cases: %d passed, baseline %d", passed, base.Passed)
	}
	for g, want := range base.Groups {
		if tl := byGroup[g]; tl == nil || tl.passed < want {
			got := 0
			if tl != nil {
				got = tl.passed
			}
			t.Errorf("CDC test cases, %s: %d passed, baseline %d", g, got, want)
		}
	}
	if passed > base.Passed {
		t.Logf("%d cases pass, above the baseline of %d: raise testdata/baseline.json", passed, base.Passed)
	}
}

var traceCase = flag.String("cdc.case", "", "print the reasoning trace and result of one CDC test case")

// TestCDCCaseTrace prints the trace of the case named by -cdc.case.
func TestCDCCaseTrace(t *testing.T) {
	if *traceCase == "" {
		t.Skip("no -cdc.case")
	}
	eng, err := forecast.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range loadCases(t) {
		if c.ID != *traceCase {
			continue
		}
		in := input(t, &c)
		in.Trace = true
		res, err := eng.Forecast(in)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s [%s] %s\nobservations %v\n%s", c.ID, c.VaccineGroup, c.Name, in.Observations, strings.Join(res.Trace, "\n"))
		for _, ev := range res.Evaluations {
			t.Logf("eval %+v", ev)
		}
		g, _ := res.Group(c.VaccineGroup)
		t.Logf("group %+v", g)
		for _, a := range res.Additional {
			if a.VaccineGroup == c.VaccineGroup {
				t.Logf("additional %+v", a)
			}
		}
		t.Logf("diffs %v", c.Compare(res, engineOpts))
		return
	}
	t.Fatalf("no case %s", *traceCase)
}
