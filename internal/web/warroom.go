package web

// Security is what the war-room pages need of live network monitoring
// (internal/monitor). Defined by the war-room's author.
type Security interface{}

func (s *Server) securityRoutes() []route { return nil }
