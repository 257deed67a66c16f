package search

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/immunis/immunis/fhir"
)

// parseCases are queries that parse; their AST is rendered into
// testdata/parse/<name>.golden. The same cases are compiled by
// compile_test.go.
var parseCases = []struct {
	name, typ, query string
}{
	{"string_default", "Patient", "family=Smi"},
	{"string_exact", "Patient", "family:exact=Smith"},
	{"string_contains", "Patient", "name:contains=mi%25_"},
	{"string_or", "Patient", "given=anna,Zoë"},
	{"string_escaped_comma", "Patient", `family=a\,b`},
	{"string_and", "Patient", "given=anna&given=maria"},
	{"token_code", "Immunization", "vaccine-code=08"},
	{"token_system_code", "Immunization", "vaccine-code=http://hl7.org/fhir/sid/cvx|08"},
	{"token_no_system", "Immunization", "vaccine-code=|08"},
	{"token_system_only", "Immunization", "vaccine-code=http://hl7.org/fhir/sid/cvx|"},
	{"token_escaped_pipe", "Patient", `identifier=urn:x|a\|b`},
	{"token_not", "Immunization", "status:not=completed"},
	{"token_text", "Immunization", "vaccine-code:text=Hep B"},
	{"token_of_type", "Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|123"},
	{"token_missing", "Patient", "gender:missing=true"},
	{"token_boolean", "Patient", "active=true"},
	{"id", "Patient", "_id=a,b"},
	{"last_updated", "Patient", "_lastUpdated=gt2024-01-01T00:00:00Z"},
	{"date_prefixes", "Immunization", "date=ge2024-01-01&date=lt2025"},
	{"date_every_prefix", "Immunization", "date=eq2024,ne2024,gt2024,lt2024,ge2024,le2024,sa2024,eb2024,ap2024"},
	{"date_tz_space", "Immunization", "date=2024-01-01T10:00:00 01:00"},
	{"date_missing", "Patient", "birthdate:missing=false"},
	{"reference_id", "Immunization", "patient=123"},
	{"reference_type_id", "Immunization", "patient=Patient/123"},
	{"reference_absolute_local", "Immunization", "patient=http://example.org/fhir/Patient/123"},
	{"reference_absolute_foreign", "Immunization", "patient=http://other.org/fhir/Patient/123"},
	{"reference_type_modifier", "Immunization", "performer:Practitioner=p1"},
	{"reference_identifier", "Immunization", "patient:identifier=urn:mrn|42"},
	{"chain", "Immunization", "patient.identifier=urn:mrn|42"},
	{"chain_name", "Immunization", "patient.name=smith"},
	{"chain_two_levels", "Immunization", "patient.organization.name=Acme"},
	{"chain_typed", "Immunization", "performer:Practitioner.name=jones"},
	{"chain_several_targets", "Immunization", "performer.identifier=x"},
	{"has", "Patient", "_has:Immunization:patient:vaccine-code=http://hl7.org/fhir/sid/cvx|08"},
	{"has_nested", "Organization", "_has:Patient:organization:_has:Immunization:patient:status=completed"},
	{"has_chain", "Patient", "_has:Immunization:patient:performer:Practitioner.name=jones"},
	{"number", "RiskAssessment", "probability=gt0.5"},
	{"number_precision", "RiskAssessment", "probability=0.50"},
	{"quantity", "Observation", "value-quantity=5.4|http://unitsofmeasure.org|mg"},
	{"quantity_unit", "Observation", "value-quantity=le5.4||mg"},
	{"composite_quantity", "Observation", "code-value-quantity=http://loinc.org|8480-6$gt100"},
	{"composite_token", "Group", "characteristic-value=sex$female"},
	{"uri_below", "Patient", "_profile:below=http://hl7.org/fhir/us/core/"},
	{"uri_above", "Patient", "_profile:above=http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"},
	{"result_params", "Immunization", "_count=5&_sort=-date,_id&_total=accurate&_summary=true&_elements=status,patient&_include=Immunization:patient&_revinclude:iterate=Provenance:target"},
	{"include_star", "Immunization", "_include=Immunization:*&_include=Immunization:performer:Practitioner"},
	{"count_capped", "Patient", "_count=5000"},
	{"empty_value", "Patient", "family=&given=ann"},
	{"lenient_unknown", "Patient", "foo=bar&family=x&gender:text=y&_contained=true"},
	{"us_core_patient", "Patient", "birthdate=2010-05-01&name=smith"},
	{"us_core_immunization", "Immunization", "patient=Patient/1&date=ge2024-01-01&status=completed"},
}

