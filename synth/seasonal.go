package synth

import "strings"

// flu simulates seasonal influenza vaccination, habitual for most people.
func (s *sim) flu() {
	p, cfg, r := s.p, &s.g.cfg, &s.r
	if p.fullRefuser {
		return
	}
	y0, _, _ := cfg.FluSince.YMD()
	y1, _, _ := cfg.AsOf.YMD()
	for y := y0; y <= y1; y++ {
		prob := s.g.fluProb(p.birth, MakeDate(y, 10, 1))
		if prob == 0 || MakeDate(y, 8, 1) < cfg.FluSince {
			continue
		}
		yes := r.chance(prob)
		if r.chance(0.75) {
			yes = p.fluPropensity < prob
		}
		if !yes {
			continue
		}
		d := MakeDate(y, 8, 15) + Date(r.triangular(10, 65, 150))
		if d > cfg.AsOf || d < (Span{M: 6}).From(p.birth) {
			continue
		}
		prior := s.fluDoses
		if !s.fluDose(d) {
			continue
		}
		if d < (Span{Y: 9}).From(p.birth) && prior < 2 && r.chance(secondFluDoseRat) {
			if d2 := d + Date(28+r.intn(21)); d2 <= cfg.AsOf {
				s.fluDose(d2)
			}
		}
	}
}

func (s *sim) fluDose(d Date) bool {
	age := ageAt(s.p.birth, d)
	var o int
	switch u := s.r.float(); {
	case age < 3, age < 12 && u < 0.9, age < 18 && u < 0.7, age >= 18 && u < 0.45:
		o = s.clinicOn(d)
	case u < 0.92 || age < 18:
		o = s.g.dir.pick(&s.r, kindPharmacy)
	default:
		o = s.g.dir.pick(&s.r, kindHealthDept)
	}
	pi := -1
	if age >= 65 {
		pi = s.g.stocked(o, "FLU_SENIOR", d, s.p.birth)
	}
	if pi < 0 {
		pi = s.g.stocked(o, "FLU", d, s.p.birth)
	}
	if pi < 0 {
		return false
	}
	s.give(pi, d, o, "")
	s.fluDoses++
	return true
}

func (g *Generator) fluProb(birth, on Date) float64 {
	for _, b := range g.t.flu {
		if on >= b.from.From(birth) && on < b.to.From(birth) {
			return b.prob
		}
	}
	return 0
}

// covid simulates the COVID-19 rounds; later rounds go to the more willing among the primed.
func (s *sim) covid() {
	p, cfg, r := s.p, &s.g.cfg, &s.r
	if p.fullRefuser {
		return
	}
	primed := false
	for _, rd := range s.g.t.covid {
		if rd.from > cfg.AsOf {
			break
		}
		band := covidBand(ageAt(p.birth, rd.from))
		primary := strings.HasPrefix(rd.name, "primary")
		if band < 0 || (!primary && !primed) || p.covidPropensty >= rd.p[band] {
			continue
		}
		d := rd.from + Date(r.triangular(0, 0.15, 1)*float64(rd.to-rd.from))
		if d > cfg.AsOf {
			continue
		}
		o := s.adultOrg(0.6)
		pi := s.g.stocked(o, "COVID", d, p.birth)
		if pi < 0 {
			continue
		}
		s.give(pi, d, o, "")
		if primary {
			primed = true
			pr := &s.g.t.products[pi]
			if rd.doses > 1 && pr.cvx != "212" && r.chance(0.9) {
				gap := 21
				if pr.mvx == "MOD" {
					gap = 28
				}
				if d2 := d + Date(gap+r.intn(10)); d2 <= cfg.AsOf && pr.available(d2, p.birth) {
					s.give(pi, d2, o, "")
				}
			}
		}
	}
}

func covidBand(age int) int {
	switch {
	case age >= 65:
		return 4
	case age >= 50:
		return 3
	case age >= 18:
		return 2
	case age >= 12:
		return 1
	case age >= 5:
		return 0
	}
	return -1
}

// adultOrg picks where an adult is vaccinated: a pharmacy with probability pharmacy.
func (s *sim) adultOrg(pharmacy float64) int {
	switch u := s.r.float(); {
	case u < pharmacy:
		return s.g.dir.pick(&s.r, kindPharmacy)
	case u < pharmacy+0.1:
		return s.g.dir.pick(&s.r, kindHealthDept)
	}
	return s.clinicOn(s.g.cfg.AsOf)
}

// adultCampaigns applies data/adult.tsv.
func (s *sim) adultCampaigns() {
	p, cfg, r := s.p, &s.g.cfg, &s.r
	if p.fullRefuser {
		return
	}
	for i := range s.g.t.adult {
		a := &s.g.t.adult[i]
		start := max(a.minAge.From(p.birth), a.since)
		end := cfg.AsOf + 1
		if a.until != NoDate {
			end = min(end, a.until)
		}
		if a.maxAge.ok {
			end = min(end, a.maxAge.From(p.birth))
		}
		if start >= end {
			continue
		}
		if a.repeatYr > 0 {
			for w := start; w < end; w = w.addMonths(12 * a.repeatYr) {
				if r.chance(a.prob) {
					if d := w + Date(r.intn(365*a.repeatYr)); d < end {
						s.campaignDose(a, d)
					}
				}
			}
			continue
		}
		if !r.chance(a.prob) {
			continue
		}
		if d := start + Date(r.intn(365*max(a.spread, 1))); d < end {
			s.campaignDose(a, d)
		}
	}
}

func (s *sim) campaignDose(a *adultRule, d Date) {
	pharmacy := 0.2
	if a.series == "Zoster" || a.series == "RSVAdult" {
		pharmacy = 0.5
	}
	o := s.adultOrg(pharmacy)
	slot := map[string]string{"Td": "TD", "Zoster": "ZOSTER", "ZosterLive": "ZOSTER_LIVE",
		"PneumoAdult": "PNEUMO_ADULT", "RSVAdult": "RSV_ADULT"}[a.series]
	for k := 0; k < max(a.doses, 1); k++ {
		if k > 0 {
			if !s.r.chance(0.8) {
				return
			}
			d = a.interval.From(d) + Date(s.r.intn(90))
		}
		if d > s.g.cfg.AsOf {
			return
		}
		pi := s.g.stocked(o, slot, d, s.p.birth)
		if pi < 0 {
			return
		}
		s.give(pi, d, o, "")
	}
}
