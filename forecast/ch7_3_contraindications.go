package forecast

// Section 7.3, Determine Contraindications (Tables 7-4 to 7-8).

// antigenContraindicated is Table 7-5: an antigen contraindication whose
// observation is active and whose begin and end ages (CALCDTCI-1, -2)
// surround the assessment date.
func (p *patient) antigenContraindicated(a *antigen) bool {
	for k := range a.contra {
		c := &a.contra[k]
		if !p.hasObservation(c.code) {
			continue
		}
		begin := p.ageDate(c.beginAge, MinDate) // CALCDTCI-1
		end := p.ageDate(c.endAge, MaxDate)     // CALCDTCI-2
		if begin <= p.asOf && p.asOf < end {
			if p.tr != nil {
				p.tr.printf("%s: contraindicated by observation %s (%s)", a.name, c.code, c.title)
			}
			return true
		}
	}
	return false
}

// vaccineContraindicated is Table 7-6 for one vaccine type.
func (p *patient) vaccineContraindicated(ai int, c cvxCode) bool {
	a := p.e.s.antigens[ai]
	for k := range a.vaccineContra {
		vc := &a.vaccineContra[k]
		if !p.hasObservation(vc.code) {
			continue
		}
		for _, v := range vc.vaccines {
			if v.cvx != c {
				continue
			}
			begin := p.ageDate(v.beginAge, MinDate)
			end := p.ageDate(v.endAge, MaxDate)
			if begin <= p.asOf && p.asOf < end {
				return true
			}
		}
	}
	return false
}

// allPreferableContraindicated is the second rule of Table 7-7: every
// preferable vaccine the target dose would forecast (forecast vaccine type
// 'Y') has a vaccine contraindication. A target dose that forecasts no
// specific vaccine is not contraindicated this way: CDC still forecasts
// DTaP dose 2 after encephalopathy following Pediarix, although every
// preferable DTaP-containing product is contraindicated (DT remains).
func (p *patient) allPreferableContraindicated(sd *seriesDose) bool {
	if len(p.obs) == 0 {
		return false
	}
	n := 0
	for k := range sd.preferable {
		if !sd.preferable[k].forecast {
			continue
		}
		n++
		if !p.vaccineContraindicatedAny(sd.preferable[k].cvx) {
			return false
		}
	}
	return n > 0
}

// vaccineContraindicatedAny checks the vaccine contraindications of every
// antigen: a contraindicated combination vaccine is contraindicated
// whichever antigen lists it.
func (p *patient) vaccineContraindicatedAny(c cvxCode) bool {
	for ai := range p.e.s.antigens {
		if p.vaccineContraindicated(ai, c) {
			return true
		}
	}
	return false
}
