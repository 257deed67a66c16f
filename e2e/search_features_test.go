package e2e

import (
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// Result control over the search fixture: sorting with keyset paging in
// both directions, includes, subsetting, totals, handling of bad
// parameters, compartments, POST _search, and the SearchParameter and
// CapabilityStatement views of the registry.
func TestSearchResultControl(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		d := sqLoad(t, s)
		t.Run("sort", func(t *testing.T) { sqTestSort(t, s, d) })
		t.Run("include", func(t *testing.T) { sqTestInclude(t, s, d) })
		t.Run("summary", func(t *testing.T) { sqTestSummary(t, s) })
		t.Run("total", func(t *testing.T) { sqTestTotal(t, s, d) })
		t.Run("handling", func(t *testing.T) { sqTestHandling(t, s, d) })
		t.Run("compartment", func(t *testing.T) { sqTestCompartment(t, s, d) })
		t.Run("post", func(t *testing.T) { sqTestPost(t, s) })
		t.Run("conformance", func(t *testing.T) { sqTestConformance(t, s) })
	})
}

// sqKey is one sort key value; missing values sort last either way.
type sqKey struct {
	missing bool
	s       string
	t       time.Time
}

func sqTestSort(t *testing.T, s *Server, d *sqData) {
	family := func(r sqRes) sqKey { // lowest folded family
		var vals []string
		for _, v := range sqStrings(r, "name.family") {
			vals = append(vals, sqFold(v))
		}
		if len(vals) == 0 {
			return sqKey{missing: true}
		}
		sort.Strings(vals)
		return sqKey{s: vals[0]}
	}
	dateKey := func(path string, desc bool) func(sqRes) sqKey {
		return func(r sqRes) sqKey {
			var best time.Time
			found := false
			for _, v := range sqStrings(r, path) {
				lo, hi := sqInterval(t, v)
				x := lo
				if desc {
					x = hi
				}
				if !found || desc && x.After(best) || !desc && x.Before(best) {
					best, found = x, true
				}
			}
			return sqKey{missing: !found, t: best}
		}
	}
	idKey := func(r sqRes) sqKey { return sqKey{s: r["id"].(string)} }
	cmp := func(a, b sqKey, desc bool) int { // <0: a first
		switch {
		case a.missing && b.missing:
			return 0
		case a.missing:
			return 1
		case b.missing:
			return -1
		}
		c := strings.Compare(a.s, b.s)
		if c == 0 {
			c = a.t.Compare(b.t)
		}
		if desc {
			c = -c
		}
		return c
	}
	type key struct {
		f    func(sqRes) sqKey
		desc bool
	}
	cases := []struct {
		query string
		keys  []key
	}{
		{"Patient?_sort=family,-birthdate", []key{{family, false}, {dateKey("birthDate", true), true}}},
		{"Patient?_sort=birthdate", []key{{dateKey("birthDate", false), false}}},
		{"Immunization?_sort=-date,_id", []key{{dateKey("occurrenceDateTime", true), true}, {idKey, false}}},
		{"Immunization?patient=gp-03&_sort=date", []key{{dateKey("occurrenceDateTime", false), false}}},
		{"Patient?_sort=-_id", []key{{idKey, true}}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			typ, _, _ := strings.Cut(c.query, "?")
			fwd, pages := sqPages(t, s, c.query+"&_count=7")
			filter := func(sqRes) bool { return true }
			if strings.Contains(c.query, "patient=gp-03") {
				filter = d.ref("patient", "gp-03")
			}
			want := d.expect(typ, filter)
			got := sqIDs(fwd)
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("sorted result set differs:\n got %v\nwant %v", got, want)
			}
			for i := 1; i < len(fwd); i++ {
				for _, k := range c.keys {
					x := cmp(k.f(fwd[i-1]), k.f(fwd[i]), k.desc)
					if x > 0 {
						t.Fatalf("%s out of order at %d: %s before %s", c.query, i, fwd[i-1]["id"], fwd[i]["id"])
					}
					if x < 0 {
						break
					}
				}
			}
			// previous links lead back through the same pages
			var back []sqRes
			link := sqLink(pages[len(pages)-1], "previous")
			back = append(back, sqEntries(pages[len(pages)-1], "match")...)
			for link != "" {
				b := s.Do(t, "GET", link, nil).Expect(t, 200).JSON(t)
				back = append(sqEntries(b, "match"), back...)
				link = sqLink(b, "previous")
			}
			if strings.Join(sqIDs(back), " ") != strings.Join(sqIDs(fwd), " ") {
				t.Errorf("previous links give another order:\nforward %v\n   back %v", sqIDs(fwd), sqIDs(back))
			}
			if len(pages) > 1 {
				first := s.Do(t, "GET", sqLink(pages[1], "first"), nil).Expect(t, 200).JSON(t)
				if strings.Join(sqIDs(sqEntries(first, "match")), " ") != strings.Join(sqIDs(sqEntries(pages[0], "match")), " ") {
					t.Errorf("first link is not the first page")
				}
			}
		})
	}
}

