package interaction

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/immunis/immunis/fhir"
)

// Reading the $immds-forecast Parameters. github.com/google/fhir/go cannot
// read resources inside Parameters.parameter.resource, and its full
// validation costs ≈0.3 ms a resource, so the envelope and the embedded
// Patient, Immunization and Observation resources are decoded here with
// encoding/json into typed structs: every element the engine uses is
// checked strictly (type, format, required, code) and everything else is
// ignored. When the fast decode fails, a slower generic decode finds the
// parameter to name in the 400.

// paramsIn is the Parameters envelope. Members the operation does not use
// are ignored, like the resources' other elements.
type paramsIn struct {
	ResourceType string    `json:"resourceType"`
	Parameter    []paramIn `json:"parameter"`
}

// paramIn is one Parameters.parameter with the value types this operation
// reads; a parameter given as another value[x] lacks the one it needs.
type paramIn struct {
	Name         string          `json:"name"`
	ValueDate    *string         `json:"valueDate"`
	ValueBoolean *bool           `json:"valueBoolean"`
	Resource     *resourceIn     `json:"resource"`
	Part         json.RawMessage `json:"part"`
}

type codingIn struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type codeableConceptIn struct {
	Coding []codingIn `json:"coding"`
	Text   string     `json:"text"`
}

type identifierIn struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type referenceIn struct {
	Reference  string        `json:"reference"`
	Identifier *identifierIn `json:"identifier"`
}

type quantityIn struct {
	Value  *json.Number `json:"value"`
	System string       `json:"system"`
	Code   string       `json:"code"`
	Unit   string       `json:"unit"`
}

// resourceIn holds the elements the engine uses of the three resource
// types the operation reads, so that the whole request decodes in one pass
// (one Unmarshal, no second pass per resource): Patient (id, birthDate,
// gender), Immunization (id, identifier, status, vaccineCode,
// occurrence[x], isSubpotent, subpotentReason, expirationDate,
// manufacturer, doseQuantity) and Observation (status, code,
// effectiveDateTime, this server's extension parameter). The three share
// no element name with different types, so one struct serves them all.
type resourceIn struct {
	ResourceType       string              `json:"resourceType"`
	ID                 *string             `json:"id"`
	BirthDate          *string             `json:"birthDate"`
	Gender             *string             `json:"gender"`
	Identifier         []identifierIn      `json:"identifier"`
	Status             *string             `json:"status"`
	VaccineCode        *codeableConceptIn  `json:"vaccineCode"`
	OccurrenceDateTime *string             `json:"occurrenceDateTime"`
	OccurrenceString   *string             `json:"occurrenceString"`
	IsSubpotent        *bool               `json:"isSubpotent"`
	SubpotentReason    []codeableConceptIn `json:"subpotentReason"`
	ExpirationDate     *string             `json:"expirationDate"`
	Manufacturer       *referenceIn        `json:"manufacturer"`
	DoseQuantity       *quantityIn         `json:"doseQuantity"`
	Code               *codeableConceptIn  `json:"code"`
	EffectiveDateTime  *string             `json:"effectiveDateTime"`
}

// decodeEnvelope reads the Parameters in one pass (immds_fastjson.go, or
// encoding/json for what that does not handle); a failure is diagnosed by
// diagnoseEnvelope.
func decodeEnvelope(body []byte) (*paramsIn, error) {
	var p paramsIn
	if !fastDecodeParams(body, &p) {
		p = paramsIn{}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, diagnoseEnvelope(body, err)
		}
	}
	if p.ResourceType != "Parameters" {
		return nil, notParameters(p.ResourceType)
	}
	return &p, nil
}

func notParameters(rt string) error {
	if rt == "" {
		return fhir.Invalid("IMM-FC-001", "resourceType", "$immds-forecast takes a Parameters resource; the body has no resourceType")
	}
	return fhir.Invalid("IMM-FC-001", "resourceType", "$immds-forecast takes a Parameters resource, not %s", rt)
}

// valueTypes are the value[x] each parameter takes, for messages.
var valueTypes = map[string]string{
	"assessmentDate":         "valueDate",
	"persist":                "valueBoolean",
	"otherSeriesEvaluations": "valueBoolean",
	"patient":                "resource (Patient)",
	"immunization":           "resource (Immunization)",
	"observation":            "resource (Observation)",
}

