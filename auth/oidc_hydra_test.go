package auth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/auth/authtest"
)

// TestOIDCVerifierWithHydra runs the smart-mode verifier against a real
// OpenID provider (ory/hydra on loopback) issuing JWT access tokens for
// client_credentials with private_key_jwt clients.
func TestOIDCVerifierWithHydra(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("starts hydra")
	}
	testKeys(t)
	h := authtest.StartHydra(t)
	ctx := context.Background()
	const aud = testFHIRBase
	scopes := []string{"system/Patient.rs", "system/Immunization.rs", "system/*.read"}
	rsClient := h.CreateClient(t, authtest.ClientOptions{Alg: "RS384", Scopes: scopes, Audience: []string{aud}})
	esClient := h.CreateClient(t, authtest.ClientOptions{Alg: "ES384", Scopes: scopes, Audience: []string{aud}})

	token := func(c *authtest.Client, scopes []string, audience string) string {
		t.Helper()
		tok, err := h.Token(ctx, c, scopes, audience)
		if err != nil {
			t.Fatalf("%v\n%s", err, h.Logs())
		}
		return tok
	}
	newVerifier := func(audience string, clock func() time.Time) *auth.OIDCVerifier {
		t.Helper()
		v, err := auth.NewOIDCVerifier(ctx, auth.OIDCConfig{Issuer: h.Issuer, Audience: audience, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wall := func() time.Time { return time.Now() } // hydra's tokens carry the real time
	v := newVerifier(aud, wall)

	rsTok := token(rsClient, []string{"system/Patient.rs", "system/Immunization.rs"}, aud)
	esTok := token(esClient, []string{"system/*.read"}, aud)
	noAudTok := token(rsClient, []string{"system/Patient.rs"}, "")

	t.Run("metadata", func(t *testing.T) {
		m := v.Metadata()
		if m.Issuer != h.Issuer || m.TokenEndpoint != h.TokenURL || m.JWKSURI == "" || m.AuthorizationEndpoint == "" {
			t.Errorf("metadata %+v", m)
		}
		sc, err := auth.SmartConfiguration(auth.DiscoveryConfig{Mode: auth.ModeSmart, Endpoints: testEndpoints(t), External: &m})
		if err != nil {
			t.Fatal(err)
		}
		if sc.TokenEndpoint != h.TokenURL || !strings.Contains(strings.Join(sc.Capabilities, " "), "client-confidential-asymmetric") {
			t.Errorf("smart configuration %+v", sc)
		}
	})

	t.Run("RS384 client token", func(t *testing.T) {
		g, err := v.Verify(ctx, rsTok)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if g.ClientID != rsClient.ID || g.Subject != rsClient.ID || g.Issuer != h.Issuer || g.TokenID == "" || g.Expiry.IsZero() {
			t.Errorf("grant %+v", g)
		}
		if got := g.Scopes.String(); got != "system/Patient.rs system/Immunization.rs" {
			t.Errorf("scopes %q", got)
		}
		if a := g.Allows(auth.InteractionSearchType, "Immunization"); !a.Unrestricted() {
			t.Errorf("search Immunization: %+v", a)
		}
		if a := g.Allows(auth.InteractionCreate, "Immunization"); a.Allowed {
			t.Errorf("create allowed: %+v", a)
		}
		if a := g.Allows(auth.InteractionRead, "Observation"); a.Allowed {
			t.Errorf("Observation allowed: %+v", a)
		}
	})

	t.Run("ES384 client token", func(t *testing.T) {
		g, err := v.Verify(ctx, esTok)
		if err != nil {
			t.Fatal(err)
		}
		if g.ClientID != esClient.ID {
			t.Errorf("client %q", g.ClientID)
		}
		if a := g.Allows(auth.InteractionRead, "Observation"); !a.Allowed {
			t.Errorf("system/*.read does not allow reading Observation: %s", a.Reason)
		}
	})

	t.Run("introspection", func(t *testing.T) {
		got := auth.Introspect(ctx, v, rsTok)
		if got["active"] != true || got["client_id"] != rsClient.ID || got["scope"] != "system/Patient.rs system/Immunization.rs" {
			t.Errorf("introspection %v", got)
		}
	})

	// The attack table against the smart-mode verifier. Each row names the
	// exact reason; every reason is a 401 invalid_token for the client.
	hydraKID, hydraPEM := hydraSigningKey(t, h, rsTok)
	parts := strings.Split(rsTok, ".")
	esParts := strings.Split(esTok, ".")
	header := func(alg string) map[string]any { return map[string]any{"kid": hydraKID, "alg": alg} }
	claims := hydraClaims(t, rsTok)
	widened := jwt.MapClaims{}
	for k, val := range claims {
		widened[k] = val
	}
	widened["scp"] = []string{"system/*.cruds"}
	injected := jwt.MapClaims{}
	for k, val := range claims {
		injected[k] = val
	}
	injected["scp"] = []string{`system/*.cruds" OR "1"="1`}
	local := newLocalIssuer(t, t.TempDir())
	localTok, err := local.Mint(auth.MintOptions{Scope: "system/*.cruds"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		v     *auth.OIDCVerifier
		token string
		want  auth.TokenReason
	}{
		{"valid", v, rsTok, ""},
		{"alg none", v, unsignedJWT(t, map[string]any{"kid": hydraKID}, claims), auth.ReasonAlgorithm},
		{"HS256 signed with hydra's public key", v, signJWT(t, "HS256", hydraPEM, header("HS256"), claims), auth.ReasonAlgorithm},
		{"RS256 by attacker with hydra's kid", v, signJWT(t, "RS256", rsaKey, header("RS256"), claims), auth.ReasonSignature},
		{"widened scope, signature reused", v, parts[0] + "." + encodeClaims(t, widened) + "." + parts[2], auth.ReasonSignature},
		{"injected scope, signature reused", v, parts[0] + "." + encodeClaims(t, injected) + "." + parts[2], auth.ReasonSignature},
		{"signature of another token", v, parts[0] + "." + parts[1] + "." + esParts[2], auth.ReasonSignature},
		{"wrong issuer (local token)", v, localTok, auth.ReasonIssuer},
		{"wrong audience (verifier for another server)", newVerifier("https://other.example/fhir", wall), rsTok, auth.ReasonAudience},
		{"no audience requested", v, noAudTok, auth.ReasonAudience},
		{"expired", newVerifier(aud, func() time.Time { return time.Now().Add(2 * time.Hour) }), rsTok, auth.ReasonExpired},
		{"future nbf", newVerifier(aud, func() time.Time { return time.Now().Add(-10 * time.Minute) }), rsTok, auth.ReasonNotYetValid},
		{"malformed", v, "not-a-token", auth.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run("attack/"+tt.name, func(t *testing.T) {
			g, err := tt.v.Verify(ctx, tt.token)
			checkVerify(t, g, err, tt.want)
		})
	}

	t.Run("composite accepts hydra and backend tokens", func(t *testing.T) {
		vs, err := auth.NewVerifiers(local, v)
		if err != nil {
			t.Fatal(err)
		}
		// local mints at t0; verify the local token with the local issuer's
		// clock through the composite.
		if g, err := vs.Verify(ctx, rsTok); err != nil || g.Issuer != h.Issuer {
			t.Errorf("hydra token: %v", err)
		}
		if g, err := vs.Verify(ctx, localTok); err != nil || g.Issuer != testRoot {
			t.Errorf("local token: %v", err)
		}
		other, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: t.TempDir(), Issuer: "https://stranger.example", Audience: aud, Now: fixedClock(t0)})
		if err != nil {
			t.Fatal(err)
		}
		strangerTok, _ := other.Mint(auth.MintOptions{Scope: "system/*.cruds"})
		_, err = vs.Verify(ctx, strangerTok)
		checkVerify(t, nil, err, auth.ReasonIssuer)
	})

	t.Run("key rotation", func(t *testing.T) {
		if err := h.RotateAccessTokenKey(ctx); err != nil {
			t.Fatal(err)
		}
		tok := token(rsClient, []string{"system/Patient.rs"}, aud)
		kid := tokenKID(t, tok)
		if kid == hydraKID {
			t.Skip("hydra kept signing with the old key")
		}
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("token signed with the rotated key %s: %v", kid, err)
		}
		if _, err := v.Verify(ctx, rsTok); err != nil {
			t.Fatalf("token signed with the old key: %v", err)
		}
	})
}

// hydraSigningKey returns the kid of tok and the PEM of hydra's public key
// with that kid.
func hydraSigningKey(t *testing.T, h *authtest.Hydra, tok string) (string, []byte) {
	t.Helper()
	kid := tokenKID(t, tok)
	raw, err := h.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		t.Fatalf("kid %s not in hydra's JWKS %s", kid, raw)
	}
	return kid, publicKeyPEM(t, keys[0].Key)
}

func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	hb, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func hydraClaims(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	c := jwt.MapClaims{}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func encodeClaims(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString(mustJSON(t, c))
}
