package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/immunis/immunis/auth/authtest"
)

// SMART-on-FHIR authorization over HTTP, on the real binary: dev mode
// (the server's own issuer) and smart mode (ory/hydra as the external
// OpenID provider), each on every store, one server per store and mode
// shared by every row.

func TestAuthDev(t *testing.T) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s, dir := startAuth(t, kind, []string{"--auth", "dev"})
			dev := newDevSigner(t, s, dir)
			e := &authEnv{s: s, tokens: &cachedTokens{src: devMatrixTokens{dev}}, admin: dev.Token(t, "system/*.*", "")}
			seedAuthData(t, s, e.admin)
			runMatrix(t, e, readRows())
			runMatrix(t, e, injectionRows())
			t.Run("refused tokens", func(t *testing.T) { runTokenAttacks(t, s, devAttacks(t, s, dev)) })
			t.Run("discovery", func(t *testing.T) { checkDiscovery(t, s, s.Root+"/auth/token") })
			t.Run("backend services", func(t *testing.T) { checkBackendServices(t, s, kind, dir) })
			t.Run("immunis token", func(t *testing.T) { checkTokenCommand(t, s, dir) })
			runMatrix(t, e, writeRows())
			checkAudit(t, s, "immunis-dev")
		})
	}
}

func TestAuthSmart(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("starts hydra")
	}
	h := authtest.StartHydra(t) // skips outside CI when hydra cannot be had
	// One audience for both stores' servers, so one set of hydra tokens
	// serves both: the ids of the fixed data are the same too.
	const aud = "https://fhir.immunis.test/fhir"
	ht := &hydraTokens{h: h, aud: aud}
	tokens := &cachedTokens{src: ht}
	admin := ht.Token(t, "system/*.*", "")
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s, dir := startAuth(t, kind, []string{"--auth", "smart", "--oidc-issuer", h.Issuer, "--oidc-audience", aud})
			e := &authEnv{s: s, tokens: tokens, admin: admin, smart: true}
			seedAuthData(t, s, admin)
			runMatrix(t, e, readRows())
			t.Run("refused tokens", func(t *testing.T) { runTokenAttacks(t, s, smartAttacks(t, s, dir, ht)) })
			t.Run("discovery", func(t *testing.T) { checkDiscovery(t, s, h.TokenURL) })
			t.Run("backend services", func(t *testing.T) { checkBackendServices(t, s, kind, dir) })
			t.Run("immunis token is refused", func(t *testing.T) {
				_, stderr, code := cli(t, []string{"token", "--auth", "smart", "--data-dir", dir, "--base-url", s.Base, "--scope", "system/*.*"})
				if code != 1 || !strings.Contains(stderr, "dev only") {
					t.Errorf("immunis token in smart mode: exit %d, %s", code, stderr)
				}
			})
			runMatrix(t, e, writeRows())
			checkAudit(t, s, tokenClaims(t, tokens.Token(t, "patient/*.rs", patA))["client_id"].(string))
		})
	}
}

// devMatrixTokens signs the matrix and injection tokens with the dev key.
type devMatrixTokens struct{ d *devSigner }

func (m devMatrixTokens) Token(t *testing.T, scope, patient string) string {
	return m.d.Token(t, scope, patient)
}

// runMatrix runs rows in order, each as a subtest.
func runMatrix(t *testing.T, e *authEnv, rows []accessRow) {
	t.Helper()
	for _, row := range rows {
		if _, ok := matrixTokens[row.token]; !ok {
			if _, ok := injectionTokens[row.token]; ok && e.smart {
				continue
			}
		}
		t.Run(row.name, func(t *testing.T) { row.run(t, e) })
	}
}

func init() {
	// Injection tokens are matrix tokens too (dev mode signs anything).
	for k, v := range injectionTokens {
		matrixTokens[k] = v
	}
}

// tokenAttack is a request with a token the server must refuse with 401.
type tokenAttack struct {
	name   string
	header string // the whole Authorization header; "" sends none
}

func runTokenAttacks(t *testing.T, s *Server, attacks []tokenAttack) {
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			var h []string
			if a.header != "" {
				h = []string{"Authorization", a.header}
			}
			r := s.Do(t, "GET", "Patient/pat-a", nil, h...)
			if r.Status != 401 {
				t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
			}
			ch := r.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, "Bearer") {
				t.Errorf("WWW-Authenticate %q", ch)
			}
			if len(a.header) > len("Bearer ") && strings.HasPrefix(a.header, "Bearer ") && !strings.Contains(ch, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q lacks invalid_token", ch)
			}
			if r.JSON(t)["resourceType"] != "OperationOutcome" {
				t.Errorf("401 without an OperationOutcome: %s", r.Body)
			}
		})
	}
}

