package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func patient(family string, extra ...string) string {
	more := ""
	if len(extra) > 0 {
		more = "," + strings.Join(extra, ",")
	}
	return fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":%q,"given":["Ada"]}],"gender":"female","birthDate":"2021-03-04"%s}`, family, more)
}

func immunization(patientRef, cvx, date string) string {
	return fmt.Sprintf(`{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":%q}]},"patient":{"reference":%q},"occurrenceDateTime":%q,"primarySource":true}`, cvx, patientRef, date)
}

func id(t testing.TB, r *Response) string {
	t.Helper()
	m := r.JSON(t)
	s, _ := m["id"].(string)
	if s == "" {
		t.Fatalf("no id in %s", r.Body)
	}
	return s
}

func TestCRUDLifecycle(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		r := s.Do(t, "POST", "Patient", patient("Lovelace")).Expect(t, 201)
		pid := id(t, r)
		if got := r.Header.Get("ETag"); got != `W/"1"` {
			t.Errorf("ETag %q, want W/\"1\"", got)
		}
		if loc := r.Header.Get("Location"); loc != s.Base+"/Patient/"+pid+"/_history/1" {
			t.Errorf("Location %q", loc)
		}
		if r.Header.Get("Last-Modified") == "" {
			t.Error("no Last-Modified")
		}
		m := r.JSON(t)
		meta, _ := m["meta"].(map[string]any)
		if meta["versionId"] != "1" || meta["lastUpdated"] == nil {
			t.Errorf("meta %v", meta)
		}

		got := s.Do(t, "GET", "Patient/"+pid, nil).Expect(t, 200).JSON(t)
		if got["id"] != pid {
			t.Errorf("read id %v", got["id"])
		}

		// update: version 2
		upd := strings.Replace(patient("Lovelace", `"id":"`+pid+`"`), "female", "other", 1)
		r = s.Do(t, "PUT", "Patient/"+pid, upd).Expect(t, 200)
		if r.Header.Get("ETag") != `W/"2"` {
			t.Errorf("update ETag %q", r.Header.Get("ETag"))
		}
		// identical update: no new version
		r = s.Do(t, "PUT", "Patient/"+pid, upd).Expect(t, 200)
		if r.Header.Get("ETag") != `W/"2"` {
			t.Errorf("no-op update made a version: %q", r.Header.Get("ETag"))
		}
		v1 := s.Do(t, "GET", "Patient/"+pid+"/_history/1", nil).Expect(t, 200).JSON(t)
		if v1["gender"] != "female" {
			t.Errorf("vread 1 gender %v", v1["gender"])
		}
		v2 := s.Do(t, "GET", "Patient/"+pid+"/_history/2", nil).Expect(t, 200).JSON(t)
		if v2["gender"] != "other" {
			t.Errorf("vread 2 gender %v", v2["gender"])
		}
		s.Do(t, "GET", "Patient/"+pid+"/_history/9", nil).Expect(t, 404)

		s.Do(t, "DELETE", "Patient/"+pid, nil).Expect(t, 204)
		s.Do(t, "GET", "Patient/"+pid, nil).Expect(t, 410)
		s.Do(t, "GET", "Patient/"+pid+"/_history/3", nil).Expect(t, 410)
		s.Do(t, "GET", "Patient/"+pid+"/_history/2", nil).Expect(t, 200)
		s.Do(t, "DELETE", "Patient/"+pid, nil).Expect(t, 204) // idempotent

		h := s.Do(t, "GET", "Patient/"+pid+"/_history", nil).Expect(t, 200).JSON(t)
		entries, _ := h["entry"].([]any)
		if len(entries) != 3 {
			t.Fatalf("history has %d entries, want 3: %v", len(entries), h)
		}
		first := entries[0].(map[string]any)
		if req := first["request"].(map[string]any); req["method"] != "DELETE" {
			t.Errorf("newest history entry %v", req)
		}

		// re-create after delete with the same id
		r = s.Do(t, "PUT", "Patient/"+pid, upd).Expect(t, 201)
		if r.Header.Get("ETag") != `W/"4"` {
			t.Errorf("re-create ETag %q", r.Header.Get("ETag"))
		}
		// create-on-update with a client id
		s.Do(t, "PUT", "Patient/client-chosen-1", patient("Hopper", `"id":"client-chosen-1"`)).Expect(t, 201)
		s.Do(t, "GET", "Patient/client-chosen-1", nil).Expect(t, 200)
		s.Do(t, "GET", "Patient/never-existed", nil).Expect(t, 404)
	})
}

