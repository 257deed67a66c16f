package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Verifier turns a raw bearer token into a Grant. Errors are *TokenError.
type Verifier interface {
	Verify(ctx context.Context, raw string) (*Grant, error)
}

// IssuerVerifier verifies the tokens of one issuer.
type IssuerVerifier interface {
	Verifier
	// Issuer is the iss value of the tokens it verifies.
	Issuer() string
}

// Verifiers routes each token to the verifier of the issuer its iss claim
// names; that verifier then checks everything, signature included. A token
// naming no known issuer is refused with ReasonIssuer.
type Verifiers struct {
	byIssuer map[string]IssuerVerifier
}

// NewVerifiers combines verifiers of distinct issuers, e.g. the LocalIssuer
// (backend-services tokens) and an OIDCVerifier in smart mode.
func NewVerifiers(vs ...IssuerVerifier) (*Verifiers, error) {
	m := make(map[string]IssuerVerifier, len(vs))
	for _, v := range vs {
		iss := v.Issuer()
		if iss == "" {
			return nil, errors.New("auth: verifier with empty issuer")
		}
		if _, dup := m[iss]; dup {
			return nil, fmt.Errorf("auth: two verifiers for issuer %q", iss)
		}
		m[iss] = v
	}
	return &Verifiers{byIssuer: m}, nil
}

// Verify implements Verifier.
func (vs *Verifiers) Verify(ctx context.Context, raw string) (*Grant, error) {
	_, claims, terr := peekJWT(raw)
	if terr != nil {
		return nil, terr
	}
	iss, _ := claims.str("iss")
	v, ok := vs.byIssuer[iss]
	if !ok {
		return nil, tokenErr(ReasonIssuer, "token from an unknown issuer", fmt.Errorf("iss %q", clip(iss)))
	}
	return v.Verify(ctx, raw)
}

// maxTokenLen bounds the size of a token we are willing to parse.
const maxTokenLen = 64 << 10

// jwtHeader is the part of a JOSE header we look at.
type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Jku  string          `json:"jku"`
	Crit json.RawMessage `json:"crit"`
}

// peekJWT decodes the header and claims of a compact JWS without verifying
// anything. Only routing and error classification may use what it returns.
func peekJWT(raw string) (jwtHeader, claimSet, *TokenError) {
	var h jwtHeader
	if raw == "" {
		return h, nil, tokenErr(ReasonMissing, "bearer token required", nil)
	}
	if len(raw) > maxTokenLen {
		return h, nil, tokenErr(ReasonMalformed, "token too large", nil)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return h, nil, tokenErr(ReasonMalformed, "token is not a signed JWT", nil)
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return h, nil, tokenErr(ReasonMalformed, "token header is not base64url", err)
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return h, nil, tokenErr(ReasonMalformed, "token header is not JSON", err)
	}
	if len(h.Crit) > 0 {
		return h, nil, tokenErr(ReasonMalformed, "critical header parameters are not supported", nil)
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return h, nil, tokenErr(ReasonMalformed, "token payload is not base64url", err)
	}
	claims, err := decodeClaims(pb)
	if err != nil {
		return h, nil, tokenErr(ReasonMalformed, "token payload is not a JSON object", err)
	}
	return h, claims, nil
}

// asymmetricAlgs are the JWS algorithms a bearer token may be signed with.
// none and the HMAC family are never accepted: a verifier holds public keys
// only, and HMAC with a public key is the classic key-confusion attack.
var asymmetricAlgs = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

func checkAlg(alg string, allowed []string) *TokenError {
	if !slices.Contains(allowed, alg) {
		return tokenErr(ReasonAlgorithm, "token signing algorithm not accepted", fmt.Errorf("alg %q", clip(alg)))
	}
	return nil
}

// classify names the first claim check a token fails, for a verifier whose
// library gave an unclassified error. It returns ReasonSignature when the
// claims look fine (the signature must be what failed).
func classify(c claimSet, issuer, audience string, now time.Time, leeway time.Duration) TokenReason {
	if iss, _ := c.str("iss"); iss != issuer {
		return ReasonIssuer
	}
	if aud, err := c.audience(); err != nil || !slices.Contains(aud, audience) {
		return ReasonAudience
	}
	if exp, err := c.time("exp"); err != nil || exp.IsZero() || !now.Before(exp.Add(leeway)) {
		return ReasonExpired
	}
	if nbf, err := c.time("nbf"); err != nil || now.Add(leeway).Before(nbf) {
		return ReasonNotYetValid
	}
	return ReasonSignature
}

// reasonText is the client-facing description of a reason.
func reasonText(r TokenReason) string {
	switch r {
	case ReasonIssuer:
		return "token issuer not accepted"
	case ReasonAudience:
		return "token audience does not include this server"
	case ReasonExpired:
		return "token expired"
	case ReasonNotYetValid:
		return "token not yet valid"
	case ReasonAlgorithm:
		return "token signing algorithm not accepted"
	case ReasonClaims:
		return "token claims invalid"
	case ReasonMalformed:
		return "malformed token"
	case ReasonMissing:
		return "bearer token required"
	}
	return "token signature invalid"
}

// DefaultLeeway is the clock skew tolerated on exp and nbf.
const DefaultLeeway = 30 * time.Second

// now returns f(), or the wall clock when f is nil. It is the one place
// auth reads the clock.
func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}
