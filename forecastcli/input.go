package forecastcli

// Input parsing: the CDC test-case form (JSON Lines) and FHIR R4
// Bundle/Parameters, both into a forecast.Input.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/immunis/immunis/forecast"
	"github.com/immunis/immunis/forecast/cdccase"
)

// parsedCase is one patient ready for the engine.
type parsedCase struct {
	id    string
	in    forecast.Input
	seqs  []int  // per dose of in.Doses: its seq (test cases) or position (FHIR)
	group string // the vaccine group a CDC test case tests ("" for FHIR input)
}

// parseCase reads one case in either form.
func parseCase(b []byte, eng *forecast.Engine) (parsedCase, error) {
	var probe struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return parsedCase{}, fmt.Errorf("not a JSON object: %w", err)
	}
	switch probe.ResourceType {
	case "":
		return parseTestCase(b, eng)
	case "Bundle", "Parameters":
		pc, err := parseFHIR(b, eng)
		if pc.id == "" {
			pc.id = probe.ID
		}
		return pc, err
	default:
		return parsedCase{id: probe.ID}, fmt.Errorf("resourceType %q: want a Bundle or Parameters holding a Patient and Immunizations", probe.ResourceType)
	}
}

// parseTestCase reads the CDC test-case form (its expected_* fields are
// ignored) and checks every CVX is one the engine knows.
func parseTestCase(b []byte, eng *forecast.Engine) (parsedCase, error) {
	var tc cdccase.Case
	if err := json.Unmarshal(b, &tc); err != nil {
		return parsedCase{}, fmt.Errorf("test case: %w", err)
	}
	pc := parsedCase{id: tc.ID, group: strings.TrimSpace(tc.VaccineGroup)}
	in, err := tc.Input()
	if err != nil {
		return pc, err
	}
	for i, d := range in.Doses {
		if !eng.KnownCVX(d.CVX) {
			return pc, fmt.Errorf("dose %s: unknown CVX %q", d.ID, d.CVX)
		}
		seq, _ := strconv.Atoi(tc.DoseID(i))
		pc.seqs = append(pc.seqs, seq)
	}
	pc.in = in
	return pc, nil
}

// FHIR R4, the few elements the engine needs.
type fhirResource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	// Bundle
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
	} `json:"entry"`
	// Parameters
	Parameter []struct {
		Name      string          `json:"name"`
		ValueDate string          `json:"valueDate"`
		Resource  json.RawMessage `json:"resource"`
	} `json:"parameter"`
	// Patient
	BirthDate string `json:"birthDate"`
	Gender    string `json:"gender"`
	// Immunization
	Status             string       `json:"status"`
	VaccineCode        fhirConcept  `json:"vaccineCode"`
	OccurrenceDateTime string       `json:"occurrenceDateTime"`
	OccurrenceString   string       `json:"occurrenceString"`
	IsSubpotent        bool         `json:"isSubpotent"`
	ExpirationDate     string       `json:"expirationDate"`
	Manufacturer       fhirRef      `json:"manufacturer"`
	DoseQuantity       fhirQuantity `json:"doseQuantity"`
	// Observation / Condition
	Code              fhirConcept `json:"code"`
	EffectiveDateTime string      `json:"effectiveDateTime"`
	OnsetDateTime     string      `json:"onsetDateTime"`
	RecordedDate      string      `json:"recordedDate"`
}

type fhirConcept struct {
	Coding []struct {
		System string `json:"system"`
		Code   string `json:"code"`
	} `json:"coding"`
	Text string `json:"text"`
}

func (c fhirConcept) code(systemPart string) string {
	for _, cd := range c.Coding {
		if strings.Contains(strings.ToLower(cd.System), systemPart) {
			return strings.TrimSpace(cd.Code)
		}
	}
	return ""
}

type fhirRef struct {
	Identifier struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier"`
	Display string `json:"display"`
}

type fhirQuantity struct {
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
	Code  string   `json:"code"`
}

const cvxSystem = "hl7.org/fhir/sid/cvx"