// commonAttacks are refused whatever the mode.
func commonAttacks(t *testing.T, valid string) []tokenAttack {
	parts := strings.Split(valid, ".")
	claims := tokenClaims(t, valid)
	// A valid token's claims widened to system/*.* under its own
	// signature.
	widened := jwt.MapClaims{}
	for k, v := range claims {
		widened[k] = v
	}
	widened["scope"], widened["scp"] = "system/*.*", []string{"system/*.*"}
	wb, _ := json.Marshal(widened)
	return []tokenAttack{
		{"no token", ""},
		{"empty bearer", "Bearer "},
		{"Basic scheme", "Basic ZTJlOnNlY3JldA=="},
		{"not a JWT", "Bearer abc.def"},
		{"alg none", "Bearer " + unsignedToken(t, "none", claims)},
		{"alg none, capitalized", "Bearer " + unsignedToken(t, "None", claims)},
		{"widened claims, original signature", "Bearer " + parts[0] + "." + encodeSegment(wb) + "." + parts[2]},
		{"signature stripped", "Bearer " + parts[0] + "." + parts[1] + "."},
	}
}

// devAttacks are the dev-mode token attacks: claims signed with the
// server's key but wrong, keys the server does not trust.
func devAttacks(t *testing.T, s *Server, d *devSigner) []tokenAttack {
	valid := d.Token(t, "patient/*.rs", patA)
	with := func(mod func(jwt.MapClaims)) string {
		c := d.claims("patient/*.rs", patA)
		mod(c)
		return "Bearer " + d.sign(t, c)
	}
	jwks := s.Do(t, "GET", s.Root+"/.well-known/jwks.json", nil).Expect(t, 200).Body
	pub, _ := x509.MarshalPKIXPublicKey(d.key.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger := &devSigner{key: other, kid: d.kid, iss: d.iss, aud: d.aud}
	return append(commonAttacks(t, valid),
		tokenAttack{"HS256 with the JWKS as secret", "Bearer " + hmacToken(t, d.claims("system/*.*", ""), d.kid, jwks)},
		tokenAttack{"HS256 with the public key PEM as secret", "Bearer " + hmacToken(t, d.claims("system/*.*", ""), d.kid, pubPEM)},
		tokenAttack{"wrong issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })},
		tokenAttack{"wrong audience", with(func(c jwt.MapClaims) { c["aud"] = "https://elsewhere.example/fhir" })},
		tokenAttack{"no audience", with(func(c jwt.MapClaims) { delete(c, "aud") })},
		tokenAttack{"expired", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Minute).Unix() })},
		tokenAttack{"no expiry", with(func(c jwt.MapClaims) { delete(c, "exp") })},
		tokenAttack{"not valid before an hour from now", with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() })},
		tokenAttack{"signed by another key with the same kid", "Bearer " + stranger.Token(t, "system/*.*", "")},
		tokenAttack{"client not registered", with(func(c jwt.MapClaims) { c["client_id"] = "mallory" })},
		tokenAttack{"patient claim with injected characters", with(func(c jwt.MapClaims) { c["patient"] = "pat-a' OR '1'='1" })},
		tokenAttack{"patient claim not a string", with(func(c jwt.MapClaims) { c["patient"] = []string{patA, patB} })},
		tokenAttack{"scope claim not a string", with(func(c jwt.MapClaims) { c["scope"] = 42 })},
	)
}

// smartAttacks are the smart-mode token attacks, on hydra's tokens and on
// the local issuer that still signs backend-services tokens.
func smartAttacks(t *testing.T, s *Server, dir string, ht *hydraTokens) []tokenAttack {
	valid := ht.Token(t, "patient/*.rs", patA)
	parts := strings.Split(valid, ".")
	claims := tokenClaims(t, valid)
	var header struct {
		Kid string `json:"kid"`
	}
	hb, _ := decodeSegment(parts[0])
	_ = json.Unmarshal(hb, &header)
	hydraJWKS, err := ht.h.JWKS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	other := ht.Token(t, "patient/*.rs", patB)
	oc := tokenClaims(t, other)
	retargeted := jwt.MapClaims{}
	for k, v := range claims {
		retargeted[k] = v
	}
	retargeted["patient"] = oc["patient"]
	rb, _ := json.Marshal(retargeted)
	dev := newDevSigner(t, s, dir)
	return append(commonAttacks(t, valid),
		tokenAttack{"hydra token for another audience", "Bearer " + ht.TokenFor(t, "system/*.*", "", wrongAudience)},
		tokenAttack{"HS256 with hydra's JWKS as secret", "Bearer " + hmacToken(t, claims, header.Kid, hydraJWKS)},
		tokenAttack{"patient claim swapped under the original signature", "Bearer " + parts[0] + "." + encodeSegment(rb) + "." + parts[2]},
		tokenAttack{"hydra's claims signed with the local key", "Bearer " + dev.sign(t, claims)},
		tokenAttack{"a dev token (no registered client)", "Bearer " + dev.Token(t, "system/*.*", "")},
		tokenAttack{"local token, expired", "Bearer " + dev.sign(t, func() jwt.MapClaims {
			c := dev.claims("system/*.*", "")
			c["exp"] = time.Now().Add(-time.Hour).Unix()
			return c
		}())},
	)
}

