package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/fhir"
	"github.com/immunis/immunis/interaction"
)

// GET /fhir/{type}: metadata, system history, or type search.
func (s *Server) typeGET(c *gin.Context) {
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	switch typ := c.Param("type"); {
	case strings.HasPrefix(typ, "$"):
		s.operation(c, LevelSystem, "", "", typ)
	case typ == "metadata":
		s.writeJSON(c, http.StatusOK, s.capability)
	case typ == "_history":
		s.history(c, "", "")
	default:
		s.search(c, typ, c.Request.URL.Query(), "")
	}
}

// POST /fhir/{type}: create (or a system-level operation).
func (s *Server) typePOST(c *gin.Context) {
	typ := c.Param("type")
	if strings.HasPrefix(typ, "$") {
		s.operation(c, LevelSystem, "", "", typ)
		return
	}
	body, ok := s.body(c, false)
	if !ok {
		return
	}
	res, err := s.Service.Create(c.Request.Context(), typ, body, c.GetHeader("If-None-Exist"))
	s.answerWrite(c, res, err)
}

// GET /fhir/{type}/{id}: read (conditional), type history, or _search.
func (s *Server) instanceGET(c *gin.Context) {
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	typ, id := c.Param("type"), c.Param("id")
	if strings.HasPrefix(id, "$") {
		s.operation(c, LevelType, typ, "", id)
		return
	}
	if id == "_history" {
		s.history(c, typ, "")
		return
	}
	if id == "_search" {
		s.search(c, typ, c.Request.URL.Query(), "")
		return
	}
	r, err := s.Service.Read(c.Request.Context(), typ, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	// Conditional read (http.html#cread): If-None-Match wins over
	// If-Modified-Since, as in RFC 9110.
	if inm := c.GetHeader("If-None-Match"); inm != "" {
		if etagMatches(inm, r) {
			c.Header("ETag", r.ETag())
			c.Status(http.StatusNotModified)
			return
		}
	} else if ims := c.GetHeader("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !r.LastUpdated.Truncate(time.Second).After(t) {
			c.Header("ETag", r.ETag())
			c.Status(http.StatusNotModified)
			return
		}
	}
	s.writeResource(c, http.StatusOK, r)
}

func etagMatches(header string, r *fhir.Resource) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(r.ETag(), "W/") {
			return true
		}
	}
	return false
}

// POST /fhir/{type}/_search: search with a form body.
func (s *Server) instancePOST(c *gin.Context) {
	typ, id := c.Param("type"), c.Param("id")
	if strings.HasPrefix(id, "$") {
		s.operation(c, LevelType, typ, "", id)
		return
	}
	if id != "_search" {
		s.writeError(c, fhir.Errorf(fhir.KindMethodNotAllowed, fhir.IssueNotSupported, "IMM-HTTP-001",
			"POST is not allowed on %s/%s (use PUT to update)", typ, id))
		return
	}
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	params := c.Request.URL.Query()
	if ct := c.GetHeader("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.writeError(c, fhir.Errorf(fhir.KindUnsupportedMedia, fhir.IssueNotSupported, "IMM-FMT-007",
			"POST _search takes an application/x-www-form-urlencoded body"))
		return
	}
	if err := c.Request.ParseForm(); err != nil {
		s.writeError(c, fhir.Invalid("IMM-SRCH-011", "", "malformed form body: %v", err))
		return
	}
	for k, v := range c.Request.PostForm {
		params[k] = append(params[k], v...)
	}
	s.search(c, typ, params, "")
}

// GET /fhir/{type}/{id}/…: instance history, vread, compartment search.
func (s *Server) instanceSubGET(c *gin.Context) {
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return
	}
	typ, id := c.Param("type"), c.Param("id")
	rest := strings.Split(strings.Trim(c.Param("rest"), "/"), "/")
	switch {
	case len(rest) == 1 && strings.HasPrefix(rest[0], "$"):
		s.operation(c, LevelInstance, typ, id, rest[0])
	case len(rest) == 1 && rest[0] == "_history":
		s.history(c, typ, id)
	case len(rest) == 2 && rest[0] == "_history":
		r, err := s.Service.VRead(c.Request.Context(), typ, id, rest[1])
		if err != nil {
			s.writeError(c, err)
			return
		}
		s.writeResource(c, http.StatusOK, r)
	case len(rest) == 1 && typ == "Patient" && fhir.IsTypeName(rest[0]):
		s.search(c, rest[0], c.Request.URL.Query(), id)
	default:
		s.writeError(c, fhir.NotFound("no route for GET %s", c.Request.URL.Path))
	}
}

// POST /fhir/{type}/{id}/$op: instance-level operations.
func (s *Server) instanceSubPOST(c *gin.Context) {
	typ, id := c.Param("type"), c.Param("id")
	rest := strings.Trim(c.Param("rest"), "/")
	if !strings.HasPrefix(rest, "$") || strings.Contains(rest, "/") {
		s.writeError(c, fhir.NotFound("no route for POST %s", c.Request.URL.Path))
		return
	}
	s.operation(c, LevelInstance, typ, id, rest)
}

// PUT /fhir/{type}/{id}: update or create-on-update.
func (s *Server) update(c *gin.Context) {
	body, ok := s.body(c, false)
	if !ok {
		return
	}
	res, err := s.Service.Update(c.Request.Context(), c.Param("type"), c.Param("id"), body, c.GetHeader("If-Match"))
	s.answerWrite(c, res, err)
}