func TestHTTPSemantics(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		r := s.Do(t, "POST", "Patient", patient("Curie")).Expect(t, 201)
		pid := id(t, r)
		lastMod := r.Header.Get("Last-Modified")

		s.Do(t, "GET", "Patient/"+pid, nil, "If-None-Match", `W/"1"`).Expect(t, 304)
		s.Do(t, "GET", "Patient/"+pid, nil, "If-None-Match", `W/"7"`).Expect(t, 200)
		s.Do(t, "GET", "Patient/"+pid, nil, "If-Modified-Since", lastMod).Expect(t, 304)
		s.Do(t, "GET", "Patient/"+pid, nil, "If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT").Expect(t, 200)

		body := patient("Curie", `"id":"`+pid+`"`, `"active":true`)
		s.Do(t, "PUT", "Patient/"+pid, body, "If-Match", `W/"9"`).Expect(t, 412)
		s.Do(t, "PUT", "Patient/"+pid, body, "If-Match", `W/"1"`).Expect(t, 200)

		r = s.Do(t, "POST", "Patient", patient("Noether"), "Prefer", "return=minimal").Expect(t, 201)
		if len(r.Body) != 0 || r.Header.Get("Location") == "" {
			t.Errorf("return=minimal: body %q location %q", r.Body, r.Header.Get("Location"))
		}
		r = s.Do(t, "POST", "Patient", patient("Meitner"), "Prefer", "return=OperationOutcome").Expect(t, 201)
		if r.JSON(t)["resourceType"] != "OperationOutcome" {
			t.Errorf("return=OperationOutcome gave %s", r.Body)
		}
		r = s.Do(t, "GET", "Patient/"+pid+"?_pretty=true", nil).Expect(t, 200)
		if !strings.Contains(string(r.Body), "\n  ") {
			t.Errorf("_pretty not indented: %s", r.Body)
		}
		r = s.Do(t, "GET", "Patient/"+pid, nil, "Accept", "application/json").Expect(t, 200)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Accept application/json gave %q", ct)
		}
		r = s.Do(t, "GET", "Patient/"+pid, nil).Expect(t, 200)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
			t.Errorf("default Content-Type %q", ct)
		}
		s.Do(t, "GET", "Patient/"+pid+"?_format=json", nil).Expect(t, 200)
		s.Do(t, "GET", "Patient/"+pid+"?_format=xml", nil).Expect(t, 406)
		s.Do(t, "GET", "Patient/"+pid, nil, "Accept", "application/fhir+xml").Expect(t, 406)
		s.Do(t, "POST", "Patient", patient("X"), "Content-Type", "application/fhir+xml").Expect(t, 415)
		s.Do(t, "HEAD", "Patient/"+pid, nil).Expect(t, 200)

		md := s.Do(t, "GET", "metadata", nil).Expect(t, 200).JSON(t)
		if md["resourceType"] != "CapabilityStatement" || md["fhirVersion"] != "4.0.1" {
			t.Errorf("metadata %v", md["resourceType"])
		}
		// every supported type, no other
		rest := md["rest"].([]any)[0].(map[string]any)
		var types []string
		for _, res := range rest["resource"].([]any) {
			types = append(types, res.(map[string]any)["type"].(string))
		}
		if got := strings.Join(types, ","); got != "Patient,Immunization,ImmunizationRecommendation,ImmunizationEvaluation,Organization,Practitioner,Location,RelatedPerson,Group,Provenance" {
			t.Errorf("CapabilityStatement types %s", got)
		}
	})
}

