package synth

import "slices"

// Summary describes what a stream produced.
type Summary struct {
	Counts            map[string]int `json:"counts"`
	People            int            `json:"people"`
	DuplicatePatients int            `json:"duplicatePatients"`
	DuplicateDoses    int            `json:"duplicateDoses"`
	InvalidDoses      int            `json:"invalidDoses"`
	NotDone           int            `json:"notDone"`
	Coverage          []Coverage     `json:"coverage"`
}

// Coverage is one measure as achieved: Vaccinated of Population, from the emitted records
// (duplicate reports and invalid doses not counted).
type Coverage struct {
	Measure
	Population int     `json:"population"`
	Vaccinated int     `json:"vaccinated"`
	Achieved   float64 `json:"achieved"`
}

func (g *Generator) newSummary() *Summary {
	s := &Summary{}
	s.reset(g)
	return s
}

func (s *Summary) reset(g *Generator) {
	counts := s.Counts
	if counts == nil {
		counts = map[string]int{}
	}
	clear(counts)
	for _, t := range resourceTypes {
		counts[t] = 0
	}
	cov := s.Coverage[:0]
	for _, m := range g.t.coverage {
		cov = append(cov, Coverage{Measure: m})
	}
	*s = Summary{Counts: counts, Coverage: cov}
}

func (s *Summary) add(o *Summary) {
	for k, v := range o.Counts {
		s.Counts[k] += v
	}
	s.People += o.People
	s.DuplicatePatients += o.DuplicatePatients
	s.DuplicateDoses += o.DuplicateDoses
	s.InvalidDoses += o.InvalidDoses
	s.NotDone += o.NotDone
	for i := range s.Coverage {
		s.Coverage[i].Population += o.Coverage[i].Population
		s.Coverage[i].Vaccinated += o.Coverage[i].Vaccinated
	}
}

func (s *Summary) finish() {
	for i := range s.Coverage {
		c := &s.Coverage[i]
		if c.Population > 0 {
			c.Achieved = float64(int(float64(c.Vaccinated)/float64(c.Population)*10000+0.5)) / 10000
		}
	}
}

// Total is the number of resources.
func (s *Summary) Total() int {
	n := 0
	for _, v := range s.Counts {
		n += v
	}
	return n
}

// tally adds one person to the coverage measures.
func (g *Generator) tally(s *Summary, p *person, evs []event) {
	s.People++
	var hist []Dose
	for k := range evs {
		e := &evs[k]
		if e.notDone != "" || e.dupOf >= 0 || e.prod < 0 {
			continue
		}
		hist = append(hist, Dose{Date: evs[k].date, CVX: g.t.products[e.prod].cvx})
	}
	asOf := g.cfg.AsOf
	for i := range s.Coverage {
		m := &s.Coverage[i].Measure
		if asOf < m.cFrom.From(p.birth) || (m.cTo.ok && asOf >= m.cTo.From(p.birth)) {
			continue
		}
		s.Coverage[i].Population++
		if g.meets(m, p.birth, hist) {
			s.Coverage[i].Vaccinated++
		}
	}
}

// meets reports whether a person's emitted history (all series, date order) satisfies m.
func (g *Generator) meets(m *Measure, birth Date, hist []Dose) bool {
	by := g.cfg.AsOf
	if m.by.ok {
		by = m.by.From(birth) - 1
	}
	n := 0
	for n < len(hist) && hist[n].Date <= by {
		n++
	}
	upTo := hist[:n]
	in := func(d Dose, series string) bool { return slices.Contains(g.t.cvxSeries[d.CVX], series) }
	count := func(series string) int {
		c := 0
		for _, d := range upTo {
			if in(d, series) {
				c++
			}
		}
		return c
	}
	var due [1]Due
	switch m.Kind {
	case "doses":
		return g.sched.Forecast(birth, by, upTo, []string{m.Series}, due[:0])[0].Valid >= m.Min
	case "complete":
		return g.sched.Forecast(birth, by, upTo, []string{m.Series}, due[:0])[0].Status == StatusComplete
	case "birthdose":
		return slices.ContainsFunc(upTo, func(d Dose) bool { return in(d, m.Series) })
	case "flu2":
		return count("Flu") >= m.Min
	case "none":
		return len(upTo) == 0
	case "season":
		y, mo, _ := g.cfg.AsOf.YMD()
		if mo < 7 {
			y--
		}
		from, to := MakeDate(y-1, 8, 1), MakeDate(y, 6, 30)
		return slices.ContainsFunc(hist, func(d Dose) bool { return in(d, "Flu") && d.Date >= from && d.Date <= to })
	}
	return false
}
