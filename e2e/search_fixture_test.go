package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The search fixture: the official R4 examples (testdata/search) and a
// generated population around them, loaded in one transaction, then read
// back so the oracle sees exactly what the server stores.

// sqTypeOrder is the order resources are written in (referenced first).
var sqTypeOrder = []string{"Organization", "Practitioner", "Location", "Patient", "RelatedPerson", "Immunization",
	"ImmunizationEvaluation", "ImmunizationRecommendation", "Provenance", "Group"}

// sqLoad starts nothing: it writes the fixture into s and returns the
// oracle's data, read back from the server.
func sqLoad(t *testing.T, s *Server) *sqData {
	t.Helper()
	all := sqExamples(t)
	all = append(all, sqGenerate(s.Base)...)
	sort.SliceStable(all, func(i, j int) bool {
		return sqRank(all[i]["resourceType"].(string)) < sqRank(all[j]["resourceType"].(string))
	})
	var entries []any
	for _, r := range all {
		ref := r["resourceType"].(string) + "/" + r["id"].(string)
		entries = append(entries, map[string]any{"resource": r, "request": map[string]any{"method": "PUT", "url": ref}})
	}
	s.Do(t, "POST", "", map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}).Expect(t, 200)
	d := &sqData{byType: map[string][]sqRes{}, byRef: map[string]sqRes{}, base: s.Base}
	for _, typ := range sqTypeOrder {
		b := s.Do(t, "GET", typ+"?_count=1000", nil).Expect(t, 200).JSON(t)
		for _, e := range sqEntries(b, "match") {
			d.add(e)
		}
	}
	for _, typ := range sqTypeOrder {
		want := 0
		for _, r := range all {
			if r["resourceType"] == typ {
				want++
			}
		}
		if got := len(d.byType[typ]); got != want {
			t.Fatalf("%s?_count=1000 returned %d resources, %d were written", typ, got, want)
		}
	}
	return d
}

func sqRank(typ string) int {
	for i, t := range sqTypeOrder {
		if t == typ {
			return i
		}
	}
	return len(sqTypeOrder)
}

