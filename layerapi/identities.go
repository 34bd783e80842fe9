package layerapi

import (
	"net/http"

	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

func (a *API) putIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	var in messaging.IdentityInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	mode := messaging.IdentityReplace
	if r.Method == http.MethodPost {
		mode = messaging.IdentityCreate
	}
	id, created, err := c.service().PutIdentity(r.Context(), c.app, r.PathValue("user"), in, mode)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	heraldhttp.WriteJSON(w, status, c.identity(id))
	return nil
}

func (a *API) patchIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	var in messaging.IdentityInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	id, _, err := c.service().PutIdentity(r.Context(), c.app, r.PathValue("user"), in, messaging.IdentityPatch)
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, c.identity(id))
	return nil
}

func (a *API) getIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	id, err := c.service().Identity(r.Context(), c.app, r.PathValue("user"))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, c.identity(id))
	return nil
}

func (a *API) deleteIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().DeleteIdentity(r.Context(), c.app, r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