// TestBadInput: every kind of bad input gets a 4xx with an OperationOutcome
// that names the problem, and nothing is written.
func TestBadInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		pid := id(t, s.Do(t, "POST", "Patient", patient("Valid")).Expect(t, 201))
		deep := strings.Repeat(`{"extension":[`, 40) + `{"url":"x","valueString":"y"}` + strings.Repeat(`]}`, 40)
		tests := []struct {
			name, method, path, body string
			headers                  []string
			status                   int
			mention                  string // in diagnostics or expression
		}{
			{"not json", "POST", "Patient", `{"resourceType":`, nil, 400, "JSON"},
			{"array body", "POST", "Patient", `[1,2]`, nil, 400, "object"},
			{"empty body", "POST", "Patient", ``, []string{"Content-Type", "application/fhir+json"}, 400, "empty"},
			{"unknown element", "POST", "Patient", `{"resourceType":"Patient","nickname":"x"}`, nil, 400, "nickname"},
			{"wrong primitive type", "POST", "Patient", `{"resourceType":"Patient","active":"yes"}`, nil, 400, "Patient.active"},
			{"bad date", "POST", "Patient", `{"resourceType":"Patient","birthDate":"2021-02-30"}`, nil, 400, "Patient.birthDate"},
			{"bad code", "POST", "Patient", `{"resourceType":"Patient","gender":"robot"}`, nil, 400, "Patient.gender"},
			{"null value", "POST", "Patient", `{"resourceType":"Patient","gender":null}`, nil, 400, "null"},
			{"empty string", "POST", "Patient", `{"resourceType":"Patient","gender":""}`, nil, 400, "Patient.gender"},
			{"empty array", "POST", "Patient", `{"resourceType":"Patient","name":[]}`, nil, 400, "name"},
			{"duplicate key", "POST", "Patient", `{"resourceType":"Patient","gender":"male","gender":"female"}`, nil, 400, "duplicate"},
			{"missing resourceType", "POST", "Patient", `{"gender":"male"}`, nil, 400, "resourceType"},
			{"type mismatch", "POST", "Patient", `{"resourceType":"Practitioner"}`, nil, 400, "resourceType"},
			{"unknown resource type", "POST", "Patient", `{"resourceType":"Spaceship"}`, nil, 400, "Spaceship"},
			{"unsupported type", "POST", "Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`, nil, 404, "not supported"},
			{"unsupported type read", "GET", "Encounter/1", ``, nil, 404, "not supported"},
			{"missing required", "POST", "Immunization", `{"resourceType":"Immunization","status":"completed"}`, nil, 400, "vaccineCode"},
			{"unknown CVX", "POST", "Immunization", immunization("Patient/"+pid, "9999", "2024-01-01"), nil, 422, "CVX"},
			{"no CVX coding", "POST", "Immunization", strings.Replace(immunization("Patient/"+pid, "08", "2024-01-01"), "http://hl7.org/fhir/sid/cvx", "urn:oid:1.2.3", 1), nil, 422, "CVX"},
			{"dangling reference", "POST", "Immunization", immunization("Patient/nobody", "08", "2024-01-01"), nil, 422, "Immunization.patient"},
			{"wrong reference target", "POST", "Immunization", immunization("Practitioner/"+pid, "08", "2024-01-01"), nil, 400, "Immunization.patient"},
			{"urn reference outside bundle", "POST", "Immunization", immunization("urn:uuid:2b6ec8a2-7f1c-4a63-9b36-5b7f1d6f9c11", "08", "2024-01-01"), nil, 422, "urn:uuid"},
			{"id mismatch", "PUT", "Patient/" + pid, `{"resourceType":"Patient","id":"other"}`, nil, 400, "id"},
			{"id missing on update", "PUT", "Patient/" + pid, `{"resourceType":"Patient"}`, nil, 400, "id"},
			{"invalid id in url", "PUT", "Patient/bad_id!", `{"resourceType":"Patient","id":"bad_id!"}`, nil, 400, "id"},
			{"deep nesting", "POST", "Patient", `{"resourceType":"Patient","name":[` + deep + `]}`, nil, 400, "nesting"},
			{"xml body", "POST", "Patient", `<Patient/>`, []string{"Content-Type", "application/fhir+xml"}, 415, "FHIR JSON"},
			{"no content type", "POST", "Patient", `{"resourceType":"Patient"}`, []string{"Content-Type", ""}, 415, "Content-Type"},
			{"bad patch", "PATCH", "Patient/" + pid, `{"op":"nonsense"}`, []string{"Content-Type", "application/json-patch+json"}, 400, "JSON Patch"},
			{"patch wrong content type", "PATCH", "Patient/" + pid, `[]`, nil, 415, "JSON Patch"},
			{"bad If-Match", "PUT", "Patient/" + pid, patient("Valid", `"id":"`+pid+`"`), []string{"If-Match", "garbage"}, 400, "If-Match"},
			{"post to instance", "POST", "Patient/" + pid, patient("X"), nil, 405, "not allowed"},
			{"bundle not bundle", "POST", "", `{"resourceType":"Patient"}`, nil, 400, "Bundle"},
			{"bundle bad type", "POST", "", `{"resourceType":"Bundle","type":"collection"}`, nil, 400, "batch or transaction"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var body any
				if tc.body != "" {
					body = tc.body
				}
				r := s.Do(t, tc.method, tc.path, body, tc.headers...)
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				if r.Status == 405 && len(r.Body) == 0 {
					return
				}
				oo := r.JSON(t)
				if oo["resourceType"] != "OperationOutcome" {
					t.Fatalf("not an OperationOutcome: %s", r.Body)
				}
				if !strings.Contains(string(r.Body), tc.mention) {
					t.Errorf("outcome does not mention %q: %s", tc.mention, r.Body)
				}
			})
		}
		// nothing bad got in: only the one valid Patient exists
		b := s.Do(t, "GET", "Patient?_total=accurate", nil).Expect(t, 200).JSON(t)
		if b["total"].(float64) != 1 {
			t.Errorf("after bad input, %v Patients exist, want 1", b["total"])
		}
		b = s.Do(t, "GET", "Immunization?_total=accurate", nil).Expect(t, 200).JSON(t)
		if b["total"].(float64) != 0 {
			t.Errorf("after bad input, %v Immunizations exist, want 0", b["total"])
		}
	})
}

