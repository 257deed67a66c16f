package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/interaction"
	"github.com/immunis/immunis/server"
	"github.com/immunis/immunis/store"
)

// authSettings are the SMART settings beyond --auth, --oidc-issuer and
// --oidc-audience (config.go).
type authSettings struct {
	ScopeClaim     string
	ScopeListClaim string
	PatientClaim   string
	FHIRUserClaim  string
	ClientClaim    string
	// Capabilities are SMART capabilities the external issuer offers that
	// its metadata cannot tell (launch-ehr, context-standalone-patient, …).
	Capabilities string
}

func registerAuth(s *settings, a *authSettings) {
	d := auth.DefaultClaimNames
	s.str(&a.ScopeClaim, "oidc-scope-claim", d.Scope, "access-token claim with the space-separated scopes (auth=smart)")
	s.str(&a.ScopeListClaim, "oidc-scope-list-claim", d.ScopeList, "access-token claim with the scopes as an array, read when the scope claim is absent (auth=smart)")
	s.str(&a.PatientClaim, "oidc-patient-claim", d.Patient, "access-token claim with the patient launch context (auth=smart)")
	s.str(&a.FHIRUserClaim, "oidc-fhir-user-claim", d.FHIRUser, "access-token claim with the fhirUser (auth=smart)")
	s.str(&a.ClientClaim, "oidc-client-claim", d.ClientID, "access-token claim naming the client; azp is read when it is absent (auth=smart)")
	s.str(&a.Capabilities, "oidc-capabilities", "", "comma-separated SMART capabilities the issuer offers beyond what its metadata shows, e.g. launch-ehr,context-standalone-patient (auth=smart)")
}

// devClientID is the client of tokens `immunis token` mints (the
// auth.MintOptions default).
const devClientID = "immunis-dev"

// checkAuthMode refuses auth none off loopback: a registry of children's
// records is never open to a network.
func checkAuthMode(mode auth.Mode, addr *net.TCPAddr, log *slog.Logger) error {
	if mode != auth.ModeNone {
		return nil
	}
	if !addr.IP.IsLoopback() {
		return fmt.Errorf("auth=none is refused on a non-loopback address (%s): set --auth dev or smart", addr)
	}
	log.Warn("authorization is OFF (auth=none): every request is allowed; use only for local work")
	return nil
}

// authRoot is the server's public root URL: the FHIR base without /fhir.
// The auth routes (/auth/token, /.well-known/jwks.json) live beside the
// FHIR base, so the base must end in /fhir.
func authRoot(baseURL string) (string, error) {
	root, ok := strings.CutSuffix(strings.TrimRight(baseURL, "/"), "/fhir")
	if !ok {
		return "", fmt.Errorf("with --auth dev or smart the base URL must end in /fhir (got %q)", baseURL)
	}
	return root, nil
}

// authWiring is SMART authorization, wired: the HTTP side, the
// interaction side, and the CapabilityStatement's rest.security.
type authWiring struct {
	server   *server.Auth
	access   *interaction.AccessControl
	security fhir.Object
}

