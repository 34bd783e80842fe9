// Package whatsapp is the connector of WhatsApp's Cloud API (Meta's Graph
// API): it sends messages with POST /<phone_number_id>/messages and reads
// the webhooks Meta posts (messages and statuses), as Meta documents them
// (developers.facebook.com/docs/whatsapp/cloud-api: messages reference,
// webhooks payload examples, "Verify requests" and "Validate payloads").
package whatsapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/connector"
)

// Provider sends through the Cloud API.
type Provider struct{}

// Limits of the Cloud API's interactive messages.
const (
	maxButtonTitle = 20
	maxRowTitle    = 24
	maxRowDesc     = 72
	maxSectionName = 24
	maxListButton  = 20
	maxHeader      = 60
)

// throttled are the Graph API's error codes that ask to slow down, which
// it answers with 400 rather than 429 (Cloud API "Error codes": 4 API too
// many calls, 80007 rate limit issues, 130429 throughput reached, 131056
// pair rate limit, 133016 register/deregister rate limit).
var throttled = []int{4, 80007, 130429, 131056, 133016}

// Send implements connector.Provider: each part the Cloud API takes as a
// message of its own is one request; the message's id is the first's.
func (Provider) Send(ctx context.Context, client *http.Client, c *herald.Connector, out *connector.Outgoing) (string, error) {
	bodies := Requests(out)
	url := c.APIURL + "/" + c.PhoneNumberID + "/messages"
	first := ""
	for _, body := range bodies {
		var answer struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		err := connector.PostJSON(ctx, client, url, "Bearer "+c.Secrets.AccessToken, body, &answer)
		if r, ok := connector.IsRefused(err); ok {
			var e struct {
				Error struct {
					Code int `json:"code"`
				} `json:"error"`
			}
			if json.Unmarshal(r.Payload, &e) == nil && slices.Contains(throttled, e.Error.Code) {
				return "", &connector.Busy{Status: r.Status, Body: string(r.Payload)}
			}
		}
		if err != nil {
			return "", err
		}
		if len(answer.Messages) == 0 || answer.Messages[0].ID == "" {
			return "", errors.New("the Graph API answered no message id")
		}
		if first == "" {
			first = answer.Messages[0].ID
		}
	}
	return first, nil
}

// Requests are the bodies of the Cloud API's requests that send a
// message: a template message when it was sent with a template, else one
// per text, attachment, location, contacts and interactive part (a lone
// attachment carries the text as its caption, as WhatsApp shows it).
func Requests(out *connector.Outgoing) []map[string]any {
	base := func(typ string, content any) map[string]any {
		b := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": out.To,
			"type": typ, typ: content}
		if out.ReplyTo != "" {
			b["context"] = map[string]string{"message_id": out.ReplyTo}
		}
		return b
	}
	m := out.Message
	if t := m.Channel.Template; t != nil {
		tmpl := map[string]any{"name": t.Name, "language": map[string]string{"code": t.Language}}
		if len(t.Values) > 0 {
			params := make([]map[string]string, len(t.Values))
			for i, v := range t.Values {
				params[i] = map[string]string{"type": "text", "text": v}
			}
			tmpl["components"] = []map[string]any{{"type": "body", "parameters": params}}
		}
		return []map[string]any{base("template", tmpl)}
	}
	p := connector.PartsOf(m)
	var bodies []map[string]any
	text := p.Text
	interactive := p.ReplyButtons != nil || p.InteractiveList != nil
	if len(p.URLs) == 1 && text != "" && !interactive {
		kind := connector.MediaKind(p.URLs[0])
		media := map[string]string{"link": p.URLs[0]}
		if kind != "audio" {
			media["caption"] = text
			text = ""
		}
		if text != "" {
			bodies = append(bodies, base("text", map[string]any{"body": text}))
		}
		return append(bodies, base(kind, media))
	}
	if text != "" && !interactive {
		bodies = append(bodies, base("text", map[string]any{"body": text, "preview_url": false}))
	}
	for _, u := range p.URLs {
		bodies = append(bodies, base(connector.MediaKind(u), map[string]string{"link": u}))
	}
	if l := p.Location; l != nil {
		bodies = append(bodies, base("location", map[string]float64{"latitude": l.Latitude, "longitude": l.Longitude}))
	}
	if len(p.ContactCard) > 0 {
		var contacts []map[string]any
		for _, c := range p.ContactCard {
			var phones []map[string]string
			for _, ph := range c.Phones {
				phones = append(phones, map[string]string{"phone": ph})
			}
			contacts = append(contacts, map[string]any{"name": map[string]string{"formatted_name": c.Name, "first_name": c.Name},
				"phones": phones})
		}
		bodies = append(bodies, base("contacts", contacts))
	}
	if b := p.ReplyButtons; b != nil {
		body := b.Body
		if body == "" {
			body = text
		}
		var buttons []map[string]any
		for i, t := range b.Titles {
			buttons = append(buttons, map[string]any{"type": "reply",
				"reply": map[string]string{"id": strconv.Itoa(i + 1), "title": connector.Truncate(t, maxButtonTitle)}})
		}
		bodies = append(bodies, base("interactive", map[string]any{"type": "button", "body": map[string]string{"text": body},
			"action": map[string]any{"buttons": buttons}}))
	}
	if l := p.InteractiveList; l != nil {
		body := l.Body
		if body == "" {
			body = text
		}
		button := l.Button
		if button == "" {
			button = "Menu"
		}
		var sections []map[string]any
		n := 0
		for _, s := range l.Sections {
			var rows []map[string]string
			for _, it := range s.Items {
				n++
				row := map[string]string{"id": fmt.Sprintf("%d", n), "title": connector.Truncate(it.Title, maxRowTitle)}
				if it.Description != "" {
					row["description"] = connector.Truncate(it.Description, maxRowDesc)
				}
				rows = append(rows, row)
			}
			sections = append(sections, map[string]any{"title": connector.Truncate(s.Title, maxSectionName), "rows": rows})
		}
		list := map[string]any{"type": "list", "body": map[string]string{"text": body},
			"action": map[string]any{"button": connector.Truncate(button, maxListButton), "sections": sections}}
		if l.Header != "" {
			list["header"] = map[string]string{"type": "text", "text": connector.Truncate(l.Header, maxHeader)}
		}
		bodies = append(bodies, base("interactive", list))
	}
	return bodies
}
