package layerapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// User management: block lists, suspension, sessions and the app's session
// TTL ([P1.1] platform/users/blocking.md, suspension.md, session.md), and
// follows ([P2] platform/users/following.md). Layer answered the Layer-Patch
// writes 202 with no body, since it applied them asynchronously; Herald
// applies them before answering, with the same status.

// decodeOperations reads a Layer-Patch document: a list of operations.
func decodeOperations(w http.ResponseWriter, r *http.Request) ([]messaging.UserOperation, error) {
	var raw json.RawMessage
	if err := heraldhttp.Decode(w, r, &raw); err != nil {
		return nil, err
	}
	var ops []messaging.UserOperation
	if t := strings.TrimSpace(string(raw)); !strings.HasPrefix(t, "[") || json.Unmarshal(raw, &ops) != nil {
		return nil, herald.Errorf(herald.EInvalidRequest,
			"The body must be a Layer-Patch list of {operation, property, value or id} objects.")
	}
	return ops, heraldhttp.CheckText(raw, &ops)
}

func (a *API) patchUser(w http.ResponseWriter, r *http.Request, c *call) error {
	ops, err := decodeOperations(w, r)
	if err != nil {
		return err
	}
	if err := c.service().PatchUser(r.Context(), c.app, r.PathValue("user"), ops); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (a *API) patchApp(w http.ResponseWriter, r *http.Request, c *call) error {
	ops, err := decodeOperations(w, r)
	if err != nil {
		return err
	}
	if err := c.service().PatchApp(r.Context(), c.app, ops); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// userJSON is a user as GET /apps/:app/users/:user shows them, in every
// version: the bare user id, the full identity or null, and suspended
// ([P1.1] and [P2] platform/users/suspension.md).
type userJSON struct {
	ID        string        `json:"id"`
	Identity  *identityJSON `json:"identity"`
	Suspended bool          `json:"suspended"`
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, c *call) error {
	u, err := c.service().User(r.Context(), c.app, r.PathValue("user"))
	if err != nil {
		return err
	}
	out := userJSON{ID: u.UserID, Suspended: u.Suspended}
	if u.Identity != nil {
		id := c.identity(u.Identity)
		out.Identity = &id
	}
	heraldhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteSessions(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().RevokeSessions(r.Context(), c.app, r.PathValue("user")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// blockedJSON is a blocked user in 1.x: {"user_id": …} (the live list in
// cakejelly/layer-api spec/cassettes/blocks.yml).
type blockedJSON struct {
	UserID string `json:"user_id"`
}

// listBlocks answers the block list in the order the users were blocked;
// Layer gave no order (the same cassette lists block0, block2, block1).
func (a *API) listBlocks(w http.ResponseWriter, r *http.Request, c *call) error {
	ids, identities, err := c.service().Blocks(r.Context(), c.app, c.user)
	if err != nil {
		return err
	}
	out := make([]any, len(ids))
	for i, u := range ids {
		if c.v.identities() {
			c.know(u, identities[u])
			out[i] = c.basicIdentity(u)
		} else {
			out[i] = blockedJSON{UserID: u}
		}
	}
	heraldhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

// block is Platform API 1.x's POST …/blocks {"user_id"}; 2.0 dropped it for
// the Layer-Patch form, which Herald serves in every version, and so this
// one too. {"id": identity id} is taken as well.
func (a *API) block(w http.ResponseWriter, r *http.Request, c *call) error {
	var in struct {
		UserID string `json:"user_id"`
		ID     string `json:"id"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	user := in.UserID
	if user == "" {
		user = in.ID
	}
	if err := c.service().Block(r.Context(), c.app, c.user, user); err != nil {
		return blockProperty(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// blockProperty names the body's user_id in an error about the user of the
// one operation Block and Unblock make.
func blockProperty(err error) error {
	if e, ok := herald.AsError(err); ok {
		if p, _ := e.Data["property"].(string); strings.HasPrefix(p, "operations[0]") {
			e.Data["property"] = "user_id"
			e.Message = strings.Replace(e.Message, "operations[0].value", "user_id", 1)
		}
	}
	return err
}

func (a *API) unblock(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().Unblock(r.Context(), c.app, c.user, r.PathValue("blocked")); err != nil {
		return blockProperty(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) follow(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().Follow(r.Context(), c.app, c.user, r.PathValue("followed")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) unfollow(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().Unfollow(r.Context(), c.app, c.user, r.PathValue("followed")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// isFollowing answers 204 when the user follows the other, 404 when not.
func (a *API) isFollowing(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().IsFollowing(r.Context(), c.app, c.user, r.PathValue("followed")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// followMany takes a list of the users to follow: identity ids, as Layer
// documented, or user ids, or Basic Identity objects.
func (a *API) followMany(w http.ResponseWriter, r *http.Request, c *call) error {
	var in userRefs
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	if err := c.service().FollowMany(r.Context(), c.app, c.user, in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// followingPage reads the paging of follow listings: Layer's page_size,
// 500 when absent, and from_id.
func followingPage(r *http.Request) (herald.Page, error) {
	p := herald.Page{Before: r.URL.Query().Get("from_id"), Limit: messaging.DefaultFollowingPageSize}
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > messaging.MaxFollowingPageSize {
			return p, herald.PropertyError(herald.EInvalidProperty, "page_size",
				"page_size must be a whole number from 1 to %d.", messaging.MaxFollowingPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

// listFollowing answers the followed users' ids: bare user ids in 1.x,
// identity ids in 2.0 and 3.0 ([P2] platform/users/following.md).
func (a *API) listFollowing(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := followingPage(r)
	if err != nil {
		return err
	}
	ids, _, err := c.service().Following(r.Context(), c.app, c.user, p.Before, p.Limit)
	if err != nil {
		return err
	}
	if err := c.countFollowing(w, r); err != nil {
		return err
	}
	heraldhttp.WritePage(a.srv, w, r, p, ids, c.userRef, c.userRef)
	return nil
}

// userRef names a user as the version names them in requests: a bare user
// id, or an identity id.
func (c *call) userRef(user string) string {
	if c.v.identities() {
		return herald.IdentityIDPrefix + user
	}
	return user
}

// listFollowedIdentities answers the followed users' full identities, in
// every version; a followed user without an identity appears as a Basic
// Identity with null names.
func (a *API) listFollowedIdentities(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := followingPage(r)
	if err != nil {
		return err
	}
	ids, identities, err := c.service().Following(r.Context(), c.app, c.user, p.Before, p.Limit)
	if err != nil {
		return err
	}
	if err := c.countFollowing(w, r); err != nil {
		return err
	}
	heraldhttp.WritePage(a.srv, w, r, p, ids, c.userRef, func(u string) any {
		if id := identities[u]; id != nil {
			return c.identity(id)
		}
		return c.basicIdentity(u)
	})
	return nil
}

// countFollowing sets the Layer-Count of a follow listing: Layer's Web SDK
// reads it as the query's total ([P2] client/rest/identity.md lists it
// for GET /identities).
func (c *call) countFollowing(w http.ResponseWriter, r *http.Request) error {
	n, err := c.service().FollowingCount(r.Context(), c.app, c.user)
	if err != nil {
		return err
	}
	setCount(w, n)
	return nil
}