// checkDiscovery: the public SMART and conformance documents.
func checkDiscovery(t *testing.T, s *Server, tokenURL string) {
	r := s.Do(t, "GET", ".well-known/smart-configuration", nil, "Accept", "application/fhir+xml", "Origin", "https://app.example").Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("smart-configuration Content-Type %q", ct)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("smart-configuration without CORS: %v", r.Header)
	}
	var sc struct {
		TokenEndpoint  string   `json:"token_endpoint"`
		Capabilities   []string `json:"capabilities"`
		CodeChallenge  []string `json:"code_challenge_methods_supported"`
		GrantTypes     []string `json:"grant_types_supported"`
		Introspection  string   `json:"introspection_endpoint"`
		Authorization  string   `json:"authorization_endpoint"`
		ScopeSupported []string `json:"scopes_supported"`
	}
	if err := json.Unmarshal(r.Body, &sc); err != nil {
		t.Fatal(err)
	}
	if sc.TokenEndpoint != tokenURL || sc.Introspection != s.Root+"/auth/introspect" || len(sc.CodeChallenge) != 1 || sc.CodeChallenge[0] != "S256" {
		t.Errorf("smart-configuration %s", r.Body)
	}
	for _, c := range []string{"permission-v1", "permission-v2", "permission-patient", "client-confidential-asymmetric"} {
		if !strings.Contains(strings.Join(sc.Capabilities, " "), c) {
			t.Errorf("capability %s missing: %v", c, sc.Capabilities)
		}
	}
	for _, c := range []string{"launch-ehr", "context-ehr-patient"} {
		if strings.Contains(strings.Join(sc.Capabilities, " "), c) {
			t.Errorf("capability %s claimed: %v", c, sc.Capabilities)
		}
	}
	for _, u := range []string{sc.TokenEndpoint, sc.Introspection, sc.Authorization} {
		if u != "" && !strings.HasPrefix(u, "http") {
			t.Errorf("relative URL %q", u)
		}
	}

	meta := s.Do(t, "GET", "metadata", nil).Expect(t, 200).JSON(t)
	rest := meta["rest"].([]any)[0].(map[string]any)
	sec, _ := json.Marshal(rest["security"])
	for _, want := range []string{`"SMART-on-FHIR"`, "oauth-uris", `"valueUri":"` + tokenURL + `"`, `"url":"introspect"`} {
		if !strings.Contains(string(sec), want) {
			t.Errorf("rest.security lacks %s: %s", want, sec)
		}
	}
	jwks := s.Do(t, "GET", s.Root+"/.well-known/jwks.json", nil).Expect(t, 200).JSON(t)
	if keys, _ := jwks["keys"].([]any); len(keys) != 1 {
		t.Errorf("jwks %v", jwks)
	}
	pre := s.Do(t, "OPTIONS", s.Root+"/auth/token", nil, "Origin", "https://app.example", "Access-Control-Request-Method", "POST")
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("preflight of the token endpoint: %d %v", pre.Status, pre.Header)
	}
	denied := s.Do(t, "GET", "Patient", nil, "Origin", "https://app.example").Expect(t, 401)
	if denied.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(denied.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
		t.Errorf("a browser app cannot read the 401's challenge: %v", denied.Header)
	}
	s.Do(t, "GET", s.Root+"/healthz", nil).Expect(t, 200)
	s.Do(t, "GET", "OperationDefinition/ImmDSForecastOperation", nil).Expect(t, 200)
	s.Do(t, "GET", "SearchParameter?base=Immunization&code=patient", nil).Expect(t, 200)
}

