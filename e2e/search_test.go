package e2e

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// TestSearch runs FHIR searches over the official examples and a
// generated population, on both stores, and compares every result set
// with the oracle's (search_oracle_test.go), paging through it a few
// entries at a time.
func TestSearch(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		d := sqLoad(t, s)
		for _, c := range sqCases(t, d) {
			t.Run(c.query, func(t *testing.T) {
				typ, _, _ := strings.Cut(c.query, "?")
				got := sqFetchIDs(t, s, c.query, 7)
				want := d.expect(typ, c.match)
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("%s\n got %d: %v\nwant %d: %v", c.query, len(got), got, len(want), want)
				}
				if len(want) == 0 && !c.empty {
					t.Errorf("%s: the oracle expects no match; the case tests nothing (mark it empty if that is the point)", c.query)
				}
			})
		}
	})
}

type sqCase struct {
	query string
	match func(sqRes) bool
	empty bool // an empty result is the expected answer
}

// sqCases are the oracle-checked queries. Parameter values are written
// unescaped for reading; sqFetchIDs escapes them.
func sqCases(t *testing.T, d *sqData) []sqCase {
	name := func(path string) []string { return sqUnder(path, sqNameParts) }
	addr := func(path string) []string { return sqUnder(path, sqAddressParts) }
	pat := func(q string) func(sqRes) bool { return sqString("", q, name("name")...) }
	occ := func(q string) func(sqRes) bool { return sqDate(t, "occurrenceDateTime", q) }
	vc := func(q string) func(sqRes) bool { return sqTokenMatch("vaccineCode", "", q) }
	return []sqCase{
		// string: starts-with, case and accent folded; :exact; :contains
		{query: "Patient?family=mul", match: sqString("", "mul", "name.family")},
		{query: "Patient?family=MÜL", match: sqString("", "MÜL", "name.family")},
		{query: "Patient?family:exact=Müller", match: sqString("exact", "Müller", "name.family")},
		{query: "Patient?family:exact=müller", match: sqString("exact", "müller", "name.family"), empty: true},
		{query: "Patient?family:contains=LL", match: sqString("contains", "LL", "name.family")},
		{query: "Patient?given=zoe", match: sqString("", "zoe", "name.given")},
		{query: "Patient?name=jo", match: pat("jo")},
		{query: "Patient?name=van der", match: pat("van der")},
		{query: "Patient?name=o'b", match: pat("o'b")},
		{query: "Patient?name=nguyen", match: pat("nguyen")},
		{query: "Patient?family=smith,jones", match: sqOr(sqString("", "smith", "name.family"), sqString("", "jones", "name.family"))},
		{query: "Patient?given=anna&given=zoe", match: sqAnd(sqString("", "anna", "name.given"), sqString("", "zoe", "name.given"))},
		{query: "Patient?address-city=spring", match: sqString("", "spring", "address.city")},
		{query: "Patient?phonetic=Mueller", match: sqPhonetic("Mueller", name("name")...)},
		{query: "Patient?phonetic=Smyth", match: sqPhonetic("Smyth", name("name")...)},
		{query: "Patient?address=il", match: sqString("", "il", addr("address")...)},
		{query: "Organization?name=nandu", match: sqString("", "nandu", "name", "alias")},
		{query: "Practitioner?name=angstrom", match: sqString("", "angstrom", name("name")...)},
		{query: "Location?address-city=den", match: sqString("", "den", "address.city")},
		// token forms
		{query: "Patient?gender=female", match: sqTokenMatch("gender", "", "female")},
		{query: "Patient?gender:not=female", match: sqTokenMatch("gender", "not", "female")},
		{query: "Patient?gender:missing=true", match: sqMissing("gender", true)},
		{query: "Patient?gender:missing=false", match: sqMissing("gender", false)},
		{query: "Patient?active=true", match: sqTokenMatch("active", "", "true")},
		{query: "Patient?active:missing=true", match: sqMissing("active", true)},
		{query: "Patient?identifier=" + sqMRN + "|MRN-0003", match: sqTokenMatch("identifier", "", sqMRN+"|MRN-0003")},
		{query: "Patient?identifier=MRN-0007", match: sqTokenMatch("identifier", "", "MRN-0007")},
		{query: "Patient?identifier=http://hl7.org/fhir/sid/us-ssn|", match: sqTokenMatch("identifier", "", "http://hl7.org/fhir/sid/us-ssn|")},
		{query: "Patient?identifier=|MRN-0003", match: sqTokenMatch("identifier", "", "|MRN-0003"), empty: true},
		{query: "Patient?identifier:of-type=" + sqV2 + "|SS|999-00-0008", match: sqIDIn("gp-08")},
		{query: "Patient?identifier:of-type=" + sqV2 + "|MR|999-00-0008", match: sqIDIn(), empty: true},
		{query: "Patient?identifier:text=medical rec", match: sqTokenMatch("identifier", "text", "medical rec")},
		{query: "Patient?phone=555-0112", match: sqTokenMatch("telecom", "", "555-0112")},
		{query: "Patient?email=email|p3@example.org", match: sqTokenMatch("telecom", "", "email|p3@example.org")},
		{query: "Patient?deceased=true", match: func(r sqRes) bool { return r["deceasedBoolean"] == true || r["deceasedDateTime"] != nil }},
		{query: "Patient?_tag=http://example.org/tags|vip", match: sqTokenMatch("meta.tag", "", "http://example.org/tags|vip")},
		{query: "Patient?_profile=http://example.org/fhir/StructureDefinition/registry-patient", match: func(r sqRes) bool { return len(sqVals(r, "meta.profile")) > 0 }},
		{query: "Patient?_profile:below=http://example.org/fhir/", match: func(r sqRes) bool { return len(sqVals(r, "meta.profile")) > 0 }},
		{query: "Patient?_profile:above=http://example.org/fhir/StructureDefinition/registry-patient/v2", match: func(r sqRes) bool { return len(sqVals(r, "meta.profile")) > 0 }},
		{query: "Patient?_id=gp-01,gp-02,nope", match: sqIDIn("gp-01", "gp-02")},
		{query: "Immunization?vaccine-code=08", match: vc("08")},
		{query: "Immunization?vaccine-code=" + sqCVX + "|08", match: vc(sqCVX + "|08")},
		{query: "Immunization?vaccine-code=" + sqNDC + "|", match: vc(sqNDC + "|")},
		{query: "Immunization?vaccine-code=|08", match: vc("|08"), empty: true},
		{query: "Immunization?vaccine-code=" + sqCVX + "|08," + sqCVX + "|20", match: sqOr(vc(sqCVX+"|08"), vc(sqCVX+"|20"))},
		{query: "Immunization?vaccine-code:text=hep", match: sqTokenMatch("vaccineCode", "text", "hep")},
		{query: "Immunization?vaccine-code:text=vaccine", match: sqTokenMatch("vaccineCode", "text", "vaccine")},
		{query: "Immunization?vaccine-code:not=" + sqCVX + "|08", match: sqTokenMatch("vaccineCode", "not", sqCVX+"|08")},
		{query: "Immunization?status=completed,not-done", match: sqOr(sqTokenMatch("status", "", "completed"), sqTokenMatch("status", "", "not-done"))},
		{query: "Immunization?status:not=completed", match: sqTokenMatch("status", "not", "completed")},
		{query: "Immunization?target-disease=http://snomed.info/sct|66071002", match: sqTokenMatch("protocolApplied.targetDisease", "", "http://snomed.info/sct|66071002")},
		{query: "Immunization?identifier=urn:ietf:rfc:3986|urn:oid:1.3.6.1.4.1.21367.2005.3.7.1234", match: sqTokenMatch("identifier", "", "urn:ietf:rfc:3986|urn:oid:1.3.6.1.4.1.21367.2005.3.7.1234")},
		{query: "Group?value=true", match: sqTokenMatch("characteristic.valueBoolean", "", "true")},
		{query: "ImmunizationRecommendation?status:missing=false", match: sqMissing("recommendation.forecastStatus", false)},
		{query: "ImmunizationRecommendation?status:text=not comp", match: sqTokenMatch("recommendation.forecastStatus", "text", "not comp")},
		// dates: every prefix, against values at every precision
		{query: "Immunization?date=2024", match: occ("2024")},
		{query: "Immunization?date=2024-03", match: occ("2024-03")},
		{query: "Immunization?date=2024-03-05", match: occ("2024-03-05")},
		{query: "Immunization?date=2024-03-05T10:30:00Z", match: occ("2024-03-05T10:30:00Z")},
		{query: "Immunization?date=2024-03-05T12:30:00+02:00", match: occ("2024-03-05T12:30:00+02:00")},
		{query: "Immunization?date=ge2024-03-05", match: occ("ge2024-03-05")},
		{query: "Immunization?date=gt2024-03-05", match: occ("gt2024-03-05")},
		{query: "Immunization?date=le2023-06", match: occ("le2023-06")},
		{query: "Immunization?date=lt2023", match: occ("lt2023")},
		{query: "Immunization?date=ne2024", match: occ("ne2024")},
		{query: "Immunization?date=sa2024-01-01", match: occ("sa2024-01-01")},
		{query: "Immunization?date=eb2024-01-01", match: occ("eb2024-01-01")},
		{query: "Immunization?date=ge2024-01-01&date=lt2024-07", match: sqAnd(occ("ge2024-01-01"), occ("lt2024-07"))},
		{query: "Immunization?date:missing=true", match: sqMissing("occurrenceDateTime", true)},
		{query: "Patient?birthdate=1990", match: sqDate(t, "birthDate", "1990")},
		{query: "Patient?birthdate=1990-05", match: sqDate(t, "birthDate", "1990-05")},
		{query: "Patient?birthdate=ge1990-05-10", match: sqDate(t, "birthDate", "ge1990-05-10")},
		{query: "Patient?birthdate=le1990-05-15", match: sqDate(t, "birthDate", "le1990-05-15")},
		{query: "Patient?birthdate=gt1990-05-10", match: sqDate(t, "birthDate", "gt1990-05-10")},
		{query: "Patient?birthdate=sa1990", match: sqDate(t, "birthDate", "sa1990")},
		{query: "Patient?birthdate=eb1990-05", match: sqDate(t, "birthDate", "eb1990-05")},
		{query: "Patient?death-date=2020", match: sqDate(t, "deceasedDateTime", "2020")},
		{query: "ImmunizationRecommendation?date=2015-02-09", match: sqDate(t, "date", "2015-02-09")},
		// references: id, Type/id, absolute URLs, :Type, :identifier
		{query: "Immunization?patient=gp-01", match: d.ref("patient", "gp-01")},
		{query: "Immunization?patient=Patient/gp-09", match: d.ref("patient", "Patient/gp-09")},
		{query: "Immunization?patient=" + d.base + "/Patient/gp-09", match: d.ref("patient", "Patient/gp-09")},
		{query: "Immunization?patient:Patient=example", match: d.ref("patient", "Patient/example")},
		{query: "Immunization?performer=http://other.example/fhir/Practitioner/9", match: d.ref("performer.actor", "http://other.example/fhir/Practitioner/9")},
		{query: "Immunization?performer=9", match: sqIDIn(), empty: true},
		{query: "Immunization?performer:Practitioner=pr-2", match: d.ref("performer.actor", "Practitioner/pr-2")},
		{query: "Immunization?performer=Organization/org-1", match: d.ref("performer.actor", "Organization/org-1")},
		{query: "Immunization?location=Location/1", match: d.ref("location", "Location/1")},
		{query: "Patient?general-practitioner=Practitioner/pr-2", match: d.ref("generalPractitioner", "Practitioner/pr-2")},
		{query: "Patient?organization:missing=true", match: sqMissing("managingOrganization", true)},
		{query: "RelatedPerson?patient=gp-05", match: d.ref("patient", "Patient/gp-05")},
		{query: "Provenance?agent=Practitioner/pr-1", match: d.ref("agent.who", "Practitioner/pr-1")},
		{query: "Group?member=Patient/gp-00", match: d.ref("member.entity", "Patient/gp-00")},
		{query: "ImmunizationEvaluation?immunization-event=Immunization/example", match: d.ref("immunizationEvent", "Immunization/example")},
		// chains, one and two levels, and over several target types
		{query: "Immunization?patient.identifier=" + sqMRN + "|MRN-0004", match: d.chain("patient", sqTokenMatch("identifier", "", sqMRN+"|MRN-0004"))},
		{query: "Immunization?patient.name=mul", match: d.chain("patient", pat("mul"))},
		{query: "Immunization?patient.organization.name=acme", match: d.chain("patient", d.chain("managingOrganization", sqString("", "acme", "name", "alias")))},
		{query: "Immunization?patient.general-practitioner.name=angstrom", match: d.chain("patient", d.chain("generalPractitioner", sqString("", "angstrom", append(name("name"), "name", "alias")...)))},
		{query: "Immunization?performer:Practitioner.name=careful", match: d.chain("performer.actor", sqAnd(func(r sqRes) bool { return r["resourceType"] == "Practitioner" }, sqString("", "careful", name("name")...)))},
		{query: "Immunization?performer.identifier=urn:npi|222", match: d.chain("performer.actor", sqTokenMatch("identifier", "", "urn:npi|222"))},
		{query: "Immunization?location.organization.name=gastro", match: d.chain("location", d.chain("managingOrganization", sqString("", "gastro", "name", "alias")))},
		// reverse chains, nested
		{query: "Patient?_has:Immunization:patient:vaccine-code=" + sqCVX + "|08", match: d.has("Immunization", "patient", vc(sqCVX+"|08"))},
		{query: "Patient?_has:Immunization:patient:status=not-done", match: d.has("Immunization", "patient", sqTokenMatch("status", "", "not-done"))},
		{query: "Patient?_has:Immunization:patient:_has:Provenance:target:agent=Practitioner/pr-1", match: d.has("Immunization", "patient", d.has("Provenance", "target", d.ref("agent.who", "Practitioner/pr-1")))},
		{query: "Practitioner?_has:Immunization:performer:patient=gp-02", match: d.has("Immunization", "performer.actor", d.ref("patient", "gp-02"))},
		{query: "Organization?_has:Patient:organization:gender=male", match: d.has("Patient", "managingOrganization", sqTokenMatch("gender", "", "male"))},
		// composites (token$token)
		{query: "Group?characteristic-value=http://example.org/c|sex$female", match: sqIDIn("grp-1")},
		{query: "Group?characteristic-value=sex$http://hl7.org/fhir/administrative-gender|male", match: sqIDIn("grp-2")},
		{query: "Group?characteristic-value=sex$true", match: sqIDIn(), empty: true},
		// US Core mandatory searches
		{query: "Patient?birthdate=1990-05-10&name=mullins", match: sqAnd(sqDate(t, "birthDate", "1990-05-10"), pat("mullins"))},
		{query: "Patient?gender=male&name=jo", match: sqAnd(sqTokenMatch("gender", "", "male"), pat("jo"))},
		{query: "Immunization?patient=gp-03&date=ge2020-01-01", match: sqAnd(d.ref("patient", "gp-03"), occ("ge2020-01-01"))},
		{query: "Immunization?patient=gp-03&status=completed", match: sqAnd(d.ref("patient", "gp-03"), sqTokenMatch("status", "", "completed"))},
	}
}

