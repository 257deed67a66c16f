// Package auth is Immunis's SMART-on-FHIR authorization: it turns a bearer
// token into a Grant and answers what that Grant may do, without knowing HTTP,
// SQL or FHIR resources.
//
// Who may import it: server (bearer → Grant middleware, discovery, token,
// introspection and JWKS routes), interaction (Grant → search restrictions),
// cmd/immunis (wiring, `immunis token`, `immunis client add`) and store (the
// SQL implementations of ClientStore and ReplayCache). auth itself imports no
// project package.
//
// # Pieces
//
//   - Scope grammar (scope.go, permission.go): SMART App Launch v1
//     (patient/Immunization.read, user/*.write, system/*.*) and v2
//     (patient/Immunization.rs, user/*.cruds, granular
//     patient/Immunization.rs?status=completed) resource scopes plus openid,
//     fhirUser, launch, launch/patient, offline_access, online_access.
//     Malformed scopes never widen access: they are dropped and reported in
//     Scopes.Invalid.
//   - Grant (grant.go): who a token speaks for and what it allows.
//   - Verifier (verifier.go): a raw bearer token → *Grant or a *TokenError.
//     OIDCVerifier checks tokens from an external OpenID Connect issuer
//     (`smart` mode, go-oidc); LocalIssuer mints and checks the server's own
//     tokens (`dev` mode tokens and backend-services tokens); Verifiers routes a
//     token to the one whose issuer it names.
//   - TokenService (token.go): the SMART Backend Services token endpoint
//     (client_credentials + private_key_jwt) without HTTP.
//   - Introspect (introspect.go): RFC 7662 answers.
//   - SmartConfiguration and SecurityFragment (discovery.go): the
//     .well-known/smart-configuration document and the CapabilityStatement
//     rest.security fragment.
//   - AuditEvent and AuditLogger (audit.go): one record per access decision.
//
// # Access decisions
//
// SMART maps each FHIR interaction to one permission letter:
//
//	c  create
//	r  read, vread, history-instance
//	u  update, patch
//	d  delete
//	s  search-type, search-system, history-type, history-system
//
// v1 `read` means r+s, v1 `write` means c+u+d, v1 `*` means cruds.
// Operations ($immds-forecast, $export, …) are checked by the caller with the
// permission the operation needs (r for an instance read-like operation, s for
// a type or system level one, c/u/d for writes) through Grant.Access.
//
// Grant.Access(type, permission) returns an Access: data the search layer
// compiles into SQL, never a closure. An allowed Access is the OR of its
// Clauses; a resource may be touched when it matches at least one clause. A
// Clause is the AND of
//
//   - Patient: when non-empty, the resource must be that Patient or lie in
//     that Patient's compartment (the launch context of a patient/ scope);
//   - Query: when non-nil, the resource must match this FHIR search (the
//     granular part of a v2 scope, e.g. status=completed), parameters ANDed as
//     in any FHIR search.
//
// A clause with neither (Access.Unrestricted) allows every resource of the
// type. user/ and system/ scopes give clauses without Patient: Immunis has no
// per-user access lists, so a user/ scope allows what the scope names. A
// patient/ scope on a token without a patient claim allows nothing. Creates
// and updates must satisfy the clauses with the resource as it will be
// written (a write must not move data out of the compartment).
//
// # Errors
//
// Verifiers return *TokenError (HTTP 401 with
// `WWW-Authenticate: Bearer error="invalid_token"`, see
// TokenError.Challenge). The token endpoint returns *OAuthError with an RFC
// 6749 §5.2 code and OAuthError.HTTPStatus.
//
// # Wiring (cmd/immunis and server)
//
//	e, _ := auth.NewEndpoints(publicRoot)            // IMMUNIS_BASE_URL without /fhir
//	li, _ := auth.OpenLocalIssuer(auth.LocalIssuerConfig{
//		Dir: dataDir + "/auth", Issuer: e.Issuer, Audience: e.FHIRBase})
//	ts, _ := auth.NewTokenService(auth.TokenServiceConfig{Issuer: li,
//		Clients: sqlClients, Replay: sqlReplay, TokenURL: e.Token})
//	dev:   verifier = li
//	smart: ov, _ := auth.NewOIDCVerifier(ctx, auth.OIDCConfig{Issuer: iss, Audience: aud})
//	       verifier, _ = auth.NewVerifiers(li, ov)
//	sc, _ := auth.SmartConfiguration(auth.DiscoveryConfig{Mode: m, Endpoints: e,
//		External: &meta /* smart: ov.Metadata() */})
//
// Routes: GET /fhir/.well-known/smart-configuration writes sc as JSON;
// the CapabilityStatement's rest.security is SecurityFragment(sc); POST
// /auth/token calls ts.Token(ctx, form) and writes the TokenResponse or
// the OAuthError's Body with its HTTPStatus (plus Cache-Control: no-store);
// POST /auth/introspect writes Introspect(ctx, verifier, form token);
// GET /.well-known/jwks.json writes li.JWKSJSON(). The middleware takes
// BearerToken(Authorization header), verifier.Verify, and on a
// *TokenError answers 401 with WWW-Authenticate: err.Challenge(). Each
// interaction then asks grant.Allows(interaction, type) (or Access for
// operations), answers 403 when denied, compiles the Access clauses into
// its query, and hands NewAuditEvent(...) to an AuditLogger (SlogAudit).
//
// In smart mode the smart-configuration names the external issuer's
// token endpoint (apps need it for their authorization code flow); the
// server's own backend-services endpoint (Endpoints.Token) is then told to
// clients registered with `immunis client add` out of band. Tokens the
// LocalIssuer signs are accepted in both modes, whether minted by the token
// endpoint or by `immunis token`: refuse `immunis token` in smart mode.
//
// # Time
//
// Every type that looks at the clock takes a Now func() time.Time field;
// nil means the wall clock.
package auth
