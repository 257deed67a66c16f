package forecast

import "strings"

// Section 6.8, Evaluate for Preferable Vaccine (Tables 6-25 to 6-27).

// evaluatePreferableVaccine is Table 6-26. The volume never invalidates a
// dose; a low volume only adds the reason "Volume administered is less
// than recommended volume".
func (p *patient) evaluatePreferableVaccine(sd *seriesDose, d *patientDose) (preferable, lowVolume bool) {
	for k := range sd.preferable {
		pv := &sd.preferable[k]
		if pv.cvx != d.cvx {
			continue
		}
		begin := p.ageDate(pv.beginAge, MinDate) // CALCDTPREF-1
		end := p.ageDate(pv.endAge, MaxDate)     // CALCDTPREF-2
		if d.date < begin || d.date >= end {
			continue
		}
		if !tradeNameMatches(pv, d) {
			continue
		}
		return true, pv.volume > 0 && d.volume > 0 && d.volume < pv.volume
	}
	return false, false
}

// tradeNameMatches compares the trade name when both sides give one, else
// the manufacturer (MVX). A dose with neither cannot contradict the
// preferable vaccine.
func tradeNameMatches(pv *preferableVaccine, d *patientDose) bool {
	switch {
	case pv.tradeName != "" && d.trade != "":
		return strings.EqualFold(pv.tradeName, d.trade)
	case pv.mvx != "" && d.mvx != "":
		return strings.EqualFold(pv.mvx, d.mvx)
	}
	return true
}
