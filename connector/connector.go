// Package connector sends a channel's messages through its provider and
// reads what the provider reports: WhatsApp's Cloud API (package
// connector/whatsapp) and Telegram's Bot API (package connector/telegram),
// each a Provider. Package connector/sender sends the outgoing messages.
package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/egress"
)

// Outgoing is a message to send to a contact.
type Outgoing struct {
	Message *herald.Message
	// To is the contact's address on the channel: a phone number in
	// digits on WhatsApp, a chat id on Telegram.
	To string
	// ReplyTo is the provider's id of the message this one answers, when
	// it has one.
	ReplyTo string
}

// Provider speaks to one provider's API.
type Provider interface {
	// Send sends a message and returns the provider's id of it. An error
	// is a *Refused when the provider refused it for good, anything else
	// when trying again may succeed.
	Send(ctx context.Context, client *http.Client, c *herald.Connector, out *Outgoing) (externalID string, err error)
}

// Refused is a provider's refusal of a request, which repeating it would
// not change.
type Refused struct {
	Status int
	// Payload is the provider's answer, JSON.
	Payload json.RawMessage
}

func (r *Refused) Error() string {
	return fmt.Sprintf("refused with status %d: %s", r.Status, r.Payload)
}

// Busy is a provider's answer that asks to try again later (429, 5xx).
type Busy struct {
	Status     int
	RetryAfter time.Duration
	Body       string
}

func (b *Busy) Error() string { return fmt.Sprintf("status %d: %.300s", b.Status, b.Body) }

// maxAnswer bounds what Herald reads of a provider's answer.
const maxAnswer = 1 << 20

// PostJSON posts v as JSON to url, with the given Authorization header
// when not empty, and decodes a 2xx answer into out. Other answers are a
// *Busy (408, 429, 5xx) or a *Refused.
func PostJSON(ctx context.Context, client *http.Client, url, authorization string, v, out any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := client.Do(req)
	var guarded *egress.RefusedError
	if errors.As(err, &guarded) {
		// An address the egress guard forbids stays forbidden.
		payload, _ := json.Marshal(map[string]string{"error": guarded.Error()})
		return &Refused{Payload: payload}
	}
	if err != nil {
		// The request may or may not have reached the provider: sending
		// again is the at-least-once side of the choice.
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("reading the provider's answer %.200q: %w", b, err)
		}
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		wait := retryAfter(resp.Header)
		// The Bot API says how long to wait in its body:
		// {"ok": false, "error_code": 429, "parameters": {"retry_after": 5}}.
		var tg struct {
			Parameters struct {
				RetryAfter int `json:"retry_after"`
			} `json:"parameters"`
		}
		if json.Unmarshal(b, &tg) == nil && tg.Parameters.RetryAfter > 0 {
			wait = max(wait, time.Duration(tg.Parameters.RetryAfter)*time.Second)
		}
		return &Busy{Status: resp.StatusCode, RetryAfter: wait, Body: string(b)}
	}
	payload := json.RawMessage(bytes.TrimSpace(b))
	if !json.Valid(payload) {
		payload, _ = json.Marshal(map[string]any{"status": resp.StatusCode, "error": strings.ToValidUTF8(string(b), "")})
	}
	return &Refused{Status: resp.StatusCode, Payload: payload}
}

