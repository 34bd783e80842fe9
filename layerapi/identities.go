package layerapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// putIdentity creates (POST) or replaces (PUT) a user's identity. Layer
// answered 201 with no body for a creation and 204 for a replacement
// ([P1.1] platform/users/identity.md), and required display_name in both;
// Herald's PUT of a user without an identity creates it, with a 201.
func (a *API) putIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	var raw json.RawMessage
	if err := heraldhttp.Decode(w, r, &raw); err != nil {
		return err
	}
	var in messaging.IdentityInput
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] != '{' {
		// A list or a scalar has no display_name: Layer answered 422, as
		// clients written against it expect (laravel-layer-sdk's
		// IdentityServiceTest sends []).
		return herald.PropertyError(herald.EMissingProperty, "display_name", "The body must be an identity object with a display_name.")
	}
	if err := heraldhttp.DecodeBytes(raw, &in); err != nil {
		return err
	}
	mode := messaging.IdentityReplace
	if r.Method == http.MethodPost {
		mode = messaging.IdentityCreate
	}
	_, created, err := c.service().PutIdentity(r.Context(), c.app, r.PathValue("user"), in, mode)
	if err != nil {
		return err
	}
	if created {
		// A PUT may create the identity too: it then answers as a POST.
		w.Header().Set("Location", a.srv.URLs.Identity(c.app, r.PathValue("user")))
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchIdentity edits an identity with Layer-Patch operations, or, as a
// convenience, merges a plain object's fields; 204 either way.
func (a *API) patchIdentity(w http.ResponseWriter, r *http.Request, c *call) error {
	var raw json.RawMessage
	if err := heraldhttp.Decode(w, r, &raw); err != nil {
		return err
	}
	user := r.PathValue("user")
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
		var ops []messaging.PatchOperation
		if err := json.Unmarshal(raw, &ops); err != nil {
			return herald.Errorf(herald.EInvalidRequest, "A Layer-Patch body is a list of {operation, property, value} objects: %v.", err)
		}
		if err := heraldhttp.CheckText(raw, &ops); err != nil {
			return nameOperations(err)
		}
		if _, err := c.service().PatchIdentity(r.Context(), c.app, user, ops); err != nil {
			return nameOperations(err)
		}
	} else {
		var in messaging.IdentityInput
		if err := heraldhttp.DecodeBytes(raw, &in); err != nil {
			return err
		}
		if _, _, err := c.service().PutIdentity(r.Context(), c.app, user, in, messaging.IdentityPatch); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
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
