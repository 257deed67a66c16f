package server

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/fhir"
)

// statusOf is the one table from error kinds to HTTP statuses.
var statusOf = map[fhir.Kind]int{
	fhir.KindInternal:           http.StatusInternalServerError,
	fhir.KindInvalid:            http.StatusBadRequest,
	fhir.KindNotFound:           http.StatusNotFound,
	fhir.KindGone:               http.StatusGone,
	fhir.KindConflict:           http.StatusConflict,
	fhir.KindPreconditionFailed: http.StatusPreconditionFailed,
	fhir.KindUnprocessable:      http.StatusUnprocessableEntity,
	fhir.KindTooLarge:           http.StatusRequestEntityTooLarge,
	fhir.KindUnsupportedMedia:   http.StatusUnsupportedMediaType,
	fhir.KindNotAcceptable:      http.StatusNotAcceptable,
	fhir.KindUnauthorized:       http.StatusUnauthorized,
	fhir.KindForbidden:          http.StatusForbidden,
	fhir.KindMethodNotAllowed:   http.StatusMethodNotAllowed,
	fhir.KindTooManyRequests:    http.StatusTooManyRequests,
	fhir.KindUnavailable:        http.StatusServiceUnavailable,
	fhir.KindNotModified:        http.StatusNotModified,
}

// writeError answers err as an OperationOutcome with the status its kind
// maps to. Internal errors are logged with their cause; the client sees a
// generic message and the request id.
func (s *Server) writeError(c *gin.Context, err error) {
	fe := fhir.AsError(err)
	status, ok := statusOf[fe.Kind]
	if !ok {
		status = http.StatusInternalServerError
	}
	for k, v := range fe.Header {
		c.Header(k, v)
	}
	if status >= 500 {
		s.Log.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
			slog.String("request_id", c.GetString(ctxRequestID)), slog.String("err", err.Error()))
	}
	if status == http.StatusNotModified {
		c.Status(status)
		return
	}
	s.writeJSON(c, status, fhir.MustMarshal(fhir.OutcomeObject(fe.Issues)))
}
