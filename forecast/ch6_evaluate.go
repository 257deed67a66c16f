package forecast

// Section 4.4 (Figure 4-6, evaluate immunization history) and chapter 6
// (Figure 6-1, evaluate vaccine dose administered), including section
// 6.10, Satisfy Target Dose (Table 6-31). The individual checks live in
// one file per section: ch6_1 … ch6_9.

import "strings"

// targetStatus is the status of a target dose.
type targetStatus uint8

const (
	tdNotSatisfied targetStatus = iota
	tdSatisfied
	tdSkipped
)

// targetDose is one target dose of a patient series. Recurring doses
// (Figure 4-6 step 6) add target doses that point at the same series dose.
type targetDose struct {
	sd     int // index in series.doses
	status targetStatus
	dose   int // index of the satisfying antigen dose, -1 if none
}

// reasonSet collects evaluation reasons of a dose.
type reasonSet uint16

const (
	rsTooYoung reasonSet = 1 << iota
	rsAgeGrace
	rsTooOld
	rsTooSoon
	rsIntervalGrace
	rsInadvertent
	rsConflict
	rsNotPreferableOrAllowable
	rsAllowableNotPreferable
	rsLowVolume
	rsSubStandard
	rsSeriesComplete

	reasonSetSize = 1 << iota // number of distinct reason sets
)

// reasonOrder is the order reasons are reported in (the process order of
// Figure 6-1); the first not-valid reason gives the reason code.
var reasonOrder = []struct {
	r    reasonSet
	text string
	code ReasonCode
}{
	{rsSubStandard, "Sub-standard dose", ReasonOther},
	{rsInadvertent, "Inadvertent administration", ReasonInadvertentVaccine},
	{rsTooYoung, "Too young", ReasonAgeTooYoung},
	{rsTooOld, "Too old", ReasonAgeTooOld},
	{rsTooSoon, "Too soon", ReasonIntervalTooSoon},
	{rsConflict, "Live virus conflict", ReasonLiveVirusConflict},
	{rsNotPreferableOrAllowable, "Not a preferable or allowable vaccine", ReasonNotPreferableOrAllow},
	{rsSeriesComplete, "Series already complete", ReasonSeriesAlreadyComplete},
	{rsAgeGrace, "Grace period (age)", ""},
	{rsIntervalGrace, "Grace period (interval)", ""},
	{rsAllowableNotPreferable, "Not a preferable vaccine (allowable)", ""},
	{rsLowVolume, "Volume administered is less than recommended volume", ""},
}

func (r reasonSet) text() string {
	if r == 0 {
		return ""
	}
	var b strings.Builder
	for _, x := range reasonOrder {
		if r&x.r != 0 {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(x.text)
		}
	}
	return b.String()
}

func (r reasonSet) code() ReasonCode {
	for _, x := range reasonOrder {
		if r&x.r != 0 && x.code != "" {
			return x.code
		}
	}
	return ""
}

// doseEval is the evaluation of one antigen dose within one patient series.
type doseEval struct {
	status  EvalStatus // zero: not evaluated by this series
	reasons reasonSet
	target  int // index in seriesRun.targets, -1 when not evaluated against one
}

// seriesRun is one relevant patient series after evaluation (chapter 6)
// and forecasting (chapter 7).
type seriesRun struct {
	s       *series
	doses   []*patientDose // the antigen doses evaluated
	targets []targetDose
	cur     int // the target dose to forecast; len(targets) when none is left
	evals   []doseEval
	fc      seriesForecast
	// nSatisfied and firstValid (the date of the earliest valid dose) are
	// kept as target doses are satisfied.
	nSatisfied int
	firstValid Date
}

// satisfiedCount is SELECTB-21, the number of valid doses: target doses
// with status satisfied.
func (r *seriesRun) satisfiedCount() int { return r.nSatisfied }

// lastSatisfiedDate is the date of the latest dose that satisfied a target
// dose of the series.
func (r *seriesRun) lastSatisfiedDate() Date {
	var d Date
	for i := range r.targets {
		if r.targets[i].status == tdSatisfied {
			d = maxDate(d, r.doses[r.targets[i].dose].date)
		}
	}
	return d
}

// advance moves to the next target dose (Figure 4-6 steps 5 and 6). A
// satisfied recurring target dose recurs: an identical target dose
// follows it (COVID-19's yearly dose 1 recurs before the 65+ dose 2, the
// Td booster after the last dose). A skipped one does not — it would be
// skipped again forever — and the series moves on to its next dose.
func (r *seriesRun) advance() {
	cur := &r.targets[r.cur]
	switch {
	case r.s.doses[cur.sd].recurring && cur.status == tdSatisfied:
		r.targets = append(r.targets, targetDose{sd: cur.sd, dose: -1})
	case cur.sd+1 < len(r.s.doses):
		r.targets = append(r.targets, targetDose{sd: cur.sd + 1, dose: -1})
	}
	r.cur++
}

