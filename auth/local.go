package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// LocalIssuerConfig configures the server's own token issuer.
type LocalIssuerConfig struct {
	// Dir keeps the signing key (e.g. <data-dir>/auth). A key is generated
	// on first start.
	Dir string
	// Issuer is the iss of the tokens it mints: the server's public root
	// URL (Endpoints.Issuer).
	Issuer string
	// Audience is the aud of the tokens it mints, and must be in the aud of
	// every token it accepts: the FHIR base URL.
	Audience string
	// Algorithm for a newly generated key: "ES256" (default) or "RS256".
	Algorithm string
	// Leeway is the clock skew tolerated on exp and nbf; default
	// DefaultLeeway.
	Leeway time.Duration
	// Now is the clock; nil is the wall clock.
	Now func() time.Time
}

// LocalIssuer mints and verifies the server's own access tokens: `dev` mode
// tokens (`immunis token`) and the tokens of the backend-services token
// endpoint. It publishes its public key as a JWKS.
type LocalIssuer struct {
	cfg LocalIssuerConfig
	key *signingKey
}

// OpenLocalIssuer loads the signing key from cfg.Dir, creating it when it
// does not exist yet.
func OpenLocalIssuer(cfg LocalIssuerConfig) (*LocalIssuer, error) {
	if cfg.Dir == "" || cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: local issuer needs Dir, Issuer and Audience")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	key, err := loadOrCreateKey(cfg.Dir, cfg.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("auth: local issuer: %w", err)
	}
	return &LocalIssuer{cfg: cfg, key: key}, nil
}

// Issuer implements IssuerVerifier.
func (li *LocalIssuer) Issuer() string { return li.cfg.Issuer }

// Audience is the aud of the tokens it mints.
func (li *LocalIssuer) Audience() string { return li.cfg.Audience }

// JWKS is the public key set, for GET /.well-known/jwks.json.
func (li *LocalIssuer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{li.key.publicJWK()}}
}

// JWKSJSON is JWKS encoded as JSON.
func (li *LocalIssuer) JWKSJSON() ([]byte, error) {
	b, err := json.Marshal(li.JWKS())
	if err != nil {
		return nil, fmt.Errorf("auth: encode JWKS: %w", err)
	}
	return b, nil
}

// MaxMintTTL is the longest lifetime Mint accepts.
const MaxMintTTL = 24 * time.Hour

// MintOptions describe a token for `immunis token`.
type MintOptions struct {
	// Scope is the space-separated scope string. Every scope must be well
	// formed: Mint refuses what a verifier would drop.
	Scope string
	// Patient is the patient launch context; required with patient/ scopes.
	Patient string
	// FHIRUser is the fhirUser claim, e.g. Practitioner/123.
	FHIRUser string
	// Subject is sub; default "dev".
	Subject string
	// ClientID is client_id; default "immunis-dev".
	ClientID string
	// TTL is the lifetime; default 1 h, at most MaxMintTTL.
	TTL time.Duration
}

// Mint signs a token for opts.
func (li *LocalIssuer) Mint(opts MintOptions) (string, error) {
	scopes := ParseScopes(opts.Scope)
	if len(scopes.Invalid) > 0 {
		bad := scopes.Invalid[0]
		return "", fmt.Errorf("auth: mint: invalid scope %q: %s", bad.Scope, bad.Reason)
	}
	if len(scopes.Resources) == 0 {
		return "", errors.New("auth: mint: no resource scope")
	}
	if opts.Patient != "" && !validFHIRID(opts.Patient) {
		return "", fmt.Errorf("auth: mint: patient %q is not a FHIR id", opts.Patient)
	}
	for _, s := range scopes.Resources {
		if s.Level == LevelPatient && opts.Patient == "" {
			return "", fmt.Errorf("auth: mint: scope %s needs a patient", s.Raw)
		}
	}
	ttl := opts.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	if ttl < 0 || ttl > MaxMintTTL {
		return "", fmt.Errorf("auth: mint: ttl %s outside (0, %s]", ttl, MaxMintTTL)
	}
	claims := jwt.MapClaims{
		"sub":       defaultString(opts.Subject, "dev"),
		"client_id": defaultString(opts.ClientID, "immunis-dev"),
		"scope":     scopes.String(),
	}
	if opts.Patient != "" {
		claims["patient"] = opts.Patient
	}
	if opts.FHIRUser != "" {
		claims["fhirUser"] = opts.FHIRUser
	}
	tok, _, err := li.sign(claims, ttl)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return tok, nil
}

// sign adds iss, aud, iat, nbf, exp and jti to claims and signs them. It
// returns the token and its expiry.
func (li *LocalIssuer) sign(claims jwt.MapClaims, ttl time.Duration) (string, time.Time, error) {
	t := now(li.cfg.Now).Truncate(time.Second)
	exp := t.Add(ttl)
	jti, err := randomID()
	if err != nil {
		return "", time.Time{}, err
	}
	claims["iss"] = li.cfg.Issuer
	claims["aud"] = li.cfg.Audience
	claims["iat"] = t.Unix()
	claims["nbf"] = t.Unix()
	claims["exp"] = exp.Unix()
	claims["jti"] = jti
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(li.key.alg), claims)
	tok.Header["kid"] = li.key.kid
	tok.Header["typ"] = "at+jwt"
	s, err := tok.SignedString(li.key.signer)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Verify implements Verifier for tokens this issuer minted.
func (li *LocalIssuer) Verify(_ context.Context, raw string) (*Grant, error) {
	h, unverified, terr := peekJWT(raw)
	if terr != nil {
		return nil, terr
	}
	if terr := checkAlg(h.Alg, []string{li.key.alg}); terr != nil {
		return nil, terr
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{li.key.alg}),
		jwt.WithIssuer(li.cfg.Issuer),
		jwt.WithAudience(li.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(li.cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return now(li.cfg.Now) }),
		jwt.WithJSONNumber(),
	)
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != li.key.kid {
			return nil, fmt.Errorf("unknown key id %q", clip(kid))
		}
		return li.key.signer.Public(), nil
	})
	if err != nil {
		r := jwtReason(err, unverified)
		return nil, tokenErr(r, reasonText(r), err)
	}
	cs, err := normalizeClaims(claims)
	if err != nil {
		return nil, tokenErr(ReasonClaims, reasonText(ReasonClaims), err)
	}
	g, err := grantFromClaims(cs, DefaultClaimNames)
	if err != nil {
		return nil, tokenErr(ReasonClaims, reasonText(ReasonClaims), err)
	}
	return g, nil
}

// jwtReason maps golang-jwt validation errors to a TokenReason; c (the
// unverified claims) tells which required claim is missing.
func jwtReason(err error, c claimSet) TokenReason {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return ReasonSignature
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ReasonIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ReasonAudience
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case c["iss"] == nil:
			return ReasonIssuer
		case c["aud"] == nil:
			return ReasonAudience
		}
		return ReasonExpired
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return ReasonClaims
	}
	return ReasonSignature
}

// normalizeClaims re-decodes golang-jwt claims (with json.Number) into the
// plain JSON types claimSet reads.
func normalizeClaims(c jwt.MapClaims) (claimSet, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode claims: %w", err)
	}
	return decodeClaims(b)
}

// randomID returns 128 random bits, base64url.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func defaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