func TestBodyLimit(t *testing.T) {
	s := Start(t, "sqlite", []string{"--max-body", "2048"})
	big := patient("Big", `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">`+strings.Repeat("a", 4096)+`</div>"}`)
	r := s.Do(t, "POST", "Patient", big).Expect(t, 413)
	if !strings.Contains(string(r.Body), "OperationOutcome") {
		t.Errorf("413 without OperationOutcome: %s", r.Body)
	}
	s.Do(t, "POST", "Patient", patient("Small")).Expect(t, 201)
}

func TestConditionalInteractions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		body := patient("Conditional", `"identifier":[{"system":"urn:mrn","value":"A1"}]`)
		r1 := s.Do(t, "POST", "Patient", body, "If-None-Exist", "identifier=urn:mrn|A1").Expect(t, 201)
		r2 := s.Do(t, "POST", "Patient", body, "If-None-Exist", "identifier=urn:mrn|A1").Expect(t, 200)
		if id(t, r1) != id(t, r2) {
			t.Errorf("conditional create made a second resource")
		}
		// conditional update: one match updates it
		upd := patient("Conditional", `"identifier":[{"system":"urn:mrn","value":"A1"}]`, `"active":true`)
		r := s.Do(t, "PUT", "Patient?identifier=urn:mrn|A1", upd).Expect(t, 200)
		if id(t, r) != id(t, r1) || r.Header.Get("ETag") != `W/"2"` {
			t.Errorf("conditional update: id %s etag %s", id(t, r), r.Header.Get("ETag"))
		}
		// no match creates
		s.Do(t, "PUT", "Patient?identifier=urn:mrn|B2", patient("New", `"identifier":[{"system":"urn:mrn","value":"B2"}]`)).Expect(t, 201)
		// two matches → 412
		s.Do(t, "POST", "Patient", patient("Twin", `"identifier":[{"system":"urn:mrn","value":"T"}]`)).Expect(t, 201)
		s.Do(t, "POST", "Patient", patient("Twin", `"identifier":[{"system":"urn:mrn","value":"T"}]`)).Expect(t, 201)
		s.Do(t, "PUT", "Patient?identifier=urn:mrn|T", patient("Twin")).Expect(t, 412)
		s.Do(t, "POST", "Patient", patient("Twin"), "If-None-Exist", "identifier=urn:mrn|T").Expect(t, 412)
		s.Do(t, "DELETE", "Patient?identifier=urn:mrn|T", nil).Expect(t, 412)
		// conditional delete, single match
		s.Do(t, "DELETE", "Patient?identifier=urn:mrn|B2", nil).Expect(t, 204)
		b := s.Do(t, "GET", "Patient?identifier=urn:mrn|B2", nil).Expect(t, 200).JSON(t)
		if b["total"].(float64) != 0 {
			t.Errorf("conditionally deleted patient still found")
		}
	})
}

func TestPatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		pid := id(t, s.Do(t, "POST", "Patient", patient("Patchy")).Expect(t, 201))
		ops := `[{"op":"replace","path":"/gender","value":"male"},{"op":"add","path":"/active","value":true}]`
		r := s.Do(t, "PATCH", "Patient/"+pid, ops, "Content-Type", "application/json-patch+json").Expect(t, 200)
		m := r.JSON(t)
		if m["gender"] != "male" || m["active"] != true || r.Header.Get("ETag") != `W/"2"` {
			t.Errorf("patched %s", r.Body)
		}
		// a patch producing an invalid resource is refused
		s.Do(t, "PATCH", "Patient/"+pid, `[{"op":"add","path":"/birthDate","value":"not-a-date"}]`, "Content-Type", "application/json-patch+json").Expect(t, 400)
		// a patch that cannot apply
		s.Do(t, "PATCH", "Patient/"+pid, `[{"op":"remove","path":"/nothing/here"}]`, "Content-Type", "application/json-patch+json").Expect(t, 422)
		s.Do(t, "PATCH", "Patient/"+pid, ops, "Content-Type", "application/json-patch+json", "If-Match", `W/"1"`).Expect(t, 412)
		s.Do(t, "PATCH", "Patient/missing", ops, "Content-Type", "application/json-patch+json").Expect(t, 404)
	})
}

func TestReferentialIntegrity(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		pid := id(t, s.Do(t, "POST", "Patient", patient("Ref")).Expect(t, 201))
		iid := id(t, s.Do(t, "POST", "Immunization", immunization("Patient/"+pid, "08", "2021-03-05")).Expect(t, 201))
		s.Do(t, "DELETE", "Patient/"+pid, nil).Expect(t, 409)
		s.Do(t, "GET", "Patient/"+pid, nil).Expect(t, 200)
		s.Do(t, "DELETE", "Immunization/"+iid, nil).Expect(t, 204)
		s.Do(t, "DELETE", "Patient/"+pid, nil).Expect(t, 204)
		// references to types this server does not store are kept as they are
		enc := strings.Replace(immunization("Patient/"+id(t, s.Do(t, "POST", "Patient", patient("Other")).Expect(t, 201)), "08", "2021-03-05"),
			`"primarySource":true`, `"primarySource":true,"encounter":{"reference":"Encounter/elsewhere"}`, 1)
		s.Do(t, "POST", "Immunization", enc).Expect(t, 201)
	})
}

