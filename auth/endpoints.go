package auth

import (
	"fmt"
	"net/url"
	"strings"
)

// Mode is the server's authorization mode (IMMUNIS_AUTH).
type Mode string

// The authorization modes.
const (
	ModeNone  Mode = "none"
	ModeDev   Mode = "dev"
	ModeSmart Mode = "smart"
)

// ParseMode parses IMMUNIS_AUTH; "" is ModeNone.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeNone:
		return ModeNone, nil
	case ModeDev, ModeSmart:
		return Mode(s), nil
	}
	return "", fmt.Errorf("auth: mode %q: want none, dev or smart", s)
}

// Endpoints are the absolute URLs of the server's auth routes.
type Endpoints struct {
	// Issuer is the iss of the server's own tokens: the public root URL.
	Issuer string
	// FHIRBase is the FHIR base URL: the aud of access tokens.
	FHIRBase string
	// Token is the backend-services token endpoint (POST /auth/token).
	Token string
	// Introspect is the introspection endpoint (POST /auth/introspect).
	Introspect string
	// JWKS publishes the local issuer's keys (GET /.well-known/jwks.json).
	JWKS string
	// SmartConfiguration is GET /fhir/.well-known/smart-configuration.
	SmartConfiguration string
}

// NewEndpoints lays the auth routes out under the server's public root
// URL (scheme, host, optional path prefix; e.g. "https://iis.example.org"):
// FHIR base <root>/fhir, <root>/auth/token, <root>/auth/introspect,
// <root>/.well-known/jwks.json.
func NewEndpoints(root string) (Endpoints, error) {
	u, err := url.Parse(root)
	if err != nil {
		return Endpoints{}, fmt.Errorf("auth: public URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return Endpoints{}, fmt.Errorf("auth: public URL %q: want http(s)://host[:port][/prefix]", root)
	}
	r := strings.TrimRight(u.String(), "/")
	return Endpoints{
		Issuer:             r,
		FHIRBase:           r + "/fhir",
		Token:              r + "/auth/token",
		Introspect:         r + "/auth/introspect",
		JWKS:               r + "/.well-known/jwks.json",
		SmartConfiguration: r + "/fhir/.well-known/smart-configuration",
	}, nil
}
