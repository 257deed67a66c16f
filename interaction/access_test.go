package interaction

import (
	"context"
	"strings"
	"testing"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/search"
	"github.com/immunis/immunis/store"
)

// The database side of authorization is tested over HTTP in
// e2e/auth_test.go; these tests pin the decisions made before any SQL.

func accessService(t *testing.T, events *[]auth.AuditEvent) *Service {
	t.Helper()
	reg, err := search.NewRegistry([]string{"Patient", "Immunization", "Practitioner"})
	if err != nil {
		t.Fatal(err)
	}
	return &Service{
		Registry:  reg,
		Compiler:  &search.Compiler{Dialect: search.SQLite},
		Extractor: &search.Extractor{Registry: reg},
		Access: &AccessControl{Audit: auth.AuditFunc(func(_ context.Context, e auth.AuditEvent) {
			*events = append(*events, e)
		})},
	}
}

func grant(scope, patient string) *auth.Grant {
	return &auth.Grant{Issuer: "https://iss.example", Subject: "u1", ClientID: "app", Patient: patient, Scopes: auth.ParseScopes(scope)}
}

func TestScope(t *testing.T) {
	var events []auth.AuditEvent
	s := accessService(t, &events)
	cases := []struct {
		name  string
		g     *auth.Grant
		p     auth.Permission
		nilSc bool
		types map[string]string // type → "patient:<id>", "all", "filters:<n>"
	}{
		{"unrestricted", grant("system/*.*", ""), auth.PermSearch, true, nil},
		{"no grant", nil, auth.PermSearch, false, map[string]string{}},
		{"patient context", grant("patient/*.rs", "a"), auth.PermSearch, false,
			map[string]string{"Patient": "patient:a", "Immunization": "patient:a", "Practitioner": "patient:a"}},
		{"one type", grant("user/Immunization.rs", ""), auth.PermSearch, false, map[string]string{"Immunization": "all"}},
		{"other permission", grant("user/Immunization.rs", ""), auth.PermCreate, false, map[string]string{}},
		{"granular", grant("user/Immunization.rs?status=completed", ""), auth.PermRead, false, map[string]string{"Immunization": "filters:1"}},
		{"granular chain dropped", grant("user/Immunization.rs?patient.family=x", ""), auth.PermRead, false, map[string]string{}},
		{"granular _has dropped", grant("user/Patient.rs?_has:Immunization:patient:status=completed", ""), auth.PermRead, false, map[string]string{}},
		{"granular unknown parameter dropped", grant("user/Immunization.rs?nonsense=1", ""), auth.PermRead, false, map[string]string{}},
		{"granular and plain", grant("user/Immunization.rs?status=completed patient/Immunization.rs", "a"), auth.PermRead, false,
			map[string]string{"Immunization": "filters:1|patient:a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			if c.g != nil {
				ctx = WithGrant(ctx, c.g)
			}
			sc := s.scope(ctx, c.p)
			if c.nilSc {
				if sc != nil {
					t.Fatalf("scope %+v, want nil (unrestricted)", sc)
				}
				return
			}
			if sc == nil {
				t.Fatal("nil scope: unrestricted")
			}
			got := map[string]string{}
			for typ, cls := range sc.Types {
				var parts []string
				for _, cl := range cls {
					switch {
					case cl.Patient != "":
						parts = append(parts, "patient:"+cl.Patient)
					case len(cl.Filters) > 0:
						parts = append(parts, "filters:"+string(rune('0'+len(cl.Filters))))
					default:
						parts = append(parts, "all")
					}
				}
				got[typ] = strings.Join(parts, "|")
			}
			if len(got) != len(c.types) {
				t.Fatalf("types %v, want %v", got, c.types)
			}
			for typ, want := range c.types {
				if got[typ] != want {
					t.Errorf("%s: %q, want %q", typ, got[typ], want)
				}
			}
		})
	}
}

