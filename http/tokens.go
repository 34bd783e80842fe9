package http

import (
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
)

// tokenJSON is an app token as the API shows it: never its secret, but in
// the response that creates it.
type tokenJSON struct {
	ID         string  `json:"id"`
	URL        string  `json:"url"`
	Name       string  `json:"name"`
	Prefix     string  `json:"prefix"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	Token      string  `json:"token,omitempty"`
}

func (s *Server) renderToken(t *herald.Token) tokenJSON {
	out := tokenJSON{ID: "layer:///apps/" + t.AppID + "/tokens/" + t.ID, URL: s.URLs.App(t.AppID) + "/tokens/" + t.ID,
		Name: t.Name, Prefix: t.Prefix, CreatedAt: herald.FormatTime(t.CreatedAt)}
	if t.LastUsedAt != nil {
		at := herald.FormatTime(*t.LastUsedAt)
		out.LastUsedAt = &at
	}
	return out
}

// listTokens lists the app's tokens, oldest first. A token's last_used_at
// has millisecond precision but is written at most once per the service's
// TokenUseInterval (a minute by default), so it may be that much behind.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, app string) error {
	tokens, err := s.Service.Tokens(r.Context(), app)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(tokens))
	for i, t := range tokens {
		out[i] = s.renderToken(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	token, secret, err := s.Service.CreateToken(r.Context(), app, in.Name)
	if err != nil {
		return err
	}
	out := s.renderToken(token)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// revokeToken revokes any of the app's tokens but its last one, the
// request's own included: that one fails from the next request on.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, app string) error {
	id := r.PathValue("id")
	if err := s.Service.RevokeToken(r.Context(), app, id[strings.LastIndex(id, "/")+1:]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