func TestParse(t *testing.T) {
	r := testRegistry(t)
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			vals, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			q, err := r.Parse(c.typ, vals, Lenient)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "parse", c.name, c.typ+"?"+c.query+"\n\n"+describeQuery(q))
		})
	}
}

// TestParseStrictErrors: malformed or unknown parameters are a 400 under
// strict handling, and left out (with a warning) under lenient handling.
func TestParseStrictErrors(t *testing.T) {
	r := testRegistry(t)
	cases := []struct {
		typ   string
		query url.Values
		want  string
	}{
		{"Patient", url.Values{"foo": {"bar"}}, `unknown search parameter "foo"`},
		{"Patient", url.Values{"family:text": {"x"}}, "modifier :text is not supported"},
		{"Patient", url.Values{"birthdate:exact": {"2020"}}, "modifier :exact is not supported"},
		{"Immunization", url.Values{"vaccine-code:in": {"http://x"}}, "modifier :in is not supported"},
		{"Immunization", url.Values{"date": {"2024-13"}}, "not a valid"},
		{"Immunization", url.Values{"date": {"xx2024"}}, "not a valid"},
		{"Patient", url.Values{"identifier:of-type": {"sys|MR"}}, "system|code|value"},
		{"Patient", url.Values{"_count": {"-1"}}, "_count must be"},
		{"Patient", url.Values{"_count": {"ten"}}, "_count must be"},
		{"Immunization", url.Values{"_sort": {"patient"}}, "cannot sort by reference"},
		{"Immunization", url.Values{"_sort": {"nope"}}, "unknown sort parameter"},
		{"Immunization", url.Values{"_include": {"Immunization:status"}}, "not a reference parameter"},
		{"Immunization", url.Values{"_include": {"Immunization"}}, "must be Type:param"},
		{"Immunization", url.Values{"_include": {"Immunization:patient:Organization"}}, "does not reference Organization"},
		{"Patient", url.Values{"_has:Immunization:foo:status": {"x"}}, "not a reference parameter"},
		{"Patient", url.Values{"_has:Immunization:patient": {"x"}}, "_has takes the form"},
		{"Organization", url.Values{"_has:Immunization:patient:status": {"x"}}, "does not reference Organization"},
		{"Immunization", url.Values{"patient": {"a/b/c"}}, "not a valid reference"},
		{"Immunization", url.Values{"status.x": {"1"}}, "only reference parameters can be chained"},
		{"Immunization", url.Values{"patient:Organization.name": {"x"}}, `cannot reference "Organization"`},
		{"Patient", url.Values{"_total": {"maybe"}}, "_total must be"},
		{"Patient", url.Values{"_summary": {"yes"}}, "_summary must be"},
		{"Patient", url.Values{"_elements": {"1abc"}}, "not an element name"},
		{"Patient", url.Values{"_cursor": {"!!"}}, "malformed _cursor"},
		{"Patient", url.Values{"_contained": {"true"}}, "not supported"},
		{"Patient", url.Values{"family": {"a\xffb"}}, "UTF-8"},
		{"Patient", url.Values{"family": {"a\x00b"}}, "UTF-8"},
		{"Immunization", url.Values{"vaccine-code": {"|"}}, "neither a system nor a code"},
		{"Immunization", url.Values{"vaccine-code": {"a|b|c"}}, "too many '|'"},
		{"RiskAssessment", url.Values{"probability": {"abc"}}, "not a number"},
		{"RiskAssessment", url.Values{"probability": {"1e999999999"}}, "not a number"},
		{"Observation", url.Values{"value-quantity": {"5|mg"}}, "number|system|code"},
		{"Observation", url.Values{"code-value-quantity": {"8480-6"}}, "joined by '$'"},
		{"Observation", url.Values{"code-value-quantity:missing": {"true"}}, "modifier :missing is not supported"},
		{"Patient", url.Values{"gender:missing": {"maybe"}}, ":missing takes true or false"},
		{"Patient", url.Values{"_id": {"not an id"}}, "not a valid id"},
		{"Patient", url.Values{"_cursor": {EncodeCursor(Cursor{RID: 1, Spec: "family"})}}, "another _sort"},
		{"Patient", url.Values{"_id": {strings.Repeat("a,", 600) + "b"}}, "at most 500"},
		{"Patient", url.Values{"_has:Patient:link:_has:Patient:link:_has:Patient:link:_has:Patient:link:_has:Patient:link:gender": {"x"}}, "nest at most"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.typ, "?", c.query.Encode()), func(t *testing.T) {
			_, err := r.Parse(c.typ, c.query, Strict)
			var fe *fhir.Error
			if !errors.As(err, &fe) || fe.Kind != fhir.KindInvalid {
				t.Fatalf("strict: got %v, want an invalid error", err)
			}
			if msg := fe.Error(); !strings.Contains(msg, c.want) {
				t.Errorf("strict: error %q does not mention %q", msg, c.want)
			}
			q, err := r.Parse(c.typ, c.query, Lenient)
			if err != nil {
				t.Fatalf("lenient: %v", err)
			}
			if len(q.Ignored) == 0 || len(q.Kept) != 0 {
				t.Errorf("lenient: ignored %v, kept %v; want the parameter ignored and left out of self", q.Ignored, q.Kept)
			}
		})
	}
}

