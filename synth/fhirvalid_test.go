package synth

import (
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// TestFHIRR4 parses every resource of a small population with the R4 validating unmarshaller
// the server uses (github.com/google/fhir/go): required elements, cardinalities, value formats
// and reference types.
func TestFHIRR4(t *testing.T) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig(400)
	cfg.DuplicatePatientRate, cfg.DuplicateDoseRate = 0.2, 0.1
	c := generate(t, cfg)
	for i, b := range c.resources {
		if _, err := u.Unmarshal(b); err != nil {
			t.Fatalf("%s %d: %v\n%s", c.types[i], i, err, b)
		}
	}
}
