package auth

import (
	"errors"
	"fmt"
	"slices"
)

// SmartConfig is the .well-known/smart-configuration document (SMART App
// Launch 2.2, "Conformance"). Write it as JSON whatever the Accept header.
type SmartConfig struct {
	Issuer                            string   `json:"issuer,omitempty"`
	JWKSURI                           string   `json:"jwks_uri,omitempty"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported            []string `json:"response_types_supported,omitempty"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint,omitempty"`
	Capabilities                      []string `json:"capabilities"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
}

// DiscoveryConfig is what the SMART configuration is built from.
type DiscoveryConfig struct {
	Mode      Mode
	Endpoints Endpoints
	// External is the OpenID issuer's metadata in smart mode
	// (OIDCVerifier.Metadata).
	External *IssuerMetadata
	// ExtraCapabilities are capabilities the external issuer provides that
	// its metadata cannot tell, e.g. launch-ehr or
	// context-standalone-patient. smart mode only; unknown names fail.
	ExtraCapabilities []string
}

// knownCapabilities are the capability names SMART App Launch 2.2 defines.
var knownCapabilities = []string{
	"launch-ehr", "launch-standalone", "authorize-post",
	"client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
	"sso-openid-connect",
	"context-passthrough-banner", "context-passthrough-style",
	"context-ehr-patient", "context-ehr-encounter",
	"context-standalone-patient", "context-standalone-encounter",
	"permission-offline", "permission-online", "permission-patient", "permission-user",
	"permission-v1", "permission-v2", "smart-app-state",
}

// Capabilities the resource server itself always has: it enforces v1 and
// v2 scopes at patient and user level.
var serverCapabilities = []string{"permission-v1", "permission-v2", "permission-patient", "permission-user"}

// SmartConfiguration builds the discovery document for the mode. In dev
// mode it describes the built-in issuer: backend services (client
// credentials with private_key_jwt) at the local token endpoint, and
// tokens minted by `immunis token`; there is no authorization endpoint. In
// smart mode the issuer, authorization, token and JWKS endpoints are the
// external issuer's and capabilities follow its metadata; introspection is
// the server's own. Mode none has no document (error).
func SmartConfiguration(cfg DiscoveryConfig) (SmartConfig, error) {
	e := cfg.Endpoints
	switch cfg.Mode {
	case ModeDev:
		if len(cfg.ExtraCapabilities) > 0 {
			return SmartConfig{}, errors.New("auth: extra capabilities are for smart mode")
		}
		return SmartConfig{
			Issuer:                            e.Issuer,
			JWKSURI:                           e.JWKS,
			GrantTypesSupported:               []string{"client_credentials"},
			TokenEndpoint:                     e.Token,
			TokenEndpointAuthMethodsSupported: []string{"private_key_jwt"},
			TokenEndpointAuthSigningAlgs:      slices.Clone(clientAssertionAlgs),
			ScopesSupported:                   resourceScopesSupported(),
			IntrospectionEndpoint:             e.Introspect,
			Capabilities:                      append([]string{"client-confidential-asymmetric"}, serverCapabilities...),
			CodeChallengeMethodsSupported:     []string{"S256"},
		}, nil
	case ModeSmart:
		if cfg.External == nil {
			return SmartConfig{}, errors.New("auth: smart mode needs the external issuer's metadata")
		}
		return smartModeConfig(e, cfg.External, cfg.ExtraCapabilities)
	case ModeNone, "":
		return SmartConfig{}, errors.New("auth: no SMART configuration in mode none")
	}
	return SmartConfig{}, fmt.Errorf("auth: unknown mode %q", cfg.Mode)
}

func smartModeConfig(e Endpoints, m *IssuerMetadata, extra []string) (SmartConfig, error) {
	grants := m.GrantTypesSupported
	if len(grants) == 0 {
		grants = []string{"authorization_code", "implicit"} // RFC 8414 default
	}
	methods := m.TokenEndpointAuthMethodsSupported
	if len(methods) == 0 {
		methods = []string{"client_secret_basic"} // RFC 8414 default
	}
	sc := SmartConfig{
		Issuer:                            m.Issuer,
		JWKSURI:                           m.JWKSURI,
		TokenEndpoint:                     m.TokenEndpoint,
		TokenEndpointAuthMethodsSupported: slices.Clone(methods),
		TokenEndpointAuthSigningAlgs:      slices.Clone(m.TokenEndpointAuthSigningAlgs),
		RegistrationEndpoint:              m.RegistrationEndpoint,
		RevocationEndpoint:                m.RevocationEndpoint,
		IntrospectionEndpoint:             e.Introspect,
		CodeChallengeMethodsSupported:     []string{},
		GrantTypesSupported:               []string{},
	}
	for _, g := range []string{"authorization_code", "client_credentials"} {
		if slices.Contains(grants, g) {
			sc.GrantTypesSupported = append(sc.GrantTypesSupported, g)
		}
	}
	// S256 only, never plain; an issuer that lists nothing is taken to
	// support S256, as SMART requires of it.
	if len(m.CodeChallengeMethodsSupported) == 0 || slices.Contains(m.CodeChallengeMethodsSupported, "S256") {
		sc.CodeChallengeMethodsSupported = []string{"S256"}
	}
	caps := slices.Clone(serverCapabilities)
	hasCode := m.AuthorizationEndpoint != "" && slices.Contains(grants, "authorization_code")
	if hasCode {
		sc.AuthorizationEndpoint = m.AuthorizationEndpoint
		caps = append(caps, "launch-standalone")
		if len(m.ResponseTypesSupported) == 0 || slices.Contains(m.ResponseTypesSupported, "code") {
			sc.ResponseTypesSupported = []string{"code"}
		}
		if slices.Contains(methods, "none") {
			caps = append(caps, "client-public")
		}
		if slices.Contains(methods, "client_secret_basic") || slices.Contains(methods, "client_secret_post") {
			caps = append(caps, "client-confidential-symmetric")
		}
	}
	if slices.Contains(methods, "private_key_jwt") {
		caps = append(caps, "client-confidential-asymmetric")
	}
	openid := len(m.ScopesSupported) == 0 || slices.Contains(m.ScopesSupported, "openid")
	if hasCode && openid {
		caps = append(caps, "sso-openid-connect")
	}
	offline := slices.Contains(grants, "refresh_token") &&
		(len(m.ScopesSupported) == 0 || slices.Contains(m.ScopesSupported, "offline_access"))
	if hasCode && offline {
		caps = append(caps, "permission-offline")
	}
	for _, c := range extra {
		if !slices.Contains(knownCapabilities, c) {
			return SmartConfig{}, fmt.Errorf("auth: unknown SMART capability %q", c)
		}
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	sc.Capabilities = caps
	scopes := resourceScopesSupported()
	if hasCode {
		scopes = append(scopes, "launch/patient")
		if openid {
			scopes = append(scopes, "openid", "fhirUser")
		}
		if offline {
			scopes = append(scopes, "offline_access")
		}
	}
	sc.ScopesSupported = scopes
	return sc, nil
}

// resourceScopesSupported lists the wildcard resource scopes, v2 and v1.
func resourceScopesSupported() []string {
	var out []string
	for _, l := range []Level{LevelPatient, LevelUser, LevelSystem} {
		for _, p := range []string{"rs", "cruds", "read", "write", "*"} {
			out = append(out, string(l)+"/*."+p)
		}
	}
	return out
}

// SMART identifiers used in the CapabilityStatement.
const (
	securityServiceSystem = "http://terminology.hl7.org/CodeSystem/restful-security-service"
	oauthURIsExtension    = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
)

// SecurityFragment is the CapabilityStatement rest.security element for a
// SMART configuration: CORS, the SMART-on-FHIR security service and the
// oauth-uris extension (token, authorize, introspect, revoke, register).
func SecurityFragment(sc SmartConfig) map[string]any {
	var uris []any
	for _, u := range []struct{ name, uri string }{
		{"token", sc.TokenEndpoint},
		{"authorize", sc.AuthorizationEndpoint},
		{"introspect", sc.IntrospectionEndpoint},
		{"revoke", sc.RevocationEndpoint},
		{"register", sc.RegistrationEndpoint},
	} {
		if u.uri != "" {
			uris = append(uris, map[string]any{"url": u.name, "valueUri": u.uri})
		}
	}
	return map[string]any{
		"cors": true,
		"service": []any{map[string]any{
			"coding": []any{map[string]any{
				"system":  securityServiceSystem,
				"code":    "SMART-on-FHIR",
				"display": "SMART-on-FHIR",
			}},
			"text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
		}},
		"extension": []any{map[string]any{
			"url":       oauthURIsExtension,
			"extension": uris,
		}},
		"description": "SMART App Launch 2.x: bearer tokens with SMART v1/v2 scopes; discovery at .well-known/smart-configuration",
	}
}
