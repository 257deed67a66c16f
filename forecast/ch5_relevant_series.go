package forecast

// Chapter 5, Create Relevant Patient Series; section 5.1, Select Relevant
// Patient Series.

import "fmt"

// relevantSeries applies Table 5-5 to every antigen series of the antigen.
func (p *patient) relevantSeries(a *antigen) []*series {
	out := p.sc.series.room(len(a.series))
	for _, sr := range a.series {
		if !p.genderMatches(sr) {
			continue
		}
		switch sr.typ {
		case seriesStandard, seriesEvaluationOnly:
			out = append(out, sr)
		case seriesRisk:
			if p.anyIndicationApplies(sr) {
				out = append(out, sr)
			}
		}
	}
	return out
}

// genderMatches: "Is the patient gender one of the required genders of the
// antigen series?" An empty required gender means any gender (Table 5-2,
// assumed value "gender of the patient").
func (p *patient) genderMatches(sr *series) bool {
	if len(sr.genders) == 0 {
		return true
	}
	for _, g := range sr.genders {
		if g == p.gender {
			return true
		}
	}
	return false
}

// anyIndicationApplies is Table 5-4 for each indication of a risk series:
// the indication describes an active patient observation and
// CALCDTIND-1 indication begin age date ≤ assessment date <
// CALCDTIND-2 indication end age date.
func (p *patient) anyIndicationApplies(sr *series) bool {
	if len(p.obs) == 0 {
		return false
	}
	for i := range sr.indications {
		in := &sr.indications[i]
		if !p.hasObservation(in.code) {
			continue
		}
		begin := p.ageDate(in.beginAge, MinDate) // CALCDTIND-1
		end := p.ageDate(in.endAge, MaxDate)     // CALCDTIND-2
		if begin <= p.asOf && p.asOf < end {
			if p.tr != nil {
				p.tr.printf("  series %q is relevant: indication %s (%s)", sr.name, in.code, in.text)
			}
			return true
		}
		if p.tr != nil {
			p.tr.printf("  series %q: indication %s is outside its ages %s", sr.name, in.code, fmt.Sprint(begin, "–", end))
		}
	}
	return false
}

func (p *patient) hasObservation(code string) bool {
	for i := range p.obs {
		if p.obs[i].Code == code {
			return true
		}
	}
	return false
}

// observationDate is the date of the most recent active observation with
// the code (CALCDTINT-9); zero when none has a date.
func (p *patient) observationDate(code string) Date {
	var d Date
	for i := range p.obs {
		if p.obs[i].Code == code && p.obs[i].Date > d {
			d = p.obs[i].Date
		}
	}
	return d
}
