package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The access matrix: every interaction × scope form (v1, v2, granular) ×
// patient context, with the exact status each must get, on the real
// binary. The same rows run in dev mode (tokens signed with the server's
// own key) and smart mode (tokens from hydra). The data is fixed (PUT with
// chosen ids), so the ids, and the patient tokens, are the same on every
// store.

const (
	patA     = "pat-a"
	patB     = "pat-b"
	pracID   = "prac-1"
	immA1    = "imm-a1"    // A, completed, CVX 08, performer prac-1
	immA2    = "imm-a2"    // A, not-done, CVX 20
	immB1    = "imm-b1"    // B, completed, CVX 08, identifier urn:imm|b1
	immMoved = "imm-moved" // version 1 B's, version 2 A's (completed, 08)
	rpA      = "rp-a"
	rpB      = "rp-b"
)

// tokens of the matrix: scope and patient context.
var matrixTokens = map[string][2]string{
	"pA.rs":      {"patient/*.rs", patA},
	"pB.rs":      {"patient/*.rs", patB},
	"pA.read":    {"patient/*.read", patA},
	"pA.imm":     {"patient/Immunization.read patient/Patient.read", patA},
	"pA.pat":     {"patient/Patient.rs", patA},
	"pA.gran":    {"patient/Immunization.rs?status=completed patient/Patient.rs", patA},
	"pA.cruds":   {"patient/*.cruds", patA},
	"pA.c":       {"patient/Immunization.c", patA},
	"pA.u":       {"patient/Immunization.u", patA},
	"pA.write":   {"patient/*.write", patA},
	"pA.v1all":   {"patient/*.*", patA},
	"p.noctx":    {"patient/*.rs", ""},
	"u.read":     {"user/*.read", ""},
	"u.imm":      {"user/Immunization.rs", ""},
	"u.gran":     {"user/Immunization.rs?vaccine-code=08 user/Patient.rs", ""},
	"u.chain":    {"user/Immunization.rs user/Patient.rs?identifier=urn:mrn|a", ""},
	"s.all":      {"system/*.*", ""},
	"s.imm":      {"system/Immunization.rs", ""},
	"s.imm.cuds": {"system/Immunization.cud", ""},
}

func imm(id, patient, status, cvx string, extra ...string) string {
	idPart := ""
	if id != "" {
		idPart = `"id":"` + id + `",`
	}
	more := ""
	if len(extra) > 0 {
		more = "," + strings.Join(extra, ",")
	}
	return fmt.Sprintf(`{"resourceType":"Immunization",%s"status":%q,"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":%q}]},"patient":{"reference":"Patient/%s"},"occurrenceDateTime":"2021-05-06"%s}`,
		idPart, status, cvx, patient, more)
}

func identifier(system, value string) string {
	return fmt.Sprintf(`"identifier":[{"system":%q,"value":%q}]`, system, value)
}

// seedAuthData writes the fixed data with an unrestricted token.
func seedAuthData(t *testing.T, s *Server, admin string) {
	t.Helper()
	put := func(path, body string) {
		t.Helper()
		r := s.Do(t, "PUT", path, body, bearer(admin)...)
		if r.Status != 200 && r.Status != 201 {
			t.Fatalf("seed PUT %s: %d %s", path, r.Status, r.Body)
		}
	}
	put("Patient/"+patA, `{"resourceType":"Patient","id":"pat-a",`+identifier("urn:mrn", "a")+`,"name":[{"family":"Alpha"}],"gender":"female","birthDate":"2021-03-04"}`)
	put("Patient/"+patB, `{"resourceType":"Patient","id":"pat-b",`+identifier("urn:mrn", "b")+`,"name":[{"family":"Beta"}],"gender":"male","birthDate":"2021-03-04"}`)
	put("Practitioner/"+pracID, `{"resourceType":"Practitioner","id":"prac-1","name":[{"family":"Doc"}]}`)
	put("Immunization/"+immA1, imm(immA1, patA, "completed", "08", `"performer":[{"actor":{"reference":"Practitioner/prac-1"}}]`))
	put("Immunization/"+immA2, imm(immA2, patA, "not-done", "20"))
	put("Immunization/"+immB1, imm(immB1, patB, "completed", "08", identifier("urn:imm", "b1")))
	put("Immunization/"+immMoved, imm(immMoved, patB, "completed", "08"))
	put("Immunization/"+immMoved, imm(immMoved, patA, "completed", "08")) // version 2: moved to A
	put("RelatedPerson/"+rpA, `{"resourceType":"RelatedPerson","id":"rp-a","patient":{"reference":"Patient/pat-a"},"name":[{"family":"Alpha"}]}`)
	put("RelatedPerson/"+rpB, `{"resourceType":"RelatedPerson","id":"rp-b","patient":{"reference":"Patient/pat-b"},"name":[{"family":"Beta"}]}`)
}