// newAuth wires auth dev or smart. The local issuer (key under
// <data-dir>/auth) signs backend-services tokens in both modes and the
// tokens `immunis token` mints in dev mode.
func newAuth(ctx context.Context, c *Config, a *authSettings, mode auth.Mode, baseURL string, db *store.DB, log *slog.Logger) (*authWiring, error) {
	root, err := authRoot(baseURL)
	if err != nil {
		return nil, err
	}
	e, err := auth.NewEndpoints(root)
	if err != nil {
		return nil, err
	}
	li, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: filepath.Join(c.DataDir, "auth"), Issuer: e.Issuer, Audience: e.FHIRBase})
	if err != nil {
		return nil, fmt.Errorf("local token issuer: %w", err)
	}
	clients := db.Clients()
	tokens, err := auth.NewTokenService(auth.TokenServiceConfig{Issuer: li, Clients: clients, Replay: db.Replay(), TokenURL: e.Token})
	if err != nil {
		return nil, fmt.Errorf("token endpoint: %w", err)
	}
	disc := auth.DiscoveryConfig{Mode: mode, Endpoints: e}
	var verifier auth.Verifier
	switch mode {
	case auth.ModeDev:
		if c.OIDCIssuer != "" {
			log.Warn("--oidc-issuer is ignored with auth=dev")
		}
		verifier = registeredClients{LocalIssuer: li, clients: clients, exempt: devClientID}
	case auth.ModeSmart:
		ov, err := connectIssuer(ctx, c, a, e.FHIRBase, log)
		if err != nil {
			return nil, err
		}
		meta := ov.Metadata()
		disc.External = &meta
		disc.ExtraCapabilities = splitList(a.Capabilities)
		// The local issuer's tokens are backend-services tokens only: a
		// token signed with the dev key for no registered client (what
		// `immunis token` mints) is refused.
		if verifier, err = auth.NewVerifiers(registeredClients{LocalIssuer: li, clients: clients}, ov); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("auth mode %q has no authorization to wire", mode)
	}
	sc, err := auth.SmartConfiguration(disc)
	if err != nil {
		return nil, err
	}
	jwks, err := li.JWKSJSON()
	if err != nil {
		return nil, err
	}
	log.Info("authorization on", "mode", mode, "issuer", sc.Issuer, "token_endpoint", e.Token, "capabilities", strings.Join(sc.Capabilities, " "))
	return &authWiring{
		server:   &server.Auth{Verifier: verifier, Tokens: tokens, Discovery: sc, JWKS: jwks},
		access:   &interaction.AccessControl{Audit: auth.SlogAudit{Logger: log}},
		security: fhir.Object(auth.SecurityFragment(sc)),
	}, nil
}

// connectIssuer discovers the external issuer, retrying for a while: the
// server and its issuer are often started together.
func connectIssuer(ctx context.Context, c *Config, a *authSettings, fhirBase string, log *slog.Logger) (*auth.OIDCVerifier, error) {
	if c.OIDCIssuer == "" {
		return nil, errors.New("auth=smart needs --oidc-issuer (IMMUNIS_OIDC_ISSUER)")
	}
	aud := c.OIDCAudience
	if aud == "" {
		aud = fhirBase
	}
	cfg := auth.OIDCConfig{
		Issuer:   c.OIDCIssuer,
		Audience: aud,
		Claims: auth.ClaimNames{Scope: a.ScopeClaim, ScopeList: a.ScopeListClaim, Patient: a.PatientClaim,
			FHIRUser: a.FHIRUserClaim, ClientID: a.ClientClaim},
		HTTPClient: newIssuerClient(),
	}
	deadline := time.Now().Add(30 * time.Second)
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 4*time.Second) {
		ov, err := auth.NewOIDCVerifier(ctx, cfg)
		if err == nil {
			return ov, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("OpenID issuer %s: %w", c.OIDCIssuer, err)
		}
		log.Warn("OpenID issuer not reachable yet; retrying", "issuer", c.OIDCIssuer, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// registeredClients accepts the local issuer's tokens only for clients
// registered now (`immunis client add`) and not disabled, so that removing
// or disabling a client cuts its tokens off at once. exempt names the one
// unregistered client allowed: dev mode's minted tokens.
type registeredClients struct {
	*auth.LocalIssuer
	clients auth.ClientStore
	exempt  string
}

// Verify implements auth.Verifier.
func (r registeredClients) Verify(ctx context.Context, raw string) (*auth.Grant, error) {
	g, err := r.LocalIssuer.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if r.exempt != "" && g.ClientID == r.exempt {
		return g, nil
	}
	cl, err := r.clients.GetClient(ctx, g.ClientID)
	if err != nil || cl.Disabled {
		return nil, &auth.TokenError{Reason: auth.ReasonClaims, Description: "the token's client is not registered", Err: err}
	}
	return g, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