// sqPages follows next links and returns the matches and the pages.
func sqPages(t *testing.T, s *Server, query string) ([]sqRes, []map[string]any) {
	t.Helper()
	var all []sqRes
	var pages []map[string]any
	for link := sqEscape(query); link != ""; {
		b := s.Do(t, "GET", link, nil, "Prefer", "handling=strict").Expect(t, 200).JSON(t)
		pages = append(pages, b)
		all = append(all, sqEntries(b, "match")...)
		link = sqLink(b, "next")
		if len(pages) > 500 {
			t.Fatal("runaway paging")
		}
	}
	return all, pages
}

func sqIDs(rs []sqRes) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r["id"].(string))
	}
	return out
}

func sqRefsOf(rs []sqRes) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r["resourceType"].(string)+"/"+r["id"].(string))
	}
	sort.Strings(out)
	return out
}

func sqTestInclude(t *testing.T, s *Server, d *sqData) {
	imsOf := func(p string) []string {
		var out []string
		for _, id := range d.expect("Immunization", d.ref("patient", p)) {
			out = append(out, "Immunization/"+id)
		}
		return out
	}
	performersOf := func(p string) []string {
		set := map[string]bool{}
		for _, id := range d.expect("Immunization", d.ref("patient", p)) {
			for _, ref := range d.sqRefs(d.byRef["Immunization/"+id], "performer.actor") {
				if _, ok := d.byRef[ref]; ok {
					set[ref] = true
				}
			}
		}
		var out []string
		for r := range set {
			out = append(out, r)
		}
		return out
	}
	evaluations := d.expect("ImmunizationEvaluation", d.ref("immunizationEvent", "Immunization/example"))
	var evalRefs []string
	for _, id := range evaluations {
		evalRefs = append(evalRefs, "ImmunizationEvaluation/"+id)
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"Immunization?_id=example&_include=Immunization:patient", []string{"Patient/example"}},
		{"Immunization?_id=example&_include=Immunization:*", []string{"Location/1", "Organization/hl7", "Patient/example", "Practitioner/example"}},
		{"Immunization?_id=example&_include=Immunization:performer:Organization", nil},
		{"Immunization?_id=example&_include=Immunization:performer:Practitioner&_include=Immunization:location", []string{"Location/1", "Practitioner/example"}},
		{"Patient?_id=example&_revinclude=Immunization:patient", imsOf("Patient/example")},
		{"Patient?_id=example&_revinclude=Immunization:patient&_revinclude:iterate=ImmunizationEvaluation:immunization-event",
			append(imsOf("Patient/example"), evalRefs...)},
		{"Patient?_id=gp-02&_revinclude=Immunization:patient&_include:iterate=Immunization:performer",
			append(imsOf("Patient/gp-02"), performersOf("Patient/gp-02")...)},
		{"Immunization?_id=example&_include=Immunization:location&_include:iterate=Location:organization", []string{"Location/1", "Organization/1"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			b := s.Do(t, "GET", sqEscape(c.query), nil, "Prefer", "handling=strict").Expect(t, 200).JSON(t)
			got := sqRefsOf(sqEntries(b, "include"))
			want := append([]string{}, c.want...)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("included %v, want %v", got, want)
			}
			if len(sqEntries(b, "match")) != 1 {
				t.Errorf("%d matches, want 1", len(sqEntries(b, "match")))
			}
		})
	}
	// Includes follow the page: each page includes the Patients of its own
	// Immunizations only, once each.
	_, pages := sqPages(t, s, "Immunization?vaccine-code=08&_include=Immunization:patient&_count=4")
	for _, p := range pages {
		want := map[string]bool{}
		for _, im := range sqEntries(p, "match") {
			for _, ref := range d.sqRefs(im, "patient") {
				want[ref] = true
			}
		}
		got := sqRefsOf(sqEntries(p, "include"))
		if len(got) != len(want) {
			t.Errorf("page includes %v, want the %d patients of its matches", got, len(want))
		}
		for _, g := range got {
			if !want[g] {
				t.Errorf("page includes %s, not referenced by its matches", g)
			}
		}
	}
}

