package conformance

import (
	"embed"
	"path"
)

// The OperationDefinitions of the operations this server routes, embedded
// as published (data/immds/README.md says where each comes from).

//go:embed data/immds/*.json
var operationDefs embed.FS

// Canonical URLs of the $immds-forecast definitions.
const (
	ImmDSForecastURL        = "http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation"
	PatientImmDSForecastURL = "https://immunis.dev/fhir/OperationDefinition/PatientImmDSForecast"
)

// OperationDefinition returns the JSON of the OperationDefinition with the
// given id, for GET /fhir/OperationDefinition/{id}.
func OperationDefinition(id string) ([]byte, bool) {
	switch id {
	case "ImmDSForecastOperation", "PatientImmDSForecast":
	default:
		return nil, false
	}
	b, err := operationDefs.ReadFile(path.Join("data/immds", "OperationDefinition-"+id+".json"))
	return b, err == nil
}

// ImmDSOperations lists $immds-forecast for the CapabilityStatement: the
// IG's operation at the system level and this server's extension on
// Patient.
func ImmDSOperations() []Operation {
	return []Operation{
		{Name: "immds-forecast", Definition: ImmDSForecastURL, System: true},
		{Name: "immds-forecast", Definition: PatientImmDSForecastURL, Types: []string{"Patient"}},
	}
}
