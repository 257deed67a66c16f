package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/auth"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/interaction"
)

// Auth is what the HTTP layer needs for SMART authorization (auth dev or
// smart). Server.Auth nil is auth none: no token is asked for.
type Auth struct {
	// Verifier checks bearer tokens: the local issuer (dev), or the local
	// issuer and the external OpenID issuer (smart).
	Verifier auth.Verifier
	// Tokens is the backend-services token endpoint (POST /auth/token).
	Tokens *auth.TokenService
	// Discovery is GET /fhir/.well-known/smart-configuration.
	Discovery auth.SmartConfig
	// JWKS is the local issuer's public key set (GET /.well-known/jwks.json).
	JWKS []byte
}

// authenticate is the bearer → grant middleware of the FHIR routes: a
// request without a token, or with one the verifier refuses, gets 401 and
// a WWW-Authenticate challenge (RFC 6750 §3); a verified token's grant goes
// into the request context, where interaction decides what it allows.
// The conformance routes (metadata, smart-configuration, the
// OperationDefinitions and SearchParameters) stay public: apps read them
// before they have a token, and they hold no patient data.
func (s *Server) authenticate(c *gin.Context) {
	ctx := interaction.WithRequestID(c.Request.Context(), c.GetString(ctxRequestID))
	c.Request = c.Request.WithContext(ctx)
	if s.Auth == nil || publicFHIRPath(c.Request.Method, c.Request.URL.Path) {
		c.Next()
		return
	}
	g, err := s.verify(c)
	if err != nil {
		s.refuseToken(c, err)
		c.Abort()
		return
	}
	c.Request = c.Request.WithContext(interaction.WithGrant(ctx, g))
	c.Next()
}

// publicFHIRPath reports the FHIR routes anyone may read.
func publicFHIRPath(method, path string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	rest := strings.TrimPrefix(path, "/fhir")
	return rest == "/metadata" || rest == "/.well-known/smart-configuration" ||
		strings.HasPrefix(rest, "/OperationDefinition/") ||
		rest == "/SearchParameter" || strings.HasPrefix(rest, "/SearchParameter/")
}

// verify checks the request's bearer token.
func (s *Server) verify(c *gin.Context) (*auth.Grant, error) {
	raw, err := auth.BearerToken(c.GetHeader("Authorization"))
	if err != nil {
		return nil, err
	}
	return s.Auth.Verifier.Verify(c.Request.Context(), raw)
}

// refuseToken answers 401 for a missing or refused token. The reason is
// logged; the client learns only what TokenError.Description says.
func (s *Server) refuseToken(c *gin.Context, err error) {
	te, ok := auth.AsTokenError(err)
	if !ok {
		te = &auth.TokenError{Reason: auth.ReasonMalformed, Description: "the token could not be verified", Err: err}
	}
	level := slog.LevelWarn
	if te.Reason == auth.ReasonMissing {
		level = slog.LevelInfo
	}
	s.Log.LogAttrs(c.Request.Context(), level, "bearer token refused",
		slog.String("request_id", c.GetString(ctxRequestID)),
		slog.String("reason", string(te.Reason)),
		slog.String("path", c.Request.URL.Path),
		slog.String("err", te.Error()))
	msg := "a bearer token is required"
	if te.Reason != auth.ReasonMissing {
		msg = "the bearer token was refused: " + te.Description
	}
	s.writeError(c, fhir.Errorf(fhir.KindUnauthorized, fhir.IssueLogin, "IMM-AUTH-001", "%s", msg).
		WithHeader("WWW-Authenticate", te.Challenge()))
}

// authRoutes adds the SMART routes outside the FHIR API: discovery, the
// token, introspection and JWKS endpoints. CORS comes from the global
// middleware, so browser apps can reach every one of them.
func (s *Server) authRoutes(r *gin.Engine) {
	if s.Auth == nil {
		return
	}
	r.GET("/fhir/.well-known/smart-configuration", s.smartConfiguration)
	r.GET("/.well-known/jwks.json", s.jwks)
	r.POST("/auth/token", s.token)
	r.POST("/auth/introspect", s.introspect)
}

