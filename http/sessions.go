package http

import (
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
)

// Sessions of users' devices (Layer's Client API authentication, see
// messaging/sessions.go), and the identity provider keys apps register for
// them. The Client API's families (REST, WebSocket) authenticate their
// requests with HandleSession.

// SessionHandler serves a request authenticated by a user's session.
type SessionHandler func(w http.ResponseWriter, r *http.Request, sess *herald.Session) error

// HandleSession registers a route of Layer's Client API: the request must
// carry a valid session token (Authorization: Layer session-token="…"),
// is counted against the session's limits, and has its path and query
// checked (see checkRequest) before h runs. A request without a valid
// session gets 401 authentication_required with a fresh nonce in
// data.nonce, which is how a Client API client learns to authenticate
// again ([P1.1] client/introduction/authentication.md, "Authentication
// Challenges").
func (s *Server) HandleSession(pattern string, h SessionHandler) {
	s.building.HandleFunc(pattern, s.withSession(h))
}

func (s *Server) withSession(h SessionHandler) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		sess, err := s.Authenticated(r, SessionToken(r))
		if err != nil {
			return err
		}
		release, err := s.limit(w, "session:"+sess.ID)
		if err != nil {
			return err
		}
		defer release()
		if err := checkRequest(r); err != nil {
			return err
		}
		return h(w, r, sess)
	})
}

// Authenticated returns the session of a session token, or the error to
// answer: authentication_required with a fresh nonce.
func (s *Server) Authenticated(r *http.Request, token string) (*herald.Session, error) {
	sess, err := s.Service.Session(r.Context(), token)
	if e, ok := herald.AsError(err); ok && e.ID == herald.EAuthRequired {
		nonce, nerr := s.Service.IssueNonce(r.Context())
		if nerr != nil {
			return nil, nerr
		}
		return nil, &herald.Error{ID: e.ID, Message: e.Message, Data: map[string]any{"nonce": nonce}}
	}
	return sess, err
}

// SessionToken reads the session token of a Client API request's
// Authorization header: Layer session-token="<token>", with double quotes
// as Layer's SDKs send or single quotes as Layer also took.
func SessionToken(r *http.Request) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Layer") {
		return ""
	}
	name, value, ok := strings.Cut(strings.TrimSpace(rest), "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "session-token") {
		return ""
	}
	value = strings.TrimSpace(value)
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		value = value[1 : len(value)-1]
	}
	return value
}

// checked checks the path and query of a request that needs no
// credentials (see checkRequest) before h runs.
func checked(h func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := checkRequest(r); err != nil {
			return err
		}
		return h(w, r)
	}
}

// WriteError answers err in Layer's error shape.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

// createNonce is the Client API's POST /nonces: no credentials, 201 with a
// nonce.
func (s *Server) createNonce(w http.ResponseWriter, r *http.Request) error {
	nonce, err := s.Service.IssueNonce(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"nonce": nonce})
	return nil
}

// createSession is the Client API's POST /sessions: an identity token for
// a session token.
func (s *Server) createSession(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		IdentityToken string `json:"identity_token"`
		AppID         string `json:"app_id"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.AppID == "" {
		return herald.PropertyError(herald.EMissingProperty, "app_id", "Give the app's id as app_id (layer:///apps/staging/<uuid>, or the uuid).")
	}
	_, token, err := s.Service.StartSession(r.Context(), in.AppID, in.IdentityToken)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"session_token": token})
	return nil
}

// deleteSession is the Client API's DELETE /sessions/:token (logging
// out). The token in the path is the credential: no other is needed.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) error {
	if err := s.Service.EndSession(r.Context(), r.PathValue("token")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// identityKeyJSON is an identity provider key as the API shows it.
type identityKeyJSON struct {
	ID         string `json:"id"`
	URL        string `json:"url"`
	ProviderID string `json:"provider_id"`
	PublicKey  string `json:"public_key"`
	CreatedAt  string `json:"created_at"`
}

func (s *Server) renderIdentityKey(k *herald.IdentityKey) identityKeyJSON {
	return identityKeyJSON{ID: herald.KeyIDPrefix + k.ID, URL: s.URLs.App(k.AppID) + "/keys/" + k.ID,
		ProviderID: herald.ProviderIDPrefix + k.ProviderID, PublicKey: k.PublicKey, CreatedAt: herald.FormatTime(k.CreatedAt)}
}

// createIdentityKey registers a public key of the app's identity provider:
// what Layer's dashboard did under "Authentication".
func (s *Server) createIdentityKey(w http.ResponseWriter, r *http.Request, app string) error {
	var in struct {
		PublicKey string `json:"public_key"`
	}
	if err := decode(w, r, &in); err != nil {
		return err
	}
	k, err := s.Service.RegisterIdentityKey(r.Context(), app, in.PublicKey)
	if err != nil {
		return err
	}
	out := s.renderIdentityKey(k)
	w.Header().Set("Location", out.URL)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) listIdentityKeys(w http.ResponseWriter, r *http.Request, app string) error {
	keys, err := s.Service.IdentityKeys(r.Context(), app)
	if err != nil {
		return err
	}
	out := make([]identityKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = s.renderIdentityKey(k)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteIdentityKey(w http.ResponseWriter, r *http.Request, app string) error {
	if err := s.Service.DeleteIdentityKey(r.Context(), app, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
