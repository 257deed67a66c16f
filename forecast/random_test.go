package forecast_test

import (
	"math/rand"
	"strconv"
	"testing"

	"github.com/immunis/immunis/forecast"
)

// TestRandomPatients throws random histories (any CVX, odd dates, duplicate
// doses, observations, conditions) at the engine: it must answer every one
// without error or panic, with a forecast per vaccine group and an
// evaluation for every evaluated dose.
func TestRandomPatients(t *testing.T) {
	eng := engine(t)
	r := rand.New(rand.NewSource(1))
	n := 3000
	if testing.Short() {
		n = 300
	}
	obsCodes := eng.ObservationCodes()
	for i := 0; i < n; i++ {
		dob := forecast.NewDate(1930+r.Intn(96), 1+r.Intn(12), 1+r.Intn(28))
		asOf := dob.AddDays(r.Intn(90 * 365))
		if asOf > forecast.MustDate("2030-12-31") {
			asOf = forecast.MustDate("2030-12-31")
		}
		in := forecast.Input{BirthDate: dob, AssessmentDate: asOf, Gender: forecast.Gender(r.Intn(4)), Trace: r.Intn(10) == 0}
		for k := r.Intn(25); k > 0; k-- {
			d := forecast.Dose{
				ID:   strconv.Itoa(k),
				Date: dob.AddDays(r.Intn(int(asOf-dob) + 30)), // some after the assessment date
				CVX:  strconv.Itoa(r.Intn(340)),
				MVX:  []string{"", "PMC", "SKB", "MSD"}[r.Intn(4)],
			}
			switch r.Intn(20) {
			case 0:
				d.Condition = forecast.SubStandard
			case 1:
				d.Condition = forecast.NotAdministered
			case 2:
				d.LotExpiration = d.Date.AddDays(-1)
			}
			in.Doses = append(in.Doses, d)
		}
		for k := r.Intn(3); k > 0; k-- {
			o := forecast.Observation{Code: obsCodes[r.Intn(len(obsCodes))]}
			if r.Intn(2) == 0 {
				o.Date = dob.AddDays(r.Intn(int(asOf-dob) + 1))
			}
			in.Observations = append(in.Observations, o)
		}
		res, err := eng.Forecast(in)
		if err != nil {
			t.Fatalf("patient %d: %v", i, err)
		}
		if len(res.Groups) != 26 {
			t.Fatalf("patient %d: %d group forecasts", i, len(res.Groups))
		}
		for _, g := range res.Groups {
			if g.Status == forecast.NotComplete && (g.DoseNumber < 1 || g.Earliest.IsZero() || g.Recommended < g.Earliest) {
				t.Fatalf("patient %d: inconsistent %s forecast %+v", i, g.VaccineGroup, g)
			}
			if g.PastDue != 0 && g.PastDue < g.Earliest {
				t.Fatalf("patient %d: %s past due before earliest", i, g.VaccineGroup)
			}
		}
		for _, ev := range res.Evaluations {
			if ev.Status == 0 || ev.DoseID == "" {
				t.Fatalf("patient %d: evaluation %+v", i, ev)
			}
		}
	}
}
