package auth_test

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/immunis/immunis/auth"
)

func TestParseResourceScope(t *testing.T) {
	tests := []struct {
		in      string
		level   auth.Level
		typ     string
		perms   string
		version int
		query   url.Values
		wantErr bool
	}{
		// v1
		{in: "patient/Immunization.read", level: auth.LevelPatient, typ: "Immunization", perms: "rs", version: 1},
		{in: "user/*.write", level: auth.LevelUser, typ: "*", perms: "cud", version: 1},
		{in: "system/*.*", level: auth.LevelSystem, typ: "*", perms: "cruds", version: 1},
		{in: "patient/Patient.*", level: auth.LevelPatient, typ: "Patient", perms: "cruds", version: 1},
		// v2
		{in: "patient/Immunization.rs", level: auth.LevelPatient, typ: "Immunization", perms: "rs", version: 2},
		{in: "user/*.cruds", level: auth.LevelUser, typ: "*", perms: "cruds", version: 2},
		{in: "system/Patient.r", level: auth.LevelSystem, typ: "Patient", perms: "r", version: 2},
		{in: "user/Immunization.cud", level: auth.LevelUser, typ: "Immunization", perms: "cud", version: 2},
		{in: "system/Patient.s", level: auth.LevelSystem, typ: "Patient", perms: "s", version: 2},
		// granular
		{in: "patient/Immunization.rs?status=completed", level: auth.LevelPatient, typ: "Immunization", perms: "rs", version: 2,
			query: url.Values{"status": {"completed"}}},
		{in: "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
			level: auth.LevelPatient, typ: "Observation", perms: "rs", version: 2,
			query: url.Values{"category": {"http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}},
		{in: "user/Immunization.rs?status=completed&vaccine-code=http://hl7.org/fhir/sid/cvx%7C08",
			level: auth.LevelUser, typ: "Immunization", perms: "rs", version: 2,
			query: url.Values{"status": {"completed"}, "vaccine-code": {"http://hl7.org/fhir/sid/cvx|08"}}},
		{in: "user/Immunization.rs?patient:missing=false", level: auth.LevelUser, typ: "Immunization", perms: "rs", version: 2,
			query: url.Values{"patient:missing": {"false"}}},
		// malformed
		{in: "patient/Immunization.sr", wantErr: true},                    // out of order
		{in: "patient/Immunization.rr", wantErr: true},                    // repeated
		{in: "patient/Immunization.rx", wantErr: true},                    // unknown letter
		{in: "patient/Immunization.", wantErr: true},                      // empty permissions
		{in: "patient/Immunization", wantErr: true},                       // no permissions
		{in: "patient/Immunization.readrs", wantErr: true},                // mixed
		{in: "patient/Immunization.READ", wantErr: true},                  // case
		{in: "patient/Immunization.rs--", wantErr: true},                  // SQL comment
		{in: "patient/immunization.rs", wantErr: true},                    // lower-case type
		{in: "patient/Immu_nization.rs", wantErr: true},                   // bad type
		{in: "patient/.rs", wantErr: true},                                // no type
		{in: "Patient/Immunization.rs", wantErr: true},                    // level case
		{in: "group/Immunization.rs", wantErr: true},                      // unknown level
		{in: "patient/Immunization.read?status=completed", wantErr: true}, // granular v1
		{in: "patient/Immunization.rs?", wantErr: true},                   // empty query
		{in: "patient/*.rs?status=completed", wantErr: true},              // granular wildcard
		{in: "patient/Immunization.rs?status=", wantErr: true},            // empty value
		{in: "patient/Immunization.rs?status=a%27b", wantErr: true},       // decoded quote
		{in: "patient/Immunization.rs?status=a%00b", wantErr: true},       // decoded NUL
		{in: "patient/Immunization.rs?status=a%3Bb", wantErr: true},       // decoded semicolon
		{in: "patient/Immunization.rs?status=%zz", wantErr: true},         // bad escape
		{in: "patient/Immunization.rs?_count=1000", wantErr: true},        // result param
		{in: "patient/Immunization.rs?_include=*", wantErr: true},         // result param
		{in: "patient/Immunization.rs?sta$tus=x", wantErr: true},          // bad name
		{in: "patient/Immunization.rs?status=completed'", wantErr: true},  // raw quote
		{in: "patient/Immunization.rs;DROP", wantErr: true},               // semicolon
		{in: "patient/Immunization.rs\"", wantErr: true},                  // double quote
		{in: "patient/Immunization.rs\x00", wantErr: true},                // NUL
		{in: "patient/Immunization.rs\n", wantErr: true},                  // newline
		{in: "patient/Immunization.rs user/*.cruds", wantErr: true},       // space inside
		{in: "patient/Immunizatión.rs", wantErr: true},                    // non-ASCII
		{in: "patient/" + strings.Repeat("A", 65) + ".rs", wantErr: true}, // long type
		{in: "patient/Immunization.rs?x=" + strings.Repeat("a", 1100), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := auth.ParseResourceScope(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseResourceScope(%q) = %+v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResourceScope(%q): %v", tt.in, err)
			}
			if got.Level != tt.level || got.Type != tt.typ || got.Perms.String() != tt.perms || got.Version != tt.version || got.Raw != tt.in {
				t.Errorf("got %+v", got)
			}
			if !reflect.DeepEqual(got.Query, tt.query) {
				t.Errorf("query = %v, want %v", got.Query, tt.query)
			}
		})
	}
}

func TestParseScopes(t *testing.T) {
	s := auth.ParseScopes("openid fhirUser launch launch/patient offline_access online_access  " +
		"patient/Immunization.rs user/*.read profile launch/encounter patient/Immunization.sr Patient/*.rs system/*.*x 1=1 a\"b")
	if !s.OpenID || !s.FHIRUser || !s.Launch || !s.LaunchPatient || !s.OfflineAccess || !s.OnlineAccess {
		t.Errorf("context scopes: %+v", s)
	}
	var res []string
	for _, r := range s.Resources {
		res = append(res, r.Raw)
	}
	if want := []string{"patient/Immunization.rs", "user/*.read"}; !reflect.DeepEqual(res, want) {
		t.Errorf("resources = %v, want %v", res, want)
	}
	if want := []string{"profile", "launch/encounter", "1=1"}; !reflect.DeepEqual(s.Other, want) {
		t.Errorf("other = %v, want %v", s.Other, want)
	}
	var bad []string
	for _, i := range s.Invalid {
		bad = append(bad, i.Scope)
		if i.Reason == "" {
			t.Errorf("invalid scope %q without reason", i.Scope)
		}
	}
	if want := []string{"patient/Immunization.sr", "Patient/*.rs", "system/*.*x", "a\"b"}; !reflect.DeepEqual(bad, want) {
		t.Errorf("invalid = %v, want %v", bad, want)
	}
	if got, want := s.String(), "patient/Immunization.rs user/*.read openid fhirUser launch launch/patient offline_access online_access profile launch/encounter 1=1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseScopesTabIsNotASeparator(t *testing.T) {
	s := auth.ParseScopes("patient/Immunization.rs\tuser/*.cruds")
	if len(s.Resources) != 0 || len(s.Invalid) != 1 {
		t.Fatalf("got %+v, want one invalid scope", s)
	}
}

func TestParseScopeListNeverSplits(t *testing.T) {
	s := auth.ParseScopeList([]string{"system/Patient.rs", "patient/*.rs user/*.cruds", ""})
	if len(s.Resources) != 1 || s.Resources[0].Raw != "system/Patient.rs" {
		t.Errorf("resources = %+v", s.Resources)
	}
	if len(s.Invalid) != 2 {
		t.Errorf("invalid = %+v, want 2", s.Invalid)
	}
}

func TestParseScopesTooMany(t *testing.T) {
	s := auth.ParseScopes(strings.Repeat("system/Patient.r ", 300))
	if len(s.Resources) != 256 || len(s.Invalid) != 44 {
		t.Errorf("resources %d invalid %d, want 256 and 44", len(s.Resources), len(s.Invalid))
	}
}

func TestResourceScopeStringIsV2(t *testing.T) {
	for in, want := range map[string]string{
		"patient/Immunization.read": "patient/Immunization.rs",
		"user/*.write":              "user/*.cud",
		"system/*.*":                "system/*.cruds",
		"patient/Immunization.rs?status=completed": "patient/Immunization.rs?status=completed",
	} {
		rs, err := auth.ParseResourceScope(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := rs.String(); got != want {
			t.Errorf("%s: String() = %q, want %q", in, got, want)
		}
		if _, err := auth.ParseResourceScope(rs.String()); err != nil {
			t.Errorf("%s: String() does not parse back: %v", in, err)
		}
	}
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"patient/Immunization.rs?status=completed", "user/*.write openid", "system/*.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s := auth.ParseScopes(in)
		for _, r := range s.Resources {
			if r.Perms == 0 || r.Type == "" {
				t.Fatalf("accepted empty scope %+v", r)
			}
			if strings.ContainsAny(r.Raw, " \"'\\;`<>\x00\n") {
				t.Fatalf("accepted %q", r.Raw)
			}
		}
	})
}
