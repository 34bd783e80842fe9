package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald"
	"github.com/heraldhq/herald/messaging"
)

// CheckSignature reports whether header, X-Hub-Signature-256, is
// "sha256=" and the HMAC-SHA256 of the raw body with the app secret, as
// Meta signs its webhooks ("Validate payloads").
func CheckSignature(appSecret string, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Sign is the X-Hub-Signature-256 of body with the app secret.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Inbound is a message a contact sent, ready for messaging.ReceiveMessage;
// ReplyTo is the wamid of the message it answers.
type Inbound struct {
	Input   messaging.InboundInput
	ReplyTo string
}

// Status is a status notification of a message Herald sent.
type Status struct {
	ExternalID string
	// Status is Herald's channel status: sent, delivered, read or failed.
	Status string
	// Payload is Meta's status object, errors included.
	Payload json.RawMessage
}

// Notification is what a webhook POST reports.
type Notification struct {
	Messages []Inbound
	Statuses []Status
	// Skipped counts the messages Herald cannot take (no phone number,
	// unsupported type), which it acknowledges without recording.
	Skipped int
}

type media struct {
	ID       string `json:"id"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	MimeType string `json:"mime_type"`
}

type payload struct {
	Object string `json:"object"`
	Entry  []struct {
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Metadata struct {
					DisplayPhoneNumber string `json:"display_phone_number"`
					PhoneNumberID      string `json:"phone_number_id"`
				} `json:"metadata"`
				Contacts []struct {
					Profile struct {
						Name string `json:"name"`
					} `json:"profile"`
					WaID   string `json:"wa_id"`
					UserID string `json:"user_id"`
				} `json:"contacts"`
				Messages []struct {
					From       string `json:"from"`
					FromUserID string `json:"from_user_id"`
					ID         string `json:"id"`
					Type       string `json:"type"`
					Context    *struct {
						ID        string `json:"id"`
						Forwarded bool   `json:"forwarded"`
					} `json:"context"`
					Text *struct {
						Body string `json:"body"`
					} `json:"text"`
					Image    *media `json:"image"`
					Document *media `json:"document"`
					Audio    *media `json:"audio"`
					Video    *media `json:"video"`
					Sticker  *media `json:"sticker"`
					Location *struct {
						Latitude  float64 `json:"latitude"`
						Longitude float64 `json:"longitude"`
						Name      string  `json:"name"`
						Address   string  `json:"address"`
					} `json:"location"`
					Contacts []struct {
						Name struct {
							FormattedName string `json:"formatted_name"`
						} `json:"name"`
						Phones []struct {
							Phone string `json:"phone"`
							WaID  string `json:"wa_id"`
							Type  string `json:"type"`
						} `json:"phones"`
					} `json:"contacts"`
					Interactive *struct {
						Type        string `json:"type"`
						ButtonReply *struct {
							ID    string `json:"id"`
							Title string `json:"title"`
						} `json:"button_reply"`
						ListReply *struct {
							ID          string `json:"id"`
							Title       string `json:"title"`
							Description string `json:"description"`
						} `json:"list_reply"`
					} `json:"interactive"`
					Button *struct {
						Text    string `json:"text"`
						Payload string `json:"payload"`
					} `json:"button"`
				} `json:"messages"`
				Statuses []json.RawMessage `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

// statuses maps the Cloud API's statuses to Herald's; others (deleted,
// warning) are not delivery statuses and are acknowledged only.
var statuses = map[string]string{"sent": herald.ChannelSent, "delivered": herald.ChannelDelivered,
	"read": herald.ChannelRead, "failed": herald.ChannelFailed}

// Parse reads a webhook notification of the Cloud API (webhooks reference,
// "messages" field) for the number phoneNumberID. mediaURL makes the URL of
// a media id: the Cloud API sends ids, which the Graph API resolves with
// the channel's token. Meta posts the notifications of every number of a
// Meta app to the app's one callback URL: those of other numbers are
// skipped.
func Parse(body []byte, phoneNumberID string, mediaURL func(id string) string) (*Notification, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("the notification is not the Cloud API's JSON: %w", err)
	}
	if p.Object != "whatsapp_business_account" {
		return nil, fmt.Errorf("the notification's object is %q, not whatsapp_business_account", p.Object)
	}
	n := &Notification{}
	for _, e := range p.Entry {
		for _, ch := range e.Changes {
			if ch.Field != "messages" {
				continue
			}
			v := ch.Value
			if id := v.Metadata.PhoneNumberID; id != "" && id != phoneNumberID {
				n.Skipped += len(v.Messages) + len(v.Statuses)
				continue
			}
			for _, m := range v.Messages {
				in := messaging.InboundInput{From: m.From, ExternalID: m.ID}
				if in.From == "" || m.ID == "" {
					// A user known by a username only, without a phone
					// number: Herald's WhatsApp contacts are phone numbers.
					n.Skipped++
					continue
				}
				for _, c := range v.Contacts {
					if c.WaID == m.From || (c.UserID != "" && c.UserID == m.FromUserID) || len(v.Contacts) == 1 {
						in.Contact = &struct {
							PhoneNumber string `json:"phone_number"`
							Name        string `json:"name"`
							AvatarURL   string `json:"avatar_url"`
							Bsuid       string `json:"bsuid"`
						}{Name: c.Profile.Name, Bsuid: c.UserID}
						break
					}
				}
				var media *media
				switch m.Type {
				case "text":
					if m.Text != nil {
						in.Content.Text = m.Text.Body
					}
				case "image":
					media = m.Image
				case "document":
					media = m.Document
				case "audio":
					media = m.Audio
				case "video":
					media = m.Video
				case "sticker":
					media = m.Sticker
				case "location":
					if l := m.Location; l != nil {
						in.Content.Location, _ = json.Marshal(map[string]any{"coordinates": map[string]float64{"x": l.Latitude, "y": l.Longitude}})
						in.Content.Text = strings.TrimSpace(strings.Join([]string{l.Name, l.Address}, "\n"))
					}
				case "contacts":
					var infos []map[string]any
					for _, c := range m.Contacts {
						var phones []map[string]string
						for _, ph := range c.Phones {
							phones = append(phones, map[string]string{"phone": ph.Phone, "wa_id": ph.WaID, "type": ph.Type})
						}
						name := c.Name.FormattedName
						if name == "" && len(c.Phones) > 0 {
							name = c.Phones[0].Phone
						}
						infos = append(infos, map[string]any{"name": name, "phones": phones})
					}
					if len(infos) > 0 {
						in.Content.ContactCard, _ = json.Marshal(map[string]any{"contactsInfo": infos})
					}
				case "interactive":
					if i := m.Interactive; i != nil && i.ButtonReply != nil {
						in.Content.Text = i.ButtonReply.Title
					} else if i != nil && i.ListReply != nil {
						in.Content.Text = i.ListReply.Title
					}
				case "button":
					if m.Button != nil {
						in.Content.Text = m.Button.Text
					}
				}
				if media != nil && media.ID != "" {
					in.Content.URL = mediaURL(media.ID)
					in.Content.Text = media.Caption
				}
				if in.Content.Text == "" && in.Content.URL == "" && in.Content.Location == nil && in.Content.ContactCard == nil {
					// unsupported, reaction, system, or an empty one.
					n.Skipped++
					continue
				}
				msg := Inbound{Input: in}
				if m.Context != nil {
					msg.ReplyTo = m.Context.ID
					msg.Input.Forwarded = m.Context.Forwarded
				}
				n.Messages = append(n.Messages, msg)
			}
			for _, raw := range v.Statuses {
				var s struct {
					ID     string `json:"id"`
					Status string `json:"status"`
				}
				if err := json.Unmarshal(raw, &s); err != nil || s.ID == "" {
					return nil, fmt.Errorf("a status without a message id")
				}
				if st, ok := statuses[s.Status]; ok {
					n.Statuses = append(n.Statuses, Status{ExternalID: s.ID, Status: st, Payload: raw})
				}
			}
		}
	}
	return n, nil
}
