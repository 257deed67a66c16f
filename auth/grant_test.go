package auth_test

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/immunis/immunis/auth"
)

func TestInteractionPermission(t *testing.T) {
	tests := map[auth.Interaction]auth.Permission{
		auth.InteractionCreate:          auth.PermCreate,
		auth.InteractionRead:            auth.PermRead,
		auth.InteractionVRead:           auth.PermRead,
		auth.InteractionHistoryInstance: auth.PermRead,
		auth.InteractionUpdate:          auth.PermUpdate,
		auth.InteractionPatch:           auth.PermUpdate,
		auth.InteractionDelete:          auth.PermDelete,
		auth.InteractionSearchType:      auth.PermSearch,
		auth.InteractionSearchSystem:    auth.PermSearch,
		auth.InteractionHistoryType:     auth.PermSearch,
		auth.InteractionHistorySystem:   auth.PermSearch,
		auth.InteractionOperation:       0,
		"bogus":                         0,
	}
	for in, want := range tests {
		if got := in.Permission(); got != want {
			t.Errorf("%s.Permission() = %v, want %v", in, got, want)
		}
	}
}

func grant(patient string, scopes string) *auth.Grant {
	return &auth.Grant{Subject: "u1", ClientID: "app", Patient: patient, Scopes: auth.ParseScopes(scopes)}
}

// TestGrantAllowsMatrix checks every interaction against each scope form.
func TestGrantAllowsMatrix(t *testing.T) {
	all := []auth.Interaction{
		auth.InteractionCreate, auth.InteractionRead, auth.InteractionVRead, auth.InteractionUpdate,
		auth.InteractionPatch, auth.InteractionDelete, auth.InteractionHistoryInstance,
		auth.InteractionHistoryType, auth.InteractionHistorySystem, auth.InteractionSearchType,
		auth.InteractionSearchSystem, auth.InteractionOperation,
	}
	// allowed lists the interactions allowed on Immunization; everything
	// else in all is denied.
	tests := []struct {
		name    string
		patient string
		scopes  string
		allowed []auth.Interaction
		// confined to the patient compartment when allowed
		confined bool
	}{
		{name: "v1 read", patient: "p1", scopes: "patient/Immunization.read", confined: true, allowed: []auth.Interaction{
			auth.InteractionRead, auth.InteractionVRead, auth.InteractionHistoryInstance,
			auth.InteractionHistoryType, auth.InteractionHistorySystem, auth.InteractionSearchType, auth.InteractionSearchSystem}},
		{name: "v1 write", patient: "", scopes: "user/*.write", allowed: []auth.Interaction{
			auth.InteractionCreate, auth.InteractionUpdate, auth.InteractionPatch, auth.InteractionDelete}},
		{name: "v1 star", scopes: "system/*.*", allowed: []auth.Interaction{
			auth.InteractionCreate, auth.InteractionRead, auth.InteractionVRead, auth.InteractionUpdate,
			auth.InteractionPatch, auth.InteractionDelete, auth.InteractionHistoryInstance,
			auth.InteractionHistoryType, auth.InteractionHistorySystem, auth.InteractionSearchType, auth.InteractionSearchSystem}},
		{name: "v2 r only", scopes: "user/Immunization.r", allowed: []auth.Interaction{
			auth.InteractionRead, auth.InteractionVRead, auth.InteractionHistoryInstance}},
		{name: "v2 s only", scopes: "user/Immunization.s", allowed: []auth.Interaction{
			auth.InteractionHistoryType, auth.InteractionHistorySystem, auth.InteractionSearchType, auth.InteractionSearchSystem}},
		{name: "v2 c", scopes: "system/Immunization.c", allowed: []auth.Interaction{auth.InteractionCreate}},
		{name: "v2 u", scopes: "system/Immunization.u", allowed: []auth.Interaction{auth.InteractionUpdate, auth.InteractionPatch}},
		{name: "v2 d", scopes: "system/Immunization.d", allowed: []auth.Interaction{auth.InteractionDelete}},
		{name: "other type", scopes: "user/Patient.cruds"},
		{name: "patient scope without context", scopes: "patient/*.cruds"},
		{name: "invalid scope ignored", patient: "p1", scopes: "patient/Immunization.sr patient/Immunization.rs\"--"},
		{name: "identity scopes only", patient: "p1", scopes: "openid fhirUser launch/patient offline_access"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := grant(tt.patient, tt.scopes)
			for _, in := range all {
				a := g.Allows(in, "Immunization")
				want := false
				for _, w := range tt.allowed {
					want = want || w == in
				}
				if a.Allowed != want {
					t.Errorf("%s: allowed = %v, want %v (%s)", in, a.Allowed, want, a.Reason)
				}
				if a.Allowed {
					ids, confined := a.Patients()
					if confined != tt.confined {
						t.Errorf("%s: confined = %v, want %v", in, confined, tt.confined)
					}
					if tt.confined && !reflect.DeepEqual(ids, []string{tt.patient}) {
						t.Errorf("%s: patients = %v", in, ids)
					}
				}
				if !a.Allowed && a.Reason == "" {
					t.Errorf("%s: denied without reason", in)
				}
			}
		})
	}
}

