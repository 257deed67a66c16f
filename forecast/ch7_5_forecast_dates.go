package forecast

// Section 7.5, Generate Forecast Dates and Recommended Vaccines (Tables
// 7-12 and 7-13).

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
