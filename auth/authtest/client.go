package authtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// ClientOptions describe a hydra client for client_credentials with
// private_key_jwt.
type ClientOptions struct {
	// Alg of the client's assertions: "RS384" (default) or "ES384".
	Alg string
	// Scopes the client may request.
	Scopes []string
	// Audience values the client may request (the FHIR base URL).
	Audience []string
}

// Client is a hydra client and its private key.
type Client struct {
	ID    string
	Alg   string
	Key   crypto.Signer
	KeyID string
}

// CreateClient registers a client through hydra's admin API.
func (h *Hydra) CreateClient(tb testing.TB, opts ClientOptions) *Client {
	tb.Helper()
	c, err := h.createClient(context.Background(), opts)
	if err != nil {
		tb.Fatalf("hydra client: %v", err)
	}
	return c
}

func (h *Hydra) createClient(ctx context.Context, opts ClientOptions) (*Client, error) {
	c := &Client{Alg: opts.Alg}
	var err error
	switch opts.Alg {
	case "", "RS384":
		c.Alg = "RS384"
		c.Key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES384":
		c.Key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		return nil, fmt.Errorf("client alg %q: want RS384 or ES384", opts.Alg)
	}
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	c.KeyID = "k-" + c.Alg
	jwk := jose.JSONWebKey{Key: c.Key.Public(), KeyID: c.KeyID, Algorithm: c.Alg, Use: "sig"}
	body, err := json.Marshal(map[string]any{
		"client_name":                     "immunis-test",
		"grant_types":                     []string{"client_credentials"},
		"response_types":                  []string{"token"},
		"token_endpoint_auth_method":      "private_key_jwt",
		"token_endpoint_auth_signing_alg": c.Alg,
		"jwks":                            map[string]any{"keys": []jose.JSONWebKey{jwk}},
		"scope":                           strings.Join(opts.Scopes, " "),
		"audience":                        opts.Audience,
		"access_token_strategy":           "jwt",
	})
	if err != nil {
		return nil, fmt.Errorf("client request: %w", err)
	}
	var created struct {
		ClientID string `json:"client_id"`
	}
	if err := h.doJSON(ctx, http.MethodPost, h.AdminURL+"/admin/clients", body, http.StatusCreated, &created); err != nil {
		return nil, err
	}
	c.ID = created.ClientID
	return c, nil
}

// Token obtains an access token for client_credentials, authenticating
// with a private_key_jwt assertion. audience may be empty.
func (h *Hydra) Token(ctx context.Context, c *Client, scopes []string, audience string) (string, error) {
	assertion, err := c.Assertion(h.TokenURL, time.Now())
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {strings.Join(scopes, " ")},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	if audience != "" {
		form.Set("audience", audience)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("hydra token: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("hydra token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("hydra token: %s: %s", resp.Status, b)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("hydra token: no access_token in %s", b)
	}
	return tr.AccessToken, nil
}

// Assertion signs a client assertion for aud (a token endpoint URL), valid
// from now for five minutes.
func (c *Client) Assertion(aud string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(c.Alg), jwt.MapClaims{
		"iss": c.ID, "sub": c.ID, "aud": aud, "jti": fmt.Sprintf("%x", jti),
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	tok.Header["kid"] = c.KeyID
	s, err := tok.SignedString(c.Key)
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	return s, nil
}