func TestTransaction(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		s.Do(t, "POST", "Patient", patient("Existing", `"identifier":[{"system":"urn:mrn","value":"E1"}]`)).Expect(t, 201)
		pu := "urn:uuid:4b8a2c1e-2f0e-4c55-9a49-2a1c1e9d7b10"
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		  {"fullUrl":"` + pu + `","resource":` + patient("Newborn", `"identifier":[{"system":"urn:mrn","value":"N1"}]`) + `,"request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:mrn|N1"}},
		  {"resource":` + immunization(pu, "08", "2024-05-01") + `,"request":{"method":"POST","url":"Immunization"}},
		  {"resource":` + immunization("Patient?identifier=urn:mrn|E1", "20", "2024-05-02") + `,"request":{"method":"POST","url":"Immunization"}},
		  {"resource":` + patient("Chosen", `"id":"chosen-1"`) + `,"request":{"method":"PUT","url":"Patient/chosen-1"}},
		  {"request":{"method":"GET","url":"Patient?identifier=urn:mrn|N1"}}
		]}`
		r := s.Do(t, "POST", "", tx).Expect(t, 200)
		b := r.JSON(t)
		if b["type"] != "transaction-response" {
			t.Fatalf("type %v", b["type"])
		}
		entries := b["entry"].([]any)
		if len(entries) != 5 {
			t.Fatalf("%d response entries", len(entries))
		}
		statuses := []string{}
		for _, e := range entries {
			statuses = append(statuses, e.(map[string]any)["response"].(map[string]any)["status"].(string))
		}
		if got := strings.Join(statuses, ","); got != "201 Created,201 Created,201 Created,201 Created,200 OK" {
			t.Errorf("statuses %s", got)
		}
		// the urn:uuid was rewritten to the new Patient's id
		imm := s.Do(t, "GET", "Immunization?vaccine-code=08", nil).Expect(t, 200).JSON(t)
		ref := imm["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["patient"].(map[string]any)["reference"].(string)
		if !strings.HasPrefix(ref, "Patient/") || strings.Contains(ref, "urn:") {
			t.Errorf("reference not rewritten: %s", ref)
		}
		s.Do(t, "GET", ref, nil).Expect(t, 200)
		imm2 := s.Do(t, "GET", "Immunization?vaccine-code=20", nil).Expect(t, 200).JSON(t)
		if imm2["total"].(float64) != 1 {
			t.Errorf("conditional-reference entry not stored")
		}
		// running it again: ifNoneExist matches, no second newborn
		s.Do(t, "POST", "", tx).Expect(t, 200)
		nb := s.Do(t, "GET", "Patient?identifier=urn:mrn|N1", nil).Expect(t, 200).JSON(t)
		if nb["total"].(float64) != 1 {
			t.Errorf("ifNoneExist ignored: %v newborns", nb["total"])
		}

		// atomicity: one bad entry, nothing written
		bad := `{"resourceType":"Bundle","type":"transaction","entry":[
		  {"resource":` + patient("Atomic") + `,"request":{"method":"POST","url":"Patient"}},
		  {"resource":` + immunization("Patient/nobody", "08", "2024-05-01") + `,"request":{"method":"POST","url":"Immunization"}}
		]}`
		r = s.Do(t, "POST", "", bad).Expect(t, 422)
		if !strings.Contains(string(r.Body), "entry 1") {
			t.Errorf("error does not name the entry: %s", r.Body)
		}
		at := s.Do(t, "GET", "Patient?family=Atomic", nil).Expect(t, 200).JSON(t)
		if at["total"].(float64) != 0 {
			t.Errorf("failed transaction left a Patient behind")
		}
		// invalid resource in a transaction: 400 naming the entry
		r = s.Do(t, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","gender":"robot"},"request":{"method":"POST","url":"Patient"}}]}`).Expect(t, 400)
		if !strings.Contains(string(r.Body), "Bundle.entry[0]") {
			t.Errorf("no entry expression: %s", r.Body)
		}
		// ifMatch honoured
		s.Do(t, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":`+patient("Chosen", `"id":"chosen-1"`, `"active":true`)+`,"request":{"method":"PUT","url":"Patient/chosen-1","ifMatch":"W/\"5\""}}]}`).Expect(t, 412)
		// PATCH entry with a Binary JSON Patch, DELETE entry
		patchData := base64.StdEncoding.EncodeToString([]byte(`[{"op":"add","path":"/active","value":false}]`))
		r = s.Do(t, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"`+patchData+`"},"request":{"method":"PATCH","url":"Patient/chosen-1"}}]}`).Expect(t, 200)
		if g := s.Do(t, "GET", "Patient/chosen-1", nil).Expect(t, 200).JSON(t); g["active"] != false {
			t.Errorf("transaction patch not applied: %v", g)
		}
		// a patch entry may not change the id (as PATCH itself may not)
		idPatch := base64.StdEncoding.EncodeToString([]byte(`[{"op":"replace","path":"/id","value":"other-id"}]`))
		s.Do(t, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","contentType":"application/json-patch+json","data":"`+idPatch+`"},"request":{"method":"PATCH","url":"Patient/chosen-1"}}]}`).Expect(t, 422)
		s.Do(t, "POST", "", `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/chosen-1"}}]}`).Expect(t, 200)
		s.Do(t, "GET", "Patient/chosen-1", nil).Expect(t, 410)
	})
}

