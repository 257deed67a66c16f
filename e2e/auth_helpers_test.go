package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/immunis/immunis/internal/testdb"
)

// Helpers of the SMART tests: servers with auth on, the tokens they
// accept, and backend-services clients.

// startAuth boots the binary on a fresh store with its data directory
// (where the dev issuer keeps its key) in the test's hands.
func startAuth(t *testing.T, kind string, args []string, env ...string) (*Server, string) {
	t.Helper()
	dir := t.TempDir()
	db := []string{"--data-dir", dir}
	switch kind {
	case "sqlite":
	case "postgres":
		db = append(db, "--database-url", testdb.New(t))
	default:
		t.Fatalf("unknown store %q", kind)
	}
	return StartWith(t, append(db, args...), env...), dir
}

// tokenSource gives access tokens a server accepts: scope is a SMART scope
// string, patient the launch context ("" for none).
type tokenSource interface {
	Token(t *testing.T, scope, patient string) string
}

// devSigner signs tokens with a dev-mode server's own key, read from its
// data directory, so that tests can make any claims the server must
// refuse as well as those it must accept.
type devSigner struct {
	key *ecdsa.PrivateKey
	kid string
	iss string // the server's root URL
	aud string // the FHIR base URL
}

func newDevSigner(t *testing.T, s *Server, dataDir string) *devSigner {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "auth", "signing-key.pem"))
	if err != nil {
		t.Fatalf("dev key: %v", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatal("dev key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("dev key is %T, want ECDSA", k)
	}
	tp, err := (&jose.JSONWebKey{Key: ec.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &devSigner{key: ec, kid: base64.RawURLEncoding.EncodeToString(tp), iss: s.Root, aud: s.Base}
}

// claims are the claims of a valid dev token for scope and patient.
func (d *devSigner) claims(scope, patient string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": d.iss, "aud": d.aud, "sub": "e2e", "client_id": "immunis-dev", "scope": scope,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": randomHex(8),
	}
	if patient != "" {
		c["patient"] = patient
	}
	return c
}

// sign signs claims with the dev key.
func (d *devSigner) sign(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = d.kid
	s, err := tok.SignedString(d.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Token implements tokenSource.
func (d *devSigner) Token(t *testing.T, scope, patient string) string {
	return d.sign(t, d.claims(scope, patient))
}

// unsignedToken is header.payload. with the given alg (alg none attacks).
func unsignedToken(t *testing.T, alg string, c jwt.MapClaims) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	p, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// hmacToken signs c with HS256 and secret (the "public key as HMAC
// secret" attack).
func hmacToken(t *testing.T, c jwt.MapClaims, kid string, secret []byte) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenClaims decodes the payload of a JWT without verifying it.
func tokenClaims(t *testing.T, tok string) jwt.MapClaims {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	c := jwt.MapClaims{}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// backendClient is a SMART Backend Services client: its key pair and id.
type backendClient struct {
	ID  string
	Alg string // RS384 or ES384
	Key crypto.Signer
	KID string
}

func newBackendClient(t *testing.T, id, alg string) *backendClient {
	t.Helper()
	c := &backendClient{ID: id, Alg: alg, KID: id + "-key"}
	var err error
	switch alg {
	case "RS384":
		c.Key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES384":
		c.Key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		t.Fatalf("alg %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// jwksFile writes the client's public JWKS to a file.
func (c *backendClient) jwksFile(t *testing.T) string {
	t.Helper()
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: c.Key.Public(), KeyID: c.KID, Algorithm: c.Alg, Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), c.ID+".jwks.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// assertion signs a client assertion for the token endpoint aud.
func (c *backendClient) assertion(t *testing.T, aud string, mod func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{"iss": c.ID, "sub": c.ID, "aud": aud, "jti": randomHex(16),
		"iat": now.Unix(), "exp": now.Add(4 * time.Minute).Unix()}
	if mod != nil {
		mod(claims)
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(c.Alg), claims)
	tok.Header["kid"] = c.KID
	s, err := tok.SignedString(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokenForm is a client_credentials request with an assertion.
func tokenForm(assertion, scope string) string {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}.Encode()
}

// cli runs an immunis subcommand (not serve) and returns its output.
func cli(t *testing.T, args []string, env ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// cachedTokens remembers tokens by scope and patient, so a matrix asks its
// issuer once per distinct token.
type cachedTokens struct {
	src tokenSource
	mu  sync.Mutex
	m   map[[2]string]string
}

func (c *cachedTokens) Token(t *testing.T, scope, patient string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]string{scope, patient}
	if tok, ok := c.m[k]; ok {
		return tok
	}
	tok := c.src.Token(t, scope, patient)
	if c.m == nil {
		c.m = map[[2]string]string{}
	}
	c.m[k] = tok
	return tok
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
