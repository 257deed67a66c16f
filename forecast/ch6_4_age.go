package forecast

// Section 6.4, Evaluate Age (Tables 6-14 to 6-16).

type ageOutcome uint8

const (
	ageValid ageOutcome = iota
	ageGrace
	ageTooYoung
	ageTooOld
)

// relevantAge returns the age attributes that apply on a date
// (RELEVANT-1: effective and cessation dates), or nil when the target dose
// specifies none — the age is then valid.
func relevantAge(sd *seriesDose, on Date) *ageRule {
	for i := range sd.ages {
		if activeOn(sd.ages[i].effective, sd.ages[i].cessation, on) {
			return &sd.ages[i]
		}
	}
	return nil
}

// evaluateAge is Table 6-15.
func (p *patient) evaluateAge(given Date, r *ageRule) ageOutcome {
	if r == nil {
		return ageValid
	}
	absMin := p.ageDate(r.absMinAge, MinDate) // CALCDTAGE-5
	if given < absMin {
		return ageTooYoung
	}
	maxDate := p.ageDate(r.maxAge, MaxDate) // CALCDTAGE-1
	if given >= maxDate {
		return ageTooOld
	}
	if given < p.ageDate(r.minAge, MinDate) { // CALCDTAGE-4
		return ageGrace
	}
	return ageValid
}
