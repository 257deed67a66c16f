package forecast

// Sections 8.4 (complete patient series, Table 8-7), 8.5 (in-process
// patient series, Table 8-9) and 8.6 (no valid doses, Table 8-11): the
// points awarded to scorable patient series.

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