func TestGrantAccessClauses(t *testing.T) {
	tests := []struct {
		name    string
		patient string
		scopes  string
		typ     string
		perm    auth.Permission
		want    []auth.Clause // Scope fields ignored
		denied  bool
	}{
		{name: "unrestricted user", scopes: "user/Immunization.rs", typ: "Immunization", perm: auth.PermRead,
			want: []auth.Clause{{}}},
		{name: "patient compartment", patient: "p1", scopes: "patient/*.rs", typ: "Immunization", perm: auth.PermSearch,
			want: []auth.Clause{{Patient: "p1"}}},
		{name: "granular patient", patient: "p1", scopes: "patient/Immunization.rs?status=completed", typ: "Immunization", perm: auth.PermSearch,
			want: []auth.Clause{{Patient: "p1", Query: url.Values{"status": {"completed"}}}}},
		{name: "granular ORed", patient: "p1",
			scopes: "patient/Immunization.rs?status=completed patient/Immunization.rs?status=not-done", typ: "Immunization", perm: auth.PermSearch,
			want: []auth.Clause{
				{Patient: "p1", Query: url.Values{"status": {"completed"}}},
				{Patient: "p1", Query: url.Values{"status": {"not-done"}}},
			}},
		{name: "whole compartment absorbs granular", patient: "p1",
			scopes: "patient/Immunization.rs?status=completed patient/*.read", typ: "Immunization", perm: auth.PermSearch,
			want: []auth.Clause{{Patient: "p1"}}},
		{name: "user absorbs patient", patient: "p1",
			scopes: "patient/Immunization.rs user/Immunization.s", typ: "Immunization", perm: auth.PermSearch,
			want: []auth.Clause{{}}},
		{name: "mixed levels and queries", patient: "p1",
			scopes: "patient/Immunization.rs?status=completed user/Immunization.rs?vaccine-code=08", typ: "Immunization", perm: auth.PermSearch,
			want: []auth.Clause{
				{Patient: "p1", Query: url.Values{"status": {"completed"}}},
				{Query: url.Values{"vaccine-code": {"08"}}},
			}},
		{name: "duplicates collapse", patient: "p1", scopes: "patient/*.rs patient/Immunization.read", typ: "Immunization", perm: auth.PermRead,
			want: []auth.Clause{{Patient: "p1"}}},
		{name: "needs every letter", scopes: "user/Immunization.r", typ: "Immunization", perm: auth.PermRead | auth.PermSearch, denied: true},
		{name: "letters across scopes do not combine", scopes: "user/Immunization.r user/Immunization.s", typ: "Immunization",
			perm: auth.PermRead | auth.PermSearch, denied: true},
		{name: "wildcard type refused", scopes: "user/*.cruds", typ: "*", perm: auth.PermRead, denied: true},
		{name: "empty type refused", scopes: "user/*.cruds", typ: "", perm: auth.PermRead, denied: true},
		{name: "no permission refused", scopes: "user/*.cruds", typ: "Patient", perm: 0, denied: true},
		{name: "patient without context", scopes: "patient/*.cruds", typ: "Patient", perm: auth.PermRead, denied: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := grant(tt.patient, tt.scopes).Access(tt.typ, tt.perm)
			if a.Allowed == tt.denied {
				t.Fatalf("allowed = %v (%s)", a.Allowed, a.Reason)
			}
			if tt.denied {
				if len(a.Clauses) != 0 {
					t.Errorf("denied access with clauses %+v", a.Clauses)
				}
				return
			}
			got := make([]auth.Clause, len(a.Clauses))
			for i, c := range a.Clauses {
				if c.Scope == "" {
					t.Errorf("clause %d without scope", i)
				}
				got[i] = auth.Clause{Patient: c.Patient, Query: c.Query}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("clauses = %+v, want %+v", got, tt.want)
			}
			if a.Unrestricted() != (len(tt.want) == 1 && tt.want[0].Patient == "" && tt.want[0].Query == nil) {
				t.Errorf("Unrestricted() = %v", a.Unrestricted())
			}
		})
	}
}

func TestAccessQueries(t *testing.T) {
	a := grant("p1", "patient/Immunization.rs?status=completed patient/Immunization.rs?status=not-done").Access("Immunization", auth.PermSearch)
	if q := a.Queries(); len(q) != 2 {
		t.Errorf("Queries() = %v", q)
	}
	b := grant("p1", "patient/Immunization.rs?status=completed user/Immunization.rs").Access("Immunization", auth.PermSearch)
	if q := b.Queries(); q != nil {
		t.Errorf("Queries() = %v, want nil", q)
	}
}

func TestPatientContext(t *testing.T) {
	tests := []struct {
		patient, scopes string
		want            string
		ok              bool
	}{
		{"p1", "patient/*.rs", "p1", true},
		{"p1", "user/*.rs", "", false},
		{"", "patient/*.rs", "", false},
		{"p1", "patient/*.rs user/Patient.r", "p1", true},
	}
	for _, tt := range tests {
		got, ok := grant(tt.patient, tt.scopes).PatientContext()
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q %q: PatientContext() = %q, %v", tt.patient, tt.scopes, got, ok)
		}
	}
	var nilGrant *auth.Grant
	if a := nilGrant.Access("Patient", auth.PermRead); a.Allowed {
		t.Error("nil grant allowed access")
	}
}