// authEnv is one server under test with its tokens.
type authEnv struct {
	s      *Server
	tokens tokenSource
	admin  string // system/*.*
	// smart is true against hydra (the dev-only rows are skipped).
	smart bool
}

func (e *authEnv) token(t *testing.T, name string) string {
	t.Helper()
	st, ok := matrixTokens[name]
	if !ok {
		t.Fatalf("no matrix token %q", name)
	}
	return e.tokens.Token(t, st[0], st[1])
}

// fresh creates a resource with the admin token and returns its id.
func (e *authEnv) fresh(t *testing.T, body string) string {
	t.Helper()
	r := e.s.Do(t, "POST", typeOf(t, body), body, bearer(e.admin)...).Expect(t, 201)
	return id(t, r)
}

func typeOf(t *testing.T, body string) string {
	var m struct{ ResourceType string }
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	return m.ResourceType
}

// adminRead reads a resource with the admin token.
func (e *authEnv) adminRead(t *testing.T, path string) map[string]any {
	t.Helper()
	return e.s.Do(t, "GET", path, nil, bearer(e.admin)...).Expect(t, 200).JSON(t)
}

// accessRow is one request and the exact answer it must get.
type accessRow struct {
	name  string
	token string // a matrixTokens name
	// prep, when set, makes fresh data; its result replaces {id} in path
	// and body.
	prep    func(t *testing.T, e *authEnv) string
	method  string
	path    string
	body    string
	headers []string
	want    int
	// refs, when not nil, are exactly the resources the Bundle answer
	// holds: Type/id for searches, Type/id@version for histories.
	refs  []string
	check func(t *testing.T, e *authEnv, r *Response, id string)
}

func (row accessRow) run(t *testing.T, e *authEnv) {
	t.Helper()
	id := ""
	if row.prep != nil {
		id = row.prep(t, e)
	}
	path := strings.ReplaceAll(row.path, "{id}", id)
	var body any
	if row.body != "" {
		body = strings.ReplaceAll(row.body, "{id}", id)
	}
	headers := append(bearer(e.token(t, row.token)), row.headers...)
	r := e.s.Do(t, row.method, path, body, headers...)
	if r.Status != row.want {
		t.Fatalf("%s %s with %s (%q): status %d, want %d; body:\n%s", row.method, path, row.token, matrixTokens[row.token], r.Status, row.want, r.Body)
	}
	if row.want == 403 && r.JSON(t)["resourceType"] != "OperationOutcome" {
		t.Errorf("403 without an OperationOutcome: %s", r.Body)
	}
	if row.refs != nil {
		got := bundleRefs(t, r)
		want := slices.Clone(row.refs)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: resources\n  %v\nwant\n  %v", row.method, path, got, want)
		}
	}
	if row.check != nil {
		row.check(t, e, r, id)
	}
}

// bundleRefs lists the resources of a Bundle answer, sorted.
func bundleRefs(t *testing.T, r *Response) []string {
	t.Helper()
	var b struct {
		Type  string
		Entry []struct {
			Resource *struct {
				ResourceType string
				ID           string
				Meta         struct{ VersionID string }
			}
		}
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("not a Bundle: %v\n%s", err, r.Body)
	}
	out := []string{}
	for _, e := range b.Entry {
		if e.Resource == nil || e.Resource.ResourceType == "OperationOutcome" {
			continue
		}
		ref := e.Resource.ResourceType + "/" + e.Resource.ID
		if b.Type == "history" {
			ref += "@" + e.Resource.Meta.VersionID
		}
		out = append(out, ref)
	}
	sort.Strings(out)
	return out
}

func refs(typ string, ids ...string) []string {
	out := []string{}
	for _, id := range ids {
		out = append(out, typ+"/"+id)
	}
	return out
}

