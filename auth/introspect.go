package auth

import "context"

// Introspect answers an RFC 7662 introspection request for token: active,
// scope, client_id, sub, exp, iat, iss, jti, token_type and the launch
// context (patient, fhirUser) for a token v accepts, and {"active": false}
// for anything else (the reason is not disclosed). The server must
// authenticate the caller of the introspection endpoint (RFC 7662 §2.1),
// e.g. require a bearer token that v accepts.
func Introspect(ctx context.Context, v Verifier, token string) map[string]any {
	if v == nil || token == "" {
		return map[string]any{"active": false}
	}
	g, err := v.Verify(ctx, token)
	if err != nil {
		return map[string]any{"active": false}
	}
	out := map[string]any{
		"active":     true,
		"scope":      g.Scopes.String(),
		"token_type": "Bearer",
	}
	for name, val := range map[string]string{
		"client_id": g.ClientID,
		"sub":       g.Subject,
		"iss":       g.Issuer,
		"jti":       g.TokenID,
		"patient":   g.Patient,
		"fhirUser":  g.FHIRUser,
	} {
		if val != "" {
			out[name] = val
		}
	}
	if !g.Expiry.IsZero() {
		out["exp"] = g.Expiry.Unix()
	}
	if !g.IssuedAt.IsZero() {
		out["iat"] = g.IssuedAt.Unix()
	}
	return out
}
