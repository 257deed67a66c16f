package search

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/<dir>/<name>.golden (rewriting it
// under -update).
func golden(t *testing.T, dir, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", dir, name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./search -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// testTypes are the served types plus a few that exercise number,
// quantity and composite parameters (none of the IIS types has them).
var testTypes = []string{"Patient", "Immunization", "ImmunizationRecommendation", "ImmunizationEvaluation",
	"Organization", "Practitioner", "Location", "RelatedPerson", "Group", "Provenance", "Observation", "RiskAssessment"}

func testRegistry(t testing.TB) *Registry {
	t.Helper()
	r, err := NewRegistry(testTypes)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testNow is the clock of compile tests (ap widens relative to now).
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testCompiler(d Dialect) *Compiler {
	return &Compiler{Dialect: d, BaseURL: "http://example.org/fhir", Location: time.UTC, Now: func() time.Time { return testNow }}
}