func sqTestSummary(t *testing.T, s *Server) {
	one := func(query string) sqRes {
		b := s.Do(t, "GET", sqEscape(query), nil, "Prefer", "handling=strict").Expect(t, 200).JSON(t)
		es := sqEntries(b, "match")
		if len(es) != 1 {
			t.Fatalf("%s: %d matches", query, len(es))
		}
		return es[0]
	}
	subsetted := func(r sqRes) bool {
		return len(sqTokens(r, "meta.tag")) > 0 && sqTokenMatch("meta.tag", "", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue|SUBSETTED")(r)
	}
	cases := []struct {
		query       string
		has, hasnot []string
		subset      bool
	}{
		{"Patient?_id=example&_summary=true", []string{"name", "birthDate", "identifier", "gender"}, []string{"contact", "text"}, true},
		{"Patient?_id=example&_summary=data", []string{"name", "contact"}, []string{"text"}, true},
		{"Patient?_id=example&_summary=text", []string{"text", "id", "meta"}, []string{"name", "contact"}, true},
		{"Patient?_id=example&_summary=false", []string{"text", "contact", "name"}, nil, false},
		{"Patient?_id=example&_elements=birthDate,gender", []string{"birthDate", "gender", "id", "meta"}, []string{"name", "text", "contact"}, true},
		{"Immunization?_id=example&_elements=lotNumber", []string{"lotNumber", "status", "vaccineCode", "patient", "occurrenceDateTime"}, []string{"site", "text", "note"}, true},
		{"Immunization?_id=example&_summary=true", []string{"vaccineCode", "patient", "occurrenceDateTime", "status"}, []string{"lotNumber", "site", "note"}, true},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := one(c.query)
			for _, k := range c.has {
				if _, ok := r[k]; !ok {
					t.Errorf("missing %s", k)
				}
			}
			for _, k := range c.hasnot {
				if _, ok := r[k]; ok {
					t.Errorf("has %s", k)
				}
			}
			if subsetted(r) != c.subset {
				t.Errorf("SUBSETTED tag %v, want %v: %v", subsetted(r), c.subset, r["meta"])
			}
			if r["resourceType"] == nil {
				t.Errorf("no resourceType")
			}
		})
	}
	b := s.Do(t, "GET", "Patient?_summary=count", nil).Expect(t, 200).JSON(t)
	if b["total"] == nil || len(sqEntries(b, "match")) != 0 {
		t.Errorf("_summary=count: total %v, %d entries", b["total"], len(sqEntries(b, "match")))
	}
}

func sqTestTotal(t *testing.T, s *Server, d *sqData) {
	want := len(d.expect("Immunization", sqTokenMatch("vaccineCode", "", "08")))
	for _, c := range []struct {
		query string
		check func(total any) bool
	}{
		{"Immunization?vaccine-code=08&_total=accurate&_count=2", func(v any) bool { return v == float64(want) }},
		{"Immunization?vaccine-code=08&_total=estimate&_count=2", func(v any) bool { n, ok := v.(float64); return ok && n >= 0 }},
		{"Immunization?vaccine-code=08&_total=none", func(v any) bool { return v == nil }},
		{"Immunization?vaccine-code=08&_count=0", func(v any) bool { return v == float64(want) }},
		{"Immunization?vaccine-code=08&_count=1000", func(v any) bool { return v == float64(want) }},
	} {
		b := s.Do(t, "GET", c.query, nil).Expect(t, 200).JSON(t)
		if !c.check(b["total"]) {
			t.Errorf("%s: total %v (accurate is %d)", c.query, b["total"], want)
		}
	}
}

func sqTestHandling(t *testing.T, s *Server, d *sqData) {
	// lenient (the default): ignored, said so in an outcome entry, left out of self
	b := s.Do(t, "GET", "Patient?foo=bar&family=mul&_count=100", nil).Expect(t, 200).JSON(t)
	if got, want := sqIDs(sqEntries(b, "match")), d.expect("Patient", sqString("", "mul", "name.family")); len(got) != len(want) {
		t.Errorf("lenient: %d matches, want %d", len(got), len(want))
	}
	if len(sqEntries(b, "outcome")) != 1 {
		t.Errorf("lenient: no outcome entry")
	}
	if self := sqLink(b, "self"); strings.Contains(self, "foo") || !strings.Contains(self, "family=mul") {
		t.Errorf("self link %s", self)
	}
	for _, q := range []string{"Patient?foo=bar", "Immunization?date=2024-13", "Patient?_sort=nope", "Patient?gender:exact=male",
		"Immunization?patient=a/b/c", "Patient?_count=-3", "Patient?birthdate=ge", "Immunization?patient.nope=1"} {
		r := s.Do(t, "GET", q, nil, "Prefer", "handling=strict")
		if r.Status != 400 || r.JSON(t)["resourceType"] != "OperationOutcome" {
			t.Errorf("strict %s: %d %s", q, r.Status, r.Body)
		}
		s.Do(t, "GET", q, nil).Expect(t, 200)
	}
}