// checkBackendServices: register clients with `immunis client add`, get
// tokens from POST /auth/token with RS384 and ES384 assertions, use them;
// replays and bad assertions are refused; introspection.
func checkBackendServices(t *testing.T, s *Server, kind, dir string) {
	dbArgs := []string{"--data-dir", dir}
	if kind == "postgres" {
		dbArgs = append(dbArgs, "--database-url", serverDatabaseURL(t, s))
	}
	tokenURL := s.Root + "/auth/token"
	form := []string{"Content-Type", "application/x-www-form-urlencoded"}
	postForm := func(u, body string, h ...string) *Response {
		return s.Do(t, "POST", u, body, append(form, h...)...)
	}
	reserved := newBackendClient(t, "immunis-dev", "ES384")
	if _, _, code := cli(t, append([]string{"client", "add", "--id", reserved.ID, "--jwks-file", reserved.jwksFile(t), "--scope", "system/*.rs"}, dbArgs...)); code == 0 {
		t.Error("client add took the id reserved for dev tokens")
	}
	for _, alg := range []string{"RS384", "ES384"} {
		t.Run(alg, func(t *testing.T) {
			c := newBackendClient(t, "bulk-"+strings.ToLower(alg), alg)
			out, stderr, code := cli(t, append([]string{"client", "add", "--id", c.ID, "--jwks-file", c.jwksFile(t),
				"--scope", "system/Immunization.rs system/Patient.rs"}, dbArgs...))
			if code != 0 {
				t.Fatalf("client add: %d %s %s", code, out, stderr)
			}
			a := c.assertion(t, tokenURL, nil)
			r := postForm(tokenURL, tokenForm(a, "system/Immunization.rs system/Observation.rs")).Expect(t, 200)
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("token response Cache-Control %q", r.Header.Get("Cache-Control"))
			}
			var tr struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				Scope       string `json:"scope"`
			}
			if err := json.Unmarshal(r.Body, &tr); err != nil || !strings.EqualFold(tr.TokenType, "Bearer") || tr.Scope != "system/Immunization.rs" || tr.ExpiresIn <= 0 || tr.ExpiresIn > 300 {
				t.Fatalf("token response %s", r.Body)
			}
			got := s.Do(t, "GET", "Immunization", nil, bearer(tr.AccessToken)...).Expect(t, 200)
			if n := len(bundleRefs(t, got)); n < 4 {
				t.Errorf("backend token sees %d Immunizations", n)
			}
			s.Do(t, "GET", "Patient/pat-a", nil, bearer(tr.AccessToken)...).Expect(t, 403)
			s.Do(t, "POST", "Immunization", imm("", patA, "completed", "08"), bearer(tr.AccessToken)...).Expect(t, 403)

			// The same assertion again: a replay.
			postForm(tokenURL, tokenForm(a, "system/Immunization.rs")).Expect(t, 401)
			bad := []struct {
				name string
				form string
				want int
			}{
				{"assertion for another audience", tokenForm(c.assertion(t, s.Base, nil), "system/Immunization.rs"), 401},
				{"assertion expired", tokenForm(c.assertion(t, tokenURL, func(m jwt.MapClaims) { m["exp"] = time.Now().Add(-time.Minute).Unix() }), "system/Immunization.rs"), 401},
				{"assertion living too long", tokenForm(c.assertion(t, tokenURL, func(m jwt.MapClaims) { m["exp"] = time.Now().Add(time.Hour).Unix() }), "system/Immunization.rs"), 401},
				{"assertion without jti", tokenForm(c.assertion(t, tokenURL, func(m jwt.MapClaims) { delete(m, "jti") }), "system/Immunization.rs"), 401},
				{"assertion naming another client", tokenForm(c.assertion(t, tokenURL, func(m jwt.MapClaims) { m["iss"], m["sub"] = "bulk-other", "bulk-other" }), "system/Immunization.rs"), 401},
				{"assertion with alg none", tokenForm(unsignedToken(t, "none", jwt.MapClaims{"iss": c.ID, "sub": c.ID, "aud": tokenURL, "jti": randomHex(8), "exp": time.Now().Add(time.Minute).Unix()}), "system/Immunization.rs"), 401},
				{"scope not registered", tokenForm(c.assertion(t, tokenURL, nil), "system/Practitioner.rs"), 400},
				{"patient scope", tokenForm(c.assertion(t, tokenURL, nil), "patient/*.rs"), 400},
				{"wrong grant type", strings.Replace(tokenForm(c.assertion(t, tokenURL, nil), "system/Immunization.rs"), "client_credentials", "password", 1), 400},
			}
			for _, b := range bad {
				if r := postForm(tokenURL, b.form); r.Status != b.want || r.JSON(t)["error"] == nil {
					t.Errorf("%s: %d %s, want %d and an OAuth error", b.name, r.Status, r.Body, b.want)
				}
			}

			// Introspection: the caller authenticates with its own token.
			intro := s.Root + "/auth/introspect"
			postForm(intro, url.Values{"token": {tr.AccessToken}}.Encode()).Expect(t, 401)
			ans := postForm(intro, url.Values{"token": {tr.AccessToken}}.Encode(), bearer(tr.AccessToken)...).Expect(t, 200).JSON(t)
			if ans["active"] != true || ans["client_id"] != c.ID || ans["scope"] != "system/Immunization.rs" || ans["exp"] == nil {
				t.Errorf("introspection %v", ans)
			}
			ans = postForm(intro, url.Values{"token": {"garbage"}}.Encode(), bearer(tr.AccessToken)...).Expect(t, 200).JSON(t)
			if ans["active"] != false || len(ans) != 1 {
				t.Errorf("introspection of garbage %v", ans)
			}

			// A removed client's tokens stop working at once.
			if _, stderr, code := cli(t, append([]string{"client", "remove", "--id", c.ID}, dbArgs...)); code != 0 {
				t.Fatalf("client remove: %s", stderr)
			}
			s.Do(t, "GET", "Immunization", nil, bearer(tr.AccessToken)...).Expect(t, 401)
			postForm(tokenURL, tokenForm(c.assertion(t, tokenURL, nil), "system/Immunization.rs")).Expect(t, 401)
		})
	}
}