// smartConfiguration is JSON whatever the Accept header (SMART App Launch
// 2.2, "Conformance").
func (s *Server) smartConfiguration(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, s.Auth.Discovery)
}

func (s *Server) jwks(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/jwk-set+json", s.Auth.JWKS)
}

// token is the SMART Backend Services token endpoint (client_credentials
// with a private_key_jwt assertion). OAuth errors are JSON per RFC 6749
// §5.2, not OperationOutcomes: clients of this endpoint speak OAuth.
func (s *Server) token(c *gin.Context) {
	noStore(c)
	if s.Auth.Tokens == nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": auth.ErrCodeUnsupportedGrantType, "error_description": "this server issues no tokens"})
		return
	}
	form, ok := s.oauthForm(c)
	if !ok {
		return
	}
	resp, err := s.Auth.Tokens.Token(c.Request.Context(), form)
	var oe *auth.OAuthError
	switch {
	case errors.As(err, &oe):
		s.Log.LogAttrs(c.Request.Context(), slog.LevelWarn, "token request refused",
			slog.String("request_id", c.GetString(ctxRequestID)),
			slog.String("client_id", clip(form.Get("client_id"))),
			slog.String("error", oe.Error()))
		c.JSON(oe.HTTPStatus(), oe.Body())
		return
	case err != nil:
		s.Log.LogAttrs(c.Request.Context(), slog.LevelError, "token endpoint failed",
			slog.String("request_id", c.GetString(ctxRequestID)), slog.String("err", err.Error()))
		c.JSON(http.StatusInternalServerError, gin.H{"error": "server_error"})
		return
	}
	attrs := []slog.Attr{slog.String("request_id", c.GetString(ctxRequestID)), slog.String("scope", resp.Scope)}
	for _, ig := range resp.Ignored {
		attrs = append(attrs, slog.String("ignored_scope", ig.Scope+": "+ig.Reason))
	}
	s.Log.LogAttrs(c.Request.Context(), slog.LevelInfo, "backend-services token issued", attrs...)
	c.JSON(http.StatusOK, resp)
}

// introspect answers RFC 7662 introspection. The caller authenticates with
// a bearer token of its own that this server accepts (RFC 7662 §2.1 lets
// the server choose how): a resource server or app that holds any valid
// token may ask about a token, and learns nothing it could not learn by
// using that token. Without one it gets 401, as on the FHIR API.
func (s *Server) introspect(c *gin.Context) {
	noStore(c)
	if _, err := s.verify(c); err != nil {
		s.refuseToken(c, err)
		return
	}
	form, ok := s.oauthForm(c)
	if !ok {
		return
	}
	token := form.Get("token")
	if token == "" {
		c.JSON(http.StatusBadRequest, gin.H{"error": auth.ErrCodeInvalidRequest, "error_description": "the token parameter is required"})
		return
	}
	c.JSON(http.StatusOK, auth.Introspect(c.Request.Context(), s.Auth.Verifier, token))
}

// oauthForm reads an application/x-www-form-urlencoded body; on failure it
// has answered.
func (s *Server) oauthForm(c *gin.Context) (url.Values, bool) {
	ct := c.GetHeader("Content-Type")
	if !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
		c.JSON(http.StatusBadRequest, gin.H{"error": auth.ErrCodeInvalidRequest, "error_description": "the body must be application/x-www-form-urlencoded"})
		return nil, false
	}
	if err := c.Request.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": auth.ErrCodeInvalidRequest, "error_description": "the body is too large"})
			return nil, false
		}
		c.JSON(http.StatusBadRequest, gin.H{"error": auth.ErrCodeInvalidRequest, "error_description": "malformed form body"})
		return nil, false
	}
	return c.Request.PostForm, true
}

func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
}

// clip bounds a client-supplied value before it is logged.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128] + "…"
	}
	return s
}
