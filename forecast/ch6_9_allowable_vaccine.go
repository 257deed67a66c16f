package forecast

// Section 6.9, Evaluate for Allowable Vaccine (Tables 6-28 to 6-30).

// evaluateAllowableVaccine is Table 6-29.
func (p *patient) evaluateAllowableVaccine(sd *seriesDose, d *patientDose) bool {
	for k := range sd.allowable {
		av := &sd.allowable[k]
		if av.cvx != d.cvx {
			continue
		}
		begin := p.ageDate(av.beginAge, MinDate) // CALCDTALLOW-1
		end := p.ageDate(av.endAge, MaxDate)     // CALCDTALLOW-2
		if begin <= d.date && d.date < end {
			return true
		}
	}
	return false
}
