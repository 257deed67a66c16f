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

// forecastNeedAndDates applies Table 7-10 (7.4) and, when another dose is
// needed, the business rules of Table 7-13 (7.5).
func (p *patient) forecastNeedAndDates(run *seriesRun, doses []*patientDose, ac *antigenContext) seriesForecast {
	fc := seriesForecast{target: -1}
	switch {
	case ac.immune:
		fc.status, fc.reason = Immune, reasonImmune
		return fc
	case ac.contraindicated:
		fc.status, fc.reason = Contraindicated, reasonContraindicated
		return fc
	case run.cur >= len(run.targets):
		if run.satisfiedCount() > 0 {
			fc.status, fc.reason = Complete, reasonComplete
		} else {
			fc.status, fc.reason = NotRecommended, reasonNotRecommended
		}
		return fc
	}
	t := &run.targets[run.cur]
	sd := &run.s.doses[t.sd]
	if p.allPreferableContraindicated(sd) { // Table 7-7
		fc.status, fc.reason = Contraindicated, reasonContraindicated
		return fc
	}
	age := relevantAge(sd, p.asOf)
	maxAgeDate := MaxDate
	if age != nil {
		maxAgeDate = p.ageDate(age.maxAge, MaxDate) // CALCDTAGE-1
	}
	if p.asOf >= maxAgeDate {
		fc.status, fc.reason = AgedOut, reasonExceededMaxAge
		return fc
	}
	if sd.seasonEnd != 0 && p.asOf > sd.seasonEnd {
		fc.status, fc.reason = NotRecommended, reasonPastSeason
		return fc
	}
	fc.earliest = p.candidateEarliest(run, sd, age, doses) // FORECASTDTCAN-1
	if fc.earliest >= maxAgeDate {
		fc.status, fc.reason = AgedOut, reasonCannotFinish
		return fc
	}
	fc.status = NotComplete
	fc.target = run.cur
	// The other dates (7.5) are computed only for the best series, when
	// chapter 9 needs them (completeDates).
	return fc
}

// candidateEarliest is FORECASTDTCAN-1: the latest of the minimum age date,
// the minimum interval dates, the forecast conflict end dates, the
// seasonal recommendation start date, and the dates of the doses already
// evaluated against the series' target doses.
//
// When none of these dates exists (a target dose without minimum age, with
// nothing before it to measure an interval from) the candidate earliest
// date takes its assumed value 12/31/2999 (Table 7-9): no date can be
// forecast and the series cannot be finished.
func (p *patient) candidateEarliest(run *seriesRun, sd *seriesDose, age *ageRule, doses []*patientDose) Date {
	var ce Date
	if age != nil && age.minAge.set {
		ce = maxDate(ce, p.ageDate(age.minAge, 0)) // CALCDTAGE-4
	}
	for k := range sd.intervals {
		iv := &sd.intervals[k]
		if !activeOn(iv.effective, iv.cessation, p.asOf) || !iv.minInt.set {
			continue
		}
		if ref, ok := p.referenceDate(run, iv, len(doses), doses); ok {
			ce = maxDate(ce, ref.Add(iv.minInt)) // CALCDTINT-4
		}
	}
	ce = maxDate(ce, p.forecastConflictEnd(run, sd, doses))
	if sd.seasonStart != 0 {
		ce = maxDate(ce, sd.seasonStart)
	}
	for i := range run.evals {
		if run.evals[i].target >= 0 {
			ce = maxDate(ce, doses[i].date)
		}
	}
	if ce == 0 {
		return MaxDate
	}
	return ce
}

// forecastConflictEnd is the latest conflict end date (CALCDTCONFLICT-2)
// that an earlier dose imposes on the preferable vaccines of the target.
func (p *patient) forecastConflictEnd(run *seriesRun, sd *seriesDose, doses []*patientDose) Date {
	if len(p.live) == 0 {
		return 0
	}
	var latest Date
	for k := range sd.preferable {
		rules := p.e.conflictsByCurrent[sd.preferable[k].cvx]
		for r := range rules {
			for _, prev := range p.live {
				if prev.cvx != rules[r].previous {
					continue
				}
				_, end := conflictWindow(&rules[r], prev.date, p.previousStatus(run, prev, doses))
				latest = maxDate(latest, end)
			}
		}
	}
	return latest
}

