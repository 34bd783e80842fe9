package messaging

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/heraldhq/herald"
)

// ChannelInput configures a channel. On update, nil fields stay as they are.
type ChannelInput struct {
	Type       *string `json:"type"`
	Identifier *string `json:"identifier"`
	Title      *string `json:"title"`
	Main       *bool   `json:"main"`
}

// newUUID returns a random UUID in Callbell's 32-digit form, for the objects
// of the channel API (channels, contacts).
func newUUID() string { return herald.CompactUUID(uuid.NewString()) }

// phoneChannel reports whether addresses on channels of this type are phone
// numbers.
func phoneChannel(typ string) bool { return typ == "whatsapp" || typ == "sms" }

// normaliseAddress returns an address on a channel in the one form Herald
// stores, so that "+33 6 12-34" and "33612 34" name the same contact: phone
// numbers as digits only, email addresses in lower case, others trimmed.
func normaliseAddress(property, typ, address string) (string, error) {
	address = strings.TrimSpace(address)
	if address == "" {
		return "", herald.PropertyError(herald.EMissingProperty, property, "%s is required: an address on the channel.", property)
	}
	if !utf8.ValidString(address) || len(address) > 255 || strings.ContainsFunc(address, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", herald.PropertyError(herald.EInvalidProperty, property, "%s must be printable UTF-8 of at most 255 bytes.", property)
	}
	switch {
	case phoneChannel(typ):
		var b strings.Builder
		for i, r := range address {
			switch {
			case r >= '0' && r <= '9':
				b.WriteRune(r)
			case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
			default:
				return "", herald.PropertyError(herald.EInvalidProperty, property,
					"%s %q is not a phone number: use digits, optionally with a leading + and spaces or dashes.", property, address)
			}
		}
		if n := b.Len(); n < 5 || n > 15 {
			return "", herald.PropertyError(herald.EInvalidProperty, property,
				"%s %q is not a phone number: it has %d digits; an international number has 5 to 15.", property, address, n)
		}
		return b.String(), nil
	case typ == "email":
		if !strings.Contains(address, "@") {
			return "", herald.PropertyError(herald.EInvalidProperty, property, "%s %q is not an email address.", property, address)
		}
		return strings.ToLower(address), nil
	}
	return address, nil
}

func checkChannelType(property, typ string) error {
	if typ == "" {
		return herald.PropertyError(herald.EMissingProperty, property, "%s is required: one of %s.", property, strings.Join(herald.ChannelTypes, ", "))
	}
	if !slices.Contains(herald.ChannelTypes, typ) {
		return herald.PropertyError(herald.EInvalidProperty, property, "%s must be one of %s, not %q.", property, strings.Join(herald.ChannelTypes, ", "), typ)
	}
	return nil
}

// CreateChannel configures a channel. The first channel of a type is its
// main one unless main is false; a channel created with main true takes
// over from the previous main channel of its type.
func (s *Service) CreateChannel(ctx context.Context, appID string, in ChannelInput) (out *herald.Channel, err error) {
	typ := ""
	if in.Type != nil {
		typ = *in.Type
	}
	if err := checkChannelType("type", typ); err != nil {
		return nil, err
	}
	raw := ""
	if in.Identifier != nil {
		raw = *in.Identifier
	}
	identifier, err := normaliseAddress("identifier", typ, raw)
	if err != nil {
		return nil, err
	}
	title := typ + " " + identifier
	if in.Title != nil {
		if title, err = checkTitle(*in.Title); err != nil {
			return nil, err
		}
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		all, err := tx.Channels(ctx, appID)
		if err != nil {
			return err
		}
		hasMain := false
		for _, c := range all {
			if c.Type == typ && c.Identifier == identifier {
				return &herald.Error{ID: herald.EConflict, Message: fmt.Sprintf("A %s channel with identifier %q already exists.", typ, identifier),
					Data: map[string]any{"property": "identifier", "channel": c.UUID}}
			}
			hasMain = hasMain || (c.Type == typ && c.Main)
		}
		c := &herald.Channel{UUID: newUUID(), AppID: appID, Type: typ, Identifier: identifier, Title: title,
			Main: !hasMain, CreatedAt: s.now()}
		if in.Main != nil {
			c.Main = *in.Main
		}
		if c.Main {
			if err := demoteMain(ctx, tx, all, c); err != nil {
				return err
			}
		}
		out = c
		return tx.CreateChannel(ctx, c)
	})
	return out, err
}

