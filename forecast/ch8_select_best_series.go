package forecast

// Chapter 8, Select Best Patient Series: per series group, 8.1 pre-filter,
// 8.2 identify one prioritized patient series, 8.3 classify scorable
// series, 8.4–8.6 scoring, 8.7 select the prioritized series; then 8.8
// determine the best patient series across series groups.

// selectBestSeries returns the best patient series of an antigen.
func (p *patient) selectBestSeries(runs []*seriesRun) []*seriesRun {
	groups := p.sc.ints.room(len(runs))
	for _, r := range runs {
		if !containsInt(groups, r.s.group) {
			groups = append(groups, r.s.group)
		}
	}
	prioritized := p.sc.runPtrs.room(len(groups))
	for _, g := range groups {
		in := p.sc.runPtrs.room(len(runs))
		for _, r := range runs {
			if r.s.group == g {
				in = append(in, r)
			}
		}
		if pr := p.prioritizedSeries(in); pr != nil {
			prioritized = append(prioritized, pr)
		}
	}
	return determineBest(prioritized, p.sc.runPtrs.room(len(prioritized))) // 8.8
}

// prioritizedSeries runs 8.1 to 8.7 for the relevant series of one series
// group and returns the prioritized patient series (nil when none).
func (p *patient) prioritizedSeries(group []*seriesRun) *seriesRun {
	scorable := p.scorableSeries(group) // 8.1

	// 8.2, Table 8-3.
	var dflt *seriesRun
	for _, r := range group {
		if r.s.defaultSeries {
			dflt = r
			break
		}
	}
	complete := p.sc.runPtrs.room(len(scorable))
	inProcess := p.sc.runPtrs.room(len(scorable))
	for _, r := range scorable {
		switch {
		case r.fc.status == Complete: // SELECTB-6
			complete = append(complete, r)
		case r.fc.status == NotComplete && r.satisfiedCount() > 0: // SELECTB-16
			inProcess = append(inProcess, r)
		}
	}
	switch {
	case len(scorable) == 0:
		if dflt != nil && dflt.satisfiedCount() == 0 && !p.startable(dflt) {
			return nil
		}
		return dflt
	case len(scorable) == 1:
		return scorable[0]
	case len(complete) == 1:
		return complete[0]
	case len(complete) == 0 && len(inProcess) == 1:
		return inProcess[0]
	case len(complete) == 0 && len(inProcess) == 0 && dflt != nil && containsRun(scorable, dflt):
		return dflt
	}

	// 8.3, Table 8-5: classify, then score (8.4 – 8.6).
	var scored []*seriesRun
	var scores []int
	switch {
	case len(complete) >= 2:
		scored = complete
		scores = p.scoreComplete(complete)
	case len(inProcess) >= 2:
		scored = inProcess
		scores = p.scoreInProcess(inProcess)
	default:
		scored = scorable
		scores = p.scoreNoValidDoses(scorable)
	}
	// 8.7, SELECTBEST-1 and -2: highest score, ties broken by series
	// preference (then data order).
	best := 0
	for i := 1; i < len(scored); i++ {
		switch {
		case scores[i] > scores[best]:
			best = i
		case scores[i] == scores[best] && preference(scored[i]) < preference(scored[best]):
			best = i
		}
	}
	if p.tr != nil {
		for i, r := range scored {
			p.tr.printf("  score %d: %s", scores[i], r.s.name)
		}
	}
	return scored[best]
}

func preference(r *seriesRun) int {
	if r.s.preference == 0 {
		return 1 << 20
	}
	return r.s.preference
}

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

// firstValidDate is the date of the earliest valid dose in the series.
func firstValidDate(r *seriesRun) Date { return r.firstValid }

// finish is SELECTB-12 and SELECTB-3: the forecast finish date — the
// earliest date of the forecast plus, dose after dose, the minimum
// intervals (and minimum ages) of the remaining target doses — and whether
// it comes before the maximum age date of the last target dose.
func (p *patient) finish(r *seriesRun) (finish Date, completable bool) {
	if r.fc.status != NotComplete {
		return 0, false
	}
	finish = r.fc.earliest
	for k := r.targets[r.fc.target].sd + 1; k < len(r.s.doses); k++ {
		next := finish
		d := &r.s.doses[k]
		if a := relevantAge(d, p.asOf); a != nil && a.minAge.set {
			next = maxDate(next, p.ageDate(a.minAge, 0))
		}
		for m := range d.intervals {
			if d.intervals[m].fromPrevious && d.intervals[m].minInt.set {
				next = maxDate(next, finish.Add(d.intervals[m].minInt))
			}
		}
		finish = next
	}
	lastMax := MaxDate
	if a := relevantAge(&r.s.doses[len(r.s.doses)-1], p.asOf); a != nil {
		lastMax = p.ageDate(a.maxAge, MaxDate)
	}
	return finish, finish < lastMax
}