// completeDates applies FORECASTDT-2 … -6, FORECASTRECVAC-1, FORECASTDN-1
// and FORECASTPRIORITY-1 to a series forecast that needs another dose
// (FORECASTDT-1, the earliest date, is set by forecastNeedAndDates). Only
// best series need these, so they are computed on demand, once.
func (p *patient) completeDates(run *seriesRun) {
	fc := &run.fc
	if fc.status != NotComplete || fc.datesDone {
		return
	}
	fc.datesDone = true
	doses := run.doses
	sd := &run.s.doses[run.targets[fc.target].sd]
	age := relevantAge(sd, p.asOf)
	var earliestRecInt, latestRecInt Date
	nIntervals, nPriority := 0, 0
	for k := range sd.intervals {
		iv := &sd.intervals[k]
		if !activeOn(iv.effective, iv.cessation, p.asOf) {
			continue
		}
		nIntervals++
		if iv.priorityOverride {
			nPriority++
		}
		ref, ok := p.referenceDate(run, iv, len(doses), doses)
		if !ok {
			continue
		}
		if iv.earliestRecInt.set {
			earliestRecInt = maxDate(earliestRecInt, ref.Add(iv.earliestRecInt)) // CALCDTINT-5
		}
		if iv.latestRecInt.set {
			latestRecInt = maxDate(latestRecInt, ref.Add(iv.latestRecInt)) // CALCDTINT-6
		}
	}
	fc.priority = nIntervals > 0 && nPriority == nIntervals

	// FORECASTDT-2: unadjusted recommended date.
	switch {
	case age != nil && age.earliestRecAge.set:
		fc.unadjRecommended = p.ageDate(age.earliestRecAge, 0) // CALCDTAGE-3
	case earliestRecInt != 0:
		fc.unadjRecommended = earliestRecInt
	default:
		fc.unadjRecommended = fc.earliest
	}
	// FORECASTDT-3: unadjusted past due date.
	switch {
	case age != nil && age.latestRecAge.set:
		fc.unadjPastDue = p.ageDate(age.latestRecAge, 0).AddDays(-1) // CALCDTAGE-2
	case latestRecInt != 0:
		fc.unadjPastDue = latestRecInt.AddDays(-1)
	}
	// FORECASTDT-4: latest date.
	if age != nil && age.maxAge.set {
		fc.latest = p.ageDate(age.maxAge, 0).AddDays(-1)
	}
	// FORECASTDT-5 and -6: adjusted dates.
	fc.recommended = maxDate(fc.earliest, fc.unadjRecommended)
	if fc.unadjPastDue != 0 {
		fc.pastDue = maxDate(fc.earliest, fc.unadjPastDue)
	}

	// FORECASTRECVAC-1: recommended vaccines.
	fc.vaccines = p.sc.ints.room(len(sd.preferable))
	for k := range sd.preferable {
		pv := &sd.preferable[k]
		if !pv.forecast || p.vaccineContraindicated(run.s.antigen, pv.cvx) {
			continue
		}
		begin := p.ageDate(pv.beginAge, MinDate)
		end := p.ageDate(pv.endAge, MaxDate)
		if (begin <= fc.earliest && fc.earliest < end) || (begin <= fc.recommended && fc.recommended < end) {
			fc.vaccines = append(fc.vaccines, k)
		}
	}

	// FORECASTDN-1: satisfied target doses (this season's only, for
	// seasonal doses) plus one.
	n := 0
	for i := range run.targets {
		t := &run.targets[i]
		if t.status != tdSatisfied {
			continue
		}
		tsd := &run.s.doses[t.sd]
		if tsd.seasonStart == 0 || doses[t.dose].date >= tsd.seasonStart {
			n++
		}
	}
	fc.doseNumber = n + 1

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
