package server

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/fhir"
)

const (
	mimeFHIRJSON  = "application/fhir+json"
	mimeJSON      = "application/json"
	mimeJSONPatch = "application/json-patch+json"
)

// negotiate decides the response media type from _format or Accept. JSON is
// the only format; XML and anything else answer 406.
func negotiate(c *gin.Context) (string, error) {
	if f := c.Query("_format"); f != "" {
		switch strings.ToLower(strings.TrimSpace(strings.Split(f, ";")[0])) {
		case "json", mimeFHIRJSON, mimeJSON, "text/json":
			if strings.Contains(f, "application/json") {
				return mimeJSON, nil
			}
			return mimeFHIRJSON, nil
		}
		return "", fhir.Errorf(fhir.KindNotAcceptable, fhir.IssueNotSupported, "IMM-FMT-001",
			"_format %q is not supported: this server speaks FHIR JSON only (application/fhir+json)", f)
	}
	accept := c.GetHeader("Accept")
	if accept == "" {
		return mimeFHIRJSON, nil
	}
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(qs, 64); err == nil {
				q = v
			}
		}
		var cand string
		switch mt {
		case mimeFHIRJSON, "*/*", "application/*", "application/fhir+ndjson":
			cand = mimeFHIRJSON
		case mimeJSON, "text/json":
			cand = mimeJSON
		default:
			continue
		}
		if q > bestQ && q > 0 {
			best, bestQ = cand, q
		}
	}
	if best == "" {
		return "", fhir.Errorf(fhir.KindNotAcceptable, fhir.IssueNotSupported, "IMM-FMT-002",
			"Accept %q: this server speaks FHIR JSON only (application/fhir+json)", accept)
	}
	return best, nil
}

// checkContentType accepts FHIR JSON bodies (and JSON Patch where allowed).
func checkContentType(c *gin.Context, allowPatch bool) (isPatch bool, err error) {
	ct := c.GetHeader("Content-Type")
	if ct == "" {
		return false, fhir.Errorf(fhir.KindUnsupportedMedia, fhir.IssueNotSupported, "IMM-FMT-003",
			"Content-Type is required: send application/fhir+json")
	}
	mt, _, perr := mime.ParseMediaType(ct)
	if perr != nil {
		return false, fhir.Errorf(fhir.KindUnsupportedMedia, fhir.IssueNotSupported, "IMM-FMT-004", "malformed Content-Type %q", ct)
	}
	switch mt {
	case mimeFHIRJSON, mimeJSON:
		if allowPatch {
			return false, fhir.Errorf(fhir.KindUnsupportedMedia, fhir.IssueNotSupported, "IMM-FMT-005",
				"PATCH takes a JSON Patch document (Content-Type application/json-patch+json)")
		}
		return false, nil
	case mimeJSONPatch:
		if allowPatch {
			return true, nil
		}
	}
	return false, fhir.Errorf(fhir.KindUnsupportedMedia, fhir.IssueNotSupported, "IMM-FMT-006",
		"Content-Type %q is not supported: this server reads FHIR JSON (application/fhir+json)", mt)
}

// writeJSON writes a JSON body in the negotiated media type, indented when
// _pretty=true. Stored resource bytes go out as they are otherwise.
func (s *Server) writeJSON(c *gin.Context, status int, body []byte) {
	mt, err := negotiate(c)
	if err != nil {
		mt = mimeFHIRJSON // errors about format still need a body
	}
	if c.Query("_pretty") == "true" {
		var buf bytes.Buffer
		if json.Indent(&buf, body, "", "  ") == nil {
			body = buf.Bytes()
		}
	}
	// A known length spares the client chunked decoding and the server
	// one write per 4 KB chunk (a forecast answer is some 56 KB).
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Data(status, mt+"; charset=utf-8", body)
}

// writeObject encodes and writes v.
func (s *Server) writeObject(c *gin.Context, status int, v any) {
	b, err := fhir.Marshal(v)
	if err != nil {
		s.writeError(c, fhir.Internal(err))
		return
	}
	s.writeJSON(c, status, b)
}

// prefer reads Prefer: return=… (minimal, representation, OperationOutcome).
func prefer(c *gin.Context, key string) string {
	for _, h := range c.Request.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), key) {
				return strings.Trim(strings.TrimSpace(v), `"`)
			}
		}
	}
	return ""
}

// httpDate renders Last-Modified.
func httpDate(r *fhir.Resource) string {
	return r.LastUpdated.UTC().Format(http.TimeFormat)
}
