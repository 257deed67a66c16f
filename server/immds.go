package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/conformance"
	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/interaction"
)

// immdsForecast serves $immds-forecast: POST /fhir/$immds-forecast (the
// ImmDS IG operation) and GET|POST /fhir/Patient/{id}/$immds-forecast (this
// server's extension).
func (s *Server) immdsForecast(c *gin.Context, _, id string) {
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	var body []byte
	if c.Request.Method == http.MethodPost {
		b, err := s.readOptionalBody(c)
		if err != nil {
			s.writeError(c, err)
			return
		}
		body = b
	}
	ans, err := s.Service.ImmDSForecast(c.Request.Context(), interaction.ImmDSRequest{
		PatientID: id, Method: c.Request.Method, Query: c.Request.URL.Query(), Body: body,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeJSON(c, http.StatusOK, ans.Bytes())
	ans.Release()
}

// operationDefinition serves the OperationDefinitions of the operations
// this server routes (GET /fhir/OperationDefinition/{id}).
func (s *Server) operationDefinition(c *gin.Context) {
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	b, ok := conformance.OperationDefinition(c.Param("id"))
	if !ok {
		s.writeError(c, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-NF-002", "OperationDefinition/%s is not known", c.Param("id")))
		return
	}
	s.writeJSON(c, http.StatusOK, b)
}
