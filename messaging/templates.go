package messaging

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald"
)

// TemplateInput creates or changes a message template. Callbell's API only
// reads templates and changes their title (template_messages_api/*.md);
// creating, deleting and changing the rest are Herald's extension, for
// whoever keeps Herald's copy of the WhatsApp account's templates. The
// type is read as template_type or, as Callbell's Template object spells
// it, templateType.
type TemplateInput struct {
	ChannelUUID       *string `json:"channel_uuid"`
	Name              *string `json:"name"`
	Language          *string `json:"language"`
	Title             *string `json:"title"`
	Text              *string `json:"text"`
	TemplateType      *string `json:"template_type"`
	TemplateTypeCamel *string `json:"templateType"`
	Category          *string `json:"category"`
	Status            *string `json:"status"`
}

// TemplateSend is what POST /v1/messages/send takes to send a template
// (messages_api/post_send_messages.md): the template, the values of its
// placeholders, and the business's confirmation that the contact opted in.
type TemplateSend struct {
	TemplateUUID   string   `json:"template_uuid"`
	TemplateValues []string `json:"template_values"`
	OptinContact   *bool    `json:"optin_contact"`
}

// Limits of a template, WhatsApp's: a body of at most 1024 characters, a
// name of at most 512 lowercase letters, digits and underscores.
const (
	maxTemplateText = 1024
	maxTemplateName = 512
)

var (
	templateName     = regexp.MustCompile(`^[a-z0-9_]+$`)
	templateLanguage = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
	// placeholder matches anything a sender could mean as a placeholder,
	// so that {{ 1 }} or {{name}} is refused rather than sent as it is.
	placeholder = regexp.MustCompile(`\{\{[^{}]*\}\}`)
)

// templatePlaceholders returns how many placeholders text has; they must
// be {{1}}, {{2}}, … numbered from 1 without a gap, as WhatsApp requires.
// One may appear more than once.
func templatePlaceholders(text string) (int, error) {
	seen := map[int]bool{}
	highest := 0
	for _, p := range placeholder.FindAllString(text, -1) {
		n, err := strconv.Atoi(p[2 : len(p)-2])
		if err != nil || n < 1 || p[2] == '+' || p[2] == '0' {
			return 0, herald.PropertyError(herald.EInvalidProperty, "text",
				"text: placeholder %s is not {{1}}, {{2}}, …: placeholders are whole numbers from 1.", p)
		}
		seen[n] = true
		highest = max(highest, n)
	}
	for n := 1; n <= highest; n++ {
		if !seen[n] {
			return 0, herald.PropertyError(herald.EInvalidProperty, "text",
				"text has {{%d}} but no {{%d}}: placeholders are numbered from 1 without a gap.", highest, n)
		}
	}
	return highest, nil
}

// renderTemplate fills a template's placeholders with values, in order.
func renderTemplate(text string, values []string) string {
	return placeholder.ReplaceAllStringFunc(text, func(p string) string {
		n, _ := strconv.Atoi(p[2 : len(p)-2])
		return values[n-1]
	})
}

func oneOf(property, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return herald.PropertyError(herald.EInvalidProperty, property, "%s must be one of %s, not %q.", property, strings.Join(allowed, ", "), v)
	}
	return nil
}

// applyTemplateInput checks in and sets what it gives on t.
func applyTemplateInput(t *herald.Template, in TemplateInput) error {
	if in.TemplateType == nil {
		in.TemplateType = in.TemplateTypeCamel
	}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" || len(name) > maxTemplateName || !templateName.MatchString(name) {
			return herald.PropertyError(herald.EInvalidProperty, "name",
				"name must be WhatsApp's name of the template: 1 to %d lowercase letters, digits and underscores, not %q.", maxTemplateName, *in.Name)
		}
		t.Name = name
	}
	if in.Language != nil {
		if !templateLanguage.MatchString(*in.Language) {
			return herald.PropertyError(herald.EInvalidProperty, "language", "language must be a WhatsApp language code such as en or en_US, not %q.", *in.Language)
		}
		t.Language = *in.Language
	}
	if in.Title != nil {
		title := strings.TrimSpace(*in.Title)
		if title == "" || len(title) > 255 || !utf8.ValidString(title) {
			return herald.PropertyError(herald.EInvalidProperty, "title", "title must be non-empty UTF-8 of at most 255 bytes.")
		}
		t.Title = title
	}
	if in.Text != nil {
		if strings.TrimSpace(*in.Text) == "" || utf8.RuneCountInString(*in.Text) > maxTemplateText || !utf8.ValidString(*in.Text) {
			return herald.PropertyError(herald.EInvalidProperty, "text", "text must be non-empty UTF-8 of at most %d characters.", maxTemplateText)
		}
		if _, err := templatePlaceholders(*in.Text); err != nil {
			return err
		}
		t.Text = *in.Text
	}
	if in.TemplateType != nil {
		if err := oneOf("template_type", *in.TemplateType, herald.TemplateTypes); err != nil {
			return err
		}
		t.TemplateType = *in.TemplateType
	}
	if in.Category != nil {
		if err := oneOf("category", *in.Category, herald.TemplateCategories); err != nil {
			return err
		}
		t.Category = *in.Category
	}
	if in.Status != nil {
		if err := oneOf("status", *in.Status, herald.TemplateStatuses); err != nil {
			return err
		}
		t.Status = *in.Status
	}
	return nil
}