// diagnoseEnvelope turns a failed fast decode into a 400 that names the
// parameter at fault, using the strict generic decoder.
func diagnoseEnvelope(body []byte, cause error) error {
	obj, err := fhir.DecodeStrict(body)
	if err != nil {
		return err // malformed JSON, duplicate keys, nulls …: already a 400
	}
	if rt := fhir.Str(obj, "resourceType"); rt != "Parameters" {
		return notParameters(rt)
	}
	for k := range obj {
		switch k {
		case "resourceType", "id", "meta", "implicitRules", "language", "parameter", "text":
		default:
			return fhir.Invalid("IMM-FC-002", "Parameters."+k, "Parameters has no element %q", k)
		}
	}
	params, ok := obj["parameter"].([]any)
	if !ok {
		return fhir.Invalid("IMM-FC-002", "Parameters.parameter", "Parameters.parameter must be an array")
	}
	for i, raw := range params {
		expr := paramExpr(i)
		p, ok := raw.(map[string]any)
		if !ok {
			return fhir.Invalid("IMM-FC-002", expr, "each parameter must be an object")
		}
		name, _ := p["name"].(string)
		for k, v := range p {
			switch {
			case k == "name":
				if _, ok := v.(string); !ok {
					return fhir.Invalid("IMM-FC-002", expr+".name", "parameter name must be a string")
				}
			case k == "resource":
				if err := diagnoseResource(v, name, expr); err != nil {
					return err
				}
			case k == "id" || k == "extension" || k == "modifierExtension" || k == "part":
			case strings.HasPrefix(k, "value"):
				want := valueTypes[name]
				if want == "" {
					return unknownParam(name, expr)
				}
				if k == want {
					_, isStr := v.(string)
					_, isBool := v.(bool)
					if k == "valueDate" && isStr || k == "valueBoolean" && isBool {
						continue
					}
					return fhir.Invalid("IMM-FC-003", expr+"."+k, "parameter %s: %s has the wrong JSON type", name, k)
				}
				return fhir.Invalid("IMM-FC-003", expr+"."+k, "parameter %s must be given as %s, not %s", name, want, k)
			default:
				return fhir.Invalid("IMM-FC-002", expr+"."+k, "parameter %q has no element %q", name, k)
			}
		}
	}
	return fhir.Invalid("IMM-FC-002", "Parameters", "malformed Parameters: %v", cause)
}

func unknownParam(name, expr string) error {
	return fhir.Invalid("IMM-FC-004", expr+".name",
		"$immds-forecast has no parameter %q (in: assessmentDate, patient, immunization; this server's extensions: observation, otherSeriesEvaluations)", name)
}

// diagnoseResource finds the element of a parameter's resource that has
// the wrong JSON type.
func diagnoseResource(v any, param, expr string) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var r resourceIn
	err = json.Unmarshal(raw, &r)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fhir.Invalid("IMM-FC-005", expr+".resource."+te.Field,
			"parameter %s: %s.%s must be a JSON %s", param, r.ResourceType, te.Field, jsonKind(te.Type.Kind().String()))
	}
	if err != nil {
		return fhir.Invalid("IMM-FC-005", expr+".resource", "parameter %s: the resource is not a JSON object", param)
	}
	return nil
}

// checkResource checks a parameter's resource type.
func checkResource(r *resourceIn, param, expr, want string) error {
	switch {
	case r == nil:
		return fhir.Invalid("IMM-FC-003", expr, "parameter %s must carry a %s resource (parameter.resource)", param, want)
	case r.ResourceType == "":
		return fhir.Invalid("IMM-FC-003", expr+".resource", "parameter %s must be a %s resource; it has no resourceType", param, want)
	case r.ResourceType != want:
		return fhir.Invalid("IMM-FC-003", expr+".resource", "parameter %s must be a %s resource, not %s", param, want, r.ResourceType)
	}
	return nil
}

// jsonKind names a Go kind in JSON terms for messages.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	case "struct", "ptr", "map":
		return "object"
	}
	return "number"
}

// decodeStored reads a stored resource (valid FHIR: written through the
// validator).
func decodeStored(body []byte, x *resourceIn) error {
	if fastDecodeResource(body, x) {
		return nil
	}
	*x = resourceIn{}
	return json.Unmarshal(body, x)
}
