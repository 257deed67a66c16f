package forecast

// Section 6.7, Evaluate Vaccine Conflict (Tables 6-23 and 6-24). In the
// supporting data the "previous" vaccine type is the conflicting vaccine
// type and the "current" one the impacted vaccine type.

// conflictCandidate is an earlier dose whose conflict window (with either
// end interval) contains a dose: found once per patient, then checked per
// series against the earlier dose's evaluation status.
type conflictCandidate struct {
	prev *patientDose
	rule *liveVirusConflict
}

// findConflictCandidates fills patientDose.conflicts for every dose.
func (p *patient) findConflictCandidates() {
	for i := range p.doses {
		d := &p.doses[i]
		rules := p.e.conflictRules(d.cvx)
		if len(rules) == 0 {
			continue
		}
		for j := 0; j < i; j++ {
			prev := &p.doses[j]
			for k := range rules {
				r := &rules[k]
				if r.previous != prev.cvx {
					continue
				}
				begin, end1 := conflictWindow(r, prev.date, Valid)
				_, end2 := conflictWindow(r, prev.date, NotValid)
				if begin <= d.date && d.date < maxDate(end1, end2) {
					if d.conflicts == nil {
						d.conflicts = p.sc.cands.room(i * len(rules))
					}
					d.conflicts = append(d.conflicts, conflictCandidate{prev: prev, rule: r})
				}
			}
		}
	}
}

// evaluateConflict reports whether dose cur is an impacted vaccine dose
// administered (CONFLICT-3) with respect to any earlier dose of the
// patient's whole history.
func (p *patient) evaluateConflict(run *seriesRun, cur int, doses []*patientDose) bool {
	d := doses[cur]
	for _, c := range d.conflicts {
		begin, end := conflictWindow(c.rule, c.prev.date, p.previousStatus(run, c.prev, doses))
		if begin <= d.date && d.date < end {
			if p.tr != nil {
				p.tr.printf("    live virus conflict with CVX %s given %s (window %s – %s)", c.prev.cvx, c.prev.date, begin, end)
			}
			return true
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
