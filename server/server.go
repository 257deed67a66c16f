// Package server is the HTTP edge: the gin router, middleware (request id,
// access log, recover, body limit, CORS), content negotiation and the one
// table from error kinds to HTTP statuses. Handlers parse the request, call
// one interaction, and write the result. Only the main program imports it.
package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/immunis/immunis/conformance"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/interaction"
)

// Server holds what the HTTP layer needs.
type Server struct {
	Service      *interaction.Service
	Capabilities *conformance.Capabilities
	Log          *slog.Logger
	// MaxBody is the request body limit in bytes (413 beyond it).
	MaxBody int64
	// Ready reports whether the server can take traffic (database reachable).
	Ready func() error
	// Auth is SMART authorization (auth.go); nil is auth none.
	Auth *Auth
	// Exports is Bulk Data $export (bulk.go); nil answers it is off.
	Exports *interaction.Exports

	// Metrics is the Prometheus registry served at /metrics (nil: none).
	Metrics *prometheus.Registry

	capability  []byte
	ops         map[opKey]OpHandler
	httpMetrics *httpMetrics
}

const ctxRequestID = "request_id"

// Handler builds the router.
func (s *Server) Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	if s.Metrics != nil {
		s.httpMetrics = newHTTPMetrics(s.Metrics)
	}
	r.Use(s.requestID, s.accessLog, s.metrics, s.recover, s.cors, s.limitBody)
	s.capability = fhir.MustMarshal(s.Capabilities.Statement())
	s.ops = s.operationRoutes()

	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", s.metricsHandler())

	s.authRoutes(r)
	s.bulkRoutes(r)
	f := r.Group("/fhir")
	f.Use(s.authenticate) // bearer → grant (auth.go)
	f.GET("", s.notAllowedRoot)
	f.POST("", s.bundle)
	f.GET("/:type", s.typeGET)
	f.POST("/:type", s.typePOST)
	f.PUT("/:type", s.conditionalUpdate)
	f.DELETE("/:type", s.conditionalDelete)
	f.GET("/:type/:id", s.instanceGET)
	f.GET("/OperationDefinition/:id", s.operationDefinition)
	s.searchParamRoutes(f) // SearchParameter read and search (search_params.go)
	f.POST("/:type/:id", s.instancePOST)
	f.PUT("/:type/:id", s.update)
	f.PATCH("/:type/:id", s.patch)
	f.DELETE("/:type/:id", s.delete)
	f.GET("/:type/:id/*rest", s.instanceSubGET)
	f.POST("/:type/:id/*rest", s.instanceSubPOST)
	f.HEAD("/:type/:id", s.instanceGET)

	r.NoRoute(func(c *gin.Context) {
		s.writeError(c, fhir.NotFound("no route for %s %s", c.Request.Method, c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		s.writeError(c, fhir.Errorf(fhir.KindMethodNotAllowed, fhir.IssueNotSupported, "IMM-HTTP-001",
			"%s is not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	return r
}

func (s *Server) readyz(c *gin.Context) {
	if s.Ready != nil {
		if err := s.Ready(); err != nil {
			c.String(http.StatusServiceUnavailable, "not ready: %v\n", err)
			return
		}
	}
	c.String(http.StatusOK, "ready\n")
}

func (s *Server) notAllowedRoot(c *gin.Context) {
	s.writeError(c, fhir.Errorf(fhir.KindInvalid, fhir.IssueNotSupported, "IMM-SRCH-010",
		"system-level search is not supported; search a resource type, e.g. GET /fhir/Patient"))
}

// requestID tags each request with an id (X-Request-Id, echoed back).
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if id == "" || len(id) > 64 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.Log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
		slog.String("request_id", c.GetString(ctxRequestID)),
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)),
	)
}

// recover turns a panic into a logged 500 with an OperationOutcome; it is a
// bug, never an answer to input, and must not take the process down.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.Log.Error("panic", "request_id", c.GetString(ctxRequestID), "panic", v)
			if !c.Writer.Written() {
				s.writeError(c, fhir.Internal(errors.New("panic")))
			}
			c.Abort()
		}
	}()
	c.Next()
}

// cors lets browser SMART apps call the API.
func (s *Server) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin != "" {
		h := c.Writer.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Vary", "Origin")
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "Location, Content-Location, ETag, Last-Modified, X-Request-Id, X-Progress, Retry-After, WWW-Authenticate")
		if c.Request.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
			if req := c.GetHeader("Access-Control-Request-Headers"); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			} else {
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, If-None-Exist, If-Modified-Since")
			}
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
	}
	c.Next()
}

// limitBody caps request bodies at MaxBody.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil && s.MaxBody > 0 {
		if c.Request.ContentLength > s.MaxBody {
			s.writeError(c, tooLarge(s.MaxBody))
			c.Abort()
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.MaxBody)
	}
	c.Next()
}

func tooLarge(limit int64) *fhir.Error {
	return fhir.Errorf(fhir.KindTooLarge, fhir.IssueTooLong, "IMM-HTTP-002",
		"the request body is larger than the limit of %d bytes", limit)
}

// readBody reads the whole body, answering 413 beyond the limit.
func (s *Server) readBody(c *gin.Context) ([]byte, error) {
	b, err := s.readAll(c)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, fhir.Invalid("IMM-HTTP-004", "", "the request body is empty")
	}
	return b, nil
}

// readOptionalBody reads the body of an operation, which may take its
// parameters from the URL instead; a body that is there must be FHIR JSON.
func (s *Server) readOptionalBody(c *gin.Context) ([]byte, error) {
	b, err := s.readAll(c)
	if err != nil || len(b) == 0 {
		return nil, err
	}
	if _, err := checkContentType(c, false); err != nil {
		return nil, err
	}
	return b, nil
}

// readAllSized reads r whole into a buffer sized from Content-Length (when
// the client sent one, within the body limit) instead of io.ReadAll's
// doubling from 512 bytes. net/http stops a body at its Content-Length,
// but a longer one is still read whole.
func readAllSized(r io.Reader, length, limit int64) ([]byte, error) {
	if length <= 0 || limit > 0 && length > limit {
		return io.ReadAll(r)
	}
	b := make([]byte, length)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	var one [1]byte
	n, err := r.Read(one[:])
	if n == 0 && err == io.EOF {
		return b, nil
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	rest, err := io.ReadAll(r)
	return append(append(b, one[:n]...), rest...), err
}

// readAll reads the whole body (none is nil), answering 413 beyond the limit.
func (s *Server) readAll(c *gin.Context) ([]byte, error) {
	if c.Request.Body == nil {
		return nil, nil
	}
	b, err := readAllSized(c.Request.Body, c.Request.ContentLength, s.MaxBody)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(s.MaxBody)
		}
		return nil, fhir.Invalid("IMM-HTTP-003", "", "could not read the request body: %v", err)
	}
	return b, nil
}
