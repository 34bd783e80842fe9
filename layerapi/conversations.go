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

// userRefs accepts users as Layer clients name them, in any version: bare
// user ids (1.x), identity ids ("layer:///identities/u", 2.0), or objects
// with user_id or id (Basic Identities, as a 2.0 response gave them).
type userRefs []string

func (u *userRefs) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, len(raw))
	for i, item := range raw {
		var s string
		if json.Unmarshal(item, &s) == nil {
			out[i] = s
			continue
		}
		var obj struct {
			UserID string `json:"user_id"`
			ID     string `json:"id"`
		}
		if json.Unmarshal(item, &obj) != nil {
			return herald.PropertyError(herald.EInvalidProperty, "["+strconv.Itoa(i)+"]", "entry %d must be a user id or an identity object.", i)
		}
		out[i] = obj.UserID
		if out[i] == "" {
			out[i] = obj.ID
		}
	}
	*u = out
	return nil
}

// prefixProperty names the list a userRefs entry error came from.
func prefixProperty(err error, list string) error {
	if e, ok := herald.AsError(err); ok {
		if p, _ := e.Data["property"].(string); strings.HasPrefix(p, "[") {
			e.Data["property"] = list + p
			e.Message = list + " " + e.Message
		}
	}
	return err
}

func (a *API) createConversation(w http.ResponseWriter, r *http.Request, c *call) error {
	ci, _, err := decodeConversation(w, r)
	if err != nil {
		return err
	}
	conv, created, err := c.service().CreateConversation(r.Context(), c.app, nil, ci)
	if err != nil {
		return c.conflict(err)
	}
	if err := c.loadConversations(conv); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, a.created(w, c, conv, created, ci.RequestID), c.conversation(conv))
	return nil
}

// created is the status of a conversation create: 201 for a new one and
// for a retry (If-None-Match), which answers as the request it repeats;
// 200 with where it is for the distinct conversation that already existed
// ([P1.1] platform/conversations/create-a-conversation.md).
func (a *API) created(w http.ResponseWriter, c *call, conv *herald.Conversation, created bool, requestID string) int {
	switch {
	case created:
	case sameRequestID(requestID, conv.ID):
		w.Header().Set("Herald-Replayed", "true")
	default:
		w.Header().Set("Location", c.urls.conversation(conv.ID))
		return http.StatusOK
	}
	return http.StatusCreated
}

// decodeConversation reads a conversation create in any version's shape,
// with the request's deduplication key, and the id the body gives the
// conversation (the Client API's, see clientKey).
func decodeConversation(w http.ResponseWriter, r *http.Request) (messaging.ConversationInput, string, error) {
	var in struct {
		ID           string          `json:"id"`
		Participants *userRefs       `json:"participants"`
		Distinct     *bool           `json:"distinct"`
		Metadata     json.RawMessage `json:"metadata"`
	}
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return messaging.ConversationInput{}, "", prefixProperty(err, "participants")
	}
	ci := messaging.ConversationInput{Distinct: in.Distinct, Metadata: in.Metadata, RequestID: r.Header.Get("If-None-Match")}
	if in.Participants != nil {
		ci.Participants = []string(*in.Participants)
		if ci.Participants == nil {
			ci.Participants = []string{}
		}
	}
	return ci, in.ID, nil
}

// sameRequestID reports whether an object's id is the deduplication key a
// request was sent with, as it would be for a retry.
func sameRequestID(key, id string) bool {
	return key != "" && strings.EqualFold(strings.Trim(key, `"`), id)
}

// conflict answers a distinct create whose metadata differs from the
// existing conversation's as Layer did: 409 conflict, the existing
// conversation as data.
func (c *call) conflict(err error) error {
	e, ok := herald.AsError(err)
	if !ok {
		return err
	}
	if existing, ok := e.Data["conversation"].(*herald.Conversation); ok {
		if err := c.loadConversations(existing); err != nil {
			return err
		}
		return &heraldhttp.DataError{Err: e, Data: c.conversation(existing)}
	}
	return err
}

func (a *API) listConversations(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := c.page(r)
	if err != nil {
		return err
	}
	cs, err := c.service().Conversations(r.Context(), c.app, c.user, p)
	if err != nil {
		return err
	}
	if err := c.loadConversations(cs...); err != nil {
		return err
	}
	heraldhttp.WritePage(a.srv, w, r, p, cs, func(conv *herald.Conversation) string { return conv.ID }, c.conversation)
	return nil
}

