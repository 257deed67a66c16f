package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/interaction"
)

// fakeVerifier accepts "good", refuses "bad" as a bad signature, and fails
// on anything else as a verifier that is not a TokenError would.
type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, raw string) (*auth.Grant, error) {
	switch raw {
	case "good":
		return &auth.Grant{Subject: "u1", ClientID: "app", Scopes: auth.ParseScopes("system/*.rs")}, nil
	case "bad":
		return nil, &auth.TokenError{Reason: auth.ReasonSignature, Description: "token signature invalid"}
	}
	return nil, errors.New("issuer unreachable")
}

// authRouter is the middleware and the auth routes over a handler that
// echoes the grant's subject.
func authRouter(t *testing.T, a *Auth) http.Handler {
	t.Helper()
	gin.SetMode(gin.ReleaseMode)
	s := &Server{Log: slog.New(slog.DiscardHandler), Auth: a}
	r := gin.New()
	r.Use(s.requestID)
	s.authRoutes(r)
	f := r.Group("/fhir")
	f.Use(s.authenticate)
	echo := func(c *gin.Context) {
		sub := "-"
		if g := interaction.GrantFrom(c.Request.Context()); g != nil {
			sub = g.Subject
		}
		c.String(http.StatusOK, sub)
	}
	f.GET("/:type", echo)
	f.GET("/:type/:id", echo)
	f.POST("/:type", echo)
	return r
}

func TestAuthenticate(t *testing.T) {
	h := authRouter(t, &Auth{Verifier: fakeVerifier{}})
	cases := []struct {
		name, method, path, authz string
		status                    int
		body, challenge           string
	}{
		{"no token", "GET", "/fhir/Patient", "", 401, "", "Bearer"},
		{"good token", "GET", "/fhir/Patient", "Bearer good", 200, "u1", ""},
		{"scheme case-insensitive", "GET", "/fhir/Patient", "bearer good", 200, "u1", ""},
		{"bad token", "GET", "/fhir/Patient/1", "Bearer bad", 401, "", `Bearer error="invalid_token", error_description="token signature invalid"`},
		{"verifier failure", "GET", "/fhir/Patient", "Bearer other", 401, "", `Bearer error="invalid_token"`},
		{"Basic", "POST", "/fhir/Patient", "Basic dTpw", 401, "", "Bearer"},
		{"metadata is public", "GET", "/fhir/metadata", "", 200, "-", ""},
		{"metadata with a bad token is public", "GET", "/fhir/metadata", "Bearer bad", 200, "-", ""},
		{"OperationDefinition is public", "GET", "/fhir/OperationDefinition/x", "", 200, "-", ""},
		{"POST to metadata is not", "POST", "/fhir/metadata", "", 401, "", "Bearer"},
		{"SearchParameters are public", "GET", "/fhir/SearchParameter", "", 200, "-", ""},
		{"a SearchParameter is public", "GET", "/fhir/SearchParameter/x", "", 200, "-", ""},
		{"a type named like it is not", "GET", "/fhir/SearchParameterX", "", 401, "", "Bearer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, nil)
			if c.authz != "" {
				req.Header.Set("Authorization", c.authz)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.body != "" && w.Body.String() != c.body {
				t.Errorf("body %q, want %q", w.Body, c.body)
			}
			if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, c.challenge) || (c.challenge == "") != (got == "") {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.challenge)
			}
			if c.status == 401 && !strings.Contains(w.Body.String(), `"OperationOutcome"`) {
				t.Errorf("401 without an OperationOutcome: %s", w.Body)
			}
		})
	}
}

func TestNoAuthPassesThrough(t *testing.T) {
	h := authRouter(t, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/fhir/Patient", nil))
	if w.Code != 200 || w.Body.String() != "-" {
		t.Errorf("auth none: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/fhir/.well-known/smart-configuration", nil))
	if strings.Contains(w.Body.String(), "token_endpoint") {
		t.Errorf("auth none serves a SMART configuration: %s", w.Body)
	}
}

func TestAuthEndpoints(t *testing.T) {
	e, err := auth.NewEndpoints("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	li, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: t.TempDir(), Issuer: e.Issuer, Audience: e.FHIRBase})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := auth.NewTokenService(auth.TokenServiceConfig{Issuer: li, Clients: &auth.MemoryClientStore{}, Replay: &auth.MemoryReplayCache{}, TokenURL: e.Token})
	if err != nil {
		t.Fatal(err)
	}
	good, err := li.Mint(auth.MintOptions{Scope: "system/*.rs"})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := auth.SmartConfiguration(auth.DiscoveryConfig{Mode: auth.ModeDev, Endpoints: e})
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := li.JWKSJSON()
	h := authRouter(t, &Auth{Verifier: li, Tokens: ts, Discovery: sc, JWKS: jwks})
	form := "application/x-www-form-urlencoded"
	cases := []struct {
		name, method, path, ct, authz, body string
		status                              int
		want                                string // in the body
	}{
		{"discovery, XML asked", "GET", "/fhir/.well-known/smart-configuration", "", "", "", 200, `"token_endpoint":"http://127.0.0.1:1/auth/token"`},
		{"jwks", "GET", "/.well-known/jwks.json", "", "", "", 200, `"keys"`},
		{"token: not a form", "POST", "/auth/token", "application/json", "", `{}`, 400, `"invalid_request"`},
		{"token: unknown grant", "POST", "/auth/token", form, "", "grant_type=password&scope=system/*.rs", 400, `"unsupported_grant_type"`},
		{"token: no assertion", "POST", "/auth/token", form, "", "grant_type=client_credentials&scope=system/*.rs", 401, `"invalid_client"`},
		{"introspect: no caller token", "POST", "/auth/introspect", form, "", "token=" + good, 401, "OperationOutcome"},
		{"introspect: bad caller token", "POST", "/auth/introspect", form, "Bearer " + good + "x", "token=" + good, 401, "OperationOutcome"},
		{"introspect: no token parameter", "POST", "/auth/introspect", form, "Bearer " + good, "", 400, `"invalid_request"`},
		{"introspect: active", "POST", "/auth/introspect", form, "Bearer " + good, url.Values{"token": {good}}.Encode(), 200, `"active":true`},
		{"introspect: inactive", "POST", "/auth/introspect", form, "Bearer " + good, "token=nonsense", 200, `{"active":false}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			if c.ct != "" {
				req.Header.Set("Content-Type", c.ct)
			}
			req.Header.Set("Accept", "application/fhir+xml")
			if c.authz != "" {
				req.Header.Set("Authorization", c.authz)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.status || !strings.Contains(w.Body.String(), c.want) {
				t.Fatalf("%d %s, want %d with %s", w.Code, w.Body, c.status, c.want)
			}
			if strings.HasPrefix(c.path, "/auth/") && w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			if w.Code == 200 && !json.Valid(w.Body.Bytes()) {
				t.Errorf("not JSON: %s", w.Body)
			}
		})
	}
}
