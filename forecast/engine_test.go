package forecast_test

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/immunis/immunis/forecast"
)

func engine(t testing.TB) *forecast.Engine {
	t.Helper()
	eng, err := forecast.Default()
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func TestLookups(t *testing.T) {
	eng := engine(t)
	groups := eng.VaccineGroups()
	if len(groups) != 26 || !slices.Contains(groups, "DTaP/Tdap/Td") || !slices.Contains(groups, "Meningococcal B") {
		t.Errorf("VaccineGroups = %v", groups)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"antigens of MMR", eng.Antigens("MMR"), []string{"Measles", "Mumps", "Rubella"}},
		{"antigens of DTaP group", eng.Antigens("dtap/tdap/td"), []string{"Diphtheria", "Pertussis", "Tetanus"}},
		{"antigen itself", eng.Antigens("Pertussis"), []string{"Pertussis"}},
		{"unknown", eng.Antigens("Smallpox"), []string(nil)},
		{"group of antigen", first(eng.VaccineGroupOf("Mumps")), "MMR"},
		{"unspecified DTaP", first(eng.UnspecifiedCVX("DTaP/Tdap/Td")), "107"},
		{"unspecified HepB", first(eng.UnspecifiedCVX("HepB")), "45"},
		{"unspecified Hib", first(eng.UnspecifiedCVX("Hib")), "17"},
		{"no unspecified MMR", first(eng.UnspecifiedCVX("MMR")), ""},
		{"known CVX", eng.KnownCVX("03"), true},
		{"known CVX unpadded", eng.KnownCVX("3"), true},
		{"known non-vaccine", eng.KnownCVX("998"), true},
		{"unknown CVX", eng.KnownCVX("9999"), false},
		{"malformed CVX", eng.KnownCVX("MMR"), false},
		{"CVX antigens Pediarix", eng.CVXAntigens("110"), []string{"Diphtheria", "Tetanus", "Pertussis", "HepB", "Polio"}},
		{"CVX antigens none", eng.CVXAntigens("998"), []string(nil)},
		{"CVX description", eng.CVXDescription("03"), "MMR"},
		{"observation title", eng.ObservationTitle("7"), "Pregnant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if codes := eng.ObservationCodes(); len(codes) < 200 || codes[0] != "001" {
		t.Errorf("ObservationCodes: %d codes, first %q", len(codes), codes[0])
	}
}

func first[T any](v T, _ bool) T { return v }

func TestInputErrors(t *testing.T) {
	eng := engine(t)
	ok := forecast.Input{BirthDate: forecast.MustDate("2020-01-01"), AssessmentDate: forecast.MustDate("2025-01-01")}
	tests := []struct {
		name   string
		modify func(*forecast.Input)
		want   error
		text   string
	}{
		{"no birth date", func(in *forecast.Input) { in.BirthDate = 0 }, forecast.ErrNoBirthDate, "birth date"},
		{"no assessment date", func(in *forecast.Input) { in.AssessmentDate = 0 }, forecast.ErrNoAssessmentDate, "assessment date"},
		{"assessed before birth", func(in *forecast.Input) { in.AssessmentDate = forecast.MustDate("2019-01-01") }, nil, "before birth date"},
		{"dose without date", func(in *forecast.Input) { in.Doses = []forecast.Dose{{ID: "a", CVX: "03"}} }, forecast.ErrBadDose, `id "a"`},
		{"malformed CVX", func(in *forecast.Input) {
			in.Doses = []forecast.Dose{{ID: "b", Date: forecast.MustDate("2021-01-01"), CVX: "MMR"}}
		}, forecast.ErrBadDose, "not a CVX code"},
		{"dose before birth", func(in *forecast.Input) {
			in.Doses = []forecast.Dose{{ID: "c", Date: forecast.MustDate("2019-01-01"), CVX: "03"}}
		}, forecast.ErrBadDose, "before the birth date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok
			tt.modify(&in)
			_, err := eng.Forecast(in)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q lacks %q", err, tt.text)
			}
		})
	}
	// A not-administered record needs neither date nor valid CVX handling.
	in := ok
	in.Doses = []forecast.Dose{{ID: "refused", CVX: "03", Condition: forecast.NotAdministered}}
	if _, err := eng.Forecast(in); err != nil {
		t.Errorf("refusal: %v", err)
	}
}

// infant is a 4-month-old with DTaP-HepB-IPV (Pediarix) at 2 months.
func infant(extra ...forecast.Dose) forecast.Input {
	in := forecast.Input{
		BirthDate:      forecast.MustDate("2025-01-10"),
		AssessmentDate: forecast.MustDate("2025-05-10"),
		Gender:         forecast.GenderMale,
		Doses:          []forecast.Dose{{ID: "d1", Date: forecast.MustDate("2025-03-10"), CVX: "110"}},
	}
	in.Doses = append(in.Doses, extra...)
	return in
}