func (a *API) getConversation(w http.ResponseWriter, r *http.Request, c *call) error {
	conv, err := c.service().Conversation(r.Context(), c.app, r.PathValue("conv"))
	if err != nil {
		return err
	}
	if user := c.user; user != "" && !conv.HasParticipant(user) {
		return herald.NotFound("conversation", r.PathValue("conv"))
	}
	if err := c.loadConversations(conv); err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, c.conversation(conv))
	return nil
}

// patchOperation is a Layer-Patch operation as any version sends it: 2.0
// names the participant to add or remove by "id" where 1.x gave its user id
// as "value" ([P2] platform/conversations/edit-a-conversation.md).
type patchOperation struct {
	messaging.PatchOperation
	ID *string `json:"id"`
}

// operations turns patch operations into the domain's, "id" into "value".
func operations(in []patchOperation) ([]messaging.PatchOperation, error) {
	ops := make([]messaging.PatchOperation, len(in))
	for i, op := range in {
		ops[i] = op.PatchOperation
		if op.ID == nil {
			continue
		}
		if op.Value != nil {
			return nil, herald.PropertyError(herald.EInvalidProperty, "["+strconv.Itoa(i)+"].id",
				"[%d] gives both id and value; give one.", i)
		}
		v, err := json.Marshal(*op.ID)
		if err != nil {
			return nil, err
		}
		ops[i].Value = v
	}
	return ops, nil
}

// patchConversation takes a Layer-Patch document (a list of operations,
// application/vnd.layer-patch+json) or, for convenience, a plain JSON object
// whose participants and metadata replace the current ones.
func (a *API) patchConversation(w http.ResponseWriter, r *http.Request, c *call) error {
	ops, fields, err := decodeConversationPatch(w, r)
	if err != nil {
		return err
	}
	if _, err := c.service().UpdateConversation(r.Context(), c.app, r.PathValue("conv"), nil, ops); err != nil {
		return nameFields(err, fields)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// decodeConversationPatch reads a conversation PATCH body into operations,
// and for a plain object the field each operation came from.
func decodeConversationPatch(w http.ResponseWriter, r *http.Request) (ops []messaging.PatchOperation, fields []string, err error) {
	var raw json.RawMessage
	if err := heraldhttp.Decode(w, r, &raw); err != nil {
		return nil, nil, nameOperations(err)
	}
	if t := strings.TrimSpace(string(raw)); strings.HasPrefix(t, "[") {
		var in []patchOperation
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, nil, herald.Errorf(herald.EInvalidRequest, "A Layer-Patch body is a list of {operation, property, value} objects: %v.", err)
		}
		if err := heraldhttp.CheckText(raw, &in); err != nil {
			return nil, nil, nameOperations(err)
		}
		if ops, err = operations(in); err != nil {
			return nil, nil, nameOperations(err)
		}
	} else {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil {
			return nil, nil, herald.Errorf(herald.EInvalidRequest, "The body must be a Layer-Patch list or a JSON object.")
		}
		if err := heraldhttp.CheckText(raw, &obj); err != nil {
			return nil, nil, err
		}
		for _, k := range []string{"participants", "metadata"} {
			if v, ok := obj[k]; ok {
				ops = append(ops, messaging.PatchOperation{Operation: "set", Property: k, Value: v})
				fields = append(fields, k)
				delete(obj, k)
			}
		}
		for k := range obj {
			return nil, nil, herald.PropertyError(herald.EInvalidProperty, k, "Only participants and metadata can be changed, not %q.", k)
		}
	}
	return ops, fields, nil
}

// nameOperations names the operations of a Layer-Patch list in an error
// about one of them: [0].value → operations[0].value.
func nameOperations(err error) error {
	if e, ok := herald.AsError(err); ok {
		if p, _ := e.Data["property"].(string); strings.HasPrefix(p, "[") {
			e.Data["property"] = "operations" + p
			e.Message = strings.Replace(e.Message, p, "operations"+p, 1)
		}
	}
	return err
}

// nameFields renames the operations a plain-object patch was turned into
// after the fields the client sent: operations[0].value[1] → participants[1].
func nameFields(err error, fields []string) error {
	e, ok := herald.AsError(err)
	if !ok {
		return err
	}
	p, _ := e.Data["property"].(string)
	for i, f := range fields {
		op := "operations[" + strconv.Itoa(i) + "].value"
		if rest, ok := strings.CutPrefix(p, op); ok {
			e.Data["property"] = f + rest
			e.Message = strings.ReplaceAll(e.Message, op, f)
		}
	}
	return err
}

func (a *API) deleteConversation(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().DeleteConversation(r.Context(), c.app, r.PathValue("conv"), nil); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
