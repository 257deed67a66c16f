package forecast

// Chapter 9, Identify and Evaluate Vaccine Group: 9.1 general vaccine
// group rules (Table 9-2), 9.2 single antigen vaccine groups (Table 9-3),
// 9.3 multiple antigen vaccine groups (Tables 9-4 and 9-5).
//
// Best patient series are blended only with best series of the same
// series type (risk with risk, standard with standard), so a patient can
// have two forecasts for one vaccine group. Result.Groups carries the one
// that drives care now — the risk forecast while it still owes a dose,
// else a standard forecast that owes one, else the risk forecast — and
// Result.Additional the other.

// member is one antigen's best series inside a vaccine group forecast.
type member struct {
	antigen int
	run     *seriesRun
	best    []*seriesRun // all best series of the antigen
}

const reasonNoRelevantSeries = "No relevant patient series: no indication for this vaccine group applies to the patient"

// vaccineGroupForecasts builds the Result from the per-antigen outcomes.
func (p *patient) vaccineGroupForecasts(outcomes []antigenOutcome) Result {
	res := Result{Groups: make([]GroupForecast, 0, len(p.e.s.groups))}
	var chosenBuf, othersBuf [40]*seriesRun
	chosen, others := chosenBuf[:], othersBuf[:] // per antigen: the run whose evaluations are reported, the other best series' run
	if len(outcomes) > len(chosenBuf) {
		chosen, others = make([]*seriesRun, len(outcomes)), make([]*seriesRun, len(outcomes))
	}
	nSeries := 0
	for ai := range outcomes {
		nSeries += min(len(outcomes[ai].best), 2)
	}
	series := make([]AntigenForecast, 0, nSeries)
	var stdBuf, riskBuf [4]member
	for gi, g := range p.e.s.groups {
		std, risk := stdBuf[:0], riskBuf[:0]
		for _, ai := range g.antigens {
			if r := pickBest(outcomes[ai].best, false); r != nil {
				std = append(std, member{ai, r, outcomes[ai].best})
			}
			if r := pickBest(outcomes[ai].best, true); r != nil {
				risk = append(risk, member{ai, r, outcomes[ai].best})
			}
		}
		primary, other := choosePrimary(std, risk, len(g.antigens) == 1)
		if len(primary) == 0 {
			res.Groups = append(res.Groups, p.noSeriesForecast(gi))
			continue
		}
		var gf GroupForecast
		gf, series = p.blend(gi, primary, series)
		res.Groups = append(res.Groups, gf)
		if len(other) > 0 {
			gf, series = p.blend(gi, other, series)
			res.Additional = append(res.Additional, gf)
		}
		for _, m := range primary {
			chosen[m.antigen] = m.run
		}
		for _, m := range other {
			if chosen[m.antigen] == nil {
				chosen[m.antigen] = m.run
			} else if chosen[m.antigen] != m.run {
				others[m.antigen] = m.run
			}
		}
	}
	res.Evaluations = p.doseEvaluations(outcomes, chosen, true)
	res.OtherEvaluations = p.doseEvaluations(outcomes, others, false)
	return res
}

// pickBest returns the antigen's best series of the wanted type (risk or
// not). Best series of one type come from different series groups (an
// adult's "Pneumococcal 50+" beside the aged-out childhood series); the one
// that still owes a dose wins, then a complete one, then the first.
func pickBest(best []*seriesRun, risk bool) *seriesRun {
	var found *seriesRun
	for _, r := range best {
		if (r.s.typ == seriesRisk) != risk {
			continue
		}
		if found == nil || statusRank(r.fc.status) > statusRank(found.fc.status) {
			found = r
		}
	}
	return found
}

func statusRank(s SeriesStatus) int {
	switch s {
	case NotComplete:
		return 3
	case Complete:
		return 2
	case Immune:
		return 1
	}
	return 0
}

// choosePrimary decides which of a vaccine group's two forecasts (standard
// and risk best series are blended separately) is the one reported in
// Result.Groups. A single-antigen group reports the risk pathway. A
// multiple-antigen group reports the risk pathway unless it owes nothing
// while the standard pathway still owes a dose of an antigen the risk
// pathway covers (an infant's MMR travel dose does not end the childhood
// MMR series; a pregnant woman's Tdap does settle pertussis even though
// tetanus and diphtheria boosters recur).
func choosePrimary(std, risk []member, singleAntigen bool) (primary, other []member) {
	switch {
	case len(risk) == 0:
		return std, nil
	case len(std) == 0:
		return risk, nil
	case singleAntigen || needsDose(risk):
		return risk, std
	}
	for _, r := range risk {
		for _, s := range std {
			if s.antigen == r.antigen && s.run.fc.status == NotComplete {
				return std, risk
			}
		}
	}
	return risk, std
}

