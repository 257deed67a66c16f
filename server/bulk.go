package server

import (
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/interaction"
)

// Bulk Data $export over HTTP (hl7.org/fhir/uv/bulkdata/export.html): the
// kick-off is an operation under /fhir; the status and file URLs it hands
// out live under /bulk, behind the same bearer-token check:
//
//	GET    /bulk/{job}          status (202 in progress, 200 manifest)
//	DELETE /bulk/{job}          cancel, or release the files
//	GET    /bulk/{job}/file/{n} one NDJSON file, gzip on request

// BulkPrefix is where status and file URLs live.
const BulkPrefix = "/bulk"

// bulkRoutes adds the status and file routes.
func (s *Server) bulkRoutes(r *gin.Engine) {
	b := r.Group(BulkPrefix)
	b.Use(s.authenticate)
	b.GET("/:job", s.bulkStatus)
	b.DELETE("/:job", s.bulkCancel)
	b.GET("/:job/file/:n", s.bulkFile)
}

// exportKickOff serves $export at the system, Patient and Group levels.
func (s *Server) exportKickOff(c *gin.Context, typ, id string) {
	if s.Exports == nil {
		s.writeError(c, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotSupported, "IMM-BULK-005", "$export is not enabled on this server"))
		return
	}
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	if !preferAsync(c) {
		s.writeError(c, fhir.Errorf(fhir.KindInvalid, fhir.IssueNotSupported, "IMM-BULK-006",
			"$export runs asynchronously: send Prefer: respond-async"))
		return
	}
	req := interaction.ExportRequest{Type: typ, ID: id, Method: c.Request.Method, Query: c.Request.URL.Query(),
		Lenient: prefer(c, "handling") == "lenient"}
	req.Query.Del("_format")
	req.Query.Del("_pretty")
	// The manifest's request is the kick-off URL; a POST's parameters
	// are in its body, not in that URL.
	req.URL = s.Service.BaseURL + strings.TrimPrefix(c.Request.URL.Path, "/fhir")
	if c.Request.Method == http.MethodGet && c.Request.URL.RawQuery != "" {
		req.URL += "?" + c.Request.URL.RawQuery
	}
	if c.Request.Method == http.MethodPost {
		body, err := s.readOptionalBody(c)
		if err != nil {
			s.writeError(c, err)
			return
		}
		req.Body = body
	}
	a, err := s.Exports.KickOff(c.Request.Context(), req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Content-Location", a.StatusURL)
	issues := append(fhir.Information("export "+a.ID+" accepted; poll "+a.StatusURL), a.Issues...)
	s.writeObject(c, http.StatusAccepted, fhir.OutcomeObject(issues))
}

// preferAsync reports whether Prefer asks for respond-async.
func preferAsync(c *gin.Context) bool {
	for _, h := range c.Request.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "respond-async") {
				return true
			}
		}
	}
	return false
}

func (s *Server) bulkStatus(c *gin.Context) {
	if s.Exports == nil {
		s.writeError(c, fhir.NotFound("no export %q", c.Param("job")))
		return
	}
	st, err := s.Exports.Status(c.Request.Context(), c.Param("job"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	switch {
	case st.Failure != nil:
		s.writeError(c, st.Failure)
	case st.Manifest != nil:
		c.Header("Expires", st.Expires.UTC().Format(http.TimeFormat))
		c.Data(http.StatusOK, "application/json", st.Manifest)
	default:
		c.Header("X-Progress", st.Progress)
		c.Header("Retry-After", strconv.Itoa(int(st.RetryAfter/time.Second)))
		s.writeObject(c, http.StatusAccepted, fhir.OutcomeObject(fhir.Information("in progress: "+st.Progress)))
	}
}

func (s *Server) bulkCancel(c *gin.Context) {
	if s.Exports == nil {
		s.writeError(c, fhir.NotFound("no export %q", c.Param("job")))
		return
	}
	if err := s.Exports.Cancel(c.Request.Context(), c.Param("job")); err != nil {
		s.writeError(c, err)
		return
	}
	s.writeObject(c, http.StatusAccepted, fhir.OutcomeObject(fhir.Information("export "+c.Param("job")+" cancelled; its files are removed")))
}

// bulkFile streams one file, regenerated from the export's snapshot. It
// is never buffered whole (see WithTimeout): memory stays flat whatever
// the file's size.
func (s *Server) bulkFile(c *gin.Context) {
	if s.Exports == nil {
		s.writeError(c, fhir.NotFound("no export %q", c.Param("job")))
		return
	}
	seq, err := strconv.Atoi(c.Param("n"))
	if err != nil || seq < 0 {
		s.writeError(c, fhir.NotFound("no file %q", c.Param("n")))
		return
	}
	ctx := c.Request.Context()
	f, err := s.Exports.OpenFile(ctx, c.Param("job"), seq)
	if err != nil {
		s.writeError(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "application/fhir+ndjson")
	h.Set("Expires", f.Expires.UTC().Format(http.TimeFormat))
	h.Set("Vary", "Accept-Encoding")
	var w io.Writer = c.Writer
	var gz *gzip.Writer
	if acceptsGzip(c.GetHeader("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		gz, _ = gzip.NewWriterLevel(c.Writer, gzip.BestSpeed)
		w = gz
	}
	c.Status(http.StatusOK)
	err = f.WriteTo(ctx, w)
	if err == nil && gz != nil {
		err = gz.Close()
	}
	if err != nil {
		// The status line is out: the only honest answer left is a
		// response that ends in error, not a clean short file.
		s.Log.LogAttrs(ctx, slog.LevelError, "bulk file failed", slog.String("request_id", c.GetString(ctxRequestID)),
			slog.String("job", c.Param("job")), slog.Int("file", seq), slog.String("err", err.Error()))
		panic(http.ErrAbortHandler)
	}
}

// acceptsGzip reports whether an Accept-Encoding allows gzip.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.TrimSpace(params)
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
