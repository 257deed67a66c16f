package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ClientAssertionType is the only client authentication the token
// endpoint accepts (RFC 7523, SMART Backend Services).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// DefaultAccessTokenTTL is the lifetime of backend-services access tokens.
const DefaultAccessTokenTTL = 5 * time.Minute

// TokenServiceConfig configures the backend-services token endpoint.
type TokenServiceConfig struct {
	// Issuer signs the access tokens.
	Issuer *LocalIssuer
	// Clients and Replay are backed by the database.
	Clients ClientStore
	Replay  ReplayCache
	// TokenURL is the absolute URL of the token endpoint: the aud every
	// client assertion must carry (Endpoints.Token).
	TokenURL string
	// TTL of issued access tokens; default DefaultAccessTokenTTL.
	TTL time.Duration
	// Leeway is the clock skew tolerated on assertion exp and nbf; default
	// DefaultLeeway.
	Leeway time.Duration
	// Now is the clock; nil is the wall clock.
	Now func() time.Time
	// HTTPClient fetches clients' JWKS URLs; default: 10 s timeout, no
	// redirects.
	HTTPClient *http.Client
}

// TokenService is the SMART Backend Services token endpoint without HTTP:
// client_credentials with a private_key_jwt client assertion.
type TokenService struct {
	cfg     TokenServiceConfig
	clients ClientStore
	replay  ReplayCache
	jwks    *jwksCache
}

// NewTokenService checks cfg and returns the service.
func NewTokenService(cfg TokenServiceConfig) (*TokenService, error) {
	if cfg.Issuer == nil || cfg.Clients == nil || cfg.Replay == nil || cfg.TokenURL == "" {
		return nil, errors.New("auth: token service needs Issuer, Clients, Replay and TokenURL")
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultAccessTokenTTL
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	return &TokenService{
		cfg:     cfg,
		clients: cfg.Clients,
		replay:  cfg.Replay,
		jwks:    newJWKSCache(cfg.HTTPClient, cfg.Now),
	}, nil
}

// TokenResponse is the successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	// Ignored lists requested scopes that were not granted, and why, for
	// the server's log. It is not part of the response.
	Ignored []InvalidScope `json:"-"`
}

// Token handles a POST to the token endpoint, given its form. Client
// errors are *OAuthError; any other error is the server's own (500).
func (s *TokenService) Token(ctx context.Context, form url.Values) (TokenResponse, error) {
	params, oerr := tokenParams(form)
	if oerr != nil {
		return TokenResponse{}, oerr
	}
	client, err := s.authenticateClient(ctx, params.assertion, params.clientID)
	if err != nil {
		return TokenResponse{}, err
	}
	granted, ignored := grantSystemScopes(ParseScopes(params.scope), client.Scopes)
	if len(granted) == 0 {
		return TokenResponse{}, oauthErrf(ErrCodeInvalidScope, "none of the requested scopes is registered for this client")
	}
	scope := joinScopes(granted)
	tok, _, err := s.cfg.Issuer.sign(jwt.MapClaims{
		"sub":       client.ID,
		"client_id": client.ID,
		"scope":     scope,
	}, s.cfg.TTL)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{
		AccessToken: tok,
		TokenType:   "bearer",
		ExpiresIn:   int(s.cfg.TTL / time.Second),
		Scope:       scope,
		Ignored:     ignored,
	}, nil
}

type tokenRequest struct {
	assertion, clientID, scope string
}

// tokenParams checks the form: each parameter at most once (RFC 6749
// §3.2), grant_type client_credentials, a jwt-bearer client assertion and a
// scope.
func tokenParams(form url.Values) (tokenRequest, *OAuthError) {
	for _, name := range []string{"grant_type", "client_assertion_type", "client_assertion", "client_id", "scope"} {
		if len(form[name]) > 1 {
			return tokenRequest{}, oauthErrf(ErrCodeInvalidRequest, "parameter %s repeated", name)
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "":
		return tokenRequest{}, oauthErrf(ErrCodeInvalidRequest, "grant_type is required")
	case "client_credentials":
	default:
		return tokenRequest{}, oauthErrf(ErrCodeUnsupportedGrantType, "grant_type %q is not supported; use client_credentials", clip(gt))
	}
	if form.Get("client_assertion_type") != ClientAssertionType || form.Get("client_assertion") == "" {
		return tokenRequest{}, oauthErrf(ErrCodeInvalidClient, "client authentication requires client_assertion_type %s and a client_assertion", ClientAssertionType)
	}
	req := tokenRequest{
		assertion: form.Get("client_assertion"),
		clientID:  form.Get("client_id"),
		scope:     form.Get("scope"),
	}
	if req.scope == "" {
		return tokenRequest{}, oauthErrf(ErrCodeInvalidRequest, "scope is required")
	}
	return req, nil
}
