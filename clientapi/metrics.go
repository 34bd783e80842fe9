package clientapi

// open counts the sockets on the hub, for the metrics' sockets gauge: at
// scrape time, rather than a count kept up to date on every open and close.
func (h *hub) open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, users := range h.sockets {
		for _, set := range users {
			n += len(set)
		}
	}
	return n
}
