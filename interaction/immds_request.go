package interaction

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/forecast"
)

// immdsRequest is one forecast to compute: the engine input and, per
// immunization given, how the answer refers back to it.
type immdsRequest struct {
	in             forecast.Input
	assessmentText string // YYYY-MM-DD
	patientRef     string // reference of ImmunizationEvaluation.patient
	patientDisplay string
	patientID      string // the stored Patient's id (instance level)
	doses          []doseInfo
	// otherSeries asks for the evaluations in the antigens' other best
	// series too (this server's extension parameter).
	otherSeries bool
}

// doseInfo is one input Immunization.
type doseInfo struct {
	ref        string // Immunization/{id} or urn:uuid:…
	display    string
	identifier *identifierIn
	id         string // resource id, "" when none
	// engine is the index of the dose in in.Doses, -1 when not given to
	// the engine.
	engine int
	// omit: entered-in-error or not-done, not a dose: no evaluation.
	omit bool
	// notEvaluated says why the dose was not given to the engine; such a
	// dose gets one notvalid evaluation per antigen of its CVX (or one with
	// an unknown target disease).
	notEvaluated string
	cvx          string
	// subReason is the IG StatusReason of a sub-standard dose.
	subReason    concept
	hasSubReason bool
}

// parseFullDate reads a FHIR date with day precision (YYYY-MM-DD).
func parseFullDate(s string) (forecast.Date, bool) {
	if len(s) != 10 {
		return 0, false
	}
	d, day, ok := checkDateTime(s)
	return d, ok && day
}

// checkDateTime checks a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD,
// or YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)) by hand, as the fast path does
// not afford a regular expression per dose, and returns its calendar date
// as written when it is precise to the day.
func checkDateTime(s string) (d forecast.Date, day, ok bool) {
	num := func(i, n, lo, hi int) (int, bool) {
		if len(s) < i+n {
			return 0, false
		}
		v := 0
		for _, c := range []byte(s[i : i+n]) {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, v >= lo && v <= hi
	}
	y, ok := num(0, 4, 1, 9999)
	if !ok || len(s) == 4 {
		return 0, false, ok
	}
	m, ok := num(5, 2, 1, 12)
	if !ok || s[4] != '-' || len(s) == 7 {
		return 0, false, ok && s[4] == '-'
	}
	dd, ok := num(8, 2, 1, daysIn(y, m))
	if !ok || s[7] != '-' {
		return 0, false, false
	}
	d = forecast.NewDate(y, m, dd)
	if len(s) == 10 {
		return d, true, true
	}
	// A time needs seconds and a zone (FHIR dateTime).
	if len(s) < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, false, false
	}
	if _, ok := num(11, 2, 0, 23); !ok {
		return 0, false, false
	}
	if _, ok := num(14, 2, 0, 59); !ok {
		return 0, false, false
	}
	if _, ok := num(17, 2, 0, 60); !ok {
		return 0, false, false
	}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return 0, false, false
		}
		i = j
	}
	switch {
	case i == len(s)-1 && s[i] == 'Z':
		return d, true, true
	case i == len(s)-6 && (s[i] == '+' || s[i] == '-') && s[i+3] == ':':
		_, okh := num(i+1, 2, 0, 14)
		_, okm := num(i+4, 2, 0, 59)
		return d, okh && okm, okh && okm
	}
	return 0, false, false
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// setAssessmentDate checks and sets the assessment date.
func (r *immdsRequest) setAssessmentDate(s, expr string) error {
	d, ok := parseFullDate(s)
	if !ok {
		return fhir.Invalid("IMM-FC-006", expr, "assessmentDate %q must be a full date (YYYY-MM-DD)", s)
	}
	r.in.AssessmentDate, r.assessmentText = d, s
	return nil
}

// setPatient checks the Patient elements the engine uses.
func (r *immdsRequest) setPatient(p *resourceIn, expr string) error {
	if p.ID != nil {
		if !fhir.ValidID(*p.ID) {
			return fhir.Invalid("IMM-FC-007", expr+".id", "patient: %q is not a valid resource id", *p.ID)
		}
		r.patientRef = "Patient/" + *p.ID
	} else {
		r.patientRef, r.patientDisplay = "urn:uuid:"+uuid.NewString(), "the patient parameter"
	}
	if p.BirthDate == nil {
		return fhir.Errorf(fhir.KindInvalid, fhir.IssueRequired, "IMM-FC-008",
			"patient: Patient.birthDate is required for a forecast").At(expr + ".birthDate")
	}
	d, ok := parseFullDate(*p.BirthDate)
	if !ok {
		return fhir.Invalid("IMM-FC-009", expr+".birthDate", "patient: birthDate %q must be a full date (YYYY-MM-DD)", *p.BirthDate)
	}
	r.in.BirthDate = d
	if p.Gender != nil {
		switch *p.Gender {
		case "male":
			r.in.Gender = forecast.GenderMale
		case "female":
			r.in.Gender = forecast.GenderFemale
		case "other", "unknown":
			r.in.Gender = forecast.GenderUnknown
		default:
			return fhir.Invalid("IMM-FC-010", expr+".gender", "patient: gender %q is not one of male, female, other, unknown", *p.Gender)
		}
	}
	return nil
}

