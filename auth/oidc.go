package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// OIDCConfig configures the verifier of an external OpenID Connect issuer
// (`smart` mode).
type OIDCConfig struct {
	// Issuer is the issuer URL (IMMUNIS_OIDC_ISSUER). Its discovery document
	// must name exactly this issuer.
	Issuer string
	// Audience must appear in every token's aud (IMMUNIS_OIDC_AUDIENCE;
	// the caller defaults it to the FHIR base URL).
	Audience string
	// Claims names the claims a Grant is read from.
	Claims ClaimNames
	// Algorithms accepted for signatures; default: every asymmetric JWS
	// algorithm. none and HS* are refused even when listed.
	Algorithms []string
	// Leeway is the clock skew tolerated on nbf; default DefaultLeeway.
	Leeway time.Duration
	// Now is the clock; nil is the wall clock.
	Now func() time.Time
	// HTTPClient fetches the discovery document and the JWKS; default a
	// client with a 10 s timeout.
	HTTPClient *http.Client
}

// IssuerMetadata is the part of an issuer's discovery document that the
// SMART configuration repeats.
type IssuerMetadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	RegistrationEndpoint              string   `json:"registration_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
}

// OIDCVerifier verifies access tokens of an external OpenID Connect issuer:
// signature against the issuer's JWKS (cached by go-oidc and refetched when
// a token names an unknown key, which follows key rotation), iss, aud, exp
// and nbf.
type OIDCVerifier struct {
	cfg      OIDCConfig
	meta     IssuerMetadata
	verifier *oidc.IDTokenVerifier
}

// NewOIDCVerifier discovers the issuer (one HTTP request) and returns its
// verifier. It fails when the issuer cannot be reached or names another
// issuer; the caller may retry.
func NewOIDCVerifier(ctx context.Context, cfg OIDCConfig) (*OIDCVerifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("auth: OIDC issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth: OIDC audience is required")
	}
	algs, err := acceptedAlgs(cfg.Algorithms)
	if err != nil {
		return nil, err
	}
	cfg.Algorithms = algs
	cfg.Claims = cfg.Claims.withDefaults()
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, cfg.HTTPClient), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("auth: discover OIDC issuer %s: %w", cfg.Issuer, err)
	}
	var meta IssuerMetadata
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("auth: decode discovery document of %s: %w", cfg.Issuer, err)
	}
	v := &OIDCVerifier{cfg: cfg, meta: meta}
	v.verifier = provider.Verifier(&oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: algs,
		Now:                  func() time.Time { return now(cfg.Now) },
	})
	return v, nil
}

// acceptedAlgs returns the configured algorithms, default all asymmetric
// ones, and refuses anything else.
func acceptedAlgs(algs []string) ([]string, error) {
	if len(algs) == 0 {
		return slices.Clone(asymmetricAlgs), nil
	}
	for _, a := range algs {
		if !slices.Contains(asymmetricAlgs, a) {
			return nil, fmt.Errorf("auth: signing algorithm %q not allowed for access tokens", a)
		}
	}
	return slices.Clone(algs), nil
}

// Issuer implements IssuerVerifier.
func (v *OIDCVerifier) Issuer() string { return v.cfg.Issuer }

// Metadata returns the issuer's discovery metadata.
func (v *OIDCVerifier) Metadata() IssuerMetadata { return v.meta }

// Verify implements Verifier.
func (v *OIDCVerifier) Verify(ctx context.Context, raw string) (*Grant, error) {
	h, unverified, terr := peekJWT(raw)
	if terr != nil {
		return nil, terr
	}
	if terr := checkAlg(h.Alg, v.cfg.Algorithms); terr != nil {
		return nil, terr
	}
	t := now(v.cfg.Now)
	tok, err := v.verifier.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, tokenErr(ReasonExpired, reasonText(ReasonExpired), err)
		}
		r := classify(unverified, v.cfg.Issuer, v.cfg.Audience, t, 0)
		return nil, tokenErr(r, reasonText(r), err)
	}
	var claims claimSet
	if err := tok.Claims(&claims); err != nil {
		return nil, tokenErr(ReasonMalformed, reasonText(ReasonMalformed), err)
	}
	nbf, err := claims.time("nbf")
	if err != nil {
		return nil, tokenErr(ReasonClaims, reasonText(ReasonClaims), err)
	}
	if t.Add(v.cfg.Leeway).Before(nbf) {
		return nil, tokenErr(ReasonNotYetValid, reasonText(ReasonNotYetValid), fmt.Errorf("nbf %s", nbf))
	}
	g, err := grantFromClaims(claims, v.cfg.Claims)
	if err != nil {
		return nil, tokenErr(ReasonClaims, reasonText(ReasonClaims), err)
	}
	return g, nil
}