// describeQuery renders a query AST for the golden files.
func describeQuery(q *Query) string {
	var b strings.Builder
	for _, f := range q.Filters {
		describeFilter(&b, f, "")
	}
	fmt.Fprintf(&b, "count=%d", q.Count)
	if len(q.Sort) > 0 {
		fmt.Fprintf(&b, " sort=%s", sortSpec(q.Sort))
	}
	for _, x := range []struct{ k, v string }{{"total", q.Total}, {"summary", q.Summary}, {"elements", strings.Join(q.Elements, ",")}} {
		if x.v != "" {
			fmt.Fprintf(&b, " %s=%s", x.k, x.v)
		}
	}
	b.WriteString("\n")
	for _, inc := range q.Include {
		fmt.Fprintf(&b, "include %s\n", describeInclude(inc))
	}
	for _, inc := range q.RevInclude {
		fmt.Fprintf(&b, "revinclude %s\n", describeInclude(inc))
	}
	fmt.Fprintf(&b, "self: %s\n", q.Kept.Encode())
	for _, is := range q.Ignored {
		fmt.Fprintf(&b, "ignored %s: %s\n", strings.Join(is.Expression, ","), is.Diagnostics)
	}
	return b.String()
}

func describeInclude(inc Include) string {
	p := "*"
	if inc.Param != nil {
		p = inc.Param.Code
	}
	return fmt.Sprintf("%s:%s target=%q iterate=%v", inc.Source, p, inc.Target, inc.Iterate)
}

func describeFilter(b *strings.Builder, f *Filter, indent string) {
	switch {
	case f.Has != nil:
		fmt.Fprintf(b, "%shas %s.%s →\n", indent, f.Has.Type, f.Has.Param.Code)
		describeFilter(b, f.Has.Filter, indent+"  ")
	case len(f.Any) > 0:
		fmt.Fprintf(b, "%sany of %d chains →\n", indent, len(f.Any))
		for _, g := range f.Any {
			describeFilter(b, g, indent+"  ")
		}
	case f.Next != nil:
		fmt.Fprintf(b, "%schain %s.%s → %s\n", indent, f.Param.Resource, f.Param.Code, f.Chain)
		describeFilter(b, f.Next, indent+"  ")
	default:
		fmt.Fprintf(b, "%s%s.%s (%s)", indent, f.Param.Resource, f.Param.Code, f.Param.Type)
		if f.Modifier != "" {
			fmt.Fprintf(b, " :%s", f.Modifier)
		}
		if f.Missing != nil {
			fmt.Fprintf(b, " missing=%v", *f.Missing)
		}
		for _, v := range f.Values {
			fmt.Fprintf(b, " [%s]", describeValue(v))
		}
		b.WriteString("\n")
	}
}

func describeValue(v Value) string {
	var parts []string
	if v.Prefix != "" {
		parts = append(parts, "prefix="+v.Prefix)
	}
	if v.Raw != "" {
		parts = append(parts, fmt.Sprintf("raw=%q", v.Raw))
	}
	if v.HasSys || v.System != "" {
		parts = append(parts, fmt.Sprintf("system=%q", v.System))
	}
	if v.Code != "" {
		parts = append(parts, fmt.Sprintf("code=%q", v.Code))
	}
	if v.Comp != nil {
		parts = append(parts, "then "+describeValue(*v.Comp))
	}
	return strings.Join(parts, " ")
}