// checkDates verifies what the engine would otherwise refuse as a whole.
func (r *immdsRequest) checkDates(expr string) error {
	if r.in.AssessmentDate < r.in.BirthDate {
		return fhir.Invalid("IMM-FC-011", expr, "assessmentDate %s is before the patient's birthDate %s", r.assessmentText, r.in.BirthDate)
	}
	return nil
}

// addImmunization checks one Immunization and adds it as a dose. Problems
// with the vaccine code or the date make the dose "not evaluated" (a
// notvalid evaluation with the reason), never a failed request; elements
// of the wrong form are a 400 naming the element.
func (s *Service) addImmunization(r *immdsRequest, im *resourceIn, expr string, n int) error {
	d := doseInfo{engine: -1}
	if im.ID != nil {
		if !fhir.ValidID(*im.ID) {
			return fhir.Invalid("IMM-FC-007", expr+".id", "immunization: %q is not a valid resource id", *im.ID)
		}
		d.id, d.ref = *im.ID, "Immunization/"+*im.ID
	} else {
		d.display = "immunization " + strconv.Itoa(n)
		d.ref = "urn:uuid:" + uuid.NewString()
		if len(im.Identifier) > 0 {
			d.identifier = &im.Identifier[0]
		}
	}
	if im.Status == nil {
		return fhir.Errorf(fhir.KindInvalid, fhir.IssueRequired, "IMM-FC-012", "immunization: Immunization.status is required").At(expr + ".status")
	}
	dose := forecast.Dose{ID: strconv.Itoa(len(r.doses))}
	switch *im.Status {
	case "completed":
	case "entered-in-error":
		// CDSi: not a record of the patient at all.
		d.omit = true
		r.doses = append(r.doses, d)
		return nil
	case "not-done":
		// CDSi 4.1: a vaccine not administered is not a vaccine dose
		// administered; the engine ignores it.
		d.omit = true
		r.doses = append(r.doses, d)
		return nil
	default:
		return fhir.Invalid("IMM-FC-013", expr+".status", "immunization: status %q is not one of completed, entered-in-error, not-done", *im.Status)
	}
	if im.VaccineCode == nil {
		return fhir.Errorf(fhir.KindInvalid, fhir.IssueRequired, "IMM-FC-012", "immunization: Immunization.vaccineCode is required").At(expr + ".vaccineCode")
	}
	d.cvx, d.notEvaluated = s.vaccineCVX(im.VaccineCode)
	switch {
	case im.OccurrenceDateTime != nil:
		v := *im.OccurrenceDateTime
		day, ok, valid := checkDateTime(v)
		if !valid {
			return fhir.Invalid("IMM-FC-014", expr+".occurrenceDateTime", "immunization: occurrenceDateTime %q is not a FHIR dateTime", v)
		}
		switch {
		case !ok:
			d.setNotEvaluated(fmt.Sprintf("the date administered %q is not precise to the day", v))
		case day < r.in.BirthDate:
			d.setNotEvaluated(fmt.Sprintf("administered %s, before the birth date %s", day, r.in.BirthDate))
		default:
			dose.Date = day
		}
	case im.OccurrenceString != nil:
		d.setNotEvaluated(fmt.Sprintf("the date administered is given only as text (%q)", *im.OccurrenceString))
	default:
		return fhir.Errorf(fhir.KindInvalid, fhir.IssueRequired, "IMM-FC-012", "immunization: occurrence[x] is required").At(expr + ".occurrenceDateTime")
	}
	if im.ExpirationDate != nil {
		exp, ok := parseFullDate(*im.ExpirationDate)
		if !ok {
			return fhir.Invalid("IMM-FC-015", expr+".expirationDate", "immunization: expirationDate %q must be a full date", *im.ExpirationDate)
		}
		dose.LotExpiration = exp
		if dose.Date != 0 && dose.Date > exp {
			d.subReason, d.hasSubReason = reasonExpired, true
		}
	}
	if im.IsSubpotent != nil && *im.IsSubpotent {
		dose.Condition = forecast.SubStandard
		for _, cc := range im.SubpotentReason {
			for _, c := range cc.Coding {
				if sr, ok := subpotentReason(c.Code); ok && !d.hasSubReason {
					d.subReason, d.hasSubReason = sr, true
				}
			}
		}
	}
	if m := im.Manufacturer; m != nil && m.Identifier != nil && m.Identifier.System == systemMVX {
		// An MVX the CDC table does not know is ignored: an empty MVX never
		// disqualifies a dose (CDSi 6.8), a wrong one must not either.
		if mvx := strings.ToUpper(strings.TrimSpace(m.Identifier.Value)); s.Rules == nil || s.Rules.MVX == nil || knownMVX(s, mvx) {
			dose.MVX = mvx
		}
	}
	if q := im.DoseQuantity; q != nil && q.Value != nil && (q.Code == "mL" || q.Unit == "mL") {
		v, err := q.Value.Float64()
		if err != nil || v < 0 {
			return fhir.Invalid("IMM-FC-016", expr+".doseQuantity.value", "immunization: doseQuantity.value %q is not a non-negative number", q.Value.String())
		}
		dose.Volume = v
	}
	if d.notEvaluated == "" {
		dose.CVX = d.cvx
		d.engine = len(r.in.Doses)
		r.in.Doses = append(r.in.Doses, dose)
	}
	r.doses = append(r.doses, d)
	return nil
}

