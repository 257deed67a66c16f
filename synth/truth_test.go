package synth

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

type patientJSON struct {
	ID        string
	BirthDate string
	Name      []struct {
		Family string
		Given  []string
	}
	Identifier []struct{ System, Value string }
	Address    []struct {
		Line       []string
		PostalCode string
	}
	Telecom []struct{ System, Value string }
}

type immunizationJSON struct {
	ID                 string
	Status             string
	OccurrenceDateTime string
	PrimarySource      bool
	LotNumber          string
	VaccineCode        struct {
		Coding []struct{ System, Code string }
	}
	Patient struct{ Reference string }
}

// TestTruthMatchesOutput checks that every duplicate the truth stream names is in the output
// and really differs the way it says.
func TestTruthMatchesOutput(t *testing.T) {
	cfg := smallConfig(4000)
	cfg.DuplicatePatientRate, cfg.DuplicateDoseRate = 0.05, 0.03
	c := generate(t, cfg)
	tb, _ := loadTables()
	patients := map[string]patientJSON{}
	imms := map[string]immunizationJSON{}
	for i, b := range c.resources {
		switch c.types[i] {
		case TypePatient:
			var p patientJSON
			json.Unmarshal(b, &p)
			patients["Patient/"+p.ID] = p
		case TypeImmunization:
			var m immunizationJSON
			json.Unmarshal(b, &m)
			imms["Immunization/"+m.ID] = m
		}
	}
	counts := map[string]int{}
	for _, line := range c.truth {
		var r TruthRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		counts[r.Kind]++
		switch r.Kind {
		case TruthDuplicatePatient:
			a, okA := patients[r.Patient]
			b, okB := patients[r.Duplicate]
			if !okA || !okB {
				t.Fatalf("%s / %s not in output", r.Patient, r.Duplicate)
			}
			for _, v := range r.Variations {
				if !varies(v, a, b) {
					t.Errorf("%s vs %s: variation %s not visible", r.Patient, r.Duplicate, v)
				}
			}
		case TruthDuplicateDose:
			a, okA := imms[r.Immunization]
			b, okB := imms[r.Duplicate]
			if !okA || !okB {
				t.Fatalf("%s / %s not in output", r.Immunization, r.Duplicate)
			}
			if personOf(a.Patient.Reference) != personOf(b.Patient.Reference) {
				t.Errorf("%s and %s belong to different people", r.Immunization, r.Duplicate)
			}
			da, _ := ParseDate(a.OccurrenceDateTime)
			db, _ := ParseDate(b.OccurrenceDateTime)
			if d := math.Abs(float64(da - db)); d > 1 || (d > 0) != contains(r.Differences, "date") {
				t.Errorf("%s / %s: dates %s %s, differences %v", r.Immunization, r.Duplicate, da, db, r.Differences)
			}
			if b.PrimarySource || a.Status != "completed" {
				t.Errorf("%s: the second report must be a non-primary copy of a completed dose", r.Duplicate)
			}
			ca, cb := a.VaccineCode.Coding[0].Code, b.VaccineCode.Coding[0].Code
			if (ca != cb) != contains(r.Differences, "cvx-granularity") {
				t.Errorf("%s / %s: CVX %s vs %s, differences %v", r.Immunization, r.Duplicate, ca, cb, r.Differences)
			}
			if contains(r.Differences, "lot-case") && (a.LotNumber == b.LotNumber || !strings.EqualFold(a.LotNumber, b.LotNumber)) {
				t.Errorf("%s: lot %q vs %q is not a case difference", r.Duplicate, a.LotNumber, b.LotNumber)
			}
		case TruthInvalidDose:
			if _, ok := imms[r.Immunization]; !ok {
				t.Fatalf("%s not in output", r.Immunization)
			}
			if _, ok := tb.series[r.Series]; !ok || (r.Reason != "min-age" && r.Reason != "min-interval") {
				t.Errorf("invalid dose %+v", r)
			}
		default:
			t.Errorf("unknown truth kind %q", r.Kind)
		}
	}
	if counts[TruthDuplicatePatient] != c.sum.DuplicatePatients || counts[TruthDuplicateDose] != c.sum.DuplicateDoses ||
		counts[TruthInvalidDose] != c.sum.InvalidDoses {
		t.Errorf("truth counts %v disagree with summary %+v", counts, c.sum)
	}
	if got := c.sum.Counts[TypePatient] - cfg.Patients; got != c.sum.DuplicatePatients {
		t.Errorf("%d extra patient records, %d duplicates in the truth", got, c.sum.DuplicatePatients)
	}
	for _, k := range []string{TruthDuplicatePatient, TruthDuplicateDose, TruthInvalidDose} {
		if counts[k] == 0 {
			t.Errorf("no %s records", k)
		}
	}
}

func personOf(ref string) string {
	if i := strings.Index(ref, "-d"); i > 0 {
		return ref[:i]
	}
	return ref
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func identifierOf(p patientJSON, prefix string) string {
	for _, id := range p.Identifier {
		if strings.HasPrefix(id.System, prefix) {
			return id.System + "|" + id.Value
		}
	}
	return ""
}

func varies(v string, a, b patientJSON) bool {
	na, nb := a.Name[0], b.Name[0]
	switch v {
	case varNickname, varTypoGiven:
		return na.Given[0] != nb.Given[0]
	case varTypoFamily:
		return na.Family != nb.Family
	case varSwappedDM:
		return a.BirthDate != b.BirthDate && a.BirthDate[:4] == b.BirthDate[:4] &&
			a.BirthDate[5:7] == b.BirthDate[8:] && a.BirthDate[8:] == b.BirthDate[5:7]
	case varNoMiddle:
		return len(na.Given) == 2 && len(nb.Given) == 1
	case varAddress:
		return a.Address[0].Line[0] != b.Address[0].Line[0]
	case varPhone:
		return len(b.Telecom) < len(a.Telecom)
	case varDifferentMRN:
		return identifierOf(a, SystemMRNPrefix) != identifierOf(b, SystemMRNPrefix)
	}
	return false
}
