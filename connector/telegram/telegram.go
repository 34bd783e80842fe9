// Package telegram is the connector of Telegram's Bot API
// (core.telegram.org/bots/api): it sends with sendMessage, sendPhoto,
// sendDocument, sendVideo, sendAudio, sendLocation and sendContact, takes
// the updates Telegram posts to the webhook it set with setWebhook, and
// checks their X-Telegram-Bot-Api-Secret-Token.
package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/connector"
	"github.com/heraldhq/herald/messaging"
)

// Provider sends through the Bot API.
type Provider struct{}

// SecretHeader carries the secret_token of setWebhook on every update.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// CheckSecret reports whether an update's header is the connector's
// secret token.
func CheckSecret(c *herald.Connector, header string) bool {
	return c.Secrets.SecretToken != "" && subtle.ConstantTimeCompare([]byte(header), []byte(c.Secrets.SecretToken)) == 1
}

type result struct {
	OK     bool `json:"ok"`
	Result struct {
		MessageID int64 `json:"message_id"`
	} `json:"result"`
}

func call(ctx context.Context, client *http.Client, c *herald.Connector, method string, body any, out any) error {
	// The Bot API takes the token in the path: https://api.telegram.org/bot<token>/METHOD.
	return connector.PostJSON(ctx, client, c.APIURL+"/bot"+c.Secrets.BotToken+"/"+method, "", body, out)
}

// SetWebhook has Telegram post the bot's updates to url with the
// connector's secret token.
func SetWebhook(ctx context.Context, client *http.Client, c *herald.Connector, url string) error {
	var out struct {
		OK bool `json:"ok"`
	}
	err := call(ctx, client, c, "setWebhook", map[string]any{"url": url, "secret_token": c.Secrets.SecretToken,
		"allowed_updates": []string{"message"}}, &out)
	if err == nil && !out.OK {
		return errors.New("Telegram did not set the webhook")
	}
	return err
}

// ExternalID is the id Herald keeps of a Telegram message: message ids
// are unique in a chat only.
func ExternalID(chatID string, messageID int64) string {
	return chatID + ":" + strconv.FormatInt(messageID, 10)
}

// Requests are the Bot API's method calls that send a message: one per
// text, attachment, location and contact part; a lone attachment carries
// the text as its caption, and reply buttons come as a one-time keyboard
// under the text (the contact's choice comes back as a text message).
func Requests(out *connector.Outgoing) (methods []string, bodies []map[string]any) {
	add := func(method string, b map[string]any) {
		b["chat_id"] = out.To
		if out.ReplyTo != "" {
			if _, id, ok := strings.Cut(out.ReplyTo, ":"); ok {
				if n, err := strconv.ParseInt(id, 10, 64); err == nil {
					b["reply_parameters"] = map[string]any{"message_id": n, "allow_sending_without_reply": true}
				}
			}
		}
		methods, bodies = append(methods, method), append(bodies, b)
	}
	m := out.Message
	p := connector.PartsOf(m)
	text := p.Text
	var keyboard [][]map[string]string
	if b := p.ReplyButtons; b != nil {
		if b.Body != "" {
			text = strings.TrimSpace(text + "\n" + b.Body)
		}
		for _, t := range b.Titles {
			keyboard = append(keyboard, []map[string]string{{"text": t}})
		}
	}
	if l := p.InteractiveList; l != nil {
		text = strings.TrimSpace(strings.Join([]string{text, l.Header, l.Body}, "\n"))
		for _, s := range l.Sections {
			for _, it := range s.Items {
				keyboard = append(keyboard, []map[string]string{{"text": it.Title}})
			}
		}
	}
	if text == "" && m.Channel.Template != nil {
		text = m.Channel.Template.Name
	}
	if len(p.URLs) == 1 && text != "" && keyboard == nil {
		method, field := mediaMethod(p.URLs[0])
		add(method, map[string]any{field: p.URLs[0], "caption": text})
		text = ""
	} else {
		if text != "" {
			b := map[string]any{"text": text}
			if keyboard != nil {
				b["reply_markup"] = map[string]any{"keyboard": keyboard, "one_time_keyboard": true, "resize_keyboard": true}
			}
			add("sendMessage", b)
		}
		for _, u := range p.URLs {
			method, field := mediaMethod(u)
			add(method, map[string]any{field: u})
		}
	}
	if l := p.Location; l != nil {
		add("sendLocation", map[string]any{"latitude": l.Latitude, "longitude": l.Longitude})
	}
	for _, c := range p.ContactCard {
		if len(c.Phones) > 0 {
			add("sendContact", map[string]any{"phone_number": c.Phones[0], "first_name": c.Name})
		}
	}
	return methods, bodies
}

func mediaMethod(url string) (method, field string) {
	switch connector.MediaKind(url) {
	case "image":
		return "sendPhoto", "photo"
	case "video":
		return "sendVideo", "video"
	case "audio":
		return "sendAudio", "audio"
	}
	return "sendDocument", "document"
}