func TestDoors(t *testing.T) {
	var events []auth.AuditEvent
	s := accessService(t, &events)
	cases := []struct {
		name string
		g    *auth.Grant
		door func(ctx context.Context) error
		want fhir.Kind // -1: allowed
	}{
		{"no token", nil, func(ctx context.Context) error { return s.allow(ctx, auth.InteractionRead, "Patient", "a") }, fhir.KindUnauthorized},
		{"read allowed", grant("patient/Patient.r", "a"), func(ctx context.Context) error { return s.allow(ctx, auth.InteractionRead, "Patient", "a") }, -1},
		{"read without r", grant("patient/Patient.s", "a"), func(ctx context.Context) error { return s.allow(ctx, auth.InteractionRead, "Patient", "a") }, fhir.KindForbidden},
		{"update with u", grant("user/Immunization.u", ""), func(ctx context.Context) error {
			return s.allowWrite(ctx, auth.InteractionUpdate, "Immunization", "x", false)
		}, -1},
		{"update with c only (create-on-update)", grant("user/Immunization.c", ""), func(ctx context.Context) error {
			return s.allowWrite(ctx, auth.InteractionUpdate, "Immunization", "x", false)
		}, -1},
		{"patch with c only", grant("user/Immunization.c", ""), func(ctx context.Context) error {
			return s.allowWrite(ctx, auth.InteractionPatch, "Immunization", "x", false)
		}, fhir.KindForbidden},
		{"conditional create without s", grant("user/Immunization.c", ""), func(ctx context.Context) error {
			return s.allowWrite(ctx, auth.InteractionCreate, "Immunization", "", true)
		}, fhir.KindForbidden},
		{"conditional create with s", grant("user/Immunization.cs", ""), func(ctx context.Context) error {
			return s.allowWrite(ctx, auth.InteractionCreate, "Immunization", "", true)
		}, -1},
		{"system forecast, any token", grant("openid", ""), func(ctx context.Context) error { return s.allowForecast(ctx, "") }, -1},
		{"system forecast, no token", nil, func(ctx context.Context) error { return s.allowForecast(ctx, "") }, fhir.KindUnauthorized},
		{"patient forecast needs s on Immunization", grant("patient/Patient.rs", "a"), func(ctx context.Context) error { return s.allowForecast(ctx, "a") }, fhir.KindForbidden},
		{"system history without any s", grant("patient/*.rs", ""), func(ctx context.Context) error {
			_, err := s.historyAccess(ctx, "", "", &store.HistoryQuery{})
			return err
		}, fhir.KindForbidden},
		{"bulk load needs unrestricted writes", grant("patient/*.cruds", "a"), func(ctx context.Context) error {
			return s.requireUnrestricted(ctx, map[string]bool{"Patient": true})
		}, fhir.KindForbidden},
		{"bulk load, system token", grant("system/*.cruds", ""), func(ctx context.Context) error {
			return s.requireUnrestricted(ctx, map[string]bool{"Patient": true})
		}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			events = nil
			ctx := WithRequestID(context.Background(), "req-1")
			if c.g != nil {
				ctx = WithGrant(ctx, c.g)
			}
			err := c.door(ctx)
			switch {
			case c.want == -1 && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == -1:
			case err == nil:
				t.Fatalf("allowed, want %v", c.want)
			case fhir.AsError(err).Kind != c.want:
				t.Fatalf("kind %v, want %v: %v", fhir.AsError(err).Kind, c.want, err)
			}
			if c.want == fhir.KindForbidden && strings.Contains(c.name, "without") {
				if h := fhir.AsError(err).Header["WWW-Authenticate"]; h != "" && !strings.Contains(h, "insufficient_scope") {
					t.Errorf("challenge %q", h)
				}
			}
			if len(events) == 0 {
				t.Fatal("no audit event")
			}
			last := events[len(events)-1]
			if last.Allowed != (c.want == -1) || last.RequestID != "req-1" {
				t.Errorf("audit %+v", last)
			}
			if c.g != nil && (last.ClientID != "app" || last.Subject != "u1") {
				t.Errorf("audit who %+v", last)
			}
		})
	}
}

func TestAccessOff(t *testing.T) {
	var events []auth.AuditEvent
	s := accessService(t, &events)
	s.Access = nil
	ctx := context.Background()
	if err := s.allow(ctx, auth.InteractionDelete, "Patient", "a"); err != nil {
		t.Errorf("auth none refused: %v", err)
	}
	if sc := s.scope(ctx, auth.PermSearch); sc != nil {
		t.Errorf("auth none restricts: %+v", sc)
	}
	obj := fhir.Object{"resourceType": "Patient"}
	after, err := s.guardWrite(ctx, nil, "Patient", "a", obj, nil)
	if err != nil || after() != nil || obj["meta"] != nil {
		t.Errorf("auth none guards a write: %v %v", err, obj)
	}
}

func TestStampSource(t *testing.T) {
	obj := fhir.Object{"resourceType": "Patient", "meta": map[string]any{"source": "http://liar.example", "tag": []any{}}}
	s := &Service{}
	s.stampSource(WithGrant(context.Background(), grant("system/*.*", "")), obj)
	meta := fhir.Obj(obj, "meta")
	if meta["source"] != "https://iss.example#app" || meta["tag"] == nil {
		t.Errorf("meta %v", meta)
	}
	if got := ClientSource("https://iss.example/", "a b"); got != "https://iss.example#a%20b" {
		t.Errorf("ClientSource %q", got)
	}
}