func TestDoseConditions(t *testing.T) {
	eng := engine(t)
	tests := []struct {
		name       string
		dose       forecast.Dose
		wantStatus forecast.EvalStatus // of the dose for DTaP/Tdap/Td; 0: no evaluation
		wantNumber int                 // DTaP forecast dose number
		wantNotice string
	}{
		{"valid second dose", forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-05-10"), CVX: "20"}, forecast.Valid, 3, ""},
		{"too soon", forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-03-20"), CVX: "20"}, forecast.NotValid, 2, ""},
		{"sub-standard", forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-05-10"), CVX: "20", Condition: forecast.SubStandard}, forecast.SubStandardStatus, 2, ""},
		{"expired lot", forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-05-10"), CVX: "20", LotExpiration: forecast.MustDate("2025-05-01")}, forecast.SubStandardStatus, 2, ""},
		{"refused", forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-05-10"), CVX: "20", Condition: forecast.NotAdministered}, 0, 2, ""},
		{"future dose", forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-06-10"), CVX: "20"}, 0, 2, "after the assessment date"},
		{"non-vaccine CVX", forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-05-10"), CVX: "998"}, 0, 2, "carries no antigen"},
		{"unknown CVX", forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-05-10"), CVX: "9998"}, 0, 2, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := eng.Forecast(infant(tt.dose))
			if err != nil {
				t.Fatal(err)
			}
			ev, ok := res.GroupEvaluation("DTaP/Tdap/Td", "d2")
			if got := ev.Status; (ok && got != tt.wantStatus) || (!ok && tt.wantStatus != 0) {
				t.Errorf("status %v (found %v), want %v", got, ok, tt.wantStatus)
			}
			g, _ := res.Group("DTaP/Tdap/Td")
			if g.DoseNumber != tt.wantNumber {
				t.Errorf("dose number %d, want %d", g.DoseNumber, tt.wantNumber)
			}
			if tt.wantNotice != "" && !strings.Contains(strings.Join(res.Notices, "\n"), tt.wantNotice) {
				t.Errorf("notices %q lack %q", res.Notices, tt.wantNotice)
			}
		})
	}
}

func TestResultShape(t *testing.T) {
	eng := engine(t)
	res, err := eng.Forecast(infant())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != len(eng.VaccineGroups()) {
		t.Errorf("%d group forecasts for %d groups", len(res.Groups), len(eng.VaccineGroups()))
	}
	// Pediarix carries five antigens: one evaluation each.
	if len(res.Evaluations) != 5 {
		t.Errorf("%d evaluations, want 5: %+v", len(res.Evaluations), res.Evaluations)
	}
	for _, ev := range res.Evaluations {
		if ev.DoseID != "d1" || ev.Status != forecast.Valid || ev.TargetDose != 1 || ev.SeriesName == "" || ev.SeriesDoses == 0 {
			t.Errorf("evaluation %+v", ev)
		}
	}
	g, _ := res.Group("DTaP/Tdap/Td")
	if g.Status != forecast.NotComplete || g.DoseNumber != 2 || g.Earliest.IsZero() || g.Recommended < g.Earliest ||
		g.SeriesName != "Diphtheria standard series" || len(g.Antigens) != 3 || len(g.Series) != 3 {
		t.Errorf("DTaP forecast %+v", g)
	}
	if res.Trace != nil {
		t.Error("trace collected although not requested")
	}
	hib, _ := res.Group("Hib")
	if len(hib.Vaccines) == 0 && hib.Status == forecast.NotComplete {
		t.Logf("Hib recommends no specific vaccine: %+v", hib)
	}
}

func TestTrace(t *testing.T) {
	in := infant(forecast.Dose{ID: "d2", Date: forecast.MustDate("2025-03-20"), CVX: "20"})
	in.Trace = true
	res, err := engine(t).Forecast(in)
	if err != nil {
		t.Fatal(err)
	}
	trace := strings.Join(res.Trace, "\n")
	for _, want := range []string{"Diphtheria standard series", `dose "d2"`, "Not Valid", "Too soon"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q", want)
		}
	}
}

// TestConcurrentUse runs the CDC cases from several goroutines and checks
// every answer equals the sequential one (run with -race).
func TestConcurrentUse(t *testing.T) {
	eng := engine(t)
	cases := loadCases(t)
	if testing.Short() {
		cases = cases[:100]
	}
	want := make([]string, len(cases))
	for i := range cases {
		res, err := eng.Forecast(input(t, &cases[i]))
		if err != nil {
			t.Fatal(err)
		}
		want[i] = fmt.Sprintf("%+v %+v", res.Groups, res.Evaluations)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(cases); i += 4 {
				res, err := eng.Forecast(input(t, &cases[i]))
				if err != nil || fmt.Sprintf("%+v %+v", res.Groups, res.Evaluations) != want[i] {
					errs <- cases[i].ID
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for id := range errs {
		t.Errorf("case %s differs when run concurrently", id)
	}
}

func TestNewFromFSErrors(t *testing.T) {
	if _, err := forecast.NewFromFS(emptyFS{}); err == nil || !strings.Contains(err.Error(), "supporting data") {
		t.Errorf("empty FS: %v", err)
	}
}

func ExampleEngine_Forecast() {
	eng, err := forecast.Default()
	if err != nil {
		panic(err)
	}
	res, err := eng.Forecast(forecast.Input{
		AssessmentDate: forecast.MustDate("2025-11-10"),
		BirthDate:      forecast.MustDate("2025-09-06"),
		Gender:         forecast.GenderFemale,
		Doses: []forecast.Dose{
			{ID: "1", Date: forecast.MustDate("2025-10-15"), CVX: "107"},
			{ID: "2", Date: forecast.MustDate("2025-11-10"), CVX: "107"},
		},
	})
	if err != nil {
		panic(err)
	}
	g, _ := res.Group("DTaP/Tdap/Td")
	fmt.Println(g.Status, g.DoseNumber, g.Earliest, g.Recommended, g.PastDue)
	ev, _ := res.GroupEvaluation("DTaP/Tdap/Td", "2")
	fmt.Println(ev.Status, ev.ReasonCode)
	// Output:
	// Not Complete 2 2025-12-08 2026-01-06 2026-03-05
	// Not Valid age_too_young
}

// emptyFS is a file system without supporting data.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) { return nil, fs.ErrNotExist }