// parseFHIR reads a Bundle or Parameters: the Patient (birthDate, gender),
// its Immunizations (status completed/not-done/entered-in-error,
// occurrence, CVX coding, MVX manufacturer identifier, isSubpotent, lot
// expiration, dose quantity in mL), an optional assessmentDate parameter,
// and Observations or Conditions coded with a CDSi observation code (a
// coding whose system contains "cdsi").
func parseFHIR(b []byte, eng *forecast.Engine) (parsedCase, error) {
	var root fhirResource
	if err := json.Unmarshal(b, &root); err != nil {
		return parsedCase{}, fmt.Errorf("FHIR %s: %w", root.ResourceType, err)
	}
	var resources []json.RawMessage
	var pc parsedCase
	for _, e := range root.Entry {
		resources = append(resources, e.Resource)
	}
	for _, p := range root.Parameter {
		if p.Name == "assessmentDate" && p.ValueDate != "" {
			d, err := forecast.ParseDate(dateOnly(p.ValueDate))
			if err != nil {
				return pc, fmt.Errorf("parameter assessmentDate: %w", err)
			}
			pc.in.AssessmentDate = d
		}
		if len(p.Resource) > 0 {
			resources = append(resources, p.Resource)
		}
	}
	var patient *fhirResource
	nImm := 0
	for _, raw := range resources {
		var r fhirResource
		if err := json.Unmarshal(raw, &r); err != nil {
			return pc, fmt.Errorf("FHIR resource: %w", err)
		}
		switch r.ResourceType {
		case "Patient":
			if patient != nil {
				return pc, errors.New("more than one Patient")
			}
			p := r
			patient = &p
			pc.id = r.ID
		case "Immunization":
			nImm++
			if err := addImmunization(&pc, &r, nImm, eng); err != nil {
				return pc, err
			}
		case "Observation", "Condition":
			code := r.Code.code("cdsi")
			if code == "" {
				continue
			}
			obs := forecast.Observation{Code: code}
			for _, s := range []string{r.EffectiveDateTime, r.OnsetDateTime, r.RecordedDate} {
				if s != "" {
					if d, err := forecast.ParseDate(dateOnly(s)); err == nil {
						obs.Date = d
						break
					}
				}
			}
			pc.in.Observations = append(pc.in.Observations, obs)
		}
	}
	if patient == nil {
		return pc, errors.New("no Patient resource")
	}
	if patient.BirthDate == "" {
		return pc, errors.New("missing birth date (Patient.birthDate)")
	}
	d, err := forecast.ParseDate(patient.BirthDate)
	if err != nil {
		return pc, fmt.Errorf("Patient.birthDate: %w (a full date is needed)", err)
	}
	pc.in.BirthDate = d
	pc.in.Gender = forecast.ParseGender(patient.Gender)
	return pc, nil
}

func addImmunization(pc *parsedCase, r *fhirResource, n int, eng *forecast.Engine) error {
	name := fmt.Sprintf("Immunization %d", n)
	if r.ID != "" {
		name = fmt.Sprintf("Immunization %d (%s)", n, r.ID)
	}
	dose := forecast.Dose{ID: r.ID}
	if dose.ID == "" {
		dose.ID = strconv.Itoa(n)
	}
	switch r.Status {
	case "entered-in-error":
		return nil
	case "not-done":
		dose.Condition = forecast.NotAdministered
	}
	if r.IsSubpotent {
		dose.Condition = forecast.SubStandard
	}
	dose.CVX = r.VaccineCode.code(cvxSystem)
	if dose.CVX == "" {
		return fmt.Errorf("%s: no CVX coding (system http://hl7.org/fhir/sid/cvx)", name)
	}
	if !eng.KnownCVX(dose.CVX) {
		return fmt.Errorf("%s: unknown CVX %q", name, dose.CVX)
	}
	occ := r.OccurrenceDateTime
	if occ == "" {
		occ = r.OccurrenceString
	}
	if occ == "" && dose.Condition != forecast.NotAdministered {
		return fmt.Errorf("%s: missing occurrenceDateTime", name)
	}
	if occ != "" {
		d, err := forecast.ParseDate(dateOnly(occ))
		if err != nil {
			return fmt.Errorf("%s: occurrence: %w", name, err)
		}
		dose.Date = d
	}
	if r.ExpirationDate != "" {
		d, err := forecast.ParseDate(dateOnly(r.ExpirationDate))
		if err != nil {
			return fmt.Errorf("%s: expirationDate: %w", name, err)
		}
		dose.LotExpiration = d
	}
	if strings.Contains(strings.ToLower(r.Manufacturer.Identifier.System), "mvx") {
		dose.MVX = r.Manufacturer.Identifier.Value
	}
	if q := r.DoseQuantity; q.Value != nil && (strings.EqualFold(q.Unit, "mL") || strings.EqualFold(q.Code, "mL")) {
		dose.Volume = *q.Value
	}
	pc.in.Doses = append(pc.in.Doses, dose)
	pc.seqs = append(pc.seqs, n)
	return nil
}

// dateOnly keeps the YYYY-MM-DD of a FHIR dateTime.
func dateOnly(s string) string {
	if len(s) > 10 && s[4] == '-' {
		return s[:10]
	}
	return s
}
