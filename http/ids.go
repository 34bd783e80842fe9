package http

import (
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
)

// Every id the API hands out works in a path as it was handed out: Layer's
// URIs (layer:///conversations/<uuid>, layer:///apps/<app>/webhooks/<uuid>,
// layer:///identities/<user>, ...), the bare UUID, and /v1's 32-digit
// form of the same UUID. A URI percent-encoded into one segment already
// reaches the handlers, which strip its prefix (herald.LocalID); pasted
// as it is, its "///" would make the mux redirect to a cleaned,
// meaningless path, and a /v1 uuid is not what the Layer routes store. So
// the path is rewritten to the bare id before routing.

// uuidCollections are the Layer routes' path segments whose next segment
// is a UUID: a 32-digit one is given its dashes there.
var uuidCollections = map[string]bool{
	"conversations": true, "messages": true, "parts": true, "content": true, "announcements": true,
	"webhooks": true, "deliveries": true, "keys": true, "tokens": true, "exports": true,
}

// canonicalIDs rewrites r's path in place (see above). A path with
// percent-escapes is left alone: its segments are decoded by the mux, and
// a URI encoded into one of them is already one segment.
func canonicalIDs(r *http.Request) {
	p := r.URL.Path
	if r.URL.RawPath != "" || !strings.Contains(p, "/") {
		return
	}
	if rewritten, ok := canonicalPath(p); ok {
		r.URL.Path = rewritten
	}
}

// canonicalPath returns p with every Layer URI replaced by its bare id
// and, outside /v1, every 32-digit UUID after a uuidCollections segment
// given its dashes; ok is false when nothing changed.
func canonicalPath(p string) (string, bool) {
	if !strings.Contains(p, "layer:") && !hasCompactUUID(p) {
		return p, false
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	v1 := strings.HasPrefix(p, "/v1/")
	changed := false
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		if seg == "layer:" {
			if id, n := layerURIID(segs[i+1:]); n > 0 {
				out = append(out, id)
				i += n
				changed = true
				continue
			}
		}
		if !v1 && len(out) > 0 && uuidCollections[out[len(out)-1]] && len(seg) == 32 {
			if u := herald.ParseUUID(seg); u != "" {
				seg, changed = u, true
			}
		}
		out = append(out, seg)
	}
	if !changed {
		return p, false
	}
	return strings.Join(out, "/"), true
}

// layerURIID reads the rest of a Layer URI from the segments after
// "layer:" (the empty ones of "///" first) and returns its bare id and
// how many segments it took, or 0 when they are no URI of Layer's shapes:
// <kind>/<id>, apps/<env>/<uuid> (an app), apps/<app>/<kind>/<id> (its
// webhooks, tokens) and messages/<m>/parts/<part>.
func layerURIID(segs []string) (string, int) {
	skip := 0
	for skip < len(segs) && skip < 2 && segs[skip] == "" {
		skip++
	}
	rest := segs[skip:]
	switch {
	case len(rest) >= 4 && rest[0] == "apps" && herald.ParseUUID(rest[2]) == "" && rest[3] != "",
		len(rest) >= 4 && rest[0] == "messages" && rest[2] == "parts" && rest[3] != "":
		return rest[3], skip + 4
	case len(rest) >= 3 && rest[0] == "apps" && rest[2] != "":
		return rest[2], skip + 3
	case len(rest) >= 2 && rest[0] != "" && rest[1] != "":
		return rest[1], skip + 2
	}
	return "", 0
}

// hasCompactUUID reports whether p may hold a 32-digit UUID: a run of 32
// hex digits between slashes or at the end.
func hasCompactUUID(p string) bool {
	run := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			run++
			continue
		}
		if c == '/' && run == 32 {
			return true
		}
		run = 0
	}
	return run == 32
}
