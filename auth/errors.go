package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// TokenReason says why a bearer token was refused. Every reason means the
// same to a client (401, invalid_token); reasons exist for logs and tests.
type TokenReason string

// Why a token was refused.
const (
	ReasonMissing     TokenReason = "missing"       // no bearer token
	ReasonMalformed   TokenReason = "malformed"     // not a compact JWS
	ReasonAlgorithm   TokenReason = "algorithm"     // alg not accepted (none, HS256, …)
	ReasonSignature   TokenReason = "signature"     // signature does not verify, or unknown key
	ReasonIssuer      TokenReason = "issuer"        // iss not an accepted issuer
	ReasonAudience    TokenReason = "audience"      // aud does not name this server
	ReasonExpired     TokenReason = "expired"       // exp in the past, or missing
	ReasonNotYetValid TokenReason = "not-yet-valid" // nbf in the future
	ReasonClaims      TokenReason = "claims"        // a claim has the wrong type or form
)

// TokenError is a refused bearer token. The server answers 401 with
// WWW-Authenticate: Challenge().
type TokenError struct {
	Reason TokenReason
	// Description is safe to show the client.
	Description string
	// Err is the underlying cause, for logs only.
	Err error
}

func (e *TokenError) Error() string {
	msg := "invalid token (" + string(e.Reason) + "): " + e.Description
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *TokenError) Unwrap() error { return e.Err }

// Challenge is the WWW-Authenticate header value for this error
// (RFC 6750 §3). A missing token gets a bare challenge, with no error code.
func (e *TokenError) Challenge() string {
	if e.Reason == ReasonMissing {
		return "Bearer"
	}
	return `Bearer error="invalid_token", error_description="` + quoteSafe(e.Description) + `"`
}

// InsufficientScopeChallenge is the WWW-Authenticate value the server may
// send with a 403 for a valid token whose scopes do not allow the request.
func InsufficientScopeChallenge(scope string) string {
	return `Bearer error="insufficient_scope", scope="` + quoteSafe(scope) + `"`
}

func tokenErr(reason TokenReason, desc string, err error) *TokenError {
	return &TokenError{Reason: reason, Description: desc, Err: err}
}

// AsTokenError returns err as a *TokenError when it is one.
func AsTokenError(err error) (*TokenError, bool) {
	var te *TokenError
	ok := errors.As(err, &te)
	return te, ok
}

// BearerToken extracts the token from an Authorization header value
// ("Bearer <token>", scheme case-insensitive). It returns a *TokenError with
// ReasonMissing when there is none.
func BearerToken(header string) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", tokenErr(ReasonMissing, "bearer token required", nil)
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", tokenErr(ReasonMalformed, "malformed bearer token", nil)
	}
	return token, nil
}

// OAuth error codes of RFC 6749 §5.2.
const (
	ErrCodeInvalidRequest       = "invalid_request"
	ErrCodeInvalidClient        = "invalid_client"
	ErrCodeInvalidGrant         = "invalid_grant"
	ErrCodeUnauthorizedClient   = "unauthorized_client"
	ErrCodeUnsupportedGrantType = "unsupported_grant_type"
	ErrCodeInvalidScope         = "invalid_scope"
)

// OAuthError is a token endpoint error (RFC 6749 §5.2). The server writes
// Body() as JSON with HTTPStatus().
type OAuthError struct {
	Code string
	// Description is safe to show the client.
	Description string
	// Err is the underlying cause, for logs only.
	Err error
}

func (e *OAuthError) Error() string {
	msg := e.Code + ": " + e.Description
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *OAuthError) Unwrap() error { return e.Err }

// HTTPStatus is 401 for invalid_client and 400 otherwise (RFC 6749 §5.2).
func (e *OAuthError) HTTPStatus() int {
	if e.Code == ErrCodeInvalidClient {
		return http.StatusUnauthorized
	}
	return http.StatusBadRequest
}

// Body is the JSON error response.
func (e *OAuthError) Body() map[string]string {
	return map[string]string{"error": e.Code, "error_description": e.Description}
}

func oauthErr(code, desc string, err error) *OAuthError {
	return &OAuthError{Code: code, Description: desc, Err: err}
}

func oauthErrf(code, format string, args ...any) *OAuthError {
	return &OAuthError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// quoteSafe keeps a string safe inside a quoted header parameter.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, s)
}
