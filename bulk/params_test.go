package bulk

import (
	"slices"
	"testing"
	"time"

	"github.com/immunis/immunis/search"
)

func TestSplitTypeFilter(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Immunization?status=completed", []string{"Immunization?status=completed"}},
		{"Immunization?status=completed,not-done", []string{"Immunization?status=completed,not-done"}},
		{"Immunization?status=completed,Patient?gender=male", []string{"Immunization?status=completed", "Patient?gender=male"}},
		{"Patient?_id=a,b,Patient?gender=male,female", []string{"Patient?_id=a,b", "Patient?gender=male,female"}},
		{" Patient?gender=male , ", []string{"Patient?gender=male"}},
		{"", nil},
	}
	for _, tc := range tests {
		if got := splitTypeFilter(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitTypeFilter(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseInstant(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2024-01-02T03:04:05Z", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), true},
		{"2024-01-02T03:04:05.123456+02:00", time.Date(2024, 1, 2, 1, 4, 5, 123456000, time.UTC), true},
		{"2024-01-02", time.Time{}, false},                // a date is not an instant
		{"2024-01-02T03:04:05", time.Time{}, false},       // no zone
		{"2024-01-02T03:04:05 01:00", time.Time{}, false}, // a + decoded as a space
		{"yesterday", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := parseInstant(tc.in)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseInstant(%q) = %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// parseParams turns every problem into an issue with a stable id, and
// the good parameters into the Spec.
func TestParseParams(t *testing.T) {
	reg, err := search.NewRegistry(testTypes)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Registry: reg, BaseURL: "http://example.test/fhir", CompartmentTypes: []string{"Patient", "Immunization", "Group", "Provenance"}}
	tests := []struct {
		name   string
		k      KickOff
		issues []string
		check  func(*Spec) bool
	}{
		{"defaults", KickOff{Level: LevelSystem}, nil,
			func(s *Spec) bool { return slices.Equal(s.Types, testTypes) && !s.Compartment }},
		{"patient level types", KickOff{Level: LevelPatient}, nil,
			func(s *Spec) bool {
				return slices.Equal(s.Types, []string{"Patient", "Immunization", "Group", "Provenance"}) && s.Compartment
			}},
		{"all output formats", KickOff{Params: []Param{{"_outputFormat", "ndjson"}, {"_outputFormat", "application/ndjson"}, {"_outputFormat", "application/fhir+ndjson"}}}, nil, nil},
		{"since", KickOff{Params: []Param{{"_since", "2024-01-02T03:04:05Z"}}}, nil,
			func(s *Spec) bool { return s.Since.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) }},
		{"elements", KickOff{Params: []Param{{"_elements", "id,Patient.gender"}}}, nil,
			func(s *Spec) bool {
				return slices.Equal(s.Elements[""], []string{"id"}) && slices.Equal(s.Elements["Patient"], []string{"gender"})
			}},
		{"type filter kept encoded", KickOff{Params: []Param{{"_typeFilter", "Immunization?status=completed"}}}, nil,
			func(s *Spec) bool { return slices.Equal(s.TypeFilters["Immunization"], []string{"status=completed"}) }},
		{"lenient drops a type's filters", KickOff{Params: []Param{{"_typeFilter", "Immunization?status=completed,Immunization?bogus=1"}}},
			[]string{"IMM-BULK-032"}, func(s *Spec) bool { return s.TypeFilters == nil }},
		{"filter for a type not exported", KickOff{Params: []Param{{"_type", "Patient"}, {"_typeFilter", "Immunization?status=completed"}}},
			[]string{"IMM-BULK-031"}, nil},
		{"many problems at once", KickOff{Params: []Param{{"_outputFormat", "csv"}, {"_type", "Nope,Patient"}, {"_elements", "a.b.c"}, {"includeAssociatedData", "LatestProvenanceResources,_x"}, {"_count", "3"}}},
			[]string{"IMM-BULK-010", "IMM-BULK-014", "IMM-BULK-014", "IMM-BULK-015", "IMM-BULK-020", "IMM-BULK-040"},
			func(s *Spec) bool { return slices.Equal(s.Types, []string{"Patient"}) }},
		{"patient in a POST", KickOff{Level: LevelPatient, Method: "POST", Params: []Param{{"patient", "Patient/a"}, {"patient", "Immunization/b"}}},
			[]string{"IMM-BULK-013"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.k
			if k.Level == "" {
				k.Level = LevelSystem
			}
			p := m.parseParams(&k)
			var ids []string
			for _, is := range p.issues {
				ids = append(ids, is.MsgID)
			}
			if !slices.Equal(ids, tc.issues) {
				t.Errorf("issues %v, want %v (%v)", ids, tc.issues, p.issues)
			}
			if tc.check != nil && !tc.check(&p.spec) {
				t.Errorf("spec %+v", p.spec)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct{ age, want time.Duration }{
		{0, time.Second}, {5 * time.Second, time.Second}, {50 * time.Second, 5 * time.Second}, {time.Hour, 30 * time.Second},
	} {
		if got := retryAfter(tc.age); got != tc.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tc.age, got, tc.want)
		}
	}
}
