package search

import (
	"strings"
	"testing"

	"github.com/immunis/immunis/fhir"
)

// TestScopeAllowsIndex: the in-memory twin of a Scope's SQL judges
// compartments exactly and the simplest granular filters, and fails
// closed on everything else.
func TestScopeAllowsIndex(t *testing.T) {
	r := testRegistry(t)
	x := &Extractor{Registry: r, BaseURL: "http://x/fhir"}
	immOf := func(patient, status, cvx string) Index {
		obj, err := fhir.DecodeStrict([]byte(`{"resourceType":"Immunization","id":"i1","status":"` + status +
			`","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"` + cvx +
			`"}]},"patient":{"reference":"Patient/` + patient + `"},"occurrenceDateTime":"2021-01-01"}`))
		if err != nil {
			t.Fatal(err)
		}
		return x.Extract("Immunization", obj)
	}
	filters := func(query string) []*Filter { return mustParse(t, r, "Immunization", query).Filters }
	scope := func(clauses ...ScopeClause) *Scope {
		return &Scope{Types: map[string][]ScopeClause{"Immunization": clauses}}
	}
	cases := []struct {
		name string
		sc   *Scope
		ix   Index
		want bool
	}{
		{"nil scope allows", nil, immOf("a", "completed", "08"), true},
		{"type not in scope", &Scope{Types: map[string][]ScopeClause{}}, immOf("a", "completed", "08"), false},
		{"unrestricted clause", scope(ScopeClause{}), immOf("a", "completed", "08"), true},
		{"own compartment", scope(ScopeClause{Patient: "a"}), immOf("a", "completed", "08"), true},
		{"other compartment", scope(ScopeClause{Patient: "a"}), immOf("b", "completed", "08"), false},
		{"token matches", scope(ScopeClause{Patient: "a", Filters: filters("status=completed")}), immOf("a", "completed", "08"), true},
		{"token does not match", scope(ScopeClause{Patient: "a", Filters: filters("status=completed")}), immOf("a", "not-done", "08"), false},
		{"token values ORed", scope(ScopeClause{Filters: filters("status=not-done,completed")}), immOf("b", "completed", "08"), true},
		{"token with system", scope(ScopeClause{Filters: filters("vaccine-code=http://hl7.org/fhir/sid/cvx|08")}), immOf("b", "completed", "08"), true},
		{"token with another system", scope(ScopeClause{Filters: filters("vaccine-code=urn:other|08")}), immOf("b", "completed", "08"), false},
		{"filters ANDed", scope(ScopeClause{Filters: filters("status=completed&vaccine-code=20")}), immOf("b", "completed", "08"), false},
		{"clauses ORed", scope(ScopeClause{Patient: "a"}, ScopeClause{Filters: filters("vaccine-code=08")}), immOf("b", "completed", "08"), true},
		{"reference Type/id", scope(ScopeClause{Filters: filters("patient=Patient/b")}), immOf("b", "completed", "08"), true},
		{"reference bare id", scope(ScopeClause{Filters: filters("patient=b")}), immOf("b", "completed", "08"), true},
		{"reference other", scope(ScopeClause{Filters: filters("patient=Patient/a")}), immOf("b", "completed", "08"), false},
		{"_id", scope(ScopeClause{Filters: filters("_id=i1")}), immOf("b", "completed", "08"), true},
		{"modifier fails closed", scope(ScopeClause{Filters: filters("status:not=not-done")}), immOf("b", "completed", "08"), false},
		{"date fails closed", scope(ScopeClause{Filters: filters("date=2021-01-01")}), immOf("b", "completed", "08"), false},
		{"chain fails closed", scope(ScopeClause{Filters: filters("patient.family=x")}), immOf("b", "completed", "08"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.sc.AllowsIndex("Immunization", "i1", &c.ix); got != c.want {
				t.Errorf("AllowsIndex = %v, want %v", got, c.want)
			}
		})
	}
}

func TestIntersect(t *testing.T) {
	r := testRegistry(t)
	f := mustParse(t, r, "Immunization", "status=completed").Filters
	g := mustParse(t, r, "Immunization", "vaccine-code=08").Filters
	a := &Scope{Types: map[string][]ScopeClause{"Immunization": {{Patient: "a"}, {Filters: f}}, "Patient": {{}}}}
	b := &Scope{Types: map[string][]ScopeClause{"Immunization": {{Patient: "b"}, {Filters: g}}}}
	if Intersect(nil, b) != b || Intersect(a, nil) != a {
		t.Error("nil does not restrict")
	}
	got := Intersect(a, b)
	if _, ok := got.Types["Patient"]; ok {
		t.Error("a type only one side allows survived")
	}
	// {a}∧{b} is dropped; {a}∧{g}, {f}∧{b}, {f}∧{g} remain.
	cl := got.Types["Immunization"]
	if len(cl) != 3 || cl[0].Patient != "a" || len(cl[0].Filters) != 1 || cl[1].Patient != "b" || len(cl[2].Filters) != 2 {
		t.Errorf("intersection %+v", cl)
	}
}

func TestScopeRIDs(t *testing.T) {
	r := testRegistry(t)
	c := testCompiler(SQLite)
	f := mustParse(t, r, "Immunization", "status=completed").Filters
	sc := &Scope{Types: map[string][]ScopeClause{"Immunization": {{Patient: "a", Filters: f}}, "Patient": {{}}}}
	st, err := c.ScopeRIDs(sc, []string{"Patient", "Immunization", "Practitioner"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SELECT r.rid FROM resource r WHERE ", "compartment WHERE patient_id", "idx_token"} {
		if !strings.Contains(st.SQL, want) {
			t.Errorf("SQL lacks %q: %s", want, st.SQL)
		}
	}
	if strings.Contains(st.SQL, "Practitioner") || strings.Contains(st.SQL, "'a'") {
		t.Errorf("a type out of scope, or a value in the SQL text: %s", st.SQL)
	}
	joined := ""
	for _, a := range st.Args {
		if s, ok := a.(string); ok {
			joined += s + " "
		}
	}
	if strings.Contains(joined, "Practitioner") || !strings.Contains(joined, "Immunization") || !strings.Contains(joined, "Patient") || !strings.Contains(joined, "a ") {
		t.Errorf("args %v", st.Args)
	}
	none, err := c.ScopeRIDs(&Scope{Types: map[string][]ScopeClause{}}, []string{"Patient"})
	if err != nil || !strings.HasSuffix(none.SQL, "1 = 0") {
		t.Errorf("empty scope: %v %s", err, none.SQL)
	}
}