func cat(lists ...[]string) []string {
	out := []string{}
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// A's Immunizations, as the fixed data has them.
var aImms = refs("Immunization", immA1, immA2, immMoved)

// readRows do not change data; they run first, so their exact result sets
// hold.
func readRows() []accessRow {
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	batchGets := `{"resourceType":"Bundle","type":"batch","entry":[
		{"request":{"method":"GET","url":"Patient/pat-a"}},
		{"request":{"method":"GET","url":"Patient/pat-b"}},
		{"request":{"method":"GET","url":"Immunization?patient=pat-b"}}]}`
	return []accessRow{
		// read
		{name: "read own Patient", token: "pA.rs", method: "GET", path: "Patient/pat-a", want: 200},
		{name: "read another Patient", token: "pA.rs", method: "GET", path: "Patient/pat-b", want: 404},
		{name: "read a missing Patient", token: "pA.rs", method: "GET", path: "Patient/nobody", want: 404},
		{name: "HEAD another Patient", token: "pA.rs", method: "HEAD", path: "Patient/pat-b", want: 404},
		{name: "v1 read own Immunization", token: "pA.read", method: "GET", path: "Immunization/imm-a1", want: 200},
		{name: "v1 read another's Immunization", token: "pA.read", method: "GET", path: "Immunization/imm-b1", want: 404},
		{name: "v1 patient/*.* read", token: "pA.v1all", method: "GET", path: "Immunization/imm-a1", want: 200},
		{name: "v1 type scopes do not reach RelatedPerson", token: "pA.imm", method: "GET", path: "RelatedPerson/rp-a", want: 403},
		{name: "own RelatedPerson", token: "pA.rs", method: "GET", path: "RelatedPerson/rp-a", want: 200},
		{name: "another's RelatedPerson", token: "pA.rs", method: "GET", path: "RelatedPerson/rp-b", want: 404},
		{name: "Practitioner is in no compartment", token: "pA.rs", method: "GET", path: "Practitioner/prac-1", want: 404},
		{name: "the Immunization moved to A", token: "pA.rs", method: "GET", path: "Immunization/imm-moved", want: 200},
		{name: "the Immunization moved away from B", token: "pB.rs", method: "GET", path: "Immunization/imm-moved", want: 404},
		{name: "granular: matching", token: "pA.gran", method: "GET", path: "Immunization/imm-a1", want: 200},
		{name: "granular: not matching", token: "pA.gran", method: "GET", path: "Immunization/imm-a2", want: 404},
		{name: "user granular: matching, any patient", token: "u.gran", method: "GET", path: "Immunization/imm-b1", want: 200},
		{name: "user granular: not matching", token: "u.gran", method: "GET", path: "Immunization/imm-a2", want: 404},
		{name: "user v1 read", token: "u.read", method: "GET", path: "Practitioner/prac-1", want: 200},
		{name: "system scope of another type", token: "s.imm", method: "GET", path: "Patient/pat-a", want: 403},
		{name: "patient scope without patient context", token: "p.noctx", method: "GET", path: "Patient/pat-a", want: 403},
		{name: "create-only token reads", token: "pA.c", method: "GET", path: "Immunization/imm-a1", want: 403},
		{name: "v1 write-only token reads", token: "pA.write", method: "GET", path: "Immunization/imm-a1", want: 403},
		{name: "system write-only token reads", token: "s.imm.cuds", method: "GET", path: "Immunization/imm-a1", want: 403},
		// vread
		{name: "vread own", token: "pA.rs", method: "GET", path: "Immunization/imm-a1/_history/1", want: 200},
		{name: "vread another's", token: "pA.rs", method: "GET", path: "Immunization/imm-b1/_history/1", want: 404},
		{name: "vread the version before the move", token: "pA.rs", method: "GET", path: "Immunization/imm-moved/_history/1", want: 404},
		{name: "vread the version after the move", token: "pA.rs", method: "GET", path: "Immunization/imm-moved/_history/2", want: 200},
		{name: "vread by the patient it moved from", token: "pB.rs", method: "GET", path: "Immunization/imm-moved/_history/1", want: 404},
		{name: "vread needs r", token: "pA.c", method: "GET", path: "Immunization/imm-a1/_history/1", want: 403},
		// instance history (r)
		{name: "history of own", token: "pA.rs", method: "GET", path: "Immunization/imm-a1/_history", want: 200, refs: []string{"Immunization/imm-a1@1"}},
		{name: "history across a move", token: "pA.rs", method: "GET", path: "Immunization/imm-moved/_history", want: 200, refs: []string{"Immunization/imm-moved@2"}},
		{name: "history of another's", token: "pA.rs", method: "GET", path: "Immunization/imm-b1/_history", want: 404},
		{name: "history unrestricted", token: "s.all", method: "GET", path: "Immunization/imm-moved/_history", want: 200, refs: []string{"Immunization/imm-moved@1", "Immunization/imm-moved@2"}},
		{name: "history granular", token: "pA.gran", method: "GET", path: "Immunization/imm-a2/_history", want: 404},
		// type and system history (s)
		{name: "type history", token: "pA.rs", method: "GET", path: "Immunization/_history", want: 200,
			refs: []string{"Immunization/imm-a1@1", "Immunization/imm-a2@1", "Immunization/imm-moved@2"}},
		{name: "type history granular", token: "pA.gran", method: "GET", path: "Immunization/_history", want: 200,
			refs: []string{"Immunization/imm-a1@1", "Immunization/imm-moved@2"}},
		{name: "type history needs s", token: "pA.c", method: "GET", path: "Immunization/_history", want: 403},
		{name: "system history", token: "pA.rs", method: "GET", path: "_history", want: 200,
			refs: []string{"Immunization/imm-a1@1", "Immunization/imm-a2@1", "Immunization/imm-moved@2", "Patient/pat-a@1", "RelatedPerson/rp-a@1"}},
		{name: "system history of one granted type", token: "s.imm", method: "GET", path: "_history", want: 200,
			refs: []string{"Immunization/imm-a1@1", "Immunization/imm-a2@1", "Immunization/imm-b1@1", "Immunization/imm-moved@1", "Immunization/imm-moved@2"}},
		{name: "system history, nothing granted", token: "p.noctx", method: "GET", path: "_history", want: 403},
		// search (s)
		{name: "search", token: "pA.rs", method: "GET", path: "Immunization", want: 200, refs: aImms},
		{name: "v1 search", token: "pA.read", method: "GET", path: "Immunization", want: 200, refs: aImms},
		{name: "search for another patient", token: "pA.rs", method: "GET", path: "Immunization?patient=pat-b", want: 200, refs: []string{}},
		{name: "search another Patient by id", token: "pA.rs", method: "GET", path: "Patient?_id=pat-a,pat-b", want: 200, refs: refs("Patient", patA)},
		{name: "search by identifier of another's", token: "pA.rs", method: "GET", path: "Immunization?identifier=urn:imm|b1", want: 200, refs: []string{}},
		{name: "granular search", token: "pA.gran", method: "GET", path: "Immunization", want: 200, refs: refs("Immunization", immA1, immMoved)},
		{name: "user granular search", token: "u.gran", method: "GET", path: "Immunization", want: 200, refs: refs("Immunization", immA1, immB1, immMoved)},
		{name: "search needs s", token: "pA.c", method: "GET", path: "Immunization", want: 403},
		{name: "POST _search for another patient", token: "pA.rs", method: "POST", path: "Immunization/_search", body: "patient=pat-b", headers: form, want: 200, refs: []string{}},
		{name: "count", token: "pA.rs", method: "GET", path: "Immunization?_summary=count", want: 200, check: wantTotal(3)},
		{name: "count for another patient", token: "pA.rs", method: "GET", path: "Immunization?patient=pat-b&_total=accurate", want: 200, refs: []string{}, check: wantTotal(0)},
		// chains: the chain's target must be one the token may search
		{name: "chain to another patient", token: "pA.rs", method: "GET", path: "Immunization?patient.family=Beta", want: 200, refs: []string{}},
		{name: "chain to own", token: "pA.rs", method: "GET", path: "Immunization?patient.family=Alpha", want: 200, refs: aImms},
		{name: "chain to a Patient the scopes hide", token: "u.chain", method: "GET", path: "Immunization?patient.family=Beta", want: 200, refs: []string{}},
		{name: "chain to a Patient the scopes show", token: "u.chain", method: "GET", path: "Immunization?patient.family=Alpha", want: 200, refs: aImms},
		// _has: its sources must be ones the token may search
		{name: "_has", token: "pA.rs", method: "GET", path: "Patient?_has:Immunization:patient:vaccine-code=08", want: 200, refs: refs("Patient", patA)},
		{name: "_has through hidden Immunizations", token: "u.gran", method: "GET", path: "Patient?_has:Immunization:patient:status=not-done", want: 200, refs: []string{}},
		{name: "_has through shown Immunizations", token: "u.gran", method: "GET", path: "Patient?_has:Immunization:patient:vaccine-code=08", want: 200, refs: refs("Patient", patA, patB)},
		// _include and _revinclude: included resources need s too
		{name: "_include", token: "pA.rs", method: "GET", path: "Immunization?_include=Immunization:patient", want: 200, refs: cat(aImms, refs("Patient", patA))},
		{name: "_include outside the compartment", token: "pA.rs", method: "GET", path: "Immunization?_include=Immunization:performer", want: 200, refs: aImms},
		{name: "_include of a type not granted", token: "u.imm", method: "GET", path: "Immunization?_include=Immunization:patient", want: 200,
			refs: refs("Immunization", immA1, immA2, immB1, immMoved)},
		{name: "_include of a Patient the scopes hide", token: "u.chain", method: "GET", path: "Immunization?_include=Immunization:patient", want: 200,
			refs: cat(refs("Immunization", immA1, immA2, immB1, immMoved), refs("Patient", patA))},
		{name: "_revinclude", token: "pA.rs", method: "GET", path: "Patient?_revinclude=Immunization:patient", want: 200, refs: cat(refs("Patient", patA), aImms)},
		{name: "_revinclude of both patients", token: "pA.rs", method: "GET", path: "Patient?_id=pat-a,pat-b&_revinclude=Immunization:patient&_revinclude=RelatedPerson:patient", want: 200,
			refs: cat(refs("Patient", patA), aImms, refs("RelatedPerson", rpA))},
		{name: "_revinclude granular", token: "u.gran", method: "GET", path: "Patient?_revinclude=Immunization:patient", want: 200,
			refs: cat(refs("Patient", patA, patB), refs("Immunization", immA1, immB1, immMoved))},
		// compartment search
		{name: "compartment of another patient", token: "pA.rs", method: "GET", path: "Patient/pat-b/Immunization", want: 200, refs: []string{}},
		{name: "compartment of another patient, RelatedPerson", token: "pA.rs", method: "GET", path: "Patient/pat-b/RelatedPerson", want: 200, refs: []string{}},
		{name: "own compartment", token: "pA.rs", method: "GET", path: "Patient/pat-a/Immunization", want: 200, refs: aImms},
		// batch GET entries, each checked
		{name: "batch GETs", token: "pA.rs", method: "POST", path: "", body: batchGets, want: 200,
			check: wantEntryStatuses("200 OK", "404 Not Found", "200 OK")},
		// $immds-forecast
		{name: "forecast for another patient", token: "pA.rs", method: "GET", path: "Patient/pat-b/$immds-forecast", want: 404},
		{name: "forecast for own", token: "pA.rs", method: "GET", path: "Patient/pat-a/$immds-forecast", want: 200},
		{name: "forecast needs s on Immunization", token: "pA.pat", method: "GET", path: "Patient/pat-a/$immds-forecast", want: 403},
		{name: "forecast persisted needs writes", token: "pA.rs", method: "POST", path: "Patient/pat-a/$immds-forecast?persist=true", want: 403},
	}
}

// writeRows change data; each makes what it changes.
func writeRows() []accessRow {
	freshA := func(t *testing.T, e *authEnv) string { return e.fresh(t, imm("", patA, "completed", "08")) }
	freshB := func(t *testing.T, e *authEnv) string { return e.fresh(t, imm("", patB, "completed", "08")) }
	newID := func(*testing.T, *authEnv) string { return "new-" + randomHex(6) }
	bodyA, bodyB := imm("", patA, "completed", "08"), imm("", patB, "completed", "08")
	putA, putB := imm("{id}", patA, "not-done", "08"), imm("{id}", patB, "not-done", "08")
	patch := func(ops string) string { return ops }
	patchCT := []string{"Content-Type", "application/json-patch+json"}
	unchanged := func(t *testing.T, e *authEnv, _ *Response, id string) {
		got := e.adminRead(t, "Immunization/"+id)
		if meta, _ := got["meta"].(map[string]any); meta["versionId"] != "1" || got["status"] != "completed" {
			t.Errorf("Immunization/%s changed: %v", id, got)
		}
	}
	b1Unchanged := func(t *testing.T, e *authEnv, _ *Response, _ string) { unchanged(t, e, nil, immB1) }
	tx := func(kind string, entries ...string) string {
		return `{"resourceType":"Bundle","type":"` + kind + `","entry":[` + strings.Join(entries, ",") + `]}`
	}
	post := func(body string) string {
		return `{"resource":` + body + `,"request":{"method":"POST","url":"Immunization"}}`
	}
	put := func(body string) string {
		return `{"resource":` + body + `,"request":{"method":"PUT","url":"Immunization/{id}"}}`
	}
	marker := func() string { return identifier("urn:tx", randomHex(6)) }
	return []accessRow{
		// create (c)
		{name: "create own", token: "pA.cruds", method: "POST", path: "Immunization", body: bodyA, want: 201, check: wantSource},
		{name: "create for another patient", token: "pA.cruds", method: "POST", path: "Immunization", body: bodyB, want: 403},
		{name: "create a Patient", token: "pA.cruds", method: "POST", path: "Patient", body: `{"resourceType":"Patient","name":[{"family":"New"}]}`, want: 403},
		{name: "v1 write creates", token: "pA.write", method: "POST", path: "Immunization", body: bodyA, want: 201},
		{name: "create-only token creates", token: "pA.c", method: "POST", path: "Immunization", body: bodyA, want: 201},
		{name: "create without c", token: "pA.rs", method: "POST", path: "Immunization", body: bodyA, want: 403},
		{name: "user read-only creates", token: "u.read", method: "POST", path: "Immunization", body: bodyA, want: 403},
		{name: "system create", token: "s.imm.cuds", method: "POST", path: "Immunization", body: bodyB, want: 201, check: wantSource},
		// update (u; create-on-update c)
		{name: "update own", token: "pA.cruds", prep: freshA, method: "PUT", path: "Immunization/{id}", body: putA, want: 200, check: wantSource},
		{name: "update moving to another patient", token: "pA.cruds", prep: freshA, method: "PUT", path: "Immunization/{id}", body: putB, want: 403, check: unchanged},
		{name: "update another's", token: "pA.cruds", prep: freshB, method: "PUT", path: "Immunization/{id}", body: putB, want: 403, check: unchanged},
		{name: "update another's into own", token: "pA.cruds", prep: freshB, method: "PUT", path: "Immunization/{id}", body: putA, want: 403, check: unchanged},
		{name: "update another's with a stale If-Match", token: "pA.cruds", prep: freshB, method: "PUT", path: "Immunization/{id}", body: putA, headers: []string{"If-Match", `W/"7"`}, want: 403, check: unchanged},
		{name: "update without u", token: "pA.rs", prep: freshA, method: "PUT", path: "Immunization/{id}", body: putA, want: 403, check: unchanged},
		{name: "update with c only", token: "pA.c", prep: freshA, method: "PUT", path: "Immunization/{id}", body: putA, want: 403, check: unchanged},
		{name: "create-on-update own", token: "pA.cruds", prep: newID, method: "PUT", path: "Immunization/{id}", body: putA, want: 201},
		{name: "create-on-update for another patient", token: "pA.cruds", prep: newID, method: "PUT", path: "Immunization/{id}", body: putB, want: 403},
		{name: "create-on-update needs c", token: "pA.u", prep: newID, method: "PUT", path: "Immunization/{id}", body: putA, want: 403},
		{name: "create-on-update with c only", token: "pA.c", prep: newID, method: "PUT", path: "Immunization/{id}", body: putA, want: 201},
		// patch (u)
		{name: "patch own", token: "pA.cruds", prep: freshA, method: "PATCH", path: "Immunization/{id}", headers: patchCT,
			body: patch(`[{"op":"replace","path":"/status","value":"not-done"}]`), want: 200},
		{name: "patch another's", token: "pA.cruds", prep: freshB, method: "PATCH", path: "Immunization/{id}", headers: patchCT,
			body: patch(`[{"op":"replace","path":"/status","value":"not-done"}]`), want: 403, check: unchanged},
		{name: "patch test on another's, true", token: "pA.cruds", prep: freshB, method: "PATCH", path: "Immunization/{id}", headers: patchCT,
			body: patch(`[{"op":"test","path":"/status","value":"completed"}]`), want: 403},
		{name: "patch test on another's, false", token: "pA.cruds", prep: freshB, method: "PATCH", path: "Immunization/{id}", headers: patchCT,
			body: patch(`[{"op":"test","path":"/status","value":"not-done"}]`), want: 403},
		{name: "patch moving to another patient", token: "pA.cruds", prep: freshA, method: "PATCH", path: "Immunization/{id}", headers: patchCT,
			body: patch(`[{"op":"replace","path":"/patient/reference","value":"Patient/pat-b"}]`), want: 403, check: unchanged},
		{name: "patch without u", token: "pA.c", prep: freshA, method: "PATCH", path: "Immunization/{id}", headers: patchCT,
			body: patch(`[{"op":"replace","path":"/status","value":"not-done"}]`), want: 403},
		// delete (d)
		{name: "delete another's", token: "pA.cruds", prep: freshB, method: "DELETE", path: "Immunization/{id}", want: 403, check: unchanged},
		{name: "delete own", token: "pA.cruds", prep: freshA, method: "DELETE", path: "Immunization/{id}", want: 204},
		{name: "v1 write deletes", token: "pA.write", prep: freshA, method: "DELETE", path: "Immunization/{id}", want: 204},
		{name: "delete without d", token: "pA.rs", prep: freshA, method: "DELETE", path: "Immunization/{id}", want: 403, check: unchanged},
		// conditional forms search within the token's scopes, and need s
		{name: "conditional create does not see another's", token: "pA.cruds", method: "POST", path: "Immunization",
			body: imm("", patA, "completed", "08", identifier("urn:imm", "b1")), headers: []string{"If-None-Exist", "identifier=urn:imm|b1"}, want: 201,
			check: func(t *testing.T, e *authEnv, r *Response, _ string) {
				if got := id(t, r); got == immB1 {
					t.Errorf("conditional create answered B's Immunization")
				}
				b1Unchanged(t, e, r, "")
			}},
		{name: "conditional create matches own", token: "pA.cruds", prep: func(t *testing.T, e *authEnv) string {
			return e.fresh(t, imm("", patA, "completed", "08", identifier("urn:imm", "a-cond")))
		}, method: "POST", path: "Immunization", body: imm("", patA, "completed", "08", identifier("urn:imm", "a-cond")),
			headers: []string{"If-None-Exist", "identifier=urn:imm|a-cond"}, want: 200,
			check: func(t *testing.T, _ *authEnv, r *Response, fresh string) {
				if got := id(t, r); got != fresh {
					t.Errorf("conditional create answered %s, want %s", got, fresh)
				}
			}},
		{name: "conditional create needs s", token: "pA.c", method: "POST", path: "Immunization", body: bodyA,
			headers: []string{"If-None-Exist", "identifier=urn:imm|b1"}, want: 403},
		// Unscoped, patient=pat-b would match B's Immunizations (several:
		// 412); scoped it matches none.
		{name: "conditional update does not touch another's", token: "pA.cruds", method: "PUT", path: "Immunization?patient=pat-b",
			body: imm("", patA, "not-done", "08"), want: 201, check: b1Unchanged},
		{name: "conditional delete does not touch another's", token: "pA.cruds", method: "DELETE", path: "Immunization?_id=imm-b1", want: 204, check: b1Unchanged},
		{name: "conditional delete needs s", token: "pA.write", method: "DELETE", path: "Immunization?_id=imm-b1", want: 403, check: b1Unchanged},
		{name: "conditional reference to another patient", token: "pA.cruds", method: "POST", path: "Immunization",
			body: strings.Replace(bodyA, "Patient/pat-a", "Patient?identifier=urn:mrn|b", 1), want: 422},
		// transactions: every entry checked, nothing written on refusal
		{name: "transaction touching another's", token: "pA.cruds", prep: freshB, method: "POST", path: "", want: 403,
			body: tx("transaction", post(imm("", patA, "completed", "08", identifier("urn:tx", "t1-{id}"))), put(putB)),
			check: func(t *testing.T, e *authEnv, r *Response, id string) {
				unchanged(t, e, r, id)
				wantNoneWritten(t, e, "t1-"+id)
			}},
		{name: "transaction reading another's", token: "pA.cruds", prep: newID, method: "POST", path: "", want: 404,
			body:  tx("transaction", post(imm("", patA, "completed", "08", identifier("urn:tx", "t2-{id}"))), `{"request":{"method":"GET","url":"Patient/pat-b"}}`),
			check: func(t *testing.T, e *authEnv, _ *Response, id string) { wantNoneWritten(t, e, "t2-"+id) }},
		{name: "transaction without a scope for one entry", token: "pA.c", prep: freshA, method: "POST", path: "", want: 403,
			body: tx("transaction", post(imm("", patA, "completed", "08", identifier("urn:tx", "t3-{id}"))), `{"request":{"method":"DELETE","url":"Immunization/{id}"}}`),
			check: func(t *testing.T, e *authEnv, r *Response, id string) {
				unchanged(t, e, r, id)
				wantNoneWritten(t, e, "t3-"+id)
			}},
		{name: "transaction within the compartment", token: "pA.cruds", prep: freshA, method: "POST", path: "", want: 200,
			body: tx("transaction", post(imm("", patA, "completed", "08", marker())), put(putA)), check: wantEntryStatuses("201 Created", "200 OK")},
		{name: "batch, entry by entry", token: "pA.cruds", prep: freshB, method: "POST", path: "", want: 200,
			body:  tx("batch", post(bodyA), post(bodyB), put(putB), `{"request":{"method":"DELETE","url":"Immunization/{id}"}}`),
			check: wantEntryStatuses("201 Created", "403 Forbidden", "403 Forbidden", "403 Forbidden")},
		// $immds-forecast persisting through the write checks
		{name: "forecast persisted", token: "pA.cruds", method: "POST", path: "Patient/pat-a/$immds-forecast?persist=true", want: 200},
		{name: "forecast persisted for another patient", token: "pA.cruds", method: "POST", path: "Patient/pat-b/$immds-forecast?persist=true", want: 404},
	}
}

// wantTotal checks Bundle.total.
func wantTotal(n int) func(*testing.T, *authEnv, *Response, string) {
	return func(t *testing.T, _ *authEnv, r *Response, _ string) {
		if got := r.JSON(t)["total"]; got != float64(n) {
			t.Errorf("total %v, want %d", got, n)
		}
	}
}

// wantEntryStatuses checks the response.status of each Bundle entry.
func wantEntryStatuses(want ...string) func(*testing.T, *authEnv, *Response, string) {
	return func(t *testing.T, _ *authEnv, r *Response, _ string) {
		var b struct {
			Entry []struct {
				Response struct{ Status string }
				Resource json.RawMessage
			}
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range b.Entry {
			got = append(got, e.Response.Status)
			if strings.Contains(string(e.Resource), `Patient/pat-b"`) || strings.Contains(string(e.Resource), `"imm-b1"`) {
				t.Errorf("an entry carries patient B's data: %s", e.Resource)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("entry statuses %v, want %v\n%s", got, want, r.Body)
		}
	}
}

// wantSource checks that the version records its writer in meta.source:
// the token's issuer, # and its client.
func wantSource(t *testing.T, e *authEnv, r *Response, _ string) {
	got := r.JSON(t)
	meta, _ := got["meta"].(map[string]any)
	src, _ := meta["source"].(string)
	iss, client, ok := strings.Cut(src, "#")
	if !ok || client == "" || !strings.HasPrefix(iss, "http") {
		t.Errorf("meta.source %q, want <issuer>#<client>", src)
	}
	if !e.smart && (iss != e.s.Root || client != "immunis-dev") {
		t.Errorf("meta.source %q, want %s#immunis-dev", src, e.s.Root)
	}
}

// wantNoneWritten checks that no Immunization carries the marker.
func wantNoneWritten(t *testing.T, e *authEnv, marker string) {
	t.Helper()
	r := e.s.Do(t, "GET", "Immunization?identifier="+url.QueryEscape("urn:tx|"+marker), nil, bearer(e.admin)...).Expect(t, 200)
	if got := bundleRefs(t, r); len(got) != 0 {
		t.Errorf("a refused transaction wrote %v", got)
	}
}

// injectionRows give tokens scope strings with injected characters and
// hostile granular queries (dev mode: the server's own key signs any
// claim; hydra refuses some of these strings).
func injectionRows() []accessRow {
	return []accessRow{
		{name: "newline in a scope", token: "x.newline", method: "GET", path: "Patient/pat-b", want: 403},
		{name: "tab in a scope", token: "x.tab", method: "GET", path: "Patient/pat-b", want: 403},
		{name: "NUL in a scope", token: "x.nul", method: "GET", path: "Patient/pat-b", want: 403},
		{name: "encoded slash", token: "x.encslash", method: "GET", path: "Patient/pat-b", want: 403},
		{name: "quote in a granular value", token: "x.sql", method: "GET", path: "Immunization", want: 403},
		{name: "SQL in a granular value", token: "x.sqlspace", method: "GET", path: "Immunization", want: 200, refs: []string{}},
		{name: "SQL in a granular parameter name", token: "x.sqlname", method: "GET", path: "Immunization", want: 403},
		{name: "granular query naming another patient", token: "x.otherpat", method: "GET", path: "Immunization", want: 200, refs: []string{}},
		{name: "granular query with _include", token: "x.include", method: "GET", path: "Immunization", want: 403},
		{name: "granular query with a chain", token: "x.chain", method: "GET", path: "Immunization", want: 200, refs: []string{}},
		{name: "granular query with _has", token: "x.has", method: "GET", path: "Patient", want: 200, refs: []string{}},
		{name: "granular query on an unknown parameter", token: "x.unknown", method: "GET", path: "Immunization", want: 200, refs: []string{}},
		{name: "granular query on a wildcard type", token: "x.wildgran", method: "GET", path: "Immunization", want: 403},
		{name: "unicode look-alike level", token: "x.unicode", method: "GET", path: "Patient/pat-b", want: 403},
	}
}

var injectionTokens = map[string][2]string{
	"x.newline":  {"patient/*.rs\nsystem/*.*", patA},
	"x.tab":      {"patient/*.rs\tsystem/*.*", patA},
	"x.nul":      {"system/*.*\x00", ""},
	"x.encslash": {"system%2F*.*", ""},
	"x.sql":      {"user/Immunization.rs?status=completed'%20OR%20'1'%3D'1", ""},
	"x.sqlspace": {"user/Immunization.rs?status=completed%20OR%201%3D1", ""},
	"x.sqlname":  {"user/Immunization.rs?status%27%20OR%201%3D1--=completed", ""},
	"x.otherpat": {"patient/Immunization.rs?patient=pat-b", patA},
	"x.include":  {"user/Immunization.rs?_include=Immunization:patient", ""},
	"x.chain":    {"user/Immunization.rs?patient.family=Beta", ""},
	"x.has":      {"user/Patient.rs?_has:Immunization:patient:status=completed", ""},
	"x.unknown":  {"user/Immunization.rs?nonsense=1", ""},
	"x.wildgran": {"user/*.rs?status=completed", ""},
	"x.unicode":  {"sуstem/*.*", ""}, // Cyrillic у
}

// encodeSegment and decodeSegment are base64url without padding (JWT
// segments).
func encodeSegment(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