// PUT /fhir/{type}?criteria: conditional update.
func (s *Server) conditionalUpdate(c *gin.Context) {
	body, ok := s.body(c, false)
	if !ok {
		return
	}
	query := criteria(c)
	res, err := s.Service.ConditionalUpdate(c.Request.Context(), c.Param("type"), query, body, c.GetHeader("If-Match"))
	s.answerWrite(c, res, err)
}

// criteria is the query string without the formatting parameters.
func criteria(c *gin.Context) string {
	q := c.Request.URL.Query()
	q.Del("_format")
	q.Del("_pretty")
	return q.Encode()
}

// PATCH /fhir/{type}/{id}: JSON Patch.
func (s *Server) patch(c *gin.Context) {
	body, ok := s.body(c, true)
	if !ok {
		return
	}
	res, err := s.Service.Patch(c.Request.Context(), c.Param("type"), c.Param("id"), body, c.GetHeader("If-Match"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeResult(c, http.StatusOK, res)
}

// DELETE /fhir/{type}/{id}.
func (s *Server) delete(c *gin.Context) {
	res, err := s.Service.Delete(c.Request.Context(), c.Param("type"), c.Param("id"))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeDeleted(c, res)
}

// DELETE /fhir/{type}?criteria.
func (s *Server) conditionalDelete(c *gin.Context) {
	query := criteria(c)
	if query == "" {
		s.writeError(c, fhir.Errorf(fhir.KindMethodNotAllowed, fhir.IssueNotSupported, "IMM-HTTP-005",
			"DELETE on a type needs search criteria (conditional delete)"))
		return
	}
	res, err := s.Service.ConditionalDelete(c.Request.Context(), c.Param("type"), query)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeDeleted(c, res)
}

func (s *Server) writeDeleted(c *gin.Context, res *interaction.Result) {
	if res.Resource != nil && res.Resource.Deleted && !res.NoOp {
		c.Header("ETag", res.Resource.ETag())
	}
	if prefer(c, "return") == "OperationOutcome" {
		msg := "deleted"
		if res.NoOp {
			msg = "nothing to delete"
		}
		s.writeObject(c, http.StatusOK, fhir.OutcomeObject(fhir.Information(msg)))
		return
	}
	c.Status(http.StatusNoContent)
}

// POST /fhir: batch or transaction.
func (s *Server) bundle(c *gin.Context) {
	body, ok := s.body(c, false)
	if !ok {
		return
	}
	b, err := s.Service.Bundle(c.Request.Context(), body, interaction.BundleOptions{
		ReturnRepresentation: prefer(c, "return") == "representation",
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeObject(c, http.StatusOK, b)
}

func (s *Server) history(c *gin.Context, typ, id string) {
	b, err := s.Service.History(c.Request.Context(), typ, id, c.Request.URL.Query())
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeObject(c, http.StatusOK, b)
}

func (s *Server) search(c *gin.Context, typ string, params url.Values, compartment string) {
	b, err := s.Service.Search(c.Request.Context(), interaction.SearchRequest{
		Type: typ, Params: params, Compartment: compartment, Strict: prefer(c, "handling") == "strict",
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeObject(c, http.StatusOK, b)
}

// body checks the content type and reads the body; on failure it has
// already answered.
func (s *Server) body(c *gin.Context, patch bool) ([]byte, bool) {
	if _, err := negotiate(c); err != nil {
		s.writeError(c, err)
		return nil, false
	}
	if _, err := checkContentType(c, patch); err != nil {
		s.writeError(c, err)
		return nil, false
	}
	b, err := s.readBody(c)
	if err != nil {
		s.writeError(c, err)
		return nil, false
	}
	return b, true
}

// writeResource answers a resource with its version headers.
func (s *Server) writeResource(c *gin.Context, status int, r *fhir.Resource) {
	c.Header("ETag", r.ETag())
	c.Header("Last-Modified", httpDate(r))
	if c.Request.Method == http.MethodHead {
		c.Status(status)
		return
	}
	s.writeJSON(c, status, r.Body)
}

// answerWrite answers a create or update: the error, or 201 when the
// interaction created the resource and 200 otherwise.
func (s *Server) answerWrite(c *gin.Context, res *interaction.Result, err error) {
	if err != nil {
		s.writeError(c, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	s.writeResult(c, status, res)
}

// writeResult answers a write per Prefer: return=minimal|representation|
// OperationOutcome, with Location, ETag and Last-Modified.
func (s *Server) writeResult(c *gin.Context, status int, res *interaction.Result) {
	r := res.Resource
	c.Header("Location", s.Service.BaseURL+"/"+r.Ref()+"/_history/"+strconv.FormatInt(r.Version, 10))
	c.Header("ETag", r.ETag())
	c.Header("Last-Modified", httpDate(r))
	switch prefer(c, "return") {
	case "minimal":
		c.Status(status)
	case "OperationOutcome":
		issues := res.Issues
		if len(issues) == 0 {
			msg := "updated"
			if res.Created {
				msg = "created"
			}
			issues = fhir.Information(msg)
		}
		s.writeObject(c, status, fhir.OutcomeObject(issues))
	default:
		s.writeJSON(c, status, r.Body)
	}
}