// antigenContext carries antigen-level outcomes the series steps read.
type antigenContext struct {
	immune          bool
	contraindicated bool
	complete        []completion // series of status Complete, in earlier series groups
	completeBuf     [8]completion
}

// completion records that a series of a series group is complete, and since
// when (the date of the dose that satisfied its last satisfied target dose).
type completion struct {
	group int
	date  Date
}

// evaluateSeries is Figure 4-6: walk the antigen doses and the target doses
// together until either runs out.
func (p *patient) evaluateSeries(sr *series, doses []*patientDose, ac *antigenContext) *seriesRun {
	run := p.sc.runs.one()
	run.s = sr
	run.doses = doses
	// Every dose satisfies or skips at most one target dose per step, so
	// this capacity is only exceeded by long runs of skipped targets.
	run.targets = p.sc.targets.take(len(sr.doses) + len(doses) + 1)[:1]
	run.evals = p.sc.evals.take(len(doses))
	run.targets[0] = targetDose{sd: 0, dose: -1}
	for i := range run.evals {
		run.evals[i].target = -1
	}
	for i, d := range doses {
		for {
			if run.cur >= len(run.targets) {
				// Figure 4-6 step 6b: no target dose is left.
				run.evals[i] = doseEval{status: Extraneous, reasons: rsSeriesComplete, target: -1}
				break
			}
			t := &run.targets[run.cur]
			sd := &sr.doses[t.sd]

			// 6.1 Evaluate dose administered condition (Table 6-3).
			if d.subStandard {
				run.evals[i] = doseEval{status: SubStandardStatus, reasons: rsSubStandard, target: run.cur}
				break
			}
			// 6.2 Evaluate conditional skip, reference date = date
			// administered (CONDSKIP-2).
			if p.canSkip(run, sd, contextEvaluation, d.date, i, doses, ac) {
				if p.tr != nil {
					p.tr.printf("  %s: target dose %d skipped at %s", sr.name, run.cur+1, d.date)
				}
				t.status = tdSkipped
				run.advance()
				continue
			}
			ev := p.evaluateDose(run, sd, i, doses)
			ev.target = run.cur
			run.evals[i] = ev
			if p.tr != nil {
				p.tr.printf("  %s: dose %q (%s, CVX %s) vs target dose %d: %s %s", sr.name, d.id, d.date, d.cvx, run.cur+1, ev.status, ev.reasons.text())
			}
			if ev.status == Valid {
				t.status = tdSatisfied
				t.dose = i
				run.nSatisfied++
				if run.firstValid == 0 {
					run.firstValid = d.date
				}
				run.advance()
			}
			break
		}
	}
	return run
}

// evaluateDose runs sections 6.3 to 6.10 for dose i against one target
// dose and returns its evaluation.
func (p *patient) evaluateDose(run *seriesRun, sd *seriesDose, i int, doses []*patientDose) doseEval {
	d := doses[i]

	// 6.3 Evaluate for inadvertent vaccine (Table 6-13).
	if isInadvertent(sd, d.cvx) {
		return doseEval{status: NotValid, reasons: rsInadvertent}
	}

	var reasons reasonSet
	// 6.4 Evaluate age (Table 6-15).
	age := p.evaluateAge(d.date, relevantAge(sd, d.date))
	switch age {
	case ageTooYoung:
		reasons |= rsTooYoung
	case ageGrace:
		reasons |= rsAgeGrace
	case ageTooOld:
		reasons |= rsTooOld
	}

	// 6.5 and 6.6 Evaluate preferable and allowable intervals.
	prefOK, prefGrace := p.evaluatePreferableIntervals(run, sd, i, doses)
	intervalsOK := prefOK
	if !prefOK {
		intervalsOK = p.evaluateAllowableIntervals(run, sd, i, doses)
	}
	switch {
	case !intervalsOK:
		reasons |= rsTooSoon
	case prefGrace:
		reasons |= rsIntervalGrace
	}

	// 6.7 Evaluate vaccine conflict.
	conflict := p.evaluateConflict(run, i, doses)
	if conflict {
		reasons |= rsConflict
	}

	// 6.8 and 6.9 Evaluate for preferable, then allowable, vaccine.
	pref, lowVolume := p.evaluatePreferableVaccine(sd, d)
	vaccineOK := pref
	if lowVolume {
		reasons |= rsLowVolume
	}
	if !pref {
		if p.evaluateAllowableVaccine(sd, d) {
			vaccineOK = true
			reasons |= rsAllowableNotPreferable
		} else {
			reasons |= rsNotPreferableOrAllowable
		}
	}

	// 6.10 Satisfy target dose (Table 6-31).
	switch {
	case age == ageTooOld:
		return doseEval{status: Extraneous, reasons: reasons}
	case age == ageTooYoung || !intervalsOK || conflict || !vaccineOK:
		return doseEval{status: NotValid, reasons: reasons}
	}
	return doseEval{status: Valid, reasons: reasons}
}
