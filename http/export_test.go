package http

// Patterns returns the patterns of the server's routes, in the order they
// were registered, once its routes are built (Handler).
func (s *Server) Patterns() []string { return s.patterns }