// Send implements connector.Provider; the message's id is the first
// call's.
func (Provider) Send(ctx context.Context, client *http.Client, c *herald.Connector, out *connector.Outgoing) (string, error) {
	methods, bodies := Requests(out)
	if len(methods) == 0 {
		return "", &connector.Refused{Status: 0, Payload: json.RawMessage(`{"ok":false,"description":"Herald has nothing of this message that the Bot API sends"}`)}
	}
	first := ""
	for i, method := range methods {
		var r result
		if err := call(ctx, client, c, method, bodies[i], &r); err != nil {
			return "", err
		}
		if !r.OK || r.Result.MessageID == 0 {
			return "", fmt.Errorf("%s answered no message id", method)
		}
		if first == "" {
			first = ExternalID(out.To, r.Result.MessageID)
		}
	}
	return first, nil
}

// Update is a message a contact sent, ready for messaging.ReceiveMessage;
// ReplyTo is the external id of the message it answers.
type Update struct {
	Input   messaging.InboundInput
	ReplyTo string
}

type user struct {
	ID        int64  `json:"id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Username  string `json:"username"`
}

type message struct {
	MessageID int64 `json:"message_id"`
	From      *user `json:"from"`
	Chat      struct {
		ID        int64  `json:"id"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Title     string `json:"title"`
	} `json:"chat"`
	Text    string `json:"text"`
	Caption string `json:"caption"`
	Photo   []struct {
		FileID string `json:"file_id"`
	} `json:"photo"`
	Document *struct {
		FileID   string `json:"file_id"`
		FileName string `json:"file_name"`
	} `json:"document"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
	} `json:"location"`
	Contact *struct {
		PhoneNumber string `json:"phone_number"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
	} `json:"contact"`
	ReplyToMessage *struct {
		MessageID int64 `json:"message_id"`
	} `json:"reply_to_message"`
}

// Parse reads an update; nil, nil for an update that carries no message
// Herald takes (an edit, a service message, a sticker...).
func Parse(body []byte) (*Update, error) {
	var u struct {
		UpdateID int64    `json:"update_id"`
		Message  *message `json:"message"`
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, fmt.Errorf("the update is not the Bot API's JSON: %w", err)
	}
	m := u.Message
	if m == nil {
		return nil, nil
	}
	if m.MessageID == 0 || m.Chat.ID == 0 {
		return nil, errors.New("the update's message has no message_id or chat")
	}
	chat := strconv.FormatInt(m.Chat.ID, 10)
	in := messaging.InboundInput{From: chat, ExternalID: ExternalID(chat, m.MessageID)}
	first, last := m.Chat.FirstName, m.Chat.LastName
	if first == "" && m.From != nil {
		first, last = m.From.FirstName, m.From.LastName
	}
	if name := strings.TrimSpace(first + " " + last); name != "" || m.Chat.Title != "" {
		if name == "" {
			name = m.Chat.Title
		}
		in.Contact = &struct {
			PhoneNumber string `json:"phone_number"`
			Name        string `json:"name"`
			AvatarURL   string `json:"avatar_url"`
			Bsuid       string `json:"bsuid"`
		}{Name: name}
	}
	in.Content.Text = m.Text
	// Telegram's files are fetched with the bot's token in the URL, which
	// must not reach the app's receivers: the file id comes in the
	// metadata, for the app to fetch with getFile.
	meta := map[string]string{}
	switch {
	case len(m.Photo) > 0:
		meta["telegram_file_id"] = m.Photo[len(m.Photo)-1].FileID // the largest size
		in.Content.Text = orDefault(m.Caption, "[photo]")
	case m.Document != nil:
		meta["telegram_file_id"] = m.Document.FileID
		in.Content.Text = orDefault(m.Caption, "[document: "+m.Document.FileName+"]")
	case m.Location != nil:
		in.Content.Location, _ = json.Marshal(map[string]any{"coordinates": map[string]float64{"x": m.Location.Latitude, "y": m.Location.Longitude}})
	case m.Contact != nil:
		name := strings.TrimSpace(m.Contact.FirstName + " " + m.Contact.LastName)
		in.Content.ContactCard, _ = json.Marshal(map[string]any{"contactsInfo": []map[string]any{{"name": orDefault(name, m.Contact.PhoneNumber),
			"phones": []map[string]string{{"phone": m.Contact.PhoneNumber}}}}})
	}
	if len(meta) > 0 {
		in.Metadata, _ = json.Marshal(meta)
	}
	if in.Content.Text == "" && in.Content.Location == nil && in.Content.ContactCard == nil {
		return nil, nil
	}
	up := &Update{Input: in}
	if m.ReplyToMessage != nil {
		up.ReplyTo = ExternalID(chat, m.ReplyToMessage.MessageID)
	}
	return up, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
