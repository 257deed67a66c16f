package forecast_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/immunis/immunis/forecast"
)

// BenchmarkForecastTestSet evaluates and forecasts every vaccine group for
// every patient of the CDC test set (1013 patients, 0–7 doses); one op is
// one patient. BenchmarkForecastChild does the same for a fully vaccinated
// 6-year-old with 20 doses, the reference patient.
//
//	go test ./forecast -run '^$' -bench . -benchmem -cpu 1
//
// Besides ns/op and allocs/op, each reports patients/s (wall clock) and
// patients/cpu-s (per second of CPU time of the process, garbage
// collection included), the per-core rate on a machine shared with other
// work.
func BenchmarkForecastTestSet(b *testing.B) {
	eng, err := forecast.Default()
	if err != nil {
		b.Fatal(err)
	}
	cases := loadCases(b)
	inputs := make([]forecast.Input, len(cases))
	for i := range cases {
		inputs[i] = input(b, &cases[i])
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := eng.Forecast(inputs[i%len(inputs)]); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu0)
}

// reportRates adds patients per wall-clock second and per CPU second of the
// process (user+system, so garbage collection counts): on a shared machine
// the second is the per-core figure that does not depend on other load.
func reportRates(b *testing.B, cpu0 time.Duration) {
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "patients/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "patients/cpu-s")
	}
}

// BenchmarkForecastChild is a typical fully vaccinated 6-year-old: 20
// doses of the routine childhood schedule.
func BenchmarkForecastChild(b *testing.B) {
	eng, err := forecast.Default()
	if err != nil {
		b.Fatal(err)
	}
	in := childInput()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := eng.Forecast(in); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpu0)
}

// childInput: born 2019-01-15, assessed 2025-03-01, 20 routine doses.
func childInput() forecast.Input {
	dob := forecast.MustDate("2019-01-15")
	in := forecast.Input{BirthDate: dob, AssessmentDate: forecast.MustDate("2025-03-01"), Gender: forecast.GenderFemale}
	add := func(date, cvx string) {
		in.Doses = append(in.Doses, forecast.Dose{ID: fmt.Sprint(len(in.Doses) + 1), Date: forecast.MustDate(date), CVX: cvx})
	}
	add("2019-01-16", "08")  // HepB
	add("2019-03-15", "110") // DTaP-HepB-IPV
	add("2019-03-15", "49")  // Hib PRP-OMP
	add("2019-03-15", "133") // PCV13
	add("2019-03-15", "116") // Rotavirus
	add("2019-05-15", "110")
	add("2019-05-15", "49")
	add("2019-05-15", "133")
	add("2019-05-15", "116")
	add("2019-07-15", "110")
	add("2019-07-15", "133")
	add("2019-07-15", "116")
	add("2020-01-15", "03")  // MMR
	add("2020-01-15", "21")  // Varicella
	add("2020-01-15", "83")  // HepA
	add("2020-04-15", "49")  // Hib booster
	add("2020-04-15", "133") // PCV booster
	add("2020-04-15", "20")  // DTaP
	add("2020-07-15", "83")  // HepA
	add("2023-01-20", "94")  // MMRV
	return in
}
