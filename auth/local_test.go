package auth_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/immunis/immunis/auth"
)

const (
	testRoot     = "https://iis.example.org"
	testFHIRBase = testRoot + "/fhir"
)

func newLocalIssuer(t testing.TB, dir string) *auth.LocalIssuer {
	t.Helper()
	li, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{
		Dir: dir, Issuer: testRoot, Audience: testFHIRBase, Now: fixedClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return li
}

func TestLocalIssuerKeyPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "auth")
	a := newLocalIssuer(t, dir)
	b := newLocalIssuer(t, dir)
	if a.JWKS().Keys[0].KeyID != b.JWKS().Keys[0].KeyID {
		t.Fatal("second open generated a new key")
	}
	fi, err := os.Stat(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", fi.Mode().Perm())
	}
	tok, err := a.Mint(auth.MintOptions{Scope: "user/*.rs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(context.Background(), tok); err != nil {
		t.Fatalf("token of the first instance refused by the second: %v", err)
	}
}

func TestLocalIssuerConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	kids := make([]string, 4)
	for i := range kids {
		wg.Go(func() {
			li, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: dir, Issuer: testRoot, Audience: testFHIRBase})
			if err != nil {
				t.Error(err)
				return
			}
			kids[i] = li.JWKS().Keys[0].KeyID
		})
	}
	wg.Wait()
	for _, k := range kids[1:] {
		if k != kids[0] {
			t.Fatalf("concurrent starts disagree on the key: %v", kids)
		}
	}
}

func TestLocalIssuerRS256AndRefusesOpenKey(t *testing.T) {
	dir := t.TempDir()
	li, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: dir, Issuer: testRoot, Audience: testFHIRBase, Algorithm: "RS256", Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if alg := li.JWKS().Keys[0].Algorithm; alg != "RS256" {
		t.Fatalf("alg %s", alg)
	}
	tok, err := li.Mint(auth.MintOptions{Scope: "system/*.rs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := li.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "signing-key.pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: dir, Issuer: testRoot, Audience: testFHIRBase}); err == nil {
		t.Fatal("opened a world-readable key")
	}
	if _, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: t.TempDir(), Issuer: testRoot, Audience: testFHIRBase, Algorithm: "HS256"}); err == nil {
		t.Fatal("accepted HS256")
	}
}

func TestMint(t *testing.T) {
	li := newLocalIssuer(t, t.TempDir())
	tests := []struct {
		name    string
		opts    auth.MintOptions
		wantErr bool
	}{
		{name: "patient", opts: auth.MintOptions{Scope: "patient/*.rs launch/patient", Patient: "p1", FHIRUser: "Patient/p1", TTL: time.Hour}},
		{name: "user v1", opts: auth.MintOptions{Scope: "user/*.read openid fhirUser", FHIRUser: "Practitioner/7"}},
		{name: "patient scope without patient", opts: auth.MintOptions{Scope: "patient/*.rs"}, wantErr: true},
		{name: "malformed scope", opts: auth.MintOptions{Scope: "user/*.rs patient/Immunization.sr"}, wantErr: true},
		{name: "no resource scope", opts: auth.MintOptions{Scope: "openid"}, wantErr: true},
		{name: "bad patient id", opts: auth.MintOptions{Scope: "patient/*.rs", Patient: "p1' OR '1'='1"}, wantErr: true},
		{name: "ttl too long", opts: auth.MintOptions{Scope: "user/*.rs", TTL: 48 * time.Hour}, wantErr: true},
		{name: "negative ttl", opts: auth.MintOptions{Scope: "user/*.rs", TTL: -time.Second}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := li.Mint(tt.opts)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, err := li.Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if g.Patient != tt.opts.Patient || g.FHIRUser != tt.opts.FHIRUser || g.Issuer != testRoot || g.TokenID == "" {
				t.Errorf("grant %+v", g)
			}
			ttl := tt.opts.TTL
			if ttl == 0 {
				ttl = time.Hour
			}
			if !g.Expiry.Equal(t0.Add(ttl)) {
				t.Errorf("expiry %v, want %v", g.Expiry, t0.Add(ttl))
			}
			if got := g.Scopes.String(); got != tt.opts.Scope {
				t.Errorf("scopes %q, want %q", got, tt.opts.Scope)
			}
		})
	}
}

func TestLocalIssuerJWKSJSON(t *testing.T) {
	li := newLocalIssuer(t, t.TempDir())
	b, err := li.JWKSJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("keys: %s", b)
	}
	k := doc.Keys[0]
	if k["kty"] != "EC" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] == "" || k["d"] != nil {
		t.Errorf("jwk %v", k)
	}
}

