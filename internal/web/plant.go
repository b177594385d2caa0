package web

func (s *Server) plantRoutes() []route { return nil }