func TestBatch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		batch := `{"resourceType":"Bundle","type":"batch","entry":[
		  {"resource":` + patient("BatchOK") + `,"request":{"method":"POST","url":"Patient"}},
		  {"resource":{"resourceType":"Patient","gender":"robot"},"request":{"method":"POST","url":"Patient"}},
		  {"resource":` + immunization("Patient/ghost", "08", "2024-01-01") + `,"request":{"method":"POST","url":"Immunization"}},
		  {"request":{"method":"GET","url":"Patient/ghost"}}
		]}`
		b := s.Do(t, "POST", "", batch).Expect(t, 200).JSON(t)
		var statuses []string
		for _, e := range b["entry"].([]any) {
			statuses = append(statuses, e.(map[string]any)["response"].(map[string]any)["status"].(string))
		}
		if got := strings.Join(statuses, ","); got != "201 Created,400 Bad Request,422 Unprocessable Entity,404 Not Found" {
			t.Errorf("batch statuses %s", got)
		}
		ok := s.Do(t, "GET", "Patient?family=BatchOK", nil).Expect(t, 200).JSON(t)
		if ok["total"].(float64) != 1 {
			t.Errorf("batch success entry not stored")
		}
	})
}

func TestHistoryLevels(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		before := time.Now().UTC().Add(-time.Second).Format(time.RFC3339)
		var ids []string
		for i := 0; i < 5; i++ {
			ids = append(ids, id(t, s.Do(t, "POST", "Patient", patient(fmt.Sprintf("H%d", i))).Expect(t, 201)))
		}
		s.Do(t, "PUT", "Patient/"+ids[0], patient("H0", `"id":"`+ids[0]+`"`, `"active":true`)).Expect(t, 200)
		s.Do(t, "POST", "Organization", `{"resourceType":"Organization","name":"Clinic"}`).Expect(t, 201)

		th := s.Do(t, "GET", "Patient/_history", nil).Expect(t, 200).JSON(t)
		if n := len(th["entry"].([]any)); n != 6 {
			t.Errorf("type history has %d entries, want 6", n)
		}
		sh := s.Do(t, "GET", "_history?_since="+before, nil).Expect(t, 200).JSON(t)
		if n := len(sh["entry"].([]any)); n != 7 {
			t.Errorf("system history has %d entries, want 7", n)
		}
		future := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
		fh := s.Do(t, "GET", "_history?_since="+future, nil).Expect(t, 200).JSON(t)
		if fh["entry"] != nil {
			t.Errorf("_since in the future returned entries")
		}
		// paging: 2 per page through all 7, no repeats
		seen := map[string]bool{}
		next := "_history?_count=2"
		pages := 0
		for next != "" {
			pages++
			b := s.Do(t, "GET", next, nil).Expect(t, 200).JSON(t)
			for _, e := range b["entry"].([]any) {
				res := e.(map[string]any)["response"].(map[string]any)
				key := e.(map[string]any)["fullUrl"].(string) + res["etag"].(string)
				if seen[key] {
					t.Errorf("history paging repeated %s", key)
				}
				seen[key] = true
			}
			next = ""
			for _, l := range b["link"].([]any) {
				if l.(map[string]any)["relation"] == "next" {
					next = l.(map[string]any)["url"].(string)
				}
			}
			if pages > 10 {
				t.Fatal("paging does not end")
			}
		}
		if len(seen) != 7 || pages != 4 {
			t.Errorf("paged %d versions over %d pages, want 7 over 4", len(seen), pages)
		}
		// _at: as of now, each resource's current version only
		at := s.Do(t, "GET", "Patient/"+ids[0]+"/_history?_at="+time.Now().UTC().Add(time.Minute).Format(time.RFC3339), nil).Expect(t, 200).JSON(t)
		if n := len(at["entry"].([]any)); n != 1 {
			t.Errorf("_at gave %d versions, want 1", n)
		}
		s.Do(t, "GET", "Patient/unknown/_history", nil).Expect(t, 404)
		s.Do(t, "GET", "_history?_since=yesterday", nil).Expect(t, 400)
	})
}

