package web

import (
	_ "embed"
	"net/http"
)

// openAPIDoc describes every /api/v1 route of allRoutes; TestOpenAPI keeps
// the two in step.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc)
}
