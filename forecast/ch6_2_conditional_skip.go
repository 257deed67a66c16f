package forecast

// Section 6.2, Evaluate Conditional Skip (Tables 6-4 to 6-11), used in
// evaluation (reference date: the date administered), forecasting (7.1,
// the assessment date) and validation of a recommendation (7.6.1, the
// earliest date) — CONDSKIP-2.

// canSkip reports whether the target dose can be skipped (Table 6-11).
// cur is the index of the dose being evaluated in doses, or len(doses)
// when forecasting: only doses before it count as "previous".
func (p *patient) canSkip(run *seriesRun, sd *seriesDose, ctx skipContext, ref Date, cur int, doses []*patientDose, ac *antigenContext) bool {
	for k := range sd.skips {
		cs := &sd.skips[k]
		if cs.context&ctx == 0 {
			continue
		}
		met, relevant := 0, 0
		for s := range cs.sets {
			set := &cs.sets[s]
			if !activeOn(set.effective, set.cessation, ref) {
				continue
			}
			relevant++
			if p.setMet(run, set, ref, cur, doses, ac) {
				met++
				if p.tr != nil {
					p.tr.printf("    conditional skip set %s met: %s", set.id, set.description)
				}
			}
		}
		// Table 6-11: AND needs every set, OR (and a single set) at least one.
		if met > 0 && (cs.setOr || met == relevant) {
			return true
		}
	}
	return false
}

// setMet is Table 6-10.
func (p *patient) setMet(run *seriesRun, set *skipSet, ref Date, cur int, doses []*patientDose, ac *antigenContext) bool {
	met := 0
	for c := range set.conditions {
		if p.conditionMet(run, &set.conditions[c], ref, cur, doses, ac) {
			met++
			if set.conditionOr {
				return true
			}
		} else if !set.conditionOr {
			return false
		}
	}
	return met > 0 && met == len(set.conditions)
}

// conditionMet evaluates one condition (Tables 6-6 to 6-9).
func (p *patient) conditionMet(run *seriesRun, c *skipCondition, ref Date, cur int, doses []*patientDose, ac *antigenContext) bool {
	switch c.typ {
	case condAge: // Table 6-6
		begin := p.ageDate(c.beginAge, MinDate) // CALCDTSKIP-3
		end := p.ageDate(c.endAge, MaxDate)     // CALCDTSKIP-4
		return begin <= ref && ref < end
	case condCompletedSeries: // Table 6-7
		// The named series group has a complete series — complete as of the
		// reference date: a laboratory worker's childhood doses are not
		// skipped targets of the adult risk series just because the childhood
		// series was completed years later.
		for _, g := range c.seriesGroups {
			for _, done := range ac.complete {
				if g == done.group && done.date <= ref {
					return true
				}
			}
		}
		return false
	case condInterval: // Table 6-8
		if cur == 0 {
			return false // no dose administered before
		}
		return ref >= doses[cur-1].date.AddOr(c.interval, MaxDate) // CALCDTSKIP-5
	case condCountByAge, condCountByDate, condCountByDateAndAge: // Table 6-9
		n := p.conditionalDoseCount(run, c, cur, doses)
		switch c.logic {
		case countGreater:
			return n > c.doseCount
		case countEqual:
			return n == c.doseCount
		case countLess:
			return n < c.doseCount
		}
	}
	return false
}

// conditionalDoseCount is CONDSKIP-1: doses of the listed vaccine types
// given within the age and date windows, counting only valid ones when the
// dose type is "Valid". The whole history counts (a Td dose counts in a
// Pertussis condition); when evaluating, only doses before the current one.
func (p *patient) conditionalDoseCount(run *seriesRun, c *skipCondition, cur int, doses []*patientDose) int {
	begin, end := MinDate, MaxDate
	if c.typ != condCountByDate {
		begin = p.ageDate(c.beginAge, MinDate) // CALCDTSKIP-3
		end = p.ageDate(c.endAge, MaxDate)     // CALCDTSKIP-4
	}
	start, stop := MinDate, MaxDate
	if c.typ != condCountByAge {
		if c.startDate != 0 {
			start = c.startDate
		}
		if c.endDate != 0 {
			stop = c.endDate
		}
	}
	limit := len(p.doses)
	if cur < len(doses) {
		limit = doses[cur].pos
	}
	n := 0
	for j := 0; j < limit; j++ {
		d := &p.doses[j]
		if !c.vaccineTypes.empty() && !c.vaccineTypes.has(d.cvx) {
			continue
		}
		if d.date < begin || d.date >= end || d.date < start || d.date >= stop {
			continue
		}
		if c.validOnly {
			k := indexOfDose(doses, d)
			if k < 0 || run.evals[k].status != Valid {
				continue
			}
		}
		n++
	}
	return n
}

func indexOfDose(doses []*patientDose, d *patientDose) int {
	for k, x := range doses {
		if x == d {
			return k
		}
	}
	return -1
}

// activeOn is RELEVANT-1/RELEVANT-2: a supporting-data element applies on
// a date when it has no effective and cessation dates or the date falls
// between them (both inclusive).
func activeOn(effective, cessation, on Date) bool {
	return (effective == 0 || effective <= on) && (cessation == 0 || on <= cessation)
}