func retryAfter(h http.Header) time.Duration {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// IsRefused reports whether err is a provider's refusal, and returns it.
func IsRefused(err error) (*Refused, bool) {
	var r *Refused
	return r, errors.As(err, &r)
}

// Parts sorts a message's parts by what a provider sends of them.
type Parts struct {
	Text            string
	URLs            []string
	Location        *Location
	ContactCard     []ContactCard
	ReplyButtons    *ReplyButtons
	InteractiveList *InteractiveList
}

// Location is a point.
type Location struct {
	Latitude, Longitude float64
}

// ContactCard is a contact shared in a message.
type ContactCard struct {
	Name   string
	Phones []string
}

// ReplyButtons is a question with up to three answers.
type ReplyButtons struct {
	Body   string
	Titles []string
}

// InteractiveList is a menu of items in sections.
type InteractiveList struct {
	Header, Body, Button string
	Sections             []ListSection
}

// ListSection is a section of an InteractiveList.
type ListSection struct {
	Title string
	Items []ListItem
}

// ListItem is an item of a ListSection.
type ListItem struct {
	Title, Description string
}

// PartsOf reads a message's parts, in the shapes of Callbell's fields that
// messaging checked when the message was made.
func PartsOf(m *herald.Message) Parts {
	var p Parts
	var texts []string
	for _, part := range m.Parts {
		if part.Encoding != "" {
			continue
		}
		switch part.MimeType {
		case herald.MimeText:
			texts = append(texts, part.Body)
		case herald.MimeURIList:
			p.URLs = append(p.URLs, strings.TrimSpace(part.Body))
		case herald.MimeLocation:
			var l struct {
				Coordinates struct{ X, Y float64 } `json:"coordinates"`
			}
			if json.Unmarshal([]byte(part.Body), &l) == nil {
				p.Location = &Location{Latitude: l.Coordinates.X, Longitude: l.Coordinates.Y}
			}
		case herald.MimeContactCard:
			var c struct {
				ContactsInfo []struct {
					Name   string            `json:"name"`
					Phones []json.RawMessage `json:"phones"`
				} `json:"contactsInfo"`
			}
			json.Unmarshal([]byte(part.Body), &c)
			for _, info := range c.ContactsInfo {
				card := ContactCard{Name: info.Name}
				for _, raw := range info.Phones {
					// Callbell's phones are strings or {"phone", "wa_id", "type"}
					// (object_types/message_contact_card.md lists both).
					var s string
					var o struct {
						Phone string `json:"phone"`
					}
					if json.Unmarshal(raw, &s) == nil {
						card.Phones = append(card.Phones, s)
					} else if json.Unmarshal(raw, &o) == nil && o.Phone != "" {
						card.Phones = append(card.Phones, o.Phone)
					}
				}
				p.ContactCard = append(p.ContactCard, card)
			}
		case herald.MimeReplyButtons:
			var b struct {
				Metadata struct {
					Content string `json:"content"`
					Options []struct {
						Title string `json:"title"`
					} `json:"options"`
				} `json:"metadata"`
			}
			json.Unmarshal([]byte(part.Body), &b)
			rb := &ReplyButtons{Body: b.Metadata.Content}
			for _, o := range b.Metadata.Options {
				rb.Titles = append(rb.Titles, o.Title)
			}
			p.ReplyButtons = rb
		case herald.MimeInteractiveList:
			p.InteractiveList = interactiveList(part.Body)
		}
	}
	p.Text = strings.Join(texts, "\n")
	return p
}

// interactiveList reads Callbell's interactive list, whose metadata is an
// object or its JSON text (webhooks/message_events/message_created.md).
func interactiveList(body string) *InteractiveList {
	var outer struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	json.Unmarshal([]byte(body), &outer)
	meta := outer.Metadata
	var s string
	if json.Unmarshal(meta, &s) == nil {
		meta = json.RawMessage(s)
	}
	var m struct {
		Header  string `json:"header"`
		Body    string `json:"body"`
		Buttons []struct {
			Title string `json:"title"`
		} `json:"buttons"`
		Sections []struct {
			Title string `json:"title"`
			Items []struct {
				Header      string `json:"header"`
				Description string `json:"description"`
			} `json:"items"`
		} `json:"sections"`
	}
	json.Unmarshal(meta, &m)
	l := &InteractiveList{Header: m.Header, Body: m.Body}
	if len(m.Buttons) > 0 {
		l.Button = m.Buttons[0].Title
	}
	for _, sec := range m.Sections {
		ls := ListSection{Title: sec.Title}
		for _, it := range sec.Items {
			ls.Items = append(ls.Items, ListItem{Title: it.Header, Description: it.Description})
		}
		l.Sections = append(l.Sections, ls)
	}
	return l
}

// MediaKind guesses what an attachment is from its URL's extension:
// image, video, audio or document (the default).
func MediaKind(url string) string {
	path := url
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	ext := strings.ToLower(path[strings.LastIndex(path, ".")+1:])
	switch ext {
	case "jpg", "jpeg", "png", "webp", "gif":
		return "image"
	case "mp4", "3gp", "mov":
		return "video"
	case "mp3", "ogg", "oga", "opus", "aac", "m4a", "amr", "wav":
		return "audio"
	}
	return "document"
}

// Truncate cuts s to at most n runes: providers refuse longer titles.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
