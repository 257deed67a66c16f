package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/fhir"
)

// The SearchParameter resources of the parameters this server supports,
// served from the search registry (they are the official R4 definitions,
// not stored resources): read by id, and a search by _id, base, code,
// type and url.

// searchParamRoutes registers the SearchParameter routes on the FHIR group.
func (s *Server) searchParamRoutes(f *gin.RouterGroup) {
	f.GET("/SearchParameter", s.searchParameters)
	f.GET("/SearchParameter/:id", s.searchParameter)
}

// GET /fhir/SearchParameter/{id}
func (s *Server) searchParameter(c *gin.Context) {
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	d, ok := s.Capabilities.Registry.Definition(c.Param("id"))
	if !ok {
		s.writeError(c, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotFound, "IMM-NF-003",
			"SearchParameter/%s is not a parameter this server supports", c.Param("id")))
		return
	}
	s.writeJSON(c, http.StatusOK, d.Raw)
}

// GET /fhir/SearchParameter?base=…&code=…
func (s *Server) searchParameters(c *gin.Context) {
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	params := c.Request.URL.Query()
	for _, k := range []string{"_format", "_pretty", "_count"} {
		params.Del(k)
	}
	defs, ignored := s.Capabilities.Registry.FindDefinitions(params)
	if len(ignored) > 0 && prefer(c, "handling") == "strict" {
		s.writeError(c, fhir.Invalid("IMM-SRCH-001", ignored[0], "SearchParameter cannot be searched by %q (supported: _id, base, code, type, url)", ignored[0]))
		return
	}
	b := fhir.NewBundle("searchset")
	n := int64(len(defs))
	b.Total = &n
	base := s.Service.BaseURL
	for _, k := range ignored {
		params.Del(k)
	}
	b.Link = []fhir.BundleLink{{Relation: "self", URL: base + "/SearchParameter?" + params.Encode()}}
	for _, d := range defs {
		b.Entry = append(b.Entry, fhir.Entry{FullURL: base + "/SearchParameter/" + d.ID, Resource: d.Raw, Search: &fhir.EntrySearch{Mode: "match"}})
	}
	s.writeObject(c, http.StatusOK, b)
}
