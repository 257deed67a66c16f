package forecast

// Section 6.7, Evaluate Vaccine Conflict (Tables 6-23 and 6-24). In the
// supporting data the "previous" vaccine type is the conflicting vaccine
// type and the "current" one the impacted vaccine type.

// evaluateConflict reports whether dose cur is an impacted vaccine dose
// administered (CONFLICT-3) with respect to any earlier dose of the
// patient's whole history.
func (p *patient) evaluateConflict(run *seriesRun, cur int, doses []*patientDose) bool {
	d := doses[cur]
	rules := p.e.conflictsByCurrent[d.cvx]
	if len(rules) == 0 {
		return false
	}
	for j := 0; j < d.pos; j++ {
		prev := &p.doses[j]
		for k := range rules {
			r := &rules[k]
			if r.previous != prev.cvx {
				continue
			}
			begin, end := conflictWindow(r, prev.date, p.previousStatus(run, prev, doses))
			if begin <= d.date && d.date < end {
				if p.tr != nil {
					p.tr.printf("    live virus conflict with CVX %s given %s (window %s – %s)", prev.cvx, prev.date, begin, end)
				}
				return true
			}
		}
	}
	return false
}

// conflictWindow is CALCDTCONFLICT-1 and CALCDTCONFLICT-2: the conflict
// ends after the minimum conflict end interval when the conflicting dose is
// valid or has no evaluation status, after the conflict end interval
// otherwise.
func conflictWindow(r *liveVirusConflict, prev Date, status EvalStatus) (begin, end Date) {
	begin = prev.Add(r.begin)
	if status == Valid || status == 0 {
		end = prev.Add(r.minConflictEnd)
	} else {
		end = prev.Add(r.conflictEnd)
	}
	return begin, end
}

// previousStatus is the evaluation status of an earlier dose within this
// patient series, or zero ("no evaluation status") when the dose does not
// belong to the series' antigen.
func (p *patient) previousStatus(run *seriesRun, prev *patientDose, doses []*patientDose) EvalStatus {
	if k := indexOfDose(doses, prev); k >= 0 {
		return run.evals[k].status
	}
	return 0
}
