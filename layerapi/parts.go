package layerapi

import (
	"net/http"
	"strconv"

	"github.com/heraldhq/herald"
	heraldhttp "github.com/heraldhq/herald/http"
	"github.com/heraldhq/herald/messaging"
)

// Message parts as objects of their own (Server API 3.0, [S3]
// messages.out: get one or all, add one, update one, replace all, remove
// one). Layer's pages give the routes but not their answers; Herald answers
// as Layer's other endpoints do: 200 with what is read, 201 with the part
// added, and 204 with no body for the updates and removals, as Layer's PUT
// identity and PUT badge did ([P1.1] users/identity.md, users/badging.md).
//
// Every version serves them. 3.0 names a part by its id, and renders its
// url, message_url and updated_at ([PV] client_api messagepart.obj); 1.x
// and 2.0 name every part by its index, in paths as in what they render.

// partJSON3 is a part on its own in 3.0.
type partJSON3 struct {
	partJSON
	URL        string `json:"url"`
	MessageURL string `json:"message_url"`
}

// partRef reads the part a request's path names, as its version names parts.
func (c *call) partRef(r *http.Request) messaging.PartRef {
	return messaging.PartRef{Name: r.PathValue("part"), ByIndex: !c.v.partIDs()}
}

// partInputs keeps the ids a client gives parts in 3.0 only: in 1.x and 2.0
// parts have none, and an id there is an echo of an index-named one.
func (c *call) partInputs(in []messaging.PartInput) []messaging.PartInput {
	if !c.v.partIDs() {
		for i := range in {
			in[i].ID = ""
		}
	}
	return in
}

// part renders part i of m on its own.
func (c *call) part(m *herald.Message, i int) any {
	p := c.parts(herald.MessageIDPrefix+m.ID, m.Parts)[i]
	if !c.v.partIDs() {
		return p
	}
	return partJSON3{partJSON: p, URL: c.partURL(m, i), MessageURL: c.srv.URLs.Message(c.app, m.ID)}
}

// partURL is the URL of part i of m, named as the version names it.
func (c *call) partURL(m *herald.Message, i int) string {
	name := strconv.Itoa(i)
	if c.v.partIDs() {
		name = m.PartName(i)
	}
	return c.srv.URLs.Conversation(c.app, m.ConversationID) + "/messages/" + m.ID + "/parts/" + name
}

func (a *API) listParts(w http.ResponseWriter, r *http.Request, c *call) error {
	m, err := c.service().Parts(r.Context(), c.app, r.PathValue("conv"), r.PathValue("msg"))
	if err != nil {
		return err
	}
	out := make([]any, len(m.Parts))
	for i := range m.Parts {
		out[i] = c.part(m, i)
	}
	heraldhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getPart(w http.ResponseWriter, r *http.Request, c *call) error {
	m, i, err := c.service().Part(r.Context(), c.app, r.PathValue("conv"), r.PathValue("msg"), c.partRef(r))
	if err != nil {
		return err
	}
	heraldhttp.WriteJSON(w, http.StatusOK, c.part(m, i))
	return nil
}

func (a *API) addPart(w http.ResponseWriter, r *http.Request, c *call) error {
	var in messaging.PartInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	m, i, err := c.service().AddPart(r.Context(), c.app, r.PathValue("conv"), r.PathValue("msg"), c.partInputs([]messaging.PartInput{in})[0])
	if err != nil {
		return err
	}
	w.Header().Set("Location", c.partURL(m, i))
	heraldhttp.WriteJSON(w, http.StatusCreated, c.part(m, i))
	return nil
}

func (a *API) updatePart(w http.ResponseWriter, r *http.Request, c *call) error {
	var in messaging.PartInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	if _, _, err := c.service().UpdatePart(r.Context(), c.app, r.PathValue("conv"), r.PathValue("msg"), c.partRef(r), in); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) replaceParts(w http.ResponseWriter, r *http.Request, c *call) error {
	var in []messaging.PartInput
	if err := heraldhttp.Decode(w, r, &in); err != nil {
		return err
	}
	if _, err := c.service().ReplaceParts(r.Context(), c.app, r.PathValue("conv"), r.PathValue("msg"), c.partInputs(in)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) deletePart(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := c.service().DeletePart(r.Context(), c.app, r.PathValue("conv"), r.PathValue("msg"), c.partRef(r)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// scheduledJSON answers a send with a schedule. Layer answered 202
// Accepted ([P1.1] platform/messages/delayed-messaging.md; the 202 of the
// live API in andriiosmak/laravel-layer-sdk's integration tests) and
// documents no body: its own Go client reads none. Herald adds one, so
// that the sender knows the id the message will have (its url answers 404
// until the message is sent) and when it is due.
type scheduledJSON struct {
	ID           string       `json:"id"`
	URL          string       `json:"url"`
	Conversation refJSON      `json:"conversation"`
	Schedule     scheduleJSON `json:"schedule"`
	SendAt       string       `json:"send_at"`
}

type scheduleJSON struct {
	DelayInSeconds           float64  `json:"delay_in_seconds"`
	TypingIndicatorInSeconds *float64 `json:"typing_indicator_in_seconds"`
}

func (a *API) scheduleMessage(w http.ResponseWriter, r *http.Request, c *call, in messaging.MessageInput, sch messaging.Schedule) error {
	sm, replay, err := c.service().ScheduleMessage(r.Context(), c.app, r.PathValue("conv"), in, sch, r.Header.Get("If-None-Match"))
	if err != nil {
		return err
	}
	if replay {
		w.Header().Set("Herald-Replayed", "true")
	}
	out := scheduledJSON{ID: herald.MessageIDPrefix + sm.ID, URL: c.srv.URLs.Message(c.app, sm.ID),
		Conversation: refJSON{ID: herald.ConversationIDPrefix + sm.ConversationID, URL: c.srv.URLs.Conversation(c.app, sm.ConversationID)},
		Schedule:     scheduleJSON{DelayInSeconds: sm.DelaySeconds},
		SendAt:       herald.FormatTime(sm.SendAt)}
	if sm.TypingSeconds > 0 {
		out.Schedule.TypingIndicatorInSeconds = &sm.TypingSeconds
	}
	heraldhttp.WriteJSON(w, http.StatusAccepted, out)
	return nil
}
