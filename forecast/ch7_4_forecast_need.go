package forecast

// Section 7.4, Determine Forecast Need (Tables 7-9 to 7-11), with the
// candidate earliest date of FORECASTDTCAN-1 it needs.

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
		rules := p.e.conflictRules(sd.preferable[k].cvx)
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
