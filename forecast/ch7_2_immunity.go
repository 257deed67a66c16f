package forecast

import "strings"

// Section 7.2, Determine Evidence of Immunity (Tables 7-2 and 7-3).

// evidenceOfImmunity is Table 7-3: an immunity guideline (clinical history)
// among the patient's observations, or a birth date before the immunity
// birth date without an exclusion condition and with the immunity country
// of birth.
func (p *patient) evidenceOfImmunity(a *antigen) bool {
	for _, c := range a.immunityCodes {
		if p.hasObservation(c) {
			if p.tr != nil {
				p.tr.printf("%s: evidence of immunity (observation %s)", a.name, c)
			}
			return true
		}
	}
	for _, b := range a.birthImmunity {
		if p.dob >= b.before {
			continue
		}
		excluded := false
		for _, x := range b.exclusions {
			if p.hasObservation(x) {
				excluded = true
				break
			}
		}
		if excluded {
			continue
		}
		if b.country != "" && !sameCountry(b.country, p.country) {
			continue
		}
		if p.tr != nil {
			p.tr.printf("%s: evidence of immunity (born before %s)", a.name, b.before)
		}
		return true
	}
	return false
}

func sameCountry(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToUpper(strings.NewReplacer(".", "", " ", "").Replace(s))
		switch s {
		case "US", "USA", "UNITEDSTATES", "UNITEDSTATESOFAMERICA":
			return "US"
		}
		return s
	}
	return norm(a) == norm(b)
}
