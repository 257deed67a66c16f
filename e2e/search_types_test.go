package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// TestSearchNumberQuantityComposite: none of the immunization types has a
// number, quantity or quantity composite parameter, so this runs the
// server with --types including Observation and RiskAssessment. Expected
// results are worked out by hand from search.html's rules (precision
// intervals for eq/ne, exact comparison otherwise, units as written, both
// composite parts within one component).
func TestSearchNumberQuantityComposite(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := Start(t, kind, []string{"--types", "Patient,Observation,RiskAssessment"})
			s.Do(t, "PUT", "Patient/p1", `{"resourceType":"Patient","id":"p1"}`).Expect(t, 201)
			obs := func(id, value, unit, code string, comps ...string) {
				body := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final","subject":{"reference":"Patient/p1"},
					"code":{"coding":[{"system":"http://loinc.org","code":%q}]}`, id, code)
				if value != "" {
					body += fmt.Sprintf(`,"valueQuantity":{"value":%s,"unit":%q,"system":"http://unitsofmeasure.org","code":%q}`, value, unit, unit)
				}
				if len(comps) > 0 {
					var cs []string
					for i := 0; i+1 < len(comps); i += 2 {
						cs = append(cs, fmt.Sprintf(`{"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"valueQuantity":{"value":%s,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}`, comps[i], comps[i+1]))
					}
					body += `,"component":[` + strings.Join(cs, ",") + `]`
				}
				s.Do(t, "PUT", "Observation/"+id, body+"}").Expect(t, 201)
			}
			obs("w1", "100", "kg", "29463-7")
			obs("w2", "100.4", "kg", "29463-7")
			obs("w3", "100.5", "kg", "29463-7")
			obs("w4", "99.5", "kg", "29463-7")
			obs("w5", "5.4", "mg", "2345-7")
			obs("w6", "5400", "ug", "2345-7")
			obs("bp1", "", "", "85354-9", "8480-6", "120", "8462-4", "80")
			obs("bp2", "", "", "85354-9", "8480-6", "80", "8462-4", "120")
			risk := func(id, p string) {
				s.Do(t, "PUT", "RiskAssessment/"+id, fmt.Sprintf(`{"resourceType":"RiskAssessment","id":%q,"status":"final",
					"subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":%s}]}`, id, p)).Expect(t, 201)
			}
			risk("r1", "0.35")
			risk("r2", "0.5")
			risk("r3", "0.50")
			risk("r4", "0.549")
			risk("r5", "0.9")
			cases := []struct {
				query string
				want  string
			}{
				{"RiskAssessment?probability=0.5", "r2 r3 r4"}, // [0.45, 0.55)
				{"RiskAssessment?probability=0.50", "r2 r3"},   // [0.495, 0.505)
				{"RiskAssessment?probability=gt0.5", "r4 r5"},
				{"RiskAssessment?probability=ge0.5", "r2 r3 r4 r5"},
				{"RiskAssessment?probability=lt0.5", "r1"},
				{"RiskAssessment?probability=ne0.5", "r1 r5"},
				{"RiskAssessment?probability=ap0.5", "r2 r3 r4"}, // ±10%
				{"RiskAssessment?probability=0.3,0.9", "r5"},     // 0.3 is [0.25, 0.35): 0.35 is out
				{"RiskAssessment?probability:missing=false", "r1 r2 r3 r4 r5"},
				{"Observation?value-quantity=100", "w1 w2 w4"}, // [99.5, 100.5)
				{"Observation?value-quantity=100.0", "w1"},
				{"Observation?value-quantity=ge100|http://unitsofmeasure.org|kg", "w1 w2 w3"},
				{"Observation?value-quantity=le100||kg", "w1 w4"},
				{"Observation?value-quantity=5.4|http://unitsofmeasure.org|mg", "w5"},
				{"Observation?value-quantity=5400||mg", ""}, // no unit conversion
				{"Observation?value-quantity=gt1000", "w6"},
				{"Observation?component-value-quantity=120", "bp1 bp2"},
				{"Observation?component-code-value-quantity=http://loinc.org|8480-6$gt100", "bp1"},
				{"Observation?component-code-value-quantity=8462-4$gt100", "bp2"},
				{"Observation?component-code-value-quantity=8480-6$lt100,8462-4$lt100", "bp1 bp2"},
				{"Observation?code-value-quantity=http://loinc.org|29463-7$100", "w1 w2 w4"},
				{"Observation?code-value-quantity=http://loinc.org|$lt99.6", "w4 w5"},
			}
			for _, c := range cases {
				got := sqFetchIDs(t, s, c.query, 2)
				sort.Strings(got)
				if strings.Join(got, " ") != c.want {
					t.Errorf("%s: got %q, want %q", c.query, strings.Join(got, " "), c.want)
				}
			}
		})
	}
}
