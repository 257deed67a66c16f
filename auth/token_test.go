package auth_test

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/immunis/immunis/auth"
)

const testTokenURL = testRoot + "/auth/token"

type tokenFixture struct {
	svc     *auth.TokenService
	issuer  *auth.LocalIssuer
	clients *auth.MemoryClientStore
	clock   *time.Time
	jwksURL string
	fetches *atomic.Int32
}

func newTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	testKeys(t)
	f := &tokenFixture{clients: &auth.MemoryClientStore{}, fetches: &atomic.Int32{}}
	clock := t0
	f.clock = &clock
	now := func() time.Time { return *f.clock }
	li, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: t.TempDir(), Issuer: testRoot, Audience: testFHIRBase, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	f.issuer = li
	urlKeys := jwksJSON(t, map[string]crypto.Signer{"url-rs": rsaKey2})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(urlKeys)
	}))
	t.Cleanup(srv.Close)
	f.jwksURL = srv.URL + "/jwks.json"
	clients := []*auth.Client{
		{ID: "rs-client", JWKS: jwksJSON(t, map[string]crypto.Signer{"rs1": rsaKey}), Scopes: []string{"system/*.rs"}},
		{ID: "es-client", JWKS: jwksJSON(t, map[string]crypto.Signer{"es1": ecKey384}), Scopes: []string{"system/Patient.rs", "system/Immunization.rs?status=completed"}},
		{ID: "url-client", JWKSURL: f.jwksURL, Scopes: []string{"system/*.read"}},
		{ID: "off-client", JWKS: jwksJSON(t, map[string]crypto.Signer{"rs1": rsaKey}), Scopes: []string{"system/*.rs"}, Disabled: true},
	}
	for _, c := range clients {
		if err := auth.ValidateClient(c); err != nil {
			t.Fatal(err)
		}
		if err := f.clients.PutClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	f.svc, err = auth.NewTokenService(auth.TokenServiceConfig{
		Issuer: li, Clients: f.clients, Replay: &auth.MemoryReplayCache{Now: now},
		TokenURL: testTokenURL, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var jtiCounter atomic.Int64

func assertionClaims(client string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": client, "sub": client, "aud": testTokenURL,
		"exp": t0.Add(4 * time.Minute).Unix(), "iat": t0.Unix(),
		"jti": fmt.Sprintf("jti-%d", jtiCounter.Add(1)),
	}
}

func form(assertion, scope string, edit func(url.Values)) url.Values {
	v := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {auth.ClientAssertionType},
		"client_assertion":      {assertion},
		"scope":                 {scope},
	}
	if edit != nil {
		edit(v)
	}
	return v
}

func TestTokenService(t *testing.T) {
	f := newTokenFixture(t)
	rs := func(edit func(jwt.MapClaims)) string {
		c := assertionClaims("rs-client")
		if edit != nil {
			edit(c)
		}
		return signJWT(t, "RS384", rsaKey, map[string]any{"kid": "rs1"}, c)
	}
	es := func(edit func(jwt.MapClaims)) string {
		c := assertionClaims("es-client")
		if edit != nil {
			edit(c)
		}
		return signJWT(t, "ES384", ecKey384, map[string]any{"kid": "es1"}, c)
	}
	withHeader := func(alg string, key any, hdr map[string]any, client string) string {
		return signJWT(t, alg, key, hdr, assertionClaims(client))
	}
	tests := []struct {
		name      string
		form      url.Values
		wantErr   string // OAuth error code; "" = success
		wantScope string
	}{
		{name: "RS384 inline JWKS", form: form(rs(nil), "system/*.rs", nil), wantScope: "system/*.rs"},
		{name: "ES384 inline JWKS", form: form(es(nil), "system/Patient.rs", nil), wantScope: "system/Patient.rs"},
		{name: "JWKS URL", form: form(withHeader("RS384", rsaKey2, map[string]any{"kid": "url-rs"}, "url-client"), "system/Patient.read", nil), wantScope: "system/Patient.read"},
		{name: "jku equal to registered URL", form: form(withHeader("RS384", rsaKey2, map[string]any{"kid": "url-rs", "jku": f.jwksURL}, "url-client"), "system/*.read", nil), wantScope: "system/*.read"},
		{name: "intersection narrows type", form: form(rs(nil), "system/Immunization.rs", nil), wantScope: "system/Immunization.rs"},
		{name: "intersection narrows permissions", form: form(rs(nil), "system/*.cruds", nil), wantScope: "system/*.rs"},
		{name: "intersection expands wildcard to registered types", form: form(es(nil), "system/*.read", nil),
			wantScope: "system/Patient.rs system/Immunization.rs?status=completed"},
		{name: "non-system and malformed scopes dropped", form: form(rs(nil), "patient/*.rs system/Patient.r user/*.rs system/*.sr openid", nil), wantScope: "system/Patient.r"},
		{name: "client_id matching", form: form(rs(nil), "system/*.rs", func(v url.Values) { v.Set("client_id", "rs-client") }), wantScope: "system/*.rs"},

		{name: "no grant_type", form: form(rs(nil), "system/*.rs", func(v url.Values) { v.Del("grant_type") }), wantErr: "invalid_request"},
		{name: "password grant", form: form(rs(nil), "system/*.rs", func(v url.Values) { v.Set("grant_type", "password") }), wantErr: "unsupported_grant_type"},
		{name: "authorization_code grant", form: form(rs(nil), "system/*.rs", func(v url.Values) { v.Set("grant_type", "authorization_code") }), wantErr: "unsupported_grant_type"},
		{name: "repeated grant_type", form: form(rs(nil), "system/*.rs", func(v url.Values) { v.Add("grant_type", "client_credentials") }), wantErr: "invalid_request"},
		{name: "repeated assertion", form: form(rs(nil), "system/*.rs", func(v url.Values) { v.Add("client_assertion", "x") }), wantErr: "invalid_request"},
		{name: "no scope", form: form(rs(nil), "", nil), wantErr: "invalid_request"},
		{name: "no assertion", form: form("", "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "wrong assertion type", form: form(rs(nil), "system/*.rs", func(v url.Values) {
			v.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
		}), wantErr: "invalid_client"},
		{name: "client_id mismatch", form: form(rs(nil), "system/*.rs", func(v url.Values) { v.Set("client_id", "es-client") }), wantErr: "invalid_client"},
		{name: "unknown client", form: form(signJWT(t, "RS384", rsaKey, map[string]any{"kid": "rs1"}, assertionClaims("nobody")), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "disabled client", form: form(signJWT(t, "RS384", rsaKey, map[string]any{"kid": "rs1"}, assertionClaims("off-client")), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "iss differs from sub", form: form(rs(func(c jwt.MapClaims) { c["sub"] = "es-client" }), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "wrong aud", form: form(rs(func(c jwt.MapClaims) { c["aud"] = testRoot + "/fhir" }), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "expired", form: form(rs(func(c jwt.MapClaims) { c["exp"] = t0.Add(-time.Minute).Unix() }), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "exp more than 5 minutes ahead", form: form(rs(func(c jwt.MapClaims) { c["exp"] = t0.Add(6 * time.Minute).Unix() }), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "no exp", form: form(rs(func(c jwt.MapClaims) { delete(c, "exp") }), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "future nbf", form: form(rs(func(c jwt.MapClaims) { c["nbf"] = t0.Add(3 * time.Minute).Unix() }), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "no jti", form: form(rs(func(c jwt.MapClaims) { delete(c, "jti") }), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "RS256 not accepted", form: form(withHeader("RS256", rsaKey, map[string]any{"kid": "rs1"}, "rs-client"), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "alg none", form: form(unsignedJWT(t, map[string]any{"kid": "rs1"}, assertionClaims("rs-client")), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "HS384 with public key", form: form(withHeader("HS384", publicKeyPEM(t, rsaKey.Public()), map[string]any{"kid": "rs1"}, "rs-client"), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "no kid", form: form(withHeader("RS384", rsaKey, nil, "rs-client"), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "unknown kid", form: form(withHeader("RS384", rsaKey, map[string]any{"kid": "rs9"}, "rs-client"), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "other key same kid", form: form(withHeader("RS384", rsaKey2, map[string]any{"kid": "rs1"}, "rs-client"), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "ES384 header on RSA key", form: form(withHeader("ES384", ecKey384, map[string]any{"kid": "rs1"}, "rs-client"), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "jku not registered", form: form(withHeader("RS384", rsaKey, map[string]any{"kid": "rs1", "jku": "https://evil.example/jwks"}, "rs-client"), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "jku other than registered", form: form(withHeader("RS384", rsaKey2, map[string]any{"kid": "url-rs", "jku": f.jwksURL + "?x"}, "url-client"), "system/*.rs", nil), wantErr: "invalid_client"},
		{name: "no registered scope", form: form(rs(nil), "system/*.cud", nil), wantErr: "invalid_scope"},
		{name: "only patient scopes", form: form(rs(nil), "patient/*.rs launch/patient", nil), wantErr: "invalid_scope"},
		{name: "injected scope only", form: form(rs(nil), `system/*.rs"--`, nil), wantErr: "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := f.svc.Token(context.Background(), tt.form)
			if tt.wantErr != "" {
				var oe *auth.OAuthError
				if !errors.As(err, &oe) {
					t.Fatalf("err = %v, want OAuthError %s", err, tt.wantErr)
				}
				if oe.Code != tt.wantErr {
					t.Fatalf("code %s, want %s (%v)", oe.Code, tt.wantErr, err)
				}
				wantStatus := 400
				if oe.Code == "invalid_client" {
					wantStatus = 401
				}
				if oe.HTTPStatus() != wantStatus || oe.Body()["error"] != oe.Code {
					t.Errorf("status %d body %v", oe.HTTPStatus(), oe.Body())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Scope != tt.wantScope || resp.TokenType != "bearer" || resp.ExpiresIn != 300 {
				t.Errorf("response %+v, want scope %q", resp, tt.wantScope)
			}
			g, err := f.issuer.Verify(context.Background(), resp.AccessToken)
			if err != nil {
				t.Fatalf("issued token refused: %v", err)
			}
			if g.Scopes.String() != tt.wantScope || g.Subject != g.ClientID || g.ClientID == "" {
				t.Errorf("grant %+v", g)
			}
			if !g.Expiry.Equal(t0.Add(5 * time.Minute)) {
				t.Errorf("expiry %v", g.Expiry)
			}
		})
	}
}

func TestTokenServiceReplay(t *testing.T) {
	f := newTokenFixture(t)
	c := assertionClaims("rs-client")
	a := signJWT(t, "RS384", rsaKey, map[string]any{"kid": "rs1"}, c)
	if _, err := f.svc.Token(context.Background(), form(a, "system/*.rs", nil)); err != nil {
		t.Fatal(err)
	}
	// The same assertion, and a new assertion reusing its jti, are refused.
	b := signJWT(t, "RS384", rsaKey, map[string]any{"kid": "rs1"}, c)
	for _, assertion := range []string{a, b} {
		_, err := f.svc.Token(context.Background(), form(assertion, "system/*.rs", nil))
		var oe *auth.OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_client" || !strings.Contains(oe.Description, "jti") {
			t.Fatalf("replay: %v", err)
		}
	}
	// The jti belongs to its client: another client may use the same value.
	ec := assertionClaims("es-client")
	ec["jti"] = c["jti"]
	if _, err := f.svc.Token(context.Background(), form(signJWT(t, "ES384", ecKey384, map[string]any{"kid": "es1"}, ec), "system/Patient.rs", nil)); err != nil {
		t.Fatal(err)
	}
	// A forged assertion does not burn a jti.
	fc := assertionClaims("rs-client")
	forged := signJWT(t, "RS384", rsaKey2, map[string]any{"kid": "rs1"}, fc)
	if _, err := f.svc.Token(context.Background(), form(forged, "system/*.rs", nil)); err == nil {
		t.Fatal("forged assertion accepted")
	}
	if _, err := f.svc.Token(context.Background(), form(signJWT(t, "RS384", rsaKey, map[string]any{"kid": "rs1"}, fc), "system/*.rs", nil)); err != nil {
		t.Fatalf("genuine assertion after a forged one with its jti: %v", err)
	}
}

func TestTokenServiceJWKSURLCaching(t *testing.T) {
	f := newTokenFixture(t)
	get := func(kid string) error {
		a := signJWT(t, "RS384", rsaKey2, map[string]any{"kid": kid}, assertionClaims("url-client"))
		_, err := f.svc.Token(context.Background(), form(a, "system/*.read", nil))
		return err
	}
	for range 3 {
		if err := get("url-rs"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for three tokens, want 1", n)
	}
	// Unknown kids refetch at most once per 30 s.
	for range 3 {
		if err := get("rotated"); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	if n := f.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after unknown kids within 30 s, want 1", n)
	}
	*f.clock = t0.Add(31 * time.Second)
	_ = get("rotated")
	if n := f.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after 31 s, want 2", n)
	}
	// After the cache TTL, keys are fetched again.
	*f.clock = t0.Add(6 * time.Minute)
	a := assertionClaims("url-client")
	a["exp"] = f.clock.Add(4 * time.Minute).Unix()
	if _, err := f.svc.Token(context.Background(), form(signJWT(t, "RS384", rsaKey2, map[string]any{"kid": "url-rs"}, a), "system/*.read", nil)); err != nil {
		t.Fatal(err)
	}
	if n := f.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches after TTL, want 3", n)
	}
}

func TestValidateClient(t *testing.T) {
	testKeys(t)
	good := jwksJSON(t, map[string]crypto.Signer{"k": rsaKey})
	tests := []struct {
		name string
		c    auth.Client
		ok   bool
	}{
		{"inline RSA", auth.Client{ID: "a", JWKS: good, Scopes: []string{"system/*.rs"}}, true},
		{"inline P-384", auth.Client{ID: "a", JWKS: jwksJSON(t, map[string]crypto.Signer{"k": ecKey384}), Scopes: []string{"system/*.rs"}}, true},
		{"https URL", auth.Client{ID: "a", JWKSURL: "https://client.example/jwks.json", Scopes: []string{"system/Patient.read"}}, true},
		{"loopback http URL", auth.Client{ID: "a", JWKSURL: "http://127.0.0.1:9/jwks", Scopes: []string{"system/*.rs"}}, true},
		{"remote http URL", auth.Client{ID: "a", JWKSURL: "http://client.example/jwks.json", Scopes: []string{"system/*.rs"}}, false},
		{"both key sources", auth.Client{ID: "a", JWKS: good, JWKSURL: "https://client.example/jwks.json", Scopes: []string{"system/*.rs"}}, false},
		{"no key source", auth.Client{ID: "a", Scopes: []string{"system/*.rs"}}, false},
		{"P-256 key", auth.Client{ID: "a", JWKS: jwksJSON(t, map[string]crypto.Signer{"k": ecKey256}), Scopes: []string{"system/*.rs"}}, false},
		{"private key", auth.Client{ID: "a", JWKS: privateJWKS(t), Scopes: []string{"system/*.rs"}}, false},
		{"no kid", auth.Client{ID: "a", JWKS: jwksJSON(t, map[string]crypto.Signer{"": rsaKey}), Scopes: []string{"system/*.rs"}}, false},
		{"patient scope", auth.Client{ID: "a", JWKS: good, Scopes: []string{"patient/*.rs"}}, false},
		{"malformed scope", auth.Client{ID: "a", JWKS: good, Scopes: []string{"system/*.sr"}}, false},
		{"no scope", auth.Client{ID: "a", JWKS: good}, false},
		{"bad id", auth.Client{ID: "a b", JWKS: good, Scopes: []string{"system/*.rs"}}, false},
		{"not JSON", auth.Client{ID: "a", JWKS: []byte("{"), Scopes: []string{"system/*.rs"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth.ValidateClient(&tt.c)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateClient = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func privateJWKS(t *testing.T) []byte {
	t.Helper()
	return []byte(`{"keys":[` + string(mustJSON(t, jwkOf(rsaKey, "k"))) + `]}`)
}

func TestNewTokenServiceNeedsConfig(t *testing.T) {
	if _, err := auth.NewTokenService(auth.TokenServiceConfig{}); err == nil {
		t.Fatal("empty config accepted")
	}
}

// TestTokenServiceJWKSURLNoRedirect: only the registered URL is fetched; a
// redirect elsewhere is not followed.
func TestTokenServiceJWKSURLNoRedirect(t *testing.T) {
	testKeys(t)
	var elsewhere atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write(jwksJSON(t, map[string]crypto.Signer{"k": rsaKey}))
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirector.Close()
	clients := &auth.MemoryClientStore{}
	c := &auth.Client{ID: "c", JWKSURL: redirector.URL, Scopes: []string{"system/*.rs"}}
	if err := auth.ValidateClient(c); err != nil {
		t.Fatal(err)
	}
	_ = clients.PutClient(context.Background(), c)
	li := newLocalIssuer(t, t.TempDir())
	svc, err := auth.NewTokenService(auth.TokenServiceConfig{Issuer: li, Clients: clients, Replay: &auth.MemoryReplayCache{Now: fixedClock(t0)}, TokenURL: testTokenURL, Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Token(context.Background(), form(signJWT(t, "RS384", rsaKey, map[string]any{"kid": "k"}, assertionClaims("c")), "system/*.rs", nil))
	var oe *auth.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Fatalf("err = %v, want invalid_client", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("redirect followed %d times", n)
	}
}