func checkTitle(title string) (string, error) {
	title = strings.TrimSpace(title)
	if title == "" || len(title) > 255 || !utf8.ValidString(title) {
		return "", herald.PropertyError(herald.EInvalidProperty, "title", "title must be non-empty UTF-8 of at most 255 bytes.")
	}
	return title, nil
}

// demoteMain makes c the only main channel of its type.
func demoteMain(ctx context.Context, tx herald.Tx, all []*herald.Channel, c *herald.Channel) error {
	for _, other := range all {
		if other.UUID != c.UUID && other.Type == c.Type && other.Main {
			other.Main = false
			if err := tx.UpdateChannel(ctx, other); err != nil {
				return err
			}
		}
	}
	return nil
}

// UpdateChannel changes a channel's title, identifier or main flag.
func (s *Service) UpdateChannel(ctx context.Context, appID, id string, in ChannelInput) (out *herald.Channel, err error) {
	if in.Type != nil {
		return nil, herald.PropertyError(herald.EInvalidProperty, "type", "A channel's type cannot change; configure another channel.")
	}
	err = s.Store.Update(ctx, func(tx herald.Tx) error {
		c, err := channelByID(ctx, tx, appID, id)
		if err != nil {
			return err
		}
		if in.Identifier != nil {
			if c.Identifier, err = normaliseAddress("identifier", c.Type, *in.Identifier); err != nil {
				return err
			}
		}
		if in.Title != nil {
			if c.Title, err = checkTitle(*in.Title); err != nil {
				return err
			}
		}
		if in.Main != nil && *in.Main != c.Main {
			if *in.Main {
				if err := checkChannelLive(c); err != nil {
					return err
				}
			}
			c.Main = *in.Main
			if c.Main {
				all, err := tx.Channels(ctx, appID)
				if err != nil {
					return err
				}
				if err := demoteMain(ctx, tx, all, c); err != nil {
					return err
				}
			}
		}
		out = c
		return tx.UpdateChannel(ctx, c)
	})
	return out, err
}

func channelByID(ctx context.Context, q herald.Queries, appID, id string) (*herald.Channel, error) {
	u := herald.ParseUUID(id)
	if u == "" {
		return nil, herald.NotFound("channel", id)
	}
	return q.Channel(ctx, appID, herald.CompactUUID(u))
}

// Channel returns one of an app's channels.
func (s *Service) Channel(ctx context.Context, appID, id string) (c *herald.Channel, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		c, err = channelByID(ctx, q, appID, id)
		return err
	})
	return c, err
}

// Channels lists an app's channels, oldest first.
func (s *Service) Channels(ctx context.Context, appID string) (cs []*herald.Channel, err error) {
	err = s.Store.View(ctx, func(q herald.Queries) error {
		cs, err = q.Channels(ctx, appID)
		return err
	})
	return cs, err
}

// resolveChannel finds the channel a request names: by UUID when it gives
// one (uuidProperty), else the main channel of the type it gives
// (typeProperty).
func resolveChannel(ctx context.Context, q herald.Queries, appID, uuidProperty, id, typeProperty, typ string) (*herald.Channel, error) {
	if id != "" {
		c, err := channelByID(ctx, q, appID, id)
		if herald.IsNotFound(err) {
			return nil, herald.PropertyError(herald.EInvalidProperty, uuidProperty, "%s: no channel %q exists in this app.", uuidProperty, id)
		}
		if err == nil && typ != "" && c.Type != typ {
			return nil, herald.PropertyError(herald.EInvalidProperty, typeProperty, "%s is %q but channel %s is a %s channel.", typeProperty, typ, c.UUID, c.Type)
		}
		return c, err
	}
	if typ == "" {
		return nil, herald.PropertyError(herald.EMissingProperty, typeProperty, "%s is required: the channel type (such as \"whatsapp\"), or give %s.", typeProperty, uuidProperty)
	}
	if err := checkChannelType(typeProperty, typ); err != nil {
		return nil, err
	}
	all, err := q.Channels(ctx, appID)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.Type == typ && c.Main {
			return c, nil
		}
	}
	return nil, herald.PropertyError(herald.EInvalidProperty, typeProperty,
		"%s: this app has no main %s channel; configure one with POST /v1/channels or give %s.", typeProperty, typ, uuidProperty)
}