// TestLocalVerifierAttacks is the attack table for tokens presented to the
// server's own issuer (dev mode, backend-services tokens), directly and
// through the composite verifier.
func TestLocalVerifierAttacks(t *testing.T) {
	testKeys(t)
	dir := t.TempDir()
	li := newLocalIssuer(t, dir)
	key := readLocalKey(t, dir)
	kid := li.JWKS().Keys[0].KeyID
	pubPEM := publicKeyPEM(t, key.Public())
	pubJWK, _ := json.Marshal(li.JWKS().Keys[0])

	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": testRoot, "aud": testFHIRBase, "sub": "dev", "client_id": "app",
			"iat": t0.Add(-time.Minute).Unix(), "nbf": t0.Add(-time.Minute).Unix(),
			"exp": t0.Add(time.Hour).Unix(), "jti": "j1",
			"scope": "patient/*.rs", "patient": "p1",
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	hdr := map[string]any{"kid": kid}
	real := func(edit func(jwt.MapClaims)) string { return signJWT(t, "ES256", key, hdr, claims(edit)) }
	valid := real(nil)
	parts := strings.Split(valid, ".")
	otherPayload := strings.Split(real(func(c jwt.MapClaims) { c["patient"] = "p2" }), ".")[1]

	tests := []struct {
		name  string
		token string
		want  auth.TokenReason // "" = accepted
	}{
		{"valid", valid, ""},
		{"alg none", unsignedJWT(t, hdr, claims(nil)), auth.ReasonAlgorithm},
		{"alg none without signature part", strings.TrimSuffix(unsignedJWT(t, hdr, claims(nil)), "."), auth.ReasonMalformed},
		{"HS256 signed with public key PEM", signJWT(t, "HS256", pubPEM, hdr, claims(nil)), auth.ReasonAlgorithm},
		{"HS256 signed with public JWK", signJWT(t, "HS256", pubJWK, hdr, claims(nil)), auth.ReasonAlgorithm},
		{"RS256 with attacker key", signJWT(t, "RS256", rsaKey, hdr, claims(nil)), auth.ReasonAlgorithm},
		{"ES256 with attacker key, same kid", signJWT(t, "ES256", ecKey256, hdr, claims(nil)), auth.ReasonSignature},
		{"ES256 with attacker key, own kid", signJWT(t, "ES256", ecKey256, map[string]any{"kid": "evil"}, claims(nil)), auth.ReasonSignature},
		{"payload swapped", parts[0] + "." + otherPayload + "." + parts[2], auth.ReasonSignature},
		{"signature stripped", parts[0] + "." + parts[1] + ".", auth.ReasonSignature},
		{"wrong issuer", real(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), auth.ReasonIssuer},
		{"wrong audience", real(func(c jwt.MapClaims) { c["aud"] = "https://other.example/fhir" }), auth.ReasonAudience},
		{"audience list without us", real(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }), auth.ReasonAudience},
		{"audience list with us", real(func(c jwt.MapClaims) { c["aud"] = []string{"a", testFHIRBase} }), ""},
		{"no audience", real(func(c jwt.MapClaims) { delete(c, "aud") }), auth.ReasonAudience},
		{"expired", real(func(c jwt.MapClaims) { c["exp"] = t0.Add(-time.Minute).Unix() }), auth.ReasonExpired},
		{"expired within leeway", real(func(c jwt.MapClaims) { c["exp"] = t0.Add(-10 * time.Second).Unix() }), ""},
		{"no exp", real(func(c jwt.MapClaims) { delete(c, "exp") }), auth.ReasonExpired},
		{"future nbf", real(func(c jwt.MapClaims) { c["nbf"] = t0.Add(10 * time.Minute).Unix() }), auth.ReasonNotYetValid},
		{"nbf within leeway", real(func(c jwt.MapClaims) { c["nbf"] = t0.Add(10 * time.Second).Unix() }), ""},
		{"scope not a string", real(func(c jwt.MapClaims) { c["scope"] = 42 }), auth.ReasonClaims},
		{"patient injection", real(func(c jwt.MapClaims) { c["patient"] = "p1' OR '1'='1" }), auth.ReasonClaims},
		{"patient not a string", real(func(c jwt.MapClaims) { c["patient"] = []string{"p1", "p2"} }), auth.ReasonClaims},
		{"crit header", signJWT(t, "ES256", key, map[string]any{"kid": kid, "crit": []string{"exp"}}, claims(nil)), auth.ReasonMalformed},
		{"not a JWT", "hello", auth.ReasonMalformed},
		{"JWE shape", "a.b.c.d.e", auth.ReasonMalformed},
		{"empty", "", auth.ReasonMissing},
		{"garbage header", "!!!." + parts[1] + "." + parts[2], auth.ReasonMalformed},
	}
	composite, err := auth.NewVerifiers(li)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		name string
		v    auth.Verifier
	}{{"local", li}, {"composite", composite}} {
		for _, tt := range tests {
			t.Run(v.name+"/"+tt.name, func(t *testing.T) {
				g, err := v.v.Verify(context.Background(), tt.token)
				checkVerify(t, g, err, tt.want)
			})
		}
	}
}

