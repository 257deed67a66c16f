package synth

import (
	"bytes"
	"sync/atomic"
	"testing"
)

func TestTableScheduleNext(t *testing.T) {
	s, err := NewTableSchedule()
	if err != nil {
		t.Fatal(err)
	}
	birth := MakeDate(2024, 1, 10)
	at := func(y, m, d int) Date { return MakeDate(y, m, d) }
	doses := func(cvx string, ds ...Date) []Dose {
		var out []Dose
		for _, d := range ds {
			out = append(out, Dose{Date: d, CVX: cvx})
		}
		return out
	}
	tests := []struct {
		name       string
		series     string
		on         Date
		hist       []Dose
		status     DueStatus
		dose       int
		valid      int
		earliest   string
		recommend  string
		earliestBy string
	}{
		{"DTaP 1 at birth", "DTaP", birth, nil, StatusDue, 1, 0, "2024-02-17", "2024-03-10", "min-age"},
		{"DTaP 2 after on-time dose 1", "DTaP", at(2024, 3, 10), doses("20", at(2024, 3, 10)), StatusDue, 2, 1, "2024-04-03", "2024-05-10", "min-interval"},
		{"DTaP 2 given 3 weeks after dose 1 is invalid", "DTaP", at(2024, 4, 1), doses("20", at(2024, 3, 10), at(2024, 3, 31)), StatusDue, 2, 1, "2024-04-03", "2024-05-10", "min-interval"},
		{"MMR before first birthday is invalid", "MMR", at(2025, 1, 1), doses("03", at(2024, 12, 20)), StatusDue, 1, 0, "2025-01-06", "2025-01-10", "min-age"},
		{"MMR inside the 4-day grace is valid", "MMR", at(2025, 1, 8), doses("03", at(2025, 1, 7)), StatusDue, 2, 1, "2025-02-06", "2028-01-10", "min-age"},
		{"PedvaxHIB needs no third primary dose", "Hib", at(2024, 7, 10), doses("49", at(2024, 3, 10), at(2024, 5, 10)), StatusDue, 4, 2, "2025-01-06", "2025-04-10", "min-age"},
		{"ActHIB needs a third primary dose", "Hib", at(2024, 7, 10), doses("48", at(2024, 3, 10), at(2024, 5, 10)), StatusDue, 3, 2, "2024-06-03", "2024-07-10", "min-interval"},
		{"Rotarix complete after two doses", "RV", at(2024, 7, 10), doses("119", at(2024, 3, 10), at(2024, 5, 10)), StatusComplete, 4, 2, "", "", ""},
		{"rotavirus aged out at 8 months", "RV", at(2024, 9, 20), doses("116", at(2024, 3, 10)), StatusAgedOut, 2, 1, "", "", ""},
		{"HepB complete", "HepB", at(2025, 1, 1), doses("08", birth, at(2024, 3, 10), at(2024, 7, 10)), StatusComplete, 4, 3, "", "", ""},
		{"unknown series is complete", "Smallpox", birth, nil, StatusComplete, 0, 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := s.Next(tt.series, birth, tt.on, tt.hist)
			if d.Status != tt.status || d.Dose != tt.dose || d.Valid != tt.valid {
				t.Fatalf("got status %d dose %d valid %d, want %d %d %d", d.Status, d.Dose, d.Valid, tt.status, tt.dose, tt.valid)
			}
			if tt.earliest == "" {
				return
			}
			if d.Earliest.String() != tt.earliest || d.Recommended.String() != tt.recommend || d.EarliestBy != tt.earliestBy {
				t.Errorf("earliest %s (%s) recommended %s, want %s (%s) %s", d.Earliest, d.EarliestBy, d.Recommended, tt.earliest, tt.earliestBy, tt.recommend)
			}
		})
	}
}

// nothingDue is a Forecaster that never wants a dose: the seam the CDSi engine plugs into.
type nothingDue struct{ calls atomic.Int64 }

func (n *nothingDue) Forecast(_, _ Date, _ []Dose, series []string, out []Due) []Due {
	n.calls.Add(1)
	for range series {
		out = append(out, Due{Status: StatusComplete})
	}
	return out
}

func TestConfigScheduleIsUsed(t *testing.T) {
	f := &nothingDue{}
	cfg := smallConfig(300)
	cfg.Schedule = f
	c := generate(t, cfg)
	g, _ := New(cfg)
	childCVX := map[string]bool{}
	for _, p := range g.t.products {
		if p.series[0] == "DTaP" || p.series[0] == "MMR" || p.series[0] == "HepB" {
			childCVX[p.cvx] = true
		}
	}
	if f.calls.Load() == 0 {
		t.Fatal("the configured Forecaster was never asked")
	}
	for i, b := range c.resources {
		if c.types[i] != TypeImmunization {
			continue
		}
		for cvx := range childCVX {
			if bytes.Contains(b, []byte(`"code":"`+cvx+`","display"`)) && bytes.Contains(b, []byte(`"primarySource":true`)) {
				t.Fatalf("a childhood dose (CVX %s) was given although nothing was due: %s", cvx, b)
			}
		}
	}
}
