package synth

import "slices"

// childSeries are the series of the childhood and adolescent schedule, in visit order.
var childSeries = []string{"HepB", "DTaP", "Hib", "PCV", "IPV", "RV", "MMR", "VAR", "HepA", "Tdap", "HPV", "MenACWY", "MenB"}

// wellChildVisits are the preventive visits a family may keep, with how likely each is kept
// relative to the family's habit (the birth stay is always kept).
var wellChildVisits = []struct {
	age    Span
	attend float64
}{
	{Span{}, 1}, {Span{M: 2}, 1}, {Span{M: 4}, 1}, {Span{M: 6}, 1}, {Span{M: 9}, 0.6}, {Span{M: 12}, 1},
	{Span{M: 15}, 0.85}, {Span{M: 18}, 0.82}, {Span{M: 24}, 0.8}, {Span{M: 30}, 0.5}, {Span{Y: 3}, 0.6},
	{Span{Y: 4}, 0.95}, {Span{Y: 5}, 0.75}, {Span{Y: 6}, 0.5}, {Span{Y: 8}, 0.4}, {Span{Y: 10}, 0.4},
	{Span{Y: 11}, 0.95}, {Span{Y: 12}, 0.6}, {Span{Y: 13}, 0.55}, {Span{Y: 14}, 0.45}, {Span{Y: 15}, 0.45},
	{Span{Y: 16}, 0.65}, {Span{Y: 17}, 0.45}, {Span{Y: 18}, 0.4},
}

// timeliness is how a family keeps visits: share of families, how often they come, how late.
type timeliness struct {
	share, attend              float64
	lateMin, lateMode, lateMax float64 // days after the nominal age
}

var timelinessClasses = []timeliness{
	{share: 0.70, attend: 0.97, lateMin: 0, lateMode: 4, lateMax: 25},
	{share: 0.22, attend: 0.92, lateMin: 7, lateMode: 30, lateMax: 75},
	{share: 0.08, attend: 0.8, lateMin: 20, lateMode: 60, lateMax: 180},
}

const (
	earlyVisitRate   = 0.05  // a prompt family's visit happens up to 3 weeks early
	invalidGiveRate  = 0.35  // a provider gives a dose that is due soon though not yet valid
	outOfStockRate   = 0.002 // a due dose is recorded not done: product out of stock
	birthDoseRate    = 0.875 // the birth hospital gives the HepB birth dose
	refusalRecorded  = 0.6   // a declined dose is recorded as not done
	maxRefusalsKept  = 2     // per series
	dueWindowDays    = 30    // a dose recommended within this many days is given now
	secondFluDoseRat = 0.85  // children under 9 in their first season get the second dose
)

// sim builds one person's immunization history.
type sim struct {
	g        *Generator
	p        *person
	r        rng
	hist     []Dose // everything given so far, in date order
	dues     []Due  // scratch for Forecast
	events   []event
	declined map[string]bool
	refused  map[string]int
	fluDoses int
}

func (s *sim) clinicOn(d Date) int {
	if s.p.switchTo >= 0 && d >= s.p.switchOn {
		return s.p.switchTo
	}
	return s.p.clinic
}

func (s *sim) practitionerOf(o int) int {
	l := s.g.dir.orgs[o].practitioners
	return l[s.r.intn(len(l))]
}

// give records product pi as administered and adds it to the history of every series it covers.
func (s *sim) give(pi int, d Date, o int, invalid string) {
	pr := &s.g.t.products[pi]
	s.events = append(s.events, event{date: d, series: pr.series[0], prod: pi, org: o, prac: s.practitionerOf(o),
		primary: true, invalid: invalid, dupOf: -1, seq: len(s.events), lotOrg: o, lotDate: d})
	s.hist = append(s.hist, Dose{Date: d, CVX: pr.cvx})
}

func (s *sim) notDone(series string, d Date, o int, reason string) {
	s.events = append(s.events, event{date: d, series: series, prod: -1, notDone: reason, org: o,
		prac: s.practitionerOf(o), primary: true, dupOf: -1, seq: len(s.events)})
}

func (s *sim) refuse(series string, d Date, o int) {
	if s.refused[series] >= maxRefusalsKept || !s.r.chance(refusalRecorded) {
		return
	}
	s.refused[series]++
	reason := "PATOBJ"
	switch {
	case series == "VAR" && d-s.p.birth > 365*4 && s.r.chance(0.3):
		reason = "IMMUNE"
	case s.r.chance(0.05):
		reason = "MEDPREC"
	}
	s.notDone(series, d, o, reason)
}

