package bulk

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/fhir"
)

// seed writes n patients p0… and m immunizations i0… (patient i%n),
// completed for even i, not-done for odd i.
func (e *env) seed(n, m int) {
	e.t.Helper()
	for i := range n {
		g := "female"
		if i%2 == 1 {
			g = "male"
		}
		e.put("Patient", fmt.Sprintf("p%d", i), patient("Smith", g))
	}
	for i := range m {
		st := "completed"
		if i%2 == 1 {
			st = "not-done"
		}
		e.put("Immunization", fmt.Sprintf("i%d", i), immunization(fmt.Sprintf("p%d", i%n), st, "08"))
	}
}

func ids(prefix string, nums ...int) []string {
	var out []string
	for _, n := range nums {
		out = append(out, fmt.Sprintf("%s%d", prefix, n))
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func TestSystemExportManifestAndFiles(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.m.Config.FileResources = 3
		e.runJobs()
		e.seed(5, 7)
		e.put("Organization", "o1", fhir.Object{"name": "Clinic"})
		e.put("Patient", "gone", patient("Gone", "male"))
		e.del("Patient", "gone")
		before := time.Now().UTC()
		a := e.kickOff(&KickOff{Request: "http://example.test/fhir/$export"})
		if a.StatusURL != "http://example.test/bulk/"+a.ID {
			t.Errorf("status URL %q", a.StatusURL)
		}
		r := e.wait(a.ID)
		mf := r.manifest
		tt, err := time.Parse(time.RFC3339Nano, mf.TransactionTime)
		if err != nil || tt.Before(before.Truncate(time.Microsecond)) || tt.After(time.Now()) {
			t.Errorf("transactionTime %q (%v), kicked off at %v", mf.TransactionTime, err, before)
		}
		if mf.Request != "http://example.test/fhir/$export" || mf.RequiresAccessToken || mf.Deleted != nil || len(mf.Error) != 0 {
			t.Errorf("manifest %+v", mf)
		}
		want := map[string][]string{"Patient": ids("p", 0, 1, 2, 3, 4), "Immunization": ids("i", 0, 1, 2, 3, 4, 5, 6), "Organization": {"o1"}}
		for typ, w := range want {
			if got := sorted(r.ids[typ]); !slices.Equal(got, w) {
				t.Errorf("%s: %v, want %v", typ, got, w)
			}
		}
		// Files: per type in registry order, at most 3 resources each.
		var types []string
		for _, it := range mf.Output {
			if it.Count < 1 || it.Count > 3 || !strings.HasPrefix(it.URL, a.StatusURL+"/file/") {
				t.Errorf("file %+v", it)
			}
			if len(types) == 0 || types[len(types)-1] != it.Type {
				types = append(types, it.Type)
			}
		}
		if !slices.Equal(types, []string{"Patient", "Immunization", "Organization"}) {
			t.Errorf("file types in order %v", types)
		}
		if len(mf.Output) != 2+3+1 {
			t.Errorf("%d files", len(mf.Output))
		}
	})
}

func TestSinceReportsDeletions(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		e.runJobs()
		e.seed(4, 0)
		first := e.wait(e.kickOff(&KickOff{}).ID)
		since := first.manifest.TransactionTime
		e.put("Patient", "p1", patient("Jones", "male")) // updated
		e.del("Patient", "p2")                           // deleted
		e.put("Patient", "p4", patient("New", "female")) // created
		e.put("Patient", "p5", patient("Brief", "male")) // created and deleted
		e.del("Patient", "p5")
		r := e.wait(e.kickOff(&KickOff{Params: []Param{{"_since", since}, {"_type", "Patient"}}}).ID)
		if got := sorted(r.ids["Patient"]); !slices.Equal(got, []string{"p1", "p4"}) {
			t.Errorf("output %v", got)
		}
		if r.manifest.Deleted == nil {
			t.Fatal("no deleted array with _since")
		}
		var gone []string
		for _, b := range r.lines["deleted"] {
			if fhir.Str(b, "resourceType") != "Bundle" || fhir.Str(b, "type") != "transaction" {
				t.Errorf("deleted line %v", b)
			}
			req := fhir.Obj(fhir.Arr(b, "entry")[0].(fhir.Object), "request")
			if fhir.Str(req, "method") != "DELETE" {
				t.Errorf("deleted entry %v", req)
			}
			gone = append(gone, fhir.Str(req, "url"))
		}
		if !slices.Equal(sorted(gone), []string{"Patient/p2", "Patient/p5"}) {
			t.Errorf("deleted %v", gone)
		}
		for _, it := range *r.manifest.Deleted {
			if it.Type != "Bundle" {
				t.Errorf("deleted item type %q", it.Type)
			}
		}
	})
}

func TestTypeTypeFilterAndElements(t *testing.T) {
	tests := []struct {
		name   string
		params []Param
		want   map[string][]string
	}{
		{"one type", []Param{{"_type", "Immunization"}},
			map[string][]string{"Immunization": ids("i", 0, 1, 2, 3, 4, 5)}},
		{"repeated and comma-joined types", []Param{{"_type", "Patient"}, {"_type", "Immunization,Patient"}},
			map[string][]string{"Patient": ids("p", 0, 1, 2), "Immunization": ids("i", 0, 1, 2, 3, 4, 5)}},
		{"type filter", []Param{{"_type", "Immunization,Patient"}, {"_typeFilter", "Immunization?status=completed"}},
			map[string][]string{"Patient": ids("p", 0, 1, 2), "Immunization": ids("i", 0, 2, 4)}},
		{"type filters OR", []Param{{"_type", "Immunization"}, {"_typeFilter", "Immunization?status=completed&patient=Patient/p1,Immunization?patient=p2"}},
			map[string][]string{"Immunization": ids("i", 2, 4, 5)}},
		{"OR values inside a query", []Param{{"_type", "Patient"}, {"_typeFilter", "Patient?_id=p0,p2"}},
			map[string][]string{"Patient": ids("p", 0, 2)}},
		{"filter without _type", []Param{{"_typeFilter", "Patient?gender=male"}},
			map[string][]string{"Patient": ids("p", 1), "Immunization": ids("i", 0, 1, 2, 3, 4, 5)}},
	}
	forEachStore(t, func(t *testing.T, e *env) {
		e.runJobs()
		e.seed(3, 6)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := e.with(t)
				r := e.wait(e.kickOff(&KickOff{Params: tc.params}).ID)
				for _, typ := range testTypes {
					if got := sorted(r.ids[typ]); !slices.Equal(got, tc.want[typ]) {
						t.Errorf("%s: %v, want %v", typ, got, tc.want[typ])
					}
				}
			})
		}
		t.Run("elements", func(t *testing.T) {
			e := e.with(t)
			r := e.wait(e.kickOff(&KickOff{Params: []Param{{"_type", "Patient,Immunization"}, {"_elements", "Patient.gender,id"}}}).ID)
			for _, p := range r.lines["Patient"] {
				if _, ok := p["name"]; ok || p["gender"] == nil || !subsetted(p) {
					t.Errorf("patient subset %v", p)
				}
			}
			for _, im := range r.lines["Immunization"] {
				// Immunization gets the untyped id and its mandatory elements.
				if _, ok := im["occurrenceDateTime"]; !ok || im["status"] == nil || !subsetted(im) {
					t.Errorf("immunization subset %v", im)
				}
			}
		})
	})
}

func subsetted(o fhir.Object) bool {
	for _, tg := range fhir.Arr(fhir.Obj(o, "meta"), "tag") {
		if fhir.Str(tg.(fhir.Object), "code") == "SUBSETTED" {
			return true
		}
	}
	return false
}