func (d *doseInfo) setNotEvaluated(why string) {
	if d.notEvaluated == "" {
		d.notEvaluated = why
	}
}

func knownMVX(s *Service, code string) bool {
	_, ok := s.Rules.MVX.Lookup(code)
	return ok
}

// vaccineCVX finds the CVX coding of a vaccineCode. It returns why the dose
// cannot be evaluated when there is none the engine knows. NDC-only codes
// cannot be mapped: the CDC tables this server embeds (CVX, MVX, vaccine
// groups, trade names) hold no NDC crosswalk.
func (s *Service) vaccineCVX(vc *codeableConceptIn) (cvx, notEvaluated string) {
	ndc := ""
	for _, c := range vc.Coding {
		switch c.System {
		case systemCVX:
			code := strings.TrimSpace(c.Code)
			if !s.Forecaster.KnownCVX(code) {
				return "", fmt.Sprintf("vaccine code %q is not in the CDC CVX table", c.Code)
			}
			return code, ""
		case systemNDC:
			if ndc == "" {
				ndc = c.Code
			}
		}
	}
	switch {
	case ndc != "":
		return "", fmt.Sprintf("NDC %q cannot be mapped to CVX: this server has no copy of the CDC NDC crosswalk; send a CVX coding", ndc)
	case len(vc.Coding) == 0:
		return "", "the vaccine code has no coding (text only)"
	}
	return "", fmt.Sprintf("the vaccine code has no CVX coding (system %q)", vc.Coding[0].System)
}

// addObservation reads this server's extension parameter `observation`:
// an Observation coded with a CDSi coded observation.
func (s *Service) addObservation(r *immdsRequest, o *resourceIn, expr string) error {
	if o.Status != nil && (*o.Status == "entered-in-error" || *o.Status == "cancelled") {
		return nil
	}
	if o.Code != nil {
		for i, c := range o.Code.Coding {
			if c.System != SystemCDSiObservation {
				continue
			}
			if s.Forecaster.ObservationTitle(c.Code) == "" {
				return fhir.Errorf(fhir.KindInvalid, fhir.IssueCodeInvalid, "IMM-FC-017",
					"observation: %q is not a CDSi coded observation", c.Code).At(fmt.Sprintf("%s.code.coding[%d].code", expr, i))
			}
			obs := forecast.Observation{Code: c.Code}
			if o.EffectiveDateTime != nil {
				v := *o.EffectiveDateTime
				day, ok, valid := checkDateTime(v)
				if !valid || !ok {
					return fhir.Invalid("IMM-FC-014", expr+".effectiveDateTime", "observation: effectiveDateTime %q must be a dateTime precise to the day", v)
				}
				obs.Date = day
			}
			r.in.Observations = append(r.in.Observations, obs)
			return nil
		}
	}
	return fhir.Errorf(fhir.KindInvalid, fhir.IssueRequired, "IMM-FC-017",
		"observation: Observation.code needs a coding from %s (a CDSi coded observation such as \"007\" Pregnant)", SystemCDSiObservation).At(expr + ".code")
}
