package forecast

// Section 6.6, Evaluate Allowable Interval (Tables 6-20 to 6-22).

// evaluateAllowableIntervals applies Table 6-21 to every allowable interval
// relevant on the date administered. "In cases where a target dose does not
// specify allowable interval attributes ... the allowable interval should
// be considered not valid", so a target dose without them fails.
func (p *patient) evaluateAllowableIntervals(run *seriesRun, sd *seriesDose, cur int, doses []*patientDose) bool {
	given := doses[cur].date
	checked := false
	for k := range sd.allowableIntervals {
		iv := &sd.allowableIntervals[k]
		if !activeOn(iv.effective, iv.cessation, given) {
			continue
		}
		checked = true
		ref, has := p.referenceDate(run, iv, cur, doses)
		if !has {
			continue
		}
		if given < ref.AddOr(iv.absMinInt, MinDate) { // CALCDTINT-3
			return false
		}
	}
	return checked
}