// sqFetchIDs runs query, following next links with count entries per
// page, and returns the matched ids sorted; it fails on a repeated id or
// an entry of another type.
func sqFetchIDs(t *testing.T, s *Server, query string, count int) []string {
	t.Helper()
	rs := sqFetchAll(t, s, sqEscape(query)+fmt.Sprintf("&_count=%d", count))
	path, _, _ := strings.Cut(query, "?")
	typ := path[strings.LastIndexByte(path, '/')+1:]
	seen := map[string]bool{}
	ids := []string{}
	for _, r := range rs {
		id := r["id"].(string)
		if r["resourceType"] != typ || seen[id] {
			t.Fatalf("%s: entry %s/%s repeated or of another type", query, r["resourceType"], id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// sqFetchAll follows next links from path and returns the matches in
// result order.
func sqFetchAll(t *testing.T, s *Server, path string) []sqRes {
	t.Helper()
	var out []sqRes
	for link := path; link != ""; {
		b := s.Do(t, "GET", link, nil, "Prefer", "handling=strict").Expect(t, 200).JSON(t)
		out = append(out, sqEntries(b, "match")...)
		link = sqLink(b, "next")
		if len(out) > 5000 {
			t.Fatalf("%s: runaway paging", path)
		}
	}
	return out
}

func sqLink(b map[string]any, rel string) string {
	ls, _ := b["link"].([]any)
	for _, l := range ls {
		lm := l.(map[string]any)
		if lm["relation"] == rel {
			return lm["url"].(string)
		}
	}
	return ""
}

// sqEscape escapes the parameter values of a readable query.
func sqEscape(query string) string {
	typ, raw, _ := strings.Cut(query, "?")
	if raw == "" {
		return typ + "?"
	}
	var parts []string
	for _, kv := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
	}
	return typ + "?" + strings.Join(parts, "&")
}