// TestConcurrency: the same If-Match from many clients lets exactly one
// win; racing conditional creates leave exactly one resource.
func TestConcurrency(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		pid := id(t, s.Do(t, "POST", "Patient", patient("Race")).Expect(t, 201))
		const n = 16
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				body := patient("Race", `"id":"`+pid+`"`, fmt.Sprintf(`"telecom":[{"system":"phone","value":"555-%04d"}]`, i))
				statuses[i] = s.Do(t, "PUT", "Patient/"+pid, body, "If-Match", `W/"1"`).Status
			}(i)
		}
		wg.Wait()
		won, lost := 0, 0
		for _, st := range statuses {
			switch st {
			case http.StatusOK:
				won++
			case http.StatusPreconditionFailed:
				lost++
			default:
				t.Errorf("unexpected status %d", st)
			}
		}
		if won != 1 || lost != n-1 {
			t.Errorf("If-Match race: %d won, %d got 412; want 1 and %d", won, lost, n-1)
		}
		h := s.Do(t, "GET", "Patient/"+pid+"/_history", nil).Expect(t, 200).JSON(t)
		if got := len(h["entry"].([]any)); got != 2 {
			t.Errorf("history has %d versions, want 2 (no lost update)", got)
		}

		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := patient("Once", `"identifier":[{"system":"urn:mrn","value":"ONCE"}]`)
				r := s.Do(t, "POST", "Patient", body, "If-None-Exist", "identifier=urn:mrn|ONCE")
				if r.Status != 200 && r.Status != 201 {
					t.Errorf("conditional create status %d: %s", r.Status, r.Body)
				}
			}()
		}
		wg.Wait()
		b := s.Do(t, "GET", "Patient?identifier=urn:mrn|ONCE", nil).Expect(t, 200).JSON(t)
		if b["total"].(float64) != 1 {
			t.Errorf("racing conditional creates made %v resources, want 1", b["total"])
		}
	})
}
