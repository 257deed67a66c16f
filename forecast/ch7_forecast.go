package forecast

// Chapter 7, Forecast Dates and Reasons (Figure 7-1): 7.1 conditional
// skip, 7.2 evidence of immunity and 7.3 contraindications (antigen level,
// in ch7_2 and ch7_3), 7.4 forecast need, 7.5 forecast dates and
// recommended vaccines, 7.6 validate recommendation.

// Forecast reasons (Table 7-10).
const (
	reasonComplete        = "Patient series is complete"
	reasonNotRecommended  = "Not recommended at this time due to past immunization history"
	reasonImmune          = "Patient has evidence of immunity"
	reasonContraindicated = "Patient has a contraindication"
	reasonPastSeason      = "Past seasonal recommendation end date"
	reasonExceededMaxAge  = "Patient has exceeded the maximum age"
	reasonCannotFinish    = "Patient is unable to finish the series prior to the maximum age"
)

// seriesForecast is the patient series forecast of one relevant series.
type seriesForecast struct {
	status     SeriesStatus
	reason     string
	target     int // index in seriesRun.targets, -1 when nothing is forecast
	doseNumber int
	// Adjusted dates (FORECASTDT-1, -4, -5, -6) and the unadjusted ones
	// (FORECASTDT-2, -3).
	earliest, recommended, pastDue, latest Date
	unadjRecommended, unadjPastDue         Date
	vaccines                               []int // indexes in the target's preferable vaccines
	priority                               bool  // FORECASTPRIORITY-1
	datesDone                              bool  // completeDates has run
}

// forecastSeries runs chapter 7 for one evaluated series.
func (p *patient) forecastSeries(run *seriesRun, doses []*patientDose, ac *antigenContext) {
	sr := run.s
	for guard := 0; guard <= len(sr.doses)+1; guard++ {
		// 7.1 Evaluate conditional skip with the assessment date (CONDSKIP-2).
		for run.cur < len(run.targets) {
			t := &run.targets[run.cur]
			if !p.canSkip(run, &sr.doses[t.sd], contextForecast, p.asOf, len(doses), doses, ac) {
				break
			}
			if p.tr != nil {
				p.tr.printf("  %s: target dose %d skipped for the forecast", sr.name, run.cur+1)
			}
			t.status = tdSkipped
			run.advance()
		}

		run.fc = p.forecastNeedAndDates(run, doses, ac) // 7.2 – 7.5
		if run.fc.status != NotComplete {
			return
		}
		// 7.6 Validate recommendation: can the target dose be skipped on the
		// earliest date? Then forecast the next target dose instead.
		t := &run.targets[run.cur]
		if !p.canSkip(run, &sr.doses[t.sd], contextForecast, run.fc.earliest, len(doses), doses, ac) {
			return
		}
		if p.tr != nil {
			p.tr.printf("  %s: target dose %d would be skipped on its earliest date %s; re-forecasting", sr.name, run.cur+1, run.fc.earliest)
		}
		t.status = tdSkipped
		run.advance()
	}
}

func maxDate(a, b Date) Date {
	if a > b {
		return a
	}
	return b
}

func minNonZero(a, b Date) Date {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	case a < b:
		return a
	}
	return b
}