func needsDose(ms []member) bool {
	for _, m := range ms {
		if m.run.fc.status == NotComplete {
			return true
		}
	}
	return false
}

// blend makes one vaccine group forecast from patient series forecasts of
// the same series type (FORECASTVG-1 … -9, FORECASTDN-2, SINGLEANTVG-1,
// -2, Table 9-4, MULTIANTVG-1).
//
// The per-antigen forecasts are carved out of buf, which is returned grown.
func (p *patient) blend(gi int, ms []member, buf []AntigenForecast) (GroupForecast, []AntigenForecast) {
	g := p.e.s.groups[gi]
	gf := GroupForecast{VaccineGroup: g.name, Antigens: g.antigenNames[:len(g.antigenNames):len(g.antigenNames)]}
	first := ms[0].run
	gf.SeriesName, gf.SeriesDoses, gf.SeriesType = first.s.name, len(first.s.doses), first.s.typ.String()

	// Vaccine group status: SINGLEANTVG-1, or Table 9-4.
	var anyStatus [NotRecommended + 1]bool
	allImmune, allDone := true, true
	for _, m := range ms {
		st := m.run.fc.status
		anyStatus[st] = true
		if st != Immune {
			allImmune = false
		}
		if st != Immune && st != Complete {
			allDone = false
		}
	}
	switch {
	case len(ms) == 1:
		gf.Status = first.fc.status
	case anyStatus[Contraindicated]:
		gf.Status = Contraindicated
	case anyStatus[AgedOut]:
		gf.Status = AgedOut
	case anyStatus[NotRecommended]:
		gf.Status = NotRecommended
	case anyStatus[NotComplete]:
		gf.Status = NotComplete
	case allImmune:
		gf.Status = Immune
	case allDone:
		gf.Status = Complete
	}

	// FORECASTVG-7: reasons; per-antigen forecasts.
	first0 := len(buf)
	for _, m := range ms {
		p.completeDates(m.run)
		fc := &m.run.fc
		af := AntigenForecast{
			Antigen: p.e.s.antigens[m.antigen].name, SeriesName: m.run.s.name, SeriesType: m.run.s.typ.String(),
			SeriesDoses: len(m.run.s.doses), Status: fc.status, Reason: fc.reason,
		}
		if fc.status == NotComplete {
			af.DoseNumber, af.Earliest, af.Recommended, af.PastDue, af.Latest = fc.doseNumber, fc.earliest, fc.recommended, fc.pastDue, fc.latest
		}
		buf = append(buf, af)
		if fc.reason != "" && fc.status == gf.Status && gf.Reason == "" {
			gf.Reason = fc.reason
		}
	}
	gf.Series = buf[first0:len(buf):len(buf)]
	if gf.Status != NotComplete {
		return gf, buf
	}

	// Dates from the series forecasts that forecast a dose.
	var earliestMin, earliestMax, rec, pastDue, latest Date
	priority := false
	doseNum := 0
	for _, m := range ms {
		fc := &m.run.fc
		if fc.status != NotComplete {
			continue
		}
		earliestMin = minNonZero(earliestMin, fc.earliest)
		earliestMax = maxDate(earliestMax, fc.earliest)
		rec = minNonZero(rec, fc.recommended)
		pastDue = minNonZero(pastDue, fc.pastDue)
		latest = minNonZero(latest, fc.latest)
		priority = priority || fc.priority
		n := p.forecastDoseNumber(m)
		switch {
		case doseNum == 0:
			doseNum = n
		case g.fullGroup && n < doseNum: // FORECASTDN-2
			doseNum = n
		case !g.fullGroup && n > doseNum:
			doseNum = n
		}
		sd := &m.run.s.doses[m.run.targets[fc.target].sd]
		for _, k := range fc.vaccines {
			pv := &sd.preferable[k]
			rv := RecommendedVaccine{CVX: pv.cvx.String(), VaccineType: pv.vaccineType}
			if !containsVaccine(gf.Vaccines, rv) {
				gf.Vaccines = append(gf.Vaccines, rv) // FORECASTVG-9
			}
		}
	}
	switch {
	case len(ms) == 1 || len(g.antigens) == 1: // SINGLEANTVG-2
		gf.Earliest = earliestMin
	case priority: // MULTIANTVG-1, FORECASTPRIORITY-1
		gf.Earliest = maxDate(earliestMin, p.latestGroupDose(gi))
	default:
		gf.Earliest = earliestMax
	}
	gf.Recommended = maxDate(rec, gf.Earliest) // FORECASTVG-2
	if pastDue != 0 {
		gf.PastDue = maxDate(pastDue, gf.Earliest) // FORECASTVG-3
	}
	gf.Latest = latest // FORECASTVG-4
	gf.DoseNumber = doseNum
	return gf, buf
}