// serverDatabaseURL is the --database-url the server was started with.
func serverDatabaseURL(t *testing.T, s *Server) string {
	for i, a := range s.cmd.Args {
		if a == "--database-url" && i+1 < len(s.cmd.Args) {
			return s.cmd.Args[i+1]
		}
	}
	t.Fatal("server has no --database-url")
	return ""
}

// checkTokenCommand: `immunis token` mints what the dev server accepts.
func checkTokenCommand(t *testing.T, s *Server, dir string) {
	out, stderr, code := cli(t, []string{"token", "--data-dir", dir, "--base-url", s.Base, "--scope", "patient/*.rs", "--patient", patA, "--ttl", "10m"})
	if code != 0 {
		t.Fatalf("immunis token: %d %s", code, stderr)
	}
	tok := strings.TrimSpace(out)
	s.Do(t, "GET", "Patient/pat-a", nil, bearer(tok)...).Expect(t, 200)
	s.Do(t, "GET", "Patient/pat-b", nil, bearer(tok)...).Expect(t, 404)
	if exp := tokenClaims(t, tok)["exp"].(float64); time.Until(time.Unix(int64(exp), 0)) > 11*time.Minute {
		t.Errorf("--ttl 10m gave exp %v", exp)
	}
	for _, args := range [][]string{
		{"--scope", "patient/*.rs"},        // patient scope without --patient
		{"--scope", "patient/*.rs\nbogus"}, // malformed scope
		{},                                 // no scope
		{"--scope", "system/*.*", "--ttl", "48h"},
	} {
		if _, _, code := cli(t, append([]string{"token", "--data-dir", dir, "--base-url", s.Base}, args...)); code == 0 {
			t.Errorf("immunis token %v succeeded", args)
		}
	}
}

// checkAudit: denials are in the log as audit records naming who asked.
func checkAudit(t *testing.T, s *Server, client string) {
	t.Helper()
	for _, line := range strings.Split(s.Logs(), "\n") {
		if strings.Contains(line, `msg="access denied"`) && strings.Contains(line, "audit=true") &&
			strings.Contains(line, "patient=pat-a") && strings.Contains(line, "client_id="+client) && strings.Contains(line, "interaction=") {
			return
		}
	}
	t.Errorf("no audit record of a denial for client %s, patient pat-a in the log:\n%s", client, tail(s.Logs()))
}

// TestAuthModesAtStart: auth none is refused off loopback, smart needs an
// issuer, and unknown modes fail.
func TestAuthModesAtStart(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"none off loopback", []string{"--auth", "none", "--addr", "0.0.0.0:0"}, "refused on a non-loopback address"},
		{"smart without issuer", []string{"--auth", "smart"}, "needs --oidc-issuer"},
		{"unknown mode", []string{"--auth", "open"}, "want none, dev or smart"},
		{"dev with a base URL outside /fhir", []string{"--auth", "dev", "--base-url", "http://127.0.0.1:1/api"}, "must end in /fhir"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0"}, c.args...)
			cmd := exec.Command(binary(t), args...)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Errorf("serve %v: %v\n%s", c.args, err, out)
			}
		})
	}
}
