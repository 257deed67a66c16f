// Package profiles holds the conformance data this server enforces beyond
// base FHIR R4: the CDC CVX and MVX code systems (embedded, see data/README.md),
// the vaccine-coding rules for Immunization, and the Patient compartment
// definition. It is data plus small checks; `interaction` and `search` import
// it, and it imports only `fhir`.
package profiles

import (
	"fmt"

	"github.com/immunis/immunis/fhir"
)

// Rules checks resources against this server's profile rules.
type Rules struct {
	CVX *CodeSystem
	MVX *CodeSystem
}

// Load parses the embedded code systems (once per process).
func Load() (*Rules, error) {
	cvx, err := CVX()
	if err != nil {
		return nil, err
	}
	mvx, err := MVX()
	if err != nil {
		return nil, err
	}
	return &Rules{CVX: cvx, MVX: mvx}, nil
}

// Check returns the profile violations of a structurally valid resource.
func (r *Rules) Check(typ string, obj fhir.Object) []fhir.Issue {
	switch typ {
	case "Immunization":
		return r.checkImmunization(obj)
	}
	return nil
}

// checkImmunization: vaccineCode must carry a CVX coding whose code is in the
// CDC table (an IIS consolidates by CVX; other codings may accompany it), and
// an MVX manufacturer identifier, when given, must be a known MVX code.
func (r *Rules) checkImmunization(obj fhir.Object) []fhir.Issue {
	var issues []fhir.Issue
	vc := fhir.Obj(obj, "vaccineCode")
	found := false
	for i, c := range fhir.Arr(vc, "coding") {
		coding, _ := c.(map[string]any)
		if fhir.Str(coding, "system") != SystemCVX {
			continue
		}
		found = true
		code := fhir.Str(coding, "code")
		if _, ok := r.CVX.Lookup(code); !ok {
			issues = append(issues, fhir.Issue{
				Severity: fhir.SeverityError, Code: fhir.IssueCodeInvalid, MsgID: "IMM-PRF-002",
				Diagnostics: fmt.Sprintf("Immunization.vaccineCode: %q is not a code of the CDC CVX table (%s)", code, SystemCVX),
				Expression:  []string{fmt.Sprintf("Immunization.vaccineCode.coding[%d].code", i)},
			})
		}
	}
	if !found && vc != nil {
		issues = append(issues, fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueRequired, MsgID: "IMM-PRF-001",
			Diagnostics: "Immunization.vaccineCode must include a CVX coding (system " + SystemCVX + ")",
			Expression:  []string{"Immunization.vaccineCode.coding"},
		})
	}
	if id := fhir.Obj(fhir.Obj(obj, "manufacturer"), "identifier"); fhir.Str(id, "system") == SystemMVX {
		if code := fhir.Str(id, "value"); code != "" {
			if _, ok := r.MVX.Lookup(code); !ok {
				issues = append(issues, fhir.Issue{
					Severity: fhir.SeverityError, Code: fhir.IssueCodeInvalid, MsgID: "IMM-PRF-003",
					Diagnostics: fmt.Sprintf("Immunization.manufacturer: %q is not a code of the CDC MVX table", code),
					Expression:  []string{"Immunization.manufacturer.identifier.value"},
				})
			}
		}
	}
	return issues
}

// PatientCompartment lists, per resource type, the search parameters that
// make a resource a member of a Patient's compartment (R4
// CompartmentDefinition "patient", restricted to the types this server
// stores). A Patient is in its own compartment.
var PatientCompartment = map[string][]string{
	"Group":                      {"member"},
	"Immunization":               {"patient"},
	"ImmunizationEvaluation":     {"patient"},
	"ImmunizationRecommendation": {"patient"},
	"Patient":                    {"link"},
	"Provenance":                 {"patient"},
	"RelatedPerson":              {"patient"},
}