func sqTestCompartment(t *testing.T, s *Server, d *sqData) {
	same := func(a, b string) {
		got, want := sqFetchIDs(t, s, a, 5), sqFetchIDs(t, s, b, 5)
		if strings.Join(got, " ") != strings.Join(want, " ") || len(want) == 0 {
			t.Errorf("%s gives %v, %s gives %v", a, got, b, want)
		}
	}
	same("Patient/gp-02/Immunization", "Immunization?patient=gp-02")
	same("Patient/gp-02/Immunization?status=completed", "Immunization?patient=gp-02&status=completed")
	same("Patient/gp-00/Group?actual=true", "Group?member=gp-00")
	same("Patient/example/ImmunizationEvaluation?status=completed", "ImmunizationEvaluation?patient=example")
	s.Do(t, "GET", "Patient/gp-02/Organization", nil).Expect(t, 400)
}

func sqTestPost(t *testing.T, s *Server) {
	req := url.Values{"family": {"mul"}, "_count": {"3"}}.Encode()
	resp := s.Do(t, "POST", "Patient/_search", req, "Content-Type", "application/x-www-form-urlencoded").Expect(t, 200).JSON(t)
	got := sqIDs(sqEntries(resp, "match"))
	b := s.Do(t, "GET", "Patient?"+req, nil).Expect(t, 200).JSON(t)
	if want := sqIDs(sqEntries(b, "match")); strings.Join(got, " ") != strings.Join(want, " ") || len(want) == 0 {
		t.Errorf("POST _search %v, GET %v", got, want)
	}
}

func sqTestConformance(t *testing.T, s *Server) {
	sp := s.Do(t, "GET", "SearchParameter/individual-family", nil).Expect(t, 200).JSON(t)
	if sp["resourceType"] != "SearchParameter" || sp["code"] != "family" {
		t.Errorf("SearchParameter/individual-family: %v %v", sp["resourceType"], sp["code"])
	}
	s.Do(t, "GET", "SearchParameter/Location-near", nil).Expect(t, 404)
	b := s.Do(t, "GET", "SearchParameter?base=Immunization&code=vaccine-code", nil).Expect(t, 200).JSON(t)
	if b["total"] != float64(1) {
		t.Errorf("SearchParameter?base=Immunization&code=vaccine-code: total %v", b["total"])
	}
	caps := s.Do(t, "GET", "metadata", nil).Expect(t, 200).JSON(t)
	for _, res := range sqVals(caps, "rest.resource") {
		rm := res.(map[string]any)
		typ := rm["type"].(string)
		params := sqVals(rm, "searchParam")
		if len(params) == 0 {
			t.Errorf("%s lists no search parameters", typ)
		}
		if typ == "Immunization" && (rm["searchInclude"] == nil || rm["searchRevInclude"] == nil) {
			t.Errorf("Immunization lists no searchInclude/searchRevInclude")
		}
		listed := s.Do(t, "GET", "SearchParameter?base="+typ, nil).Expect(t, 200).JSON(t)
		defs := map[string]bool{}
		for _, e := range sqEntries(listed, "match") {
			defs[e["url"].(string)] = true
		}
		for _, p := range params {
			pm := p.(map[string]any)
			name, typ2 := pm["name"].(string), pm["type"].(string)
			if typ2 == "" || !defs[pm["definition"].(string)] {
				t.Errorf("%s.%s: type %q, definition %v not served", typ, name, typ2, pm["definition"])
			}
			// every listed parameter is accepted under strict handling
			q := name + ":missing=true"
			switch {
			case typ2 == "composite":
				q = name + "=a$b"
			case name == "_id":
				q = "_id=x"
			case name == "_lastUpdated":
				q = "_lastUpdated=gt2000"
			}
			if r := s.Do(t, "GET", sqEscape(typ+"?"+q), nil, "Prefer", "handling=strict"); r.Status != 200 {
				t.Errorf("%s?%s: %d %s", typ, q, r.Status, r.Body)
			}
		}
	}
}
