package forecast

// Section 6.5, Evaluate Preferable Interval (Tables 6-17 to 6-19), and the
// reference dose date rules it shares with 6.6 and chapter 7.

// referenceDate returns the reference dose date of an interval for the dose
// at index cur of doses (len(doses) when forecasting). ok is false when
// the interval cannot be measured (no such earlier dose or observation), in
// which case the interval does not constrain the dose.
func (p *patient) referenceDate(run *seriesRun, iv *intervalRule, cur int, doses []*patientDose) (Date, bool) {
	switch {
	case iv.fromPrevious:
		// CALCDTINT-1: the most immediate previous dose with status Valid or
		// Not Valid that is not an inadvertent administration.
		for j := cur - 1; j >= 0; j-- {
			ev := &run.evals[j]
			if (ev.status == Valid || ev.status == NotValid) && ev.reasons&rsInadvertent == 0 {
				return doses[j].date, true
			}
		}
	case iv.fromTargetDose > 0:
		// CALCDTINT-2: the dose that satisfied target dose N.
		n := iv.fromTargetDose - 1
		if n < len(run.targets) && run.targets[n].status == tdSatisfied {
			return doses[run.targets[n].dose].date, true
		}
	case !iv.fromMostRecent.empty():
		// CALCDTINT-8: the most recent dose of one of the listed vaccine
		// types, anywhere in the history.
		limit := len(p.doses)
		if cur < len(doses) {
			limit = doses[cur].pos
		}
		for j := limit - 1; j >= 0; j-- {
			if iv.fromMostRecent.has(p.doses[j].cvx) {
				return p.doses[j].date, true
			}
		}
	case iv.fromObservation != "":
		// CALCDTINT-9: the date of the most recent active observation.
		if d := p.observationDate(iv.fromObservation); d != 0 {
			return d, true
		}
	}
	return 0, false
}

// intervalOutcome is the result of Table 6-18 or Table 6-21.
type intervalOutcome uint8

const (
	intervalValid intervalOutcome = iota
	intervalGrace
	intervalTooSoon
)

// evaluatePreferableInterval is Table 6-18 for one interval.
func evaluatePreferableInterval(ref, given Date, iv *intervalRule) intervalOutcome {
	if given < ref.AddOr(iv.absMinInt, MinDate) { // CALCDTINT-3
		return intervalTooSoon
	}
	if given < ref.AddOr(iv.minInt, MinDate) { // CALCDTINT-4
		return intervalGrace
	}
	return intervalValid
}

// evaluatePreferableIntervals checks every preferable interval relevant on
// the date administered; all must be satisfied (section 6.5: "if multiple
// intervals are specified, then all intervals must be satisfied"). A target
// dose without preferable intervals satisfies them.
func (p *patient) evaluatePreferableIntervals(run *seriesRun, sd *seriesDose, cur int, doses []*patientDose) (ok, grace bool) {
	given := doses[cur].date
	for k := range sd.intervals {
		iv := &sd.intervals[k]
		if !activeOn(iv.effective, iv.cessation, given) {
			continue
		}
		ref, has := p.referenceDate(run, iv, cur, doses)
		if !has {
			continue
		}
		switch evaluatePreferableInterval(ref, given, iv) {
		case intervalTooSoon:
			return false, false
		case intervalGrace:
			grace = true
		}
	}
	return true, grace
}