// CreateTemplate adds a template to a WhatsApp channel. Its name, language,
// text and category are required; its type is text and its status pending
// unless given (a template is pending until WhatsApp approves it), its
// title its name.
func (s *Service) CreateTemplate(ctx context.Context, appID string, in TemplateInput) (out *herald.Template, err error) {
	for _, req := range []struct {
		property string
		value    *string
	}{{"channel_uuid", in.ChannelUUID}, {"name", in.Name}, {"language", in.Language}, {"text", in.Text}, {"category", in.Category}} {
		if req.value == nil || *req.value == "" {
			return nil, herald.PropertyError(herald.EMissingProperty, req.property, "%s is required.", req.property)
		}
	}
	t := &herald.Template{UUID: herald.CompactUUID(NewID()), AppID: appID, TemplateType: "text", Status: "pending"}
	if err := applyTemplateInput(t, in); err != nil {
		return nil, err
	}
	if t.Title == "" {
		t.Title = t.Name
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		ch, err := channelByID(ctx, tx, appID, *in.ChannelUUID)
		if herald.IsNotFound(err) {
			return herald.PropertyError(herald.EInvalidProperty, "channel_uuid", "channel_uuid: no channel %q exists in this app.", *in.ChannelUUID)
		}
		if err != nil {
			return err
		}
		// Callbell supports templates on WhatsApp only
		// (template_messages_api/introduction.md); no other channel has them.
		if ch.Type != "whatsapp" {
			return herald.PropertyError(herald.EInvalidProperty, "channel_uuid", "Channel %s is a %s channel; only WhatsApp channels have templates.", ch.UUID, ch.Type)
		}
		t.ChannelUUID = ch.UUID
		now := s.now()
		t.CreatedAt, t.UpdatedAt = now, now
		if err := tx.CreateTemplate(ctx, t); err != nil {
			return err
		}
		out = t
		return s.record(ctx, tx, appID, herald.EventTemplateCreated, nil, &herald.EventData{Template: t, Channel: ch})
	})
	return out, err
}

func templateByID(ctx context.Context, q herald.Queries, appID, id string) (*herald.Template, error) {
	u := herald.ParseUUID(id)
	if u == "" {
		return nil, herald.NotFound("template", id)
	}
	// Stored in the 32-digit form, as channels and contacts are.
	return q.Template(ctx, appID, herald.CompactUUID(u))
}

// Template returns one of an app's templates.
func (s *Service) Template(ctx context.Context, appID, id string) (t *herald.Template, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		t, err = templateByID(ctx, q, appID, id)
		return err
	})
	return t, err
}

// TemplatesPageSize is the number of templates in a page of the list.
const TemplatesPageSize = 50

// Templates lists a page (from 1) of an app's templates, oldest first, and
// the number of pages.
func (s *Service) Templates(ctx context.Context, appID string, f herald.TemplateFilter, page int) (ts []*herald.Template, pages int, err error) {
	if f.ChannelUUID != "" {
		u := herald.ParseUUID(f.ChannelUUID)
		if u == "" {
			return nil, 0, herald.PropertyError(herald.EInvalidProperty, "channel_uuid", "channel_uuid must be a channel's UUID, not %q.", f.ChannelUUID)
		}
		f.ChannelUUID = herald.CompactUUID(u)
	}
	if f.Status != "" {
		if err := oneOf("status", f.Status, herald.TemplateStatuses); err != nil {
			return nil, 0, err
		}
	}
	err = s.Store.View(ctx, func(q herald.Queries) error {
		var total int
		ts, total, err = q.Templates(ctx, appID, f, herald.PageOffset(page, TemplatesPageSize), TemplatesPageSize)
		pages = max(1, (total+TemplatesPageSize-1)/TemplatesPageSize)
		return err
	})
	return ts, pages, err
}

// UpdateTemplate changes a template and records template.updated when
// something changed. Its channel cannot change: another channel's
// WhatsApp account has templates of its own.
func (s *Service) UpdateTemplate(ctx context.Context, appID, id string, in TemplateInput) (out *herald.Template, err error) {
	if in.ChannelUUID != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, "channel_uuid", "A template's channel cannot change: create the template on the other channel.")
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		t, err := templateByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		before := *t
		if err := applyTemplateInput(t, in); err != nil {
			return err
		}
		out = t
		if *t == before {
			return nil
		}
		t.UpdatedAt = s.now()
		if err := tx.UpdateTemplate(ctx, t); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventTemplateUpdated, nil, &herald.EventData{Template: t})
	})
	return out, err
}

// DeleteTemplate removes a template. Messages sent with it keep their
// record of it (herald.MessageChannel.Template).
func (s *Service) DeleteTemplate(ctx context.Context, appID, id string) error {
	return s.Store.Update(ctx, func(tx herald.Tx) error {
		t, err := templateByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteTemplate(ctx, appID, t.UUID); err != nil {
			return err
		}
		return s.record(ctx, tx, appID, herald.EventTemplateDeleted, nil, &herald.EventData{Template: t})
	})
}

