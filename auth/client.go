package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Client is a SMART Backend Services client, registered with
// `immunis client add`.
type Client struct {
	// ID is the client_id: the iss and sub of its assertions.
	ID string
	// JWKS is the client's public key set as JSON, when registered inline.
	JWKS json.RawMessage
	// JWKSURL is where the client publishes its key set, when registered by
	// URL. Exactly one of JWKS and JWKSURL is set.
	JWKSURL string
	// Scopes are the system/ scopes the client may be granted.
	Scopes []string
	// Disabled clients cannot obtain tokens.
	Disabled bool
}

// ErrClientNotFound is returned by ClientStore.GetClient for an unknown id.
var ErrClientNotFound = errors.New("auth: client not found")

// ClientStore keeps backend-services clients. store implements it over SQL;
// MemoryClientStore serves tests.
type ClientStore interface {
	// GetClient returns the client, or an error wrapping ErrClientNotFound.
	GetClient(ctx context.Context, id string) (*Client, error)
	// PutClient creates or replaces a client. Callers validate it first
	// with ValidateClient.
	PutClient(ctx context.Context, c *Client) error
}

// ReplayCache remembers the jti of every client assertion until it
// expires, so that none is accepted twice. Seen must be atomic across all
// server replicas (e.g. INSERT … ON CONFLICT DO NOTHING on a primary key of
// (client_id, jti), reporting a conflict as alreadyUsed); entries may be
// deleted once exp has passed.
type ReplayCache interface {
	Seen(ctx context.Context, clientID, jti string, exp time.Time) (alreadyUsed bool, err error)
}

// Client assertion algorithms SMART Backend Services requires servers to
// accept.
var clientAssertionAlgs = []string{"RS384", "ES384"}

// ValidateClient checks a client before it is stored: a usable id, exactly
// one key source, public RSA (≥ 2048 bits) or P-384 keys each with a kid, a
// JWKS URL over https (http only on loopback), and well-formed system/
// scopes.
func ValidateClient(c *Client) error {
	if c == nil {
		return errors.New("auth: nil client")
	}
	if !validClientID(c.ID) {
		return fmt.Errorf("auth: client id %q: want 1-128 of A-Z a-z 0-9 . _ ~ : -", clip(c.ID))
	}
	switch {
	case len(c.JWKS) > 0 && c.JWKSURL != "":
		return errors.New("auth: client has both an inline JWKS and a JWKS URL")
	case len(c.JWKS) > 0:
		set, err := parseJWKS(c.JWKS)
		if err != nil {
			return fmt.Errorf("auth: client %s: %w", c.ID, err)
		}
		if len(set.Keys) == 0 {
			return fmt.Errorf("auth: client %s: JWKS has no key", c.ID)
		}
		for _, k := range set.Keys {
			if err := checkClientKey(k); err != nil {
				return fmt.Errorf("auth: client %s: %w", c.ID, err)
			}
		}
	case c.JWKSURL != "":
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			return fmt.Errorf("auth: client %s: %w", c.ID, err)
		}
	default:
		return fmt.Errorf("auth: client %s: needs a JWKS or a JWKS URL", c.ID)
	}
	if len(c.Scopes) == 0 {
		return fmt.Errorf("auth: client %s: needs at least one scope", c.ID)
	}
	for _, s := range c.Scopes {
		rs, err := ParseResourceScope(s)
		if err != nil {
			return fmt.Errorf("auth: client %s: scope %q: %w", c.ID, clip(s), err)
		}
		if rs.Level != LevelSystem {
			return fmt.Errorf("auth: client %s: scope %s is not a system/ scope", c.ID, s)
		}
	}
	return nil
}

func validClientID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !(isLetter(c) || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// parseJWKS decodes a JWK Set. Keys go-jose cannot read make it fail.
func parseJWKS(b []byte) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		return set, fmt.Errorf("decode JWKS: %w", err)
	}
	return set, nil
}

// checkClientKey accepts public RS384/ES384 keys that carry a kid.
func checkClientKey(k jose.JSONWebKey) error {
	if k.KeyID == "" {
		return errors.New("JWKS key without kid")
	}
	if !k.IsPublic() {
		return fmt.Errorf("JWKS key %s is not a public key", k.KeyID)
	}
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("JWKS key %s: use %q", k.KeyID, k.Use)
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return fmt.Errorf("JWKS key %s: RSA key shorter than 2048 bits", k.KeyID)
		}
		if k.Algorithm != "" && k.Algorithm != "RS384" {
			return fmt.Errorf("JWKS key %s: alg %s, want RS384", k.KeyID, k.Algorithm)
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P384() {
			return fmt.Errorf("JWKS key %s: EC key must be P-384", k.KeyID)
		}
		if k.Algorithm != "" && k.Algorithm != "ES384" {
			return fmt.Errorf("JWKS key %s: alg %s, want ES384", k.KeyID, k.Algorithm)
		}
	default:
		return fmt.Errorf("JWKS key %s: unsupported key type %T", k.KeyID, k.Key)
	}
	return nil
}

// checkJWKSURL accepts https URLs, and http ones on a loopback host.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKS URL: %w", err)
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("JWKS URL %q: want an absolute URL without credentials or fragment", clip(raw))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("JWKS URL %q: must be https (http only on loopback)", clip(raw))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
