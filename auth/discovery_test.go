package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/immunis/immunis/auth"
)

func testEndpoints(t *testing.T) auth.Endpoints {
	t.Helper()
	e, err := auth.NewEndpoints(testRoot + "/")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestNewEndpoints(t *testing.T) {
	e := testEndpoints(t)
	want := auth.Endpoints{
		Issuer:             testRoot,
		FHIRBase:           testRoot + "/fhir",
		Token:              testRoot + "/auth/token",
		Introspect:         testRoot + "/auth/introspect",
		JWKS:               testRoot + "/.well-known/jwks.json",
		SmartConfiguration: testRoot + "/fhir/.well-known/smart-configuration",
	}
	if e != want {
		t.Errorf("got %+v", e)
	}
	for _, bad := range []string{"", "iis.example.org", "ftp://x", "https://x/?a=b", "https://u:p@x"} {
		if _, err := auth.NewEndpoints(bad); err == nil {
			t.Errorf("NewEndpoints(%q) accepted", bad)
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]auth.Mode{"": auth.ModeNone, "none": auth.ModeNone, "dev": auth.ModeDev, "smart": auth.ModeSmart} {
		if got, err := auth.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := auth.ParseMode("SMART"); err == nil {
		t.Error("ParseMode accepted SMART")
	}
}

// hydraLikeMetadata is what ory/hydra v2.3.0 advertises.
var hydraLikeMetadata = auth.IssuerMetadata{
	Issuer:                            "http://127.0.0.1:4444",
	AuthorizationEndpoint:             "http://127.0.0.1:4444/oauth2/auth",
	TokenEndpoint:                     "http://127.0.0.1:4444/oauth2/token",
	JWKSURI:                           "http://127.0.0.1:4444/.well-known/jwks.json",
	RevocationEndpoint:                "http://127.0.0.1:4444/oauth2/revoke",
	GrantTypesSupported:               []string{"authorization_code", "implicit", "client_credentials", "refresh_token"},
	ResponseTypesSupported:            []string{"code", "code id_token", "id_token", "token"},
	ScopesSupported:                   []string{"offline_access", "offline", "openid"},
	CodeChallengeMethodsSupported:     []string{"plain", "S256"},
	TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic", "private_key_jwt", "none"},
}

func TestSmartConfiguration(t *testing.T) {
	e := testEndpoints(t)
	tests := []struct {
		name    string
		cfg     auth.DiscoveryConfig
		check   func(t *testing.T, sc auth.SmartConfig)
		wantErr bool
	}{
		{name: "dev", cfg: auth.DiscoveryConfig{Mode: auth.ModeDev, Endpoints: e}, check: func(t *testing.T, sc auth.SmartConfig) {
			want := auth.SmartConfig{
				Issuer: e.Issuer, JWKSURI: e.JWKS, TokenEndpoint: e.Token, IntrospectionEndpoint: e.Introspect,
				GrantTypesSupported:               []string{"client_credentials"},
				TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"},
				TokenEndpointAuthSigningAlgs:      []string{"RS384", "ES384"},
				Capabilities:                      []string{"client-confidential-asymmetric", "permission-v1", "permission-v2", "permission-patient", "permission-user"},
				CodeChallengeMethodsSupported:     []string{"S256"},
				ScopesSupported:                   sc.ScopesSupported,
			}
			if !reflect.DeepEqual(sc, want) {
				t.Errorf("got  %+v\nwant %+v", sc, want)
			}
			if !slices.Contains(sc.ScopesSupported, "system/*.rs") || !slices.Contains(sc.ScopesSupported, "patient/*.read") {
				t.Errorf("scopes %v", sc.ScopesSupported)
			}
		}},
		{name: "smart with hydra metadata", cfg: auth.DiscoveryConfig{Mode: auth.ModeSmart, Endpoints: e, External: &hydraLikeMetadata,
			ExtraCapabilities: []string{"context-standalone-patient"}}, check: func(t *testing.T, sc auth.SmartConfig) {
			m := hydraLikeMetadata
			if sc.Issuer != m.Issuer || sc.AuthorizationEndpoint != m.AuthorizationEndpoint || sc.TokenEndpoint != m.TokenEndpoint ||
				sc.JWKSURI != m.JWKSURI || sc.RevocationEndpoint != m.RevocationEndpoint || sc.IntrospectionEndpoint != e.Introspect {
				t.Errorf("endpoints %+v", sc)
			}
			if want := []string{"authorization_code", "client_credentials"}; !reflect.DeepEqual(sc.GrantTypesSupported, want) {
				t.Errorf("grant types %v", sc.GrantTypesSupported)
			}
			if want := []string{"S256"}; !reflect.DeepEqual(sc.CodeChallengeMethodsSupported, want) {
				t.Errorf("code challenge methods %v (never plain)", sc.CodeChallengeMethodsSupported)
			}
			if want := []string{"code"}; !reflect.DeepEqual(sc.ResponseTypesSupported, want) {
				t.Errorf("response types %v", sc.ResponseTypesSupported)
			}
			wantCaps := []string{"permission-v1", "permission-v2", "permission-patient", "permission-user", "launch-standalone",
				"client-public", "client-confidential-symmetric", "client-confidential-asymmetric", "sso-openid-connect",
				"permission-offline", "context-standalone-patient"}
			if !reflect.DeepEqual(sc.Capabilities, wantCaps) {
				t.Errorf("capabilities %v", sc.Capabilities)
			}
			for _, s := range []string{"openid", "fhirUser", "launch/patient", "offline_access", "user/*.cruds"} {
				if !slices.Contains(sc.ScopesSupported, s) {
					t.Errorf("scopes_supported lacks %s", s)
				}
			}
		}},
		{name: "smart issuer without code flow", cfg: auth.DiscoveryConfig{Mode: auth.ModeSmart, Endpoints: e, External: &auth.IssuerMetadata{
			Issuer: "https://idp", TokenEndpoint: "https://idp/token", JWKSURI: "https://idp/jwks",
			GrantTypesSupported: []string{"client_credentials"}, TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"},
			CodeChallengeMethodsSupported: []string{"plain"},
		}}, check: func(t *testing.T, sc auth.SmartConfig) {
			if sc.AuthorizationEndpoint != "" || len(sc.ResponseTypesSupported) != 0 {
				t.Errorf("authorization endpoint advertised: %+v", sc)
			}
			if want := []string{"permission-v1", "permission-v2", "permission-patient", "permission-user", "client-confidential-asymmetric"}; !reflect.DeepEqual(sc.Capabilities, want) {
				t.Errorf("capabilities %v", sc.Capabilities)
			}
			if len(sc.CodeChallengeMethodsSupported) != 0 {
				t.Errorf("code challenge methods %v", sc.CodeChallengeMethodsSupported)
			}
		}},
		{name: "smart without metadata", cfg: auth.DiscoveryConfig{Mode: auth.ModeSmart, Endpoints: e}, wantErr: true},
		{name: "unknown capability", cfg: auth.DiscoveryConfig{Mode: auth.ModeSmart, Endpoints: e, External: &hydraLikeMetadata, ExtraCapabilities: []string{"launch-anything"}}, wantErr: true},
		{name: "extra capabilities in dev", cfg: auth.DiscoveryConfig{Mode: auth.ModeDev, Endpoints: e, ExtraCapabilities: []string{"launch-ehr"}}, wantErr: true},
		{name: "none", cfg: auth.DiscoveryConfig{Mode: auth.ModeNone, Endpoints: e}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := auth.SmartConfiguration(tt.cfg)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, sc)
			b, err := json.Marshal(sc)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			_ = json.Unmarshal(b, &doc)
			for _, req := range []string{"grant_types_supported", "token_endpoint", "capabilities", "code_challenge_methods_supported"} {
				if _, ok := doc[req]; !ok {
					t.Errorf("required field %s missing: %s", req, b)
				}
			}
			for k, v := range doc {
				if s, ok := v.(string); ok && !strings.HasPrefix(s, "http") {
					t.Errorf("%s = %q is not an absolute URL", k, s)
				}
			}
		})
	}
}

func TestSecurityFragment(t *testing.T) {
	sc, err := auth.SmartConfiguration(auth.DiscoveryConfig{Mode: auth.ModeSmart, Endpoints: testEndpoints(t), External: &hydraLikeMetadata})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(auth.SecurityFragment(sc))
	if err != nil {
		t.Fatal(err)
	}
	var sec struct {
		CORS    bool `json:"cors"`
		Service []struct {
			Coding []struct{ System, Code string }
		}
		Extension []struct {
			URL       string `json:"url"`
			Extension []struct {
				URL      string `json:"url"`
				ValueURI string `json:"valueUri"`
			}
		}
	}
	if err := json.Unmarshal(b, &sec); err != nil {
		t.Fatal(err)
	}
	if !sec.CORS || len(sec.Service) != 1 || sec.Service[0].Coding[0].Code != "SMART-on-FHIR" ||
		sec.Service[0].Coding[0].System != "http://terminology.hl7.org/CodeSystem/restful-security-service" {
		t.Errorf("service: %s", b)
	}
	if len(sec.Extension) != 1 || sec.Extension[0].URL != "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" {
		t.Fatalf("extension: %s", b)
	}
	got := map[string]string{}
	for _, e := range sec.Extension[0].Extension {
		got[e.URL] = e.ValueURI
	}
	want := map[string]string{
		"token":      hydraLikeMetadata.TokenEndpoint,
		"authorize":  hydraLikeMetadata.AuthorizationEndpoint,
		"introspect": testRoot + "/auth/introspect",
		"revoke":     hydraLikeMetadata.RevocationEndpoint,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("oauth-uris %v, want %v", got, want)
	}
}

type verifierFunc func(ctx context.Context, raw string) (*auth.Grant, error)

func (f verifierFunc) Verify(ctx context.Context, raw string) (*auth.Grant, error) {
	return f(ctx, raw)
}

func TestIntrospect(t *testing.T) {
	li := newLocalIssuer(t, t.TempDir())
	tok, err := li.Mint(auth.MintOptions{Scope: "patient/Immunization.rs launch/patient", Patient: "p1", FHIRUser: "Patient/p1", ClientID: "app", Subject: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	got := auth.Introspect(context.Background(), li, tok)
	want := map[string]any{
		"active": true, "scope": "patient/Immunization.rs launch/patient", "client_id": "app", "sub": "u1",
		"iss": testRoot, "patient": "p1", "fhirUser": "Patient/p1", "token_type": "Bearer",
		"exp": t0.Add(time.Hour).Unix(), "iat": t0.Unix(), "jti": got["jti"],
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if got["jti"] == "" {
		t.Error("no jti")
	}
	inactive := map[string]any{"active": false}
	for name, tok := range map[string]string{"garbage": "x.y.z", "empty": "", "other issuer": tok + "x"} {
		if got := auth.Introspect(context.Background(), li, tok); !reflect.DeepEqual(got, inactive) {
			t.Errorf("%s: %v", name, got)
		}
	}
	if got := auth.Introspect(context.Background(), nil, tok); !reflect.DeepEqual(got, inactive) {
		t.Errorf("nil verifier: %v", got)
	}
}

func TestSlogAudit(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	g := grant("p1", "patient/Immunization.rs")
	g.TokenID = "j1"
	a := g.Allows(auth.InteractionRead, "Patient")
	e := auth.NewAuditEvent(t0, g, auth.InteractionRead, "Patient", "p2", a)
	e.RequestID = "r1"
	auth.SlogAudit{Logger: logger}.Audit(context.Background(), e)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	want := map[string]any{
		"level": "WARN", "msg": "access denied", "audit": true, "sub": "u1", "client_id": "app",
		"patient": "p1", "jti": "j1", "interaction": "read", "type": "Patient", "id": "p2",
		"allowed": false, "request_id": "r1", "time": t0.Format(time.RFC3339),
	}
	delete(rec, "reason")
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("got  %v\nwant %v", rec, want)
	}

	var events []auth.AuditEvent
	var l auth.AuditLogger = auth.AuditFunc(func(_ context.Context, e auth.AuditEvent) { events = append(events, e) })
	l.Audit(context.Background(), auth.NewAuditEvent(t0, g, auth.InteractionSearchType, "Immunization", "", g.Allows(auth.InteractionSearchType, "Immunization")))
	if len(events) != 1 || !events[0].Allowed || events[0].Patient != "p1" || !strings.Contains(events[0].Reason, "patient/Immunization.rs") {
		t.Errorf("events %+v", events)
	}
}
