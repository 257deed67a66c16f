package server

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/immunis/immunis/fhir"
)

// Operation levels (FHIR operations framework).
const (
	LevelSystem   = "system"   // /fhir/$name
	LevelType     = "type"     // /fhir/{type}/$name
	LevelInstance = "instance" // /fhir/{type}/{id}/$name
)

// OpHandler serves one operation; typ and id are empty where the level has
// none.
type OpHandler func(c *gin.Context, typ, id string)

type opKey struct{ level, typ, name string }

// operationRoutes lists the operations this server routes. Each feature
// adds its own entries here (typ "" means any type at that level).
func (s *Server) operationRoutes() map[opKey]OpHandler {
	return map[opKey]OpHandler{
		{LevelSystem, "", "immds-forecast"}:          s.immdsForecast,
		{LevelInstance, "Patient", "immds-forecast"}: s.immdsForecast,
		{LevelSystem, "", "export"}:                  s.exportKickOff,
		{LevelType, "Patient", "export"}:             s.exportKickOff,
		{LevelInstance, "Group", "export"}:           s.exportKickOff,
	}
}

// operation dispatches /$name at a level, answering 404 for operations the
// server does not route.
func (s *Server) operation(c *gin.Context, level, typ, id, name string) {
	name = strings.TrimPrefix(name, "$")
	if h, ok := s.ops[opKey{level, typ, name}]; ok {
		h(c, typ, id)
		return
	}
	if h, ok := s.ops[opKey{level, "", name}]; ok && typ != "" {
		if err := s.Service.CheckType(typ); err != nil {
			s.writeError(c, err)
			return
		}
		h(c, typ, id)
		return
	}
	s.writeError(c, fhir.Errorf(fhir.KindNotFound, fhir.IssueNotSupported, "IMM-OP-001",
		"operation $%s is not supported at the %s level%s", name, level, forType(typ)))
}

func forType(typ string) string {
	if typ == "" {
		return ""
	}
	return " of " + typ
}