// sqExamples reads the official examples and their supporting resources.
func sqExamples(t *testing.T) []sqRes {
	t.Helper()
	files, err := filepath.Glob("testdata/search/examples/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	var out []sqRes
	for _, f := range files {
		var r sqRes
		sqReadJSON(t, f, &r)
		out = append(out, r)
	}
	var support []sqRes
	sqReadJSON(t, "testdata/search/support.json", &support)
	return append(out, support...)
}

func sqReadJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// sqEntries returns the resources of the entries with the given mode.
func sqEntries(b map[string]any, mode string) []sqRes {
	var out []sqRes
	es, _ := b["entry"].([]any)
	for _, e := range es {
		em := e.(map[string]any)
		if sm, _ := em["search"].(map[string]any); sm["mode"] == mode {
			out = append(out, em["resource"].(map[string]any))
		}
	}
	return out
}

const (
	sqCVX = "http://hl7.org/fhir/sid/cvx"
	sqNDC = "http://hl7.org/fhir/sid/ndc"
	sqMRN = "urn:mrn"
	sqV2  = "http://terminology.hl7.org/CodeSystem/v2-0203"
)

var (
	sqFamilies = []string{"Müller", "Muller", "Mullins", "O'Brien", "van der Berg", "Nguyễn", "Smith", "Smithson", "Jones", "Łukasz"}
	sqGivens   = []string{"Anna", "Zoë", "José", "Jo", "Joanna", "Ben", "Élodie", "Li"}
	sqCities   = []string{"Springfield", "Spring Valley", "Shelbyville"}
	sqVaccines = [][2]string{{"08", "Hep B, adolescent or pediatric"}, {"20", "DTaP"}, {"10", "IPV"}, {"03", "MMR"},
		{"21", "varicella"}, {"141", "Influenza, seasonal, injectable"}, {"133", "Pneumococcal conjugate PCV 13"}}
	// sqDates are occurrence values at every precision, near the
	// boundaries the date tests probe.
	sqDates = []string{"2024-03-05", "2024-03", "2023", "2024-03-05T10:30:00Z", "2024-03-05T23:30:00-05:00",
		"2024-03-04T22:00:00.000-02:00", "2023-12-31", "2024-01-01", "2024-12-31T23:59:59Z", "2025-01-01T00:00:00+01:00"}
	sqBirthDates = []string{"1990", "1990-05", "1990-05-10", "1990-05-31", "1989-12-31", "2010-01-01", "1975-07-04"}
)

// sqGenerate makes the generated population (deterministic).
func sqGenerate(base string) []sqRes {
	rnd := rand.New(rand.NewPCG(3, 14))
	var out []sqRes
	var ims []string
	out = append(out,
		sqRes{"resourceType": "Organization", "id": "org-1", "name": "Acme Clinic", "active": true,
			"address": []any{map[string]any{"city": "Springfield", "state": "IL"}}},
		sqRes{"resourceType": "Organization", "id": "org-2", "name": "Ñandú Health", "active": false},
		sqRes{"resourceType": "Practitioner", "id": "pr-1", "name": []any{map[string]any{"family": "Careful", "given": []any{"Adam"}}},
			"identifier": []any{map[string]any{"system": "urn:npi", "value": "111"}}},
		sqRes{"resourceType": "Practitioner", "id": "pr-2", "name": []any{map[string]any{"family": "Ångström", "given": []any{"Zoë"}}},
			"identifier": []any{map[string]any{"system": "urn:npi", "value": "222"}}},
		sqRes{"resourceType": "Practitioner", "id": "pr-3", "name": []any{map[string]any{"family": "Jones", "given": []any{"Bob"}}}},
	)
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("gp-%02d", i)
		p := sqRes{"resourceType": "Patient", "id": id,
			"name": []any{map[string]any{"family": sqFamilies[i%len(sqFamilies)],
				"given": []any{sqGivens[i%len(sqGivens)], sqGivens[(i*3+1)%len(sqGivens)]}}},
			"identifier": []any{map[string]any{"system": sqMRN, "value": fmt.Sprintf("MRN-%04d", i),
				"type": map[string]any{"coding": []any{map[string]any{"system": sqV2, "code": "MR"}}, "text": "Medical record number"}}},
			"telecom": []any{map[string]any{"system": "phone", "value": fmt.Sprintf("555-01%02d", i)}},
			"address": []any{map[string]any{"city": sqCities[i%3], "state": "IL", "postalCode": fmt.Sprintf("627%02d", i)}},
		}
		if i%4 == 0 {
			p["identifier"] = append(p["identifier"].([]any), map[string]any{"system": "http://hl7.org/fhir/sid/us-ssn",
				"value": fmt.Sprintf("999-00-%04d", i), "type": map[string]any{"coding": []any{map[string]any{"system": sqV2, "code": "SS"}}}})
		}
		if i%3 == 0 {
			p["telecom"] = append(p["telecom"].([]any), map[string]any{"system": "email", "value": fmt.Sprintf("p%d@example.org", i)})
		}
		if i%5 != 4 {
			p["gender"] = []string{"female", "male"}[i%2]
		}
		switch i % 3 {
		case 0:
			p["active"] = true
		case 1:
			p["active"] = false
		}
		if i%6 < 5 {
			if i < 14 {
				p["birthDate"] = sqBirthDates[i%len(sqBirthDates)]
			} else {
				p["birthDate"] = fmt.Sprintf("%d-%02d-%02d", 1940+rnd.IntN(84), 1+rnd.IntN(12), 1+rnd.IntN(28))
			}
		}
		switch {
		case i%2 == 0:
			p["managingOrganization"] = map[string]any{"reference": "Organization/org-1"}
		case i%3 == 0:
			p["managingOrganization"] = map[string]any{"reference": "Organization/org-2"}
		}
		if i%2 == 0 {
			ref := fmt.Sprintf("Practitioner/pr-%d", i%3+1)
			if i%7 == 0 {
				ref = base + "/" + ref // an absolute reference to this server
			}
			p["generalPractitioner"] = []any{map[string]any{"reference": ref}}
		}
		switch {
		case i%11 == 0:
			p["deceasedBoolean"] = true
		case i%13 == 0:
			p["deceasedDateTime"] = "2020-01-02T03:04:05Z"
		}
		meta := map[string]any{}
		if i%6 == 0 {
			meta["tag"] = []any{map[string]any{"system": "http://example.org/tags", "code": "vip"}}
		}
		if i%4 == 1 {
			meta["profile"] = []any{"http://example.org/fhir/StructureDefinition/registry-patient"}
		}
		if len(meta) > 0 {
			p["meta"] = meta
		}
		out = append(out, p)
		if i%5 == 0 {
			out = append(out, sqRes{"resourceType": "RelatedPerson", "id": fmt.Sprintf("rp-%02d", i),
				"patient": map[string]any{"reference": "Patient/" + id}, "name": []any{map[string]any{"family": "Parent", "given": []any{"Mum"}}},
				"relationship": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}}}}})
		}
		for k, n := 0, rnd.IntN(8); k < n; k++ {
			im := sqImmunization(rnd, base, id, i, k)
			ims = append(ims, im["id"].(string))
			out = append(out, im)
		}
	}
	for k := 0; k < 6; k++ {
		out = append(out, sqRes{"resourceType": "Provenance", "id": fmt.Sprintf("pv-%d", k),
			"target":   []any{map[string]any{"reference": "Immunization/" + ims[k*7%len(ims)]}},
			"recorded": "2024-04-01T00:00:00Z",
			"agent":    []any{map[string]any{"who": map[string]any{"reference": fmt.Sprintf("Practitioner/pr-%d", k%2+1)}}}})
	}
	out = append(out,
		sqRes{"resourceType": "Group", "id": "grp-1", "type": "person", "actual": true, "name": "Girls",
			"characteristic": []any{map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": "http://example.org/c", "code": "sex"}}},
				"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/administrative-gender", "code": "female"}}},
				"exclude":              false}},
			"member": []any{map[string]any{"entity": map[string]any{"reference": "Patient/gp-00"}}}},
		sqRes{"resourceType": "Group", "id": "grp-2", "type": "person", "actual": true, "name": "Boys and vip",
			"characteristic": []any{
				map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": "http://example.org/c", "code": "sex"}}},
					"valueCodeableConcept": map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/administrative-gender", "code": "male"}}},
					"exclude":              false},
				map[string]any{"code": map[string]any{"coding": []any{map[string]any{"system": "http://example.org/c", "code": "vip"}}},
					"valueBoolean": true, "exclude": false}},
		},
	)
	return out
}