// templateMessage checks a send with a template and returns the message's
// parts, the rendered text and the media of a media template, and what the
// message records of the template. The template must be the channel's and
// approved. Its values are template_values or, for a template of one
// placeholder, content.text, as Callbell takes them
// (messages_api/post_send_messages.md: "When template_values are valid,
// the values inside content will be ignored").
func templateMessage(ctx context.Context, q herald.Queries, appID string, ch *herald.Channel, in SendInput) ([]herald.Part, *herald.MessageTemplate, error) {
	t, err := templateByID(ctx, q, appID, in.TemplateUUID)
	if herald.IsNotFound(err) {
		return nil, nil, herald.PropertyError(herald.EInvalidProperty, "template_uuid", "template_uuid: no template %q exists in this app.", in.TemplateUUID)
	}
	if err != nil {
		return nil, nil, err
	}
	if t.ChannelUUID != ch.UUID {
		return nil, nil, herald.PropertyError(herald.EInvalidProperty, "template_uuid",
			"Template %s belongs to channel %s, not to channel %s the message is sent from.", herald.CompactUUID(t.UUID), herald.CompactUUID(t.ChannelUUID), herald.CompactUUID(ch.UUID))
	}
	if t.Status != herald.TemplateApproved {
		return nil, nil, herald.PropertyError(herald.EInvalidProperty, "template_uuid",
			"Template %s is %s; only approved templates can be sent.", herald.CompactUUID(t.UUID), t.Status)
	}
	want, err := templatePlaceholders(t.Text)
	if err != nil {
		return nil, nil, err
	}
	values := in.TemplateValues
	if len(values) == 0 && want == 1 && in.Content.Text != "" {
		values = []string{in.Content.Text}
	}
	if len(values) != want {
		return nil, nil, herald.PropertyError(herald.EInvalidProperty, "template_values",
			"Template %s has %d placeholders; template_values gives %d values.", herald.CompactUUID(t.UUID), want, len(values))
	}
	for i, v := range values {
		if strings.TrimSpace(v) == "" || !utf8.ValidString(v) {
			return nil, nil, herald.PropertyError(herald.EInvalidProperty, "template_values", "template_values[%d] must be non-empty UTF-8.", i)
		}
	}
	text := renderTemplate(t.Text, values)
	if len(text) > maxChannelText {
		return nil, nil, herald.PropertyError(herald.EInvalidProperty, "template_values", "The rendered template is longer than %d bytes.", maxChannelText)
	}
	parts := []herald.Part{{MimeType: herald.MimeText, Body: text}}
	if t.TemplateType != "text" {
		if in.Content.URL == "" {
			return nil, nil, herald.PropertyError(herald.EMissingProperty, "content.url", "content.url is required: template %s is a %s template.", herald.CompactUUID(t.UUID), t.TemplateType)
		}
		if err := checkURL("content.url", in.Content.URL); err != nil {
			return nil, nil, err
		}
		parts = append(parts, herald.Part{MimeType: herald.MimeURIList, Body: in.Content.URL})
	}
	return parts, &herald.MessageTemplate{UUID: t.UUID, Name: t.Name, Language: t.Language, Values: values}, nil
}

// whatsAppWindow is WhatsApp's customer service window: a business may send
// a free-form message within 24 hours of the contact's last message.
const whatsAppWindow = 24 * time.Hour

// checkWindow refuses a free-form message to a WhatsApp contact outside the
// window, as WhatsApp's Cloud API does with error 131047, "Re-engagement
// message": "More than 24 hours have passed since the recipient last
// replied to the sender number" (Meta's error codes, as quoted by
// https://dualhook.com/docs/whatsapp-error-131047). Other channels have no
// such window here.
func (s *Service) checkWindow(ctx context.Context, q herald.Queries, c *herald.Contact, ch *herald.Channel) error {
	if ch.Type != "whatsapp" {
		return nil
	}
	last, err := q.ContactLastInbound(ctx, c.AppID, c.UUID)
	if err != nil {
		return err
	}
	now := s.now()
	if last != nil && now.Sub(*last) <= whatsAppWindow {
		return nil
	}
	e := &herald.Error{ID: herald.EReengagementRequired,
		Data: map[string]any{"property": "template_uuid", "whatsapp_error_code": 131047, "contact_uuid": herald.CompactUUID(c.UUID)}}
	if last == nil {
		e.Message = "Re-engagement message: contact " + herald.CompactUUID(c.UUID) +
			" never wrote to this WhatsApp number, so only a template message can reach them. Send an approved template (template_uuid)."
	} else {
		e.Data["last_inbound_at"] = herald.FormatTime(*last)
		e.Message = "Re-engagement message: more than 24 hours have passed since contact " + herald.CompactUUID(c.UUID) +
			" last wrote (" + herald.FormatTime(*last) + "), so only a template message can reach them. Send an approved template (template_uuid)."
	}
	return e
}
