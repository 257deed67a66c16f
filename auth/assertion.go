package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// maxAssertionLifetime is how far in the future a client assertion's exp
// may lie (SMART Backend Services: no more than five minutes).
const maxAssertionLifetime = 5 * time.Minute

// authenticateClient verifies a SMART Backend Services client assertion
// and returns the client it authenticates. Failures are *OAuthError
// (invalid_client); other errors are the server's own (store, network).
func (s *TokenService) authenticateClient(ctx context.Context, assertion, formClientID string) (*Client, error) {
	h, unverified, terr := peekJWT(assertion)
	if terr != nil {
		return nil, oauthErr(ErrCodeInvalidClient, "client assertion is not a signed JWT", terr)
	}
	if !slices.Contains(clientAssertionAlgs, h.Alg) {
		return nil, oauthErrf(ErrCodeInvalidClient, "client assertion alg %q not accepted (RS384, ES384)", clip(h.Alg))
	}
	if h.Kid == "" {
		return nil, oauthErrf(ErrCodeInvalidClient, "client assertion header has no kid")
	}
	iss, _ := unverified.str("iss")
	sub, _ := unverified.str("sub")
	if iss == "" || iss != sub {
		return nil, oauthErrf(ErrCodeInvalidClient, "client assertion iss and sub must both be the client_id")
	}
	if formClientID != "" && formClientID != iss {
		return nil, oauthErrf(ErrCodeInvalidClient, "client_id does not match the client assertion")
	}
	client, err := s.clients.GetClient(ctx, iss)
	if errors.Is(err, ErrClientNotFound) {
		return nil, oauthErr(ErrCodeInvalidClient, "unknown client", err)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: look up client: %w", err)
	}
	if client.Disabled {
		return nil, oauthErrf(ErrCodeInvalidClient, "client is disabled")
	}
	if h.Jku != "" && h.Jku != client.JWKSURL {
		return nil, oauthErrf(ErrCodeInvalidClient, "client assertion jku is not the registered JWKS URL")
	}
	key, err := s.clientKey(ctx, client, h.Kid)
	if err != nil {
		return nil, oauthErr(ErrCodeInvalidClient, "no registered key matches the client assertion kid", err)
	}
	if err := keyFitsAlg(key, h.Alg); err != nil {
		return nil, oauthErr(ErrCodeInvalidClient, "registered key does not fit the client assertion alg", err)
	}
	t := now(s.cfg.Now)
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{h.Alg}),
		jwt.WithIssuer(client.ID),
		jwt.WithSubject(client.ID),
		jwt.WithAudience(s.cfg.TokenURL),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(s.cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return t }),
	)
	if _, err := parser.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return key.Key, nil }); err != nil {
		return nil, oauthErr(ErrCodeInvalidClient, "client assertion rejected: "+assertionProblem(err), err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, oauthErr(ErrCodeInvalidClient, "client assertion has no exp", err)
	}
	if exp.Sub(t) > maxAssertionLifetime+s.cfg.Leeway {
		return nil, oauthErrf(ErrCodeInvalidClient, "client assertion exp is more than 5 minutes ahead")
	}
	jti, _ := claims["jti"].(string)
	if jti == "" || len(jti) > 256 {
		return nil, oauthErrf(ErrCodeInvalidClient, "client assertion needs a jti (at most 256 characters)")
	}
	used, err := s.replay.Seen(ctx, client.ID, jti, exp.Add(s.cfg.Leeway))
	if err != nil {
		return nil, fmt.Errorf("auth: record assertion jti: %w", err)
	}
	if used {
		return nil, oauthErrf(ErrCodeInvalidClient, "client assertion jti already used")
	}
	return client, nil
}

// clientKey finds the key kid among the client's registered keys: its
// inline JWKS, or its JWKS URL (fetched and cached).
func (s *TokenService) clientKey(ctx context.Context, c *Client, kid string) (jose.JSONWebKey, error) {
	if len(c.JWKS) > 0 {
		set, err := parseJWKS(c.JWKS)
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("registered JWKS: %w", err)
		}
		if k, ok := findKey(set, kid); ok {
			return k, nil
		}
		return jose.JSONWebKey{}, fmt.Errorf("%w: kid %q", errNoKey, clip(kid))
	}
	if c.JWKSURL == "" {
		return jose.JSONWebKey{}, errors.New("client has no keys")
	}
	return s.jwks.key(ctx, c.JWKSURL, kid)
}

// keyFitsAlg checks that key can verify alg: RSA for RS384, P-384 for
// ES384, and that a key restricted to one alg names this one.
func keyFitsAlg(key jose.JSONWebKey, alg string) error {
	if key.Algorithm != "" && key.Algorithm != alg {
		return fmt.Errorf("key alg %s, assertion alg %s", key.Algorithm, alg)
	}
	switch pub := key.Key.(type) {
	case *rsa.PublicKey:
		if alg != "RS384" || pub.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key (%d bits) for %s", pub.N.BitLen(), alg)
		}
	case *ecdsa.PublicKey:
		if alg != "ES384" || pub.Curve != elliptic.P384() {
			return fmt.Errorf("EC key on %s for %s", pub.Curve.Params().Name, alg)
		}
	default:
		return fmt.Errorf("key type %T", key.Key)
	}
	return nil
}

// assertionProblem names what golang-jwt found wrong, for the client.
func assertionProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature invalid"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "aud must be the token endpoint URL"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidSubject):
		return "iss and sub must be the client_id"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not yet valid"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	}
	return "invalid"
}
