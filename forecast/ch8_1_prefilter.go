package forecast

// Section 8.1, Pre-Filter Patient Series (Table 8-2: SELECTB-24,
// SELECTSCORE-2).

// startable reports whether the patient has reached the series' minimum
// age to start. A series without valid doses that the patient is too young
// to start (an infant and "Pneumococcal 50+" or "RSV 75 years+") is no path
// for the patient yet, not even as the default series. (The maximum age to
// start does not exclude a default series: CDC forecasts an unvaccinated
// 27-year-old from the default HPV 2-dose series.)
func (p *patient) startable(r *seriesRun) bool {
	return p.ageDate(r.s.minAgeToStart, MinDate) <= p.asOf
}

// riskStartable: a risk series the patient has started (a valid dose) or
// can start now — within its minimum and maximum age to start. An adult at
// risk during an outbreak is not scored on the infant "Hib-MenCY-TT 4-dose
// series" (maximum age to start 16 months), so the lower-priority adult
// series can be chosen.
func (p *patient) riskStartable(r *seriesRun) bool {
	if r.satisfiedCount() > 0 {
		return true
	}
	return p.startable(r) && p.asOf < p.ageDate(r.s.maxAgeToStart, MaxDate)
}

// scorableSeries is section 8.1: SELECTB-24 (candidate scorable series) and
// SELECTSCORE-2 (scorable series).
func (p *patient) scorableSeries(group []*seriesRun) []*seriesRun {
	allContra := true
	var topPriority byte = 'Z' + 1
	noValid := true
	startableDefault := false
	for _, r := range group {
		if r.fc.status != Contraindicated {
			allContra = false
		}
		if r.s.typ == seriesRisk && r.s.priority < topPriority && p.riskStartable(r) {
			topPriority = r.s.priority
		}
		if r.satisfiedCount() > 0 {
			noValid = false
		}
		if r.s.defaultSeries && p.startable(r) {
			startableDefault = true
		}
	}
	out := p.sc.runPtrs.room(len(group))
	for _, r := range group {
		if r.fc.status == Contraindicated && !allContra { // SELECTB-24
			continue
		}
		ok := false
		switch r.s.typ {
		case seriesRisk:
			ok = r.s.priority == topPriority && p.riskStartable(r)
		case seriesStandard:
			if first := firstValidDate(r); first != 0 {
				ok = first < p.ageDate(r.s.maxAgeToStart, MaxDate)
			} else {
				ok = noValid && !startableDefault && p.startable(r)
			}
		case seriesEvaluationOnly:
			ok = r.fc.status == Complete
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}
