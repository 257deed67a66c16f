package e2e

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestGarbageNeverFails5xx: mutated resources, queries and Bundles sent at
// every write and search route get a 4xx (or a success), never a 5xx, and
// every error answer is an OperationOutcome.
func TestGarbageNeverFails5xx(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		pid := id(t, s.Do(t, "POST", "Patient", patient("Seed")).Expect(t, 201))
		seeds := []string{
			patient("Garbage", `"id":"g1"`),
			immunization("Patient/"+pid, "08", "2024-01-02"),
			`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:9a3f1a52-6a6b-4d1c-8a1e-3f5c2b7d9e01","resource":` + patient("TxG") + `,"request":{"method":"POST","url":"Patient"}},{"resource":` + immunization("urn:uuid:9a3f1a52-6a6b-4d1c-8a1e-3f5c2b7d9e01", "20", "2024-02-03") + `,"request":{"method":"POST","url":"Immunization"}}]}`,
		}
		rng := rand.New(rand.NewSource(42))
		mutations := []func(string) string{
			func(b string) string { return b[:rng.Intn(len(b))] },                                                  // truncate
			func(b string) string { i := rng.Intn(len(b)); return b[:i] + string(rune(rng.Intn(0x2fff))) + b[i:] }, // insert a rune
			func(b string) string { return strings.Replace(b, `"`, `'`, 1+rng.Intn(3)) },
			func(b string) string { return strings.Replace(b, "2024", fmt.Sprint(rng.Intn(100000)), 1) },
			func(b string) string { return strings.Replace(b, `"08"`, `["08"]`, 1) },
			func(b string) string { return strings.Replace(b, `"completed"`, `{"x":1}`, 1) },
			func(b string) string { return strings.Replace(b, `true`, `1e400`, 1) },
			func(b string) string { return strings.Replace(b, `"Patient/`, `"Patient/../../`, 1) },
			func(b string) string { return strings.Replace(b, `"resourceType":"`, `"resourceType":"X`, 1) },
			func(b string) string { return strings.Replace(b, `{`, `{"id":"`+strings.Repeat("a", 70)+`",`, 1) },
			func(b string) string { return strings.Replace(b, `"family"`, `"family\u0000"`, 1) },
			func(b string) string { return strings.Replace(b, `"request":{`, `"request":{"ifMatch":"W/\"x\"",`, 1) },
			func(b string) string {
				return strings.Replace(b, `"url":"Patient"`, `"url":"Patient?identifier=%zz"`, 1)
			},
		}
		routes := []struct{ method, path string }{
			{"POST", "Patient"}, {"POST", "Immunization"}, {"PUT", "Patient/g1"}, {"POST", ""},
			{"PUT", "Patient?identifier=a|b"}, {"POST", "Patient/_search"},
		}
		counts := map[int]int{}
		for i := 0; i < 240; i++ {
			body := seeds[rng.Intn(len(seeds))]
			for k := 0; k <= rng.Intn(3); k++ {
				body = mutations[rng.Intn(len(mutations))](body)
			}
			rt := routes[rng.Intn(len(routes))]
			var r *Response
			if rt.path == "Patient/_search" {
				r = s.Do(t, "GET", "Patient?"+strings.NewReplacer(" ", "+", "#", "%23").Replace(body[:min(len(body), 60)]), nil)
			} else {
				r = s.Do(t, rt.method, rt.path, body)
			}
			counts[r.Status/100]++
			if r.Status >= 500 {
				t.Fatalf("%s %s answered %d to %q:\n%s", rt.method, rt.path, r.Status, body, r.Body)
			}
			if r.Status >= 400 && r.Status != 405 && !strings.Contains(string(r.Body), `"OperationOutcome"`) {
				t.Fatalf("%s %s answered %d without an OperationOutcome: %s", rt.method, rt.path, r.Status, r.Body)
			}
		}
		// the garbage must really reach both the accepting and the refusing paths
		if counts[2] < 10 || counts[4] < 100 {
			t.Errorf("statuses by class %v: the mutations exercise too little", counts)
		}
		t.Logf("statuses by class: %v", counts)
		// garbage query strings on search
		for _, q := range []string{"_count=-1", "_count=abc", "date=gt", "date=2024-13-45", "patient.name.given.family=x",
			"_has:Immunization:nope:x=1", "_sort=,,,", "_include=*:*", "birthdate=ap", "identifier=%7C%7C%7C", "_cursor=%%%", "name:contains=" + strings.Repeat("%25", 50)} {
			r := s.Do(t, "GET", "Patient?"+q, nil, "Prefer", "handling=strict")
			if r.Status >= 500 {
				t.Fatalf("GET Patient?%s answered %d: %s", q, r.Status, r.Body)
			}
		}
	})
}
