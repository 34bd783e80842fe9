package http

import (
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald"
)

// An app's push providers (Herald's own API: Layer configured push in its
// dashboard). Secrets and private keys are never shown; a webhook secret
// that Herald generated is shown once, in the answer that configured it.

// pushProviderJSON is a provider as the API shows it.
type pushProviderJSON struct {
	*herald.PushProvider
	// Secret is the webhook secret Herald generated, in this answer only.
	Secret string `json:"secret,omitempty"`
}

func (s *Server) putPushProvider(w http.ResponseWriter, r *http.Request, app string) error {
	var settings map[string]json.RawMessage
	if err := decode(w, r, &settings); err != nil {
		return err
	}
	if settings == nil {
		return herald.PropertyError(herald.EInvalidProperty, "body", "The body must be a JSON object of the provider's settings.")
	}
	p, generated, err := s.Service.SetPushProvider(r.Context(), app, r.PathValue("kind"), settings)
	if err != nil {
		return err
	}
	public := *p
	public.Secret = ""
	writeJSON(w, http.StatusOK, pushProviderJSON{PushProvider: &public, Secret: generated})
	return nil
}

func (s *Server) listPushProviders(w http.ResponseWriter, r *http.Request, app string) error {
	ps, err := s.Service.PushProviders(r.Context(), app)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ps)
	return nil
}

func (s *Server) deletePushProvider(w http.ResponseWriter, r *http.Request, app string) error {
	if err := s.Service.DeletePushProvider(r.Context(), app, r.PathValue("kind")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