// scoreComplete is Table 8-7 (SELECTB-19: the most valid doses).
func (p *patient) scoreComplete(rs []*seriesRun) []int {
	scores := p.sc.ints.take(len(rs))
	valid := p.sc.ints.take(len(rs))
	for i, r := range rs {
		valid[i] = r.satisfiedCount()
	}
	for i := range rs {
		scores[i] += triScore(valid, i, true, 1)
	}
	return scores
}

// scoreInProcess is Table 8-9 with SELECTB-2, -3, -5, -11, -12 and -23.
func (p *patient) scoreInProcess(rs []*seriesRun) []int {
	scores := p.sc.ints.take(len(rs))
	valid := p.sc.ints.take(len(rs))
	remaining := p.sc.ints.take(len(rs))
	finish := p.sc.ints.take(len(rs))
	completable := p.sc.ints.take(len(rs))
	for i, r := range rs {
		valid[i] = r.satisfiedCount()
		remaining[i] = len(r.s.doses) - r.targets[r.cur].sd
		f, ok := p.finish(r)
		finish[i] = int(MaxDate) + 1
		if ok {
			finish[i], completable[i] = int(f), 1
		}
	}
	for i, r := range rs {
		// A product patient series with all valid doses: +2 / -2.
		if r.s.productPath && allValid(r) {
			scores[i] += 2
		} else {
			scores[i] -= 2
		}
		// Completable: +3 / -3.
		if completable[i] == 1 {
			scores[i] += 3
		} else {
			scores[i] -= 3
		}
		scores[i] += triScore(valid, i, true, 2)      // most valid doses
		scores[i] += triScore(remaining, i, false, 2) // closest to completion
		if completable[i] == 1 {                      // can finish earliest
			scores[i] += triScore(finish, i, false, 1)
		} else {
			scores[i]--
		}
	}
	return scores
}

// scoreNoValidDoses is Table 8-11 (SELECTB-14: start earliest).
func (p *patient) scoreNoValidDoses(rs []*seriesRun) []int {
	scores := p.sc.ints.take(len(rs))
	start := p.sc.ints.take(len(rs))
	for i, r := range rs {
		start[i] = int(MaxDate) + 1
		if r.fc.earliest != 0 {
			start[i] = int(r.fc.earliest)
		}
	}
	for i, r := range rs {
		scores[i] += triScore(start, i, false, 1)
		if _, ok := p.finish(r); ok {
			scores[i]++
		} else {
			scores[i]--
		}
		if r.s.productPath {
			scores[i]--
		} else {
			scores[i]++
		}
	}
	return scores
}

// triScore awards +pts when v[i] is the unique best value, 0 when it ties
// for best, -pts otherwise (the three columns of Tables 8-7, 8-9, 8-11).
func triScore(v []int, i int, higherIsBetter bool, pts int) int {
	best := v[0]
	for _, x := range v[1:] {
		if (higherIsBetter && x > best) || (!higherIsBetter && x < best) {
			best = x
		}
	}
	if v[i] != best {
		return -pts
	}
	n := 0
	for _, x := range v {
		if x == best {
			n++
		}
	}
	if n == 1 {
		return pts
	}
	return 0
}

// allValid is SELECTB-2: every dose evaluated in the series is valid.
func allValid(r *seriesRun) bool {
	for i := range r.evals {
		if r.evals[i].status != 0 && r.evals[i].status != Valid {
			return false
		}
	}
	return true
}

// determineBest is section 8.8, Table 8-14, over the prioritized series of
// every series group.
func determineBest(prioritized, best []*seriesRun) []*seriesRun {
	for _, r := range prioritized {
		if r.fc.status == Complete {
			best = append(best, r)
			continue
		}
		if r.s.typ == seriesEvaluationOnly {
			continue
		}
		equivComplete, equivRisk := false, false
		for _, o := range prioritized {
			if o == r || !equivalentGroups(r.s, o.s) {
				continue
			}
			if o.fc.status == Complete {
				equivComplete = true
			}
			if o.s.typ == seriesRisk {
				equivRisk = true
			}
		}
		if equivComplete {
			continue
		}
		if r.s.typ == seriesRisk || !equivRisk {
			best = append(best, r)
		}
	}
	return best
}

// equivalentGroups reports whether series b belongs to a series group that
// series a names as equivalent. The relation is read from a's side only:
// the Hib standard series name the risk group 2 as equivalent, but the Hib
// risk child series name none, so a complete standard series does not stop
// the risk series from being a best series.
func equivalentGroups(a, b *series) bool {
	return a.group != b.group && a.equivalent == b.group
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func containsRun(list []*seriesRun, r *seriesRun) bool {
	for _, x := range list {
		if x == r {
			return true
		}
	}
	return false
}
