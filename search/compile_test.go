package search

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// TestCompile compiles every parse case to its page statement
// (PostgreSQL) and compares SQL and bind arguments with
// testdata/compile/<name>.golden.
func TestCompile(t *testing.T) {
	r := testRegistry(t)
	c := testCompiler(Postgres)
	for _, pc := range parseCases {
		t.Run(pc.name, func(t *testing.T) {
			vals, err := url.ParseQuery(pc.query)
			if err != nil {
				t.Fatal(err)
			}
			q, err := r.Parse(pc.typ, vals, Lenient)
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Page(q)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "compile", pc.name, pc.typ+"?"+pc.query+"\n\n"+describeStatement(st))
		})
	}
}

// TestCompileForms covers statements beyond one first page: cursors
// forwards and backwards, sorted and not, the other dialect, counts and
// includes.
func TestCompileForms(t *testing.T) {
	r := testRegistry(t)
	pg, lite := testCompiler(Postgres), testCompiler(SQLite)
	cases := []struct {
		name string
		run  func(t *testing.T) Statement
	}{
		{"cursor_next", func(t *testing.T) Statement {
			q := mustParse(t, r, "Immunization", "vaccine-code=http://hl7.org/fhir/sid/cvx|08&date=ge2024-01-01&_count=100")
			q.Cursor = &Cursor{RID: 4242}
			return must(t)(pg.Page(q))
		}},
		{"cursor_prev", func(t *testing.T) Statement {
			q := mustParse(t, r, "Immunization", "patient=Patient/1")
			q.Cursor = &Cursor{RID: 4242, Prev: true}
			return must(t)(pg.Page(q))
		}},
		{"sorted_cursor_next", func(t *testing.T) Statement {
			q := mustParse(t, r, "Patient", "_sort=family,-birthdate")
			smith, day := "smith", "631152000000000"
			q.Cursor = &Cursor{RID: 7, Keys: []*string{&smith, &day}, Spec: "family,-birthdate"}
			return must(t)(pg.Page(q))
		}},
		{"sorted_cursor_prev_null", func(t *testing.T) Statement {
			q := mustParse(t, r, "Patient", "_sort=family,-birthdate")
			smith := "smith"
			q.Cursor = &Cursor{RID: 7, Keys: []*string{&smith, nil}, Spec: "family,-birthdate", Prev: true}
			return must(t)(pg.Page(q))
		}},
		{"sorted_last_updated", func(t *testing.T) Statement {
			q := mustParse(t, r, "Immunization", "_sort=-_lastUpdated&status=completed")
			return must(t)(pg.Page(q))
		}},
		{"sqlite_page", func(t *testing.T) Statement {
			q := mustParse(t, r, "Immunization", "patient=Patient/1&status:not=entered-in-error&_sort=-date")
			return must(t)(lite.Page(q))
		}},
		{"compartment", func(t *testing.T) Statement {
			q := mustParse(t, r, "Immunization", "status=completed")
			q.Compartment = "p1"
			return must(t)(pg.Page(q))
		}},
		{"count", func(t *testing.T) Statement {
			return must(t)(pg.Count(mustParse(t, r, "Patient", "family=smith&birthdate=2010")))
		}},
		{"matches", func(t *testing.T) Statement {
			return must(t)(pg.Matches(mustParse(t, r, "Patient", "gender=female")))
		}},
		{"include", func(t *testing.T) Statement {
			p, _ := r.Param("Immunization", "patient")
			return must(t)(pg.Include([]*Param{p}, "", []int64{1, 2, 3}, nil))
		}},
		{"include_star_target", func(t *testing.T) Statement {
			q := mustParse(t, r, "Immunization", "_include=Immunization:*:Practitioner")
			return must(t)(pg.Include(r.IncludeParams(q.Include[0]), "Practitioner", []int64{1}, nil))
		}},
		{"revinclude", func(t *testing.T) Statement {
			p, _ := r.Param("Immunization", "patient")
			return must(t)(pg.RevInclude("Immunization", []*Param{p}, "Patient", []string{"a", "b"}, nil))
		}},
		{"scoped", func(t *testing.T) Statement {
			q := mustParse(t, r, "Immunization", "patient.name=smith&_has:Provenance:target:agent=Practitioner/x")
			status := mustParse(t, r, "Immunization", "status=completed").Filters
			q.Scope = &Scope{Types: map[string][]ScopeClause{
				"Immunization": {{Patient: "p1", Filters: status}},
				"Patient":      {{Patient: "p1"}},
				"Provenance":   {{}},
			}}
			return must(t)(pg.Page(q))
		}},
		{"scoped_include", func(t *testing.T) Statement {
			p, _ := r.Param("Immunization", "performer")
			sc := &Scope{Types: map[string][]ScopeClause{"Practitioner": {{}}, "Patient": {{Patient: "p1"}}}}
			return must(t)(pg.Include([]*Param{p}, "", []int64{1}, sc))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			golden(t, "compile", "form_"+c.name, describeStatement(c.run(t)))
		})
	}
}

// TestCompileBindsValues: no search value ever appears in SQL text.
func TestCompileBindsValues(t *testing.T) {
	r := testRegistry(t)
	c := testCompiler(Postgres)
	evil := `x'); DROP TABLE resource; --`
	for _, q := range []struct{ typ, query string }{
		{"Patient", "family=" + url.QueryEscape(evil)},
		{"Patient", "name:contains=" + url.QueryEscape(evil)},
		{"Patient", "family:exact=" + url.QueryEscape(evil)},
		{"Patient", "identifier=" + url.QueryEscape(evil+"|"+evil)},
		{"Immunization", "patient=" + url.QueryEscape("Patient/x")},
		{"Immunization", "patient:identifier=" + url.QueryEscape(evil)},
		{"Immunization", "patient.name=" + url.QueryEscape(evil)},
		{"Patient", "_has:Immunization:patient:lot-number=" + url.QueryEscape(evil)},
		{"Patient", "_profile=" + url.QueryEscape("urn:"+evil)},
	} {
		st := must(t)(c.Page(mustParse(t, r, q.typ, q.query)))
		if strings.Contains(st.SQL, "DROP") {
			t.Errorf("%s?%s: value in SQL text: %s", q.typ, q.query, st.SQL)
		}
	}
}

func mustParse(t *testing.T, r *Registry, typ, query string) *Query {
	t.Helper()
	vals, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := r.Parse(typ, vals, Strict)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func must(t *testing.T) func(Statement, error) Statement {
	return func(st Statement, err error) Statement {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

func describeStatement(st Statement) string {
	var b strings.Builder
	b.WriteString(st.SQL)
	b.WriteString("\n")
	for i, a := range st.Args {
		fmt.Fprintf(&b, "$%d = %#v\n", i+1, a)
	}
	return b.String()
}
