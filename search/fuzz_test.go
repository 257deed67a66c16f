package search

import (
	"net/url"
	"testing"
)

// FuzzParseCompile: whatever the query, parsing and compiling return a
// result or an error, never panic. (go test runs the seeds; go test -fuzz
// explores.)
func FuzzParseCompile(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.typ, c.query)
	}
	for _, s := range []string{"date=ap", "_has:Immunization:patient:_has:", "patient.patient.patient=x",
		`family=\`, "value-quantity=1e400", "_sort=-", "_cursor=e30", "code-value-quantity=$", "identifier:of-type=||",
		"_include=:", "_revinclude:iterate=*:*", "characteristic-value=a\\$b$c", "_id:not=a,,b", "birthdate=2024-02-30"} {
		f.Add("Patient", s)
		f.Add("Observation", s)
	}
	r := testRegistry(f)
	c := testCompiler(Postgres)
	f.Fuzz(func(t *testing.T, typ, query string) {
		if !r.Supports(typ) {
			return
		}
		vals, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		for _, h := range []Handling{Strict, Lenient} {
			q, err := r.Parse(typ, vals, h)
			if err != nil {
				continue
			}
			_, _ = c.Page(q)
			_, _ = c.Count(q)
			q.Cursor = &Cursor{RID: 5, Prev: true, Spec: sortSpec(q.Sort)}
			_, _ = c.Page(q)
		}
	})
}
