package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/immunis/immunis/auth"
)

// tokenCmd is `immunis token`: it mints an access token with the dev
// issuer's key under <data-dir>/auth, for a server running with --auth dev
// on the same data directory and base URL (the token's iss and aud).
func tokenCmd(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var (
		c    Config
		opts auth.MintOptions
	)
	s := newSettings("token", stderr)
	s.str(&c.DataDir, "data-dir", "./immunis-data", "data directory of the server (its key is under auth/)")
	s.str(&c.BaseURL, "base-url", "", "public FHIR base URL of the server (default http://ADDR/fhir)")
	s.str(&c.Addr, "addr", "127.0.0.1:8080", "listen address of the server, for the default base URL")
	s.str(&c.Auth, "auth", "dev", "authorization mode of the server: tokens are minted for dev only")
	s.fs.StringVar(&opts.Scope, "scope", "", `space-separated SMART scopes, e.g. "patient/Immunization.rs patient/Patient.r"`)
	s.fs.StringVar(&opts.Patient, "patient", "", "patient launch context (a Patient id); needed by patient/ scopes")
	s.fs.StringVar(&opts.FHIRUser, "fhir-user", "", "fhirUser claim, e.g. Practitioner/123")
	s.fs.DurationVar(&opts.TTL, "ttl", time.Hour, fmt.Sprintf("lifetime of the token (at most %s)", auth.MaxMintTTL))
	s.fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: immunis token --scope SCOPES [--patient ID] [--fhir-user REF] [--ttl 1h]\n\nPrints an access token for a server running with --auth dev.\n\nflags:")
		s.fs.PrintDefaults()
	}
	if err := s.parse(args); err != nil {
		if errors.Is(err, flagHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "immunis token:", err)
		return 2
	}
	tok, err := mintToken(&c, opts)
	if err != nil {
		fmt.Fprintln(stderr, "immunis token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// mintToken signs a token with the dev issuer of c. In smart mode it
// refuses: tokens there come from the OpenID issuer (apps) or the token
// endpoint (backend services), and the server accepts the local key's
// tokens only for registered clients.
func mintToken(c *Config, opts auth.MintOptions) (string, error) {
	mode, err := auth.ParseMode(c.Auth)
	if err != nil {
		return "", err
	}
	if mode != auth.ModeDev {
		return "", fmt.Errorf("tokens are minted for --auth dev only (auth is %s): in smart mode apps get tokens from the OpenID issuer and backend services from POST /auth/token", mode)
	}
	if opts.Scope == "" {
		return "", errors.New("--scope is required")
	}
	base := c.BaseURL
	if base == "" {
		base = "http://" + c.Addr + "/fhir"
	}
	root, err := authRoot(base)
	if err != nil {
		return "", err
	}
	e, err := auth.NewEndpoints(root)
	if err != nil {
		return "", err
	}
	li, err := auth.OpenLocalIssuer(auth.LocalIssuerConfig{Dir: filepath.Join(c.DataDir, "auth"), Issuer: e.Issuer, Audience: e.FHIRBase})
	if err != nil {
		return "", err
	}
	return li.Mint(opts)
}
