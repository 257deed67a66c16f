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

// firstValidDate is the date of the earliest valid dose in the series.
func firstValidDate(r *seriesRun) Date { return r.firstValid }

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