// Immunizations whose index keys the tests use: im-PP-K for patient PP.
func sqImmunization(rnd *rand.Rand, base, patient string, i, k int) sqRes {
	v := sqVaccines[rnd.IntN(len(sqVaccines))]
	codings := []any{map[string]any{"system": sqCVX, "code": v[0], "display": v[1]}}
	if rnd.IntN(4) == 0 {
		codings = append(codings, map[string]any{"system": sqNDC, "code": fmt.Sprintf("49281-0%03d-10", rnd.IntN(1000))})
	}
	vc := map[string]any{"coding": codings}
	if rnd.IntN(5) == 0 {
		vc["text"] = "Vaccine " + strings.ToLower(v[1])
	}
	patRef := "Patient/" + patient
	if (i+k)%9 == 0 {
		patRef = base + "/" + patRef
	}
	im := sqRes{"resourceType": "Immunization", "id": fmt.Sprintf("im-%02d-%d", i, k),
		"status":      []string{"completed", "completed", "completed", "completed", "not-done", "entered-in-error"}[rnd.IntN(6)],
		"vaccineCode": vc, "patient": map[string]any{"reference": patRef}, "primarySource": true}
	switch n := rnd.IntN(20); {
	case n == 0:
		im["occurrenceString"] = "around Easter"
	case n < 10:
		im["occurrenceDateTime"] = sqDates[rnd.IntN(len(sqDates))]
	default:
		im["occurrenceDateTime"] = fmt.Sprintf("%d-%02d-%02d", 2015+rnd.IntN(11), 1+rnd.IntN(12), 1+rnd.IntN(28))
	}
	switch rnd.IntN(3) {
	case 0:
		im["lotNumber"] = fmt.Sprintf("AB%03d", rnd.IntN(1000))
	case 1:
		im["lotNumber"] = fmt.Sprintf("ab-%03d", rnd.IntN(1000))
	}
	switch n := rnd.IntN(10); {
	case n == 0:
		im["performer"] = []any{map[string]any{"actor": map[string]any{"reference": "http://other.example/fhir/Practitioner/9"}}}
	case n == 1:
		im["performer"] = []any{map[string]any{"actor": map[string]any{"reference": "Organization/org-1"}}}
	case n < 7:
		im["performer"] = []any{map[string]any{"actor": map[string]any{"reference": fmt.Sprintf("Practitioner/pr-%d", 1+rnd.IntN(3))}}}
	}
	if rnd.IntN(3) == 0 {
		im["location"] = map[string]any{"reference": "Location/1"}
	}
	if v[0] == "08" {
		im["protocolApplied"] = []any{map[string]any{"series": "Primary HepB",
			"targetDisease":         []any{map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "66071002"}}}},
			"doseNumberPositiveInt": 1 + rnd.IntN(3)}}
	}
	return im
}