// forecastDoseNumber is FORECASTDN-1 read across the antigen's best
// series: one more than the number of doses valid in any of them (for a
// seasonal target dose, only this season's). A child's standard doses
// count toward the number of an adult risk series' next dose (CDC forecasts
// Polio dose 5 for a laboratory worker with 4 childhood doses), and a
// dose valid only in an infant travel series counts toward the standard
// series' next dose.
func (p *patient) forecastDoseNumber(m member) int {
	fc := &m.run.fc
	sd := &m.run.s.doses[m.run.targets[fc.target].sd]
	n := 0
	for i, d := range m.run.doses {
		if sd.seasonStart != 0 && d.date < sd.seasonStart {
			continue
		}
		for _, r := range m.best {
			if r.evals[i].status == Valid {
				n++
				break
			}
		}
	}
	if n+1 > fc.doseNumber {
		return n + 1
	}
	return fc.doseNumber
}

// latestGroupDose is the latest date administered of any dose carrying an
// antigen of the vaccine group (MULTIANTVG-1).
func (p *patient) latestGroupDose(gi int) Date {
	var d Date
	for i := range p.doses {
		for _, as := range p.e.s.cvx[p.doses[i].cvx].associations {
			if p.e.s.antigens[as.antigen].group == gi {
				d = maxDate(d, p.doses[i].date)
			}
		}
	}
	return d
}

func containsVaccine(list []RecommendedVaccine, v RecommendedVaccine) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// noSeriesForecast is the forecast of a vaccine group none of whose
// antigens has a relevant patient series (risk-only groups without an
// applying indication).
func (p *patient) noSeriesForecast(gi int) GroupForecast {
	g := p.e.s.groups[gi]
	return GroupForecast{VaccineGroup: g.name, Status: NotRecommended, Reason: reasonNoRelevantSeries,
		Antigens: g.antigenNames[:len(g.antigenNames):len(g.antigenNames)]}
}

// doseEvaluations reports each dose's evaluation per antigen from the
// chosen series (the one behind the vaccine group forecast) — or, when the
// dose is not valid there, from another best series in which it is valid —
// falling back to the first relevant series when the antigen has no best
// series. The
// list is ordered by input dose, then antigen (a counting sort: no
// comparisons, no swaps of the large records).
func (p *patient) doseEvaluations(outcomes []antigenOutcome, chosen []*seriesRun, fallback bool) []DoseEvaluation {
	var pickedBuf [40]*seriesRun
	picked := pickedBuf[:0]
	for ai := range outcomes {
		r := chosen[ai]
		if r == nil && fallback && len(outcomes[ai].runs) > 0 {
			r = outcomes[ai].runs[0]
		}
		picked = append(picked, r)
	}
	nInputs := 0
	for i := range p.doses {
		nInputs = max(nInputs, p.doses[i].input+1)
	}
	start := p.sc.ints.take(nInputs + 1)
	total := 0
	for ai := range outcomes {
		if picked[ai] == nil {
			continue
		}
		for _, d := range outcomes[ai].doses {
			start[d.input+1]++
			total++
		}
	}
	if total == 0 {
		return nil
	}
	for i := 1; i <= nInputs; i++ {
		start[i] += start[i-1]
	}
	out := make([]DoseEvaluation, total)
	for ai := range outcomes {
		primary := picked[ai]
		if primary == nil {
			continue
		}
		a := p.e.s.antigens[ai]
		group := p.e.s.groups[a.group].name
		for i, d := range outcomes[ai].doses {
			run := primary
			if fallback && run.evals[i].status != Valid {
				// A dose valid in another best series of the antigen counts
				// there (a child's PCV doses in the standard series when an
				// adolescent risk series drives the forecast).
				for _, r := range outcomes[ai].best {
					if r.evals[i].status == Valid {
						run = r
						break
					}
				}
			}
			ev := &run.evals[i]
			de := &out[start[d.input]]
			start[d.input]++
			*de = DoseEvaluation{
				DoseID: d.id, DoseIndex: d.input, Antigen: a.name, VaccineGroup: group,
				Status: ev.status, Reason: p.e.reasonTexts[ev.reasons], SeriesName: run.s.name, SeriesType: run.s.typ.String(),
				SeriesDoses: len(run.s.doses),
			}
			if ev.status != Valid {
				de.ReasonCode = p.e.reasonCodes[ev.reasons]
			}
			if ev.target >= 0 {
				de.TargetDose = ev.target + 1
			}
		}
	}
	return out
}