// childhood walks the well-child visits of anyone young enough for the records to matter.
func (s *sim) childhood() {
	p, cfg, r := s.p, &s.g.cfg, &s.r
	if p.birth < (Span{Y: -19}).From(cfg.RecordsSince) {
		return
	}
	w := make([]float64, len(timelinessClasses))
	for i, c := range timelinessClasses {
		w[i] = c.share
	}
	cls := timelinessClasses[newWeighted(w).pick(r)]
	for _, name := range childSeries {
		s.declined[name] = p.fullRefuser || r.chance(s.g.t.series[name].decline)
	}
	last := NoDate
	for i, v := range wellChildVisits {
		d := p.birth
		if i > 0 {
			if !r.chance(cls.attend * v.attend) {
				continue
			}
			delay := r.triangular(cls.lateMin, cls.lateMode, cls.lateMax)
			if cls.lateMin == 0 && r.chance(earlyVisitRate) {
				delay = -float64(r.between(5, 21))
			}
			d = v.age.From(p.birth) + Date(delay)
			if d < last+14 {
				d = last + 14
			}
		}
		if d > cfg.AsOf {
			break
		}
		last = d
		s.visit(d, i == 0)
	}
}

type needItem struct {
	series  string
	dose    int
	invalid string
	covered bool
}

// visit gives whatever is due on day d.
func (s *sim) visit(d Date, birthStay bool) {
	p, r, f := s.p, &s.r, s.g.sched
	o := s.clinicOn(d)
	if birthStay {
		o = p.hospital
	}
	var need []needItem
	s.dues = f.Forecast(p.birth, d, s.hist, childSeries, s.dues[:0])
	for i, name := range childSeries {
		if birthStay && name != "HepB" {
			continue
		}
		due := s.dues[i]
		if due.Status != StatusDue || due.Recommended > d+dueWindowDays || (due.Latest != NoDate && d > due.Latest) {
			continue
		}
		if s.declined[name] {
			s.refuse(name, d, o)
			continue
		}
		if r.chance(s.g.t.series[name].missed) {
			continue
		}
		if r.chance(outOfStockRate) {
			s.notDone(name, d, o, "OSTOCK")
			continue
		}
		inv := ""
		if d < due.Earliest {
			if !r.chance(invalidGiveRate) {
				continue
			}
			inv = due.EarliestBy
		}
		need = append(need, needItem{series: name, dose: due.Dose, invalid: inv})
	}
	if birthStay && !r.chance(birthDoseRate) {
		return
	}
	s.administer(d, o, need)
}

// administer chooses products for the needed doses: the clinic's combination vaccines first.
func (s *sim) administer(d Date, o int, need []needItem) {
	find := func(name string) int {
		for i := range need {
			if need[i].series == name && !need[i].covered {
				return i
			}
		}
		return -1
	}
	for _, slot := range []string{"INFANT_COMBO", "PRESCHOOL_COMBO", "MMRV"} {
		pi := s.g.stocked(o, slot, d, s.p.birth)
		if pi < 0 {
			continue
		}
		pr := &s.g.t.products[pi]
		k := find(pr.series[0])
		if k < 0 || need[k].invalid != "" || (pr.doseLo > 0 && (need[k].dose < pr.doseLo || need[k].dose > pr.doseHi)) {
			continue
		}
		if !s.comboFits(pr, d, need, find) {
			continue
		}
		for _, name := range pr.series {
			if j := find(name); j >= 0 {
				need[j].covered = true
			}
		}
		s.give(pi, d, o, "")
	}
	for i := range need {
		if need[i].covered {
			continue
		}
		if pi := s.g.stocked(o, need[i].series, d, s.p.birth); pi >= 0 {
			s.give(pi, d, o, need[i].invalid)
		}
	}
}

// comboFits reports whether every other component of a combination product is needed now or
// would at least be a valid extra dose, and none is declined.
func (s *sim) comboFits(pr *product, d Date, need []needItem, find func(string) int) bool {
	others := 0
	for _, name := range pr.series[1:] {
		if s.declined[name] {
			return false
		}
		if j := find(name); j >= 0 {
			if need[j].invalid != "" {
				return false
			}
			others++
			continue
		}
		due := s.dues[slices.Index(childSeries, name)]
		switch {
		case due.Status == StatusComplete:
		case due.Status == StatusDue && d >= due.Earliest && (due.Latest == NoDate || d <= due.Latest):
		default:
			return false
		}
	}
	return others > 0
}