// checkVerify asserts a verification outcome: accepted with a grant, or a
// *TokenError with the reason and an invalid_token challenge.
func checkVerify(t *testing.T, g *auth.Grant, err error, want auth.TokenReason) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if g == nil {
			t.Fatal("nil grant")
		}
		return
	}
	if err == nil {
		t.Fatalf("accepted, want %s", want)
	}
	te, ok := auth.AsTokenError(err)
	if !ok {
		t.Fatalf("error %T %v is not a *TokenError", err, err)
	}
	if te.Reason != want {
		t.Fatalf("reason %s, want %s (%v)", te.Reason, want, err)
	}
	if want != auth.ReasonMissing && !strings.HasPrefix(te.Challenge(), `Bearer error="invalid_token"`) {
		t.Errorf("challenge %q", te.Challenge())
	}
}

// TestInjectedScopesGrantNothing: a correctly signed token whose scope
// claim carries injected strings verifies, but the injected scopes are
// reported and allow nothing.
func TestInjectedScopesGrantNothing(t *testing.T) {
	dir := t.TempDir()
	li := newLocalIssuer(t, dir)
	key := readLocalKey(t, dir)
	kid := li.JWKS().Keys[0].KeyID
	tests := []struct {
		name    string
		scope   any
		invalid int
	}{
		{"quote and OR", `patient/Immunization.rs" OR "1"="1`, 2}, // OR is a harmless unknown scope
		{"SQL comment", "patient/Immunization.rs--", 1},
		{"semicolon", "patient/Immunization.rs;DROP TABLE resources", 1},
		{"tab smuggling", "user/Patient.r\tuser/*.cruds", 1},
		{"newline smuggling", "user/Patient.r\nuser/*.cruds", 1},
		{"scp element with space", []string{"user/Patient.r user/*.cruds"}, 1},
		{"granular quote", "user/Immunization.rs?patient=p1%27%20OR%201=1", 1},
		{"unknown letters", "user/Immunization.rsx", 1},
		{"out of order", "user/Immunization.sr", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := jwt.MapClaims{"iss": testRoot, "aud": testFHIRBase, "sub": "s", "exp": t0.Add(time.Hour).Unix(), "patient": "p1"}
			if list, ok := tt.scope.([]string); ok {
				c["scp"] = list
			} else {
				c["scope"] = tt.scope
			}
			g, err := li.Verify(context.Background(), signJWT(t, "ES256", key, map[string]any{"kid": kid}, c))
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Scopes.Invalid) != tt.invalid {
				t.Errorf("invalid = %+v, want %d", g.Scopes.Invalid, tt.invalid)
			}
			for _, typ := range []string{"Patient", "Immunization"} {
				for _, p := range []auth.Permission{auth.PermCreate, auth.PermRead, auth.PermUpdate, auth.PermDelete, auth.PermSearch} {
					if a := g.Access(typ, p); a.Allowed {
						t.Errorf("%s %s allowed by %v", typ, p, a.Clauses)
					}
				}
			}
		})
	}
}

func TestVerifiersRouting(t *testing.T) {
	a := newLocalIssuer(t, t.TempDir())
	bDir := t.TempDir()
	b, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: bDir, Issuer: "https://other.example", Audience: testFHIRBase, Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewVerifiers(a, a); err == nil {
		t.Fatal("duplicate issuers accepted")
	}
	vs, err := auth.NewVerifiers(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, li := range []*auth.LocalIssuer{a, b} {
		tok, err := li.Mint(auth.MintOptions{Scope: "user/*.rs"})
		if err != nil {
			t.Fatal(err)
		}
		g, err := vs.Verify(context.Background(), tok)
		if err != nil || g.Issuer != li.Issuer() {
			t.Fatalf("issuer %s: %v %+v", li.Issuer(), err, g)
		}
	}
	// A token naming issuer a but signed with b's key: routed to a, refused.
	bKey := readLocalKey(t, bDir)
	forged := signJWT(t, "ES256", bKey, map[string]any{"kid": a.JWKS().Keys[0].KeyID},
		jwt.MapClaims{"iss": a.Issuer(), "aud": testFHIRBase, "exp": t0.Add(time.Hour).Unix(), "scope": "user/*.cruds"})
	_, err = vs.Verify(context.Background(), forged)
	checkVerify(t, nil, err, auth.ReasonSignature)
}
